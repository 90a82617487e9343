"""The stage registry, in the quickstart's order."""

from __future__ import annotations

from wizard.steps.agent import AgentStage
from wizard.steps.base import Check, Detection, Stage
from wizard.steps.cleanup import CleanupStage
from wizard.steps.cognito import CognitoStage
from wizard.steps.configure import ConfigureStage
from wizard.steps.deploy import DeployStage
from wizard.steps.env import EnvStage
from wizard.steps.invoke import InvokeStage
from wizard.steps.preflight import PreflightStage
from wizard.steps.provider import ProviderStage
from wizard.steps.workload import WorkloadStage

__all__ = ["Check", "Detection", "Stage", "all_stages", "stage_by_ref"]


def all_stages() -> list[Stage]:
    return [
        PreflightStage(),
        CognitoStage(),
        EnvStage(),
        AgentStage(),
        ConfigureStage(),
        ProviderStage(),
        WorkloadStage(),
        DeployStage(),
        InvokeStage(),
        CleanupStage(),
    ]


def stage_by_ref(stages: list[Stage], ref: str) -> Stage:
    """A stage by key ("cognito") or number ("1")."""
    for stage in stages:
        if stage.key == ref or (stage.number is not None and str(stage.number) == ref):
            return stage
    known = ", ".join(f"{s.key} ({s.number})" if s.number is not None else s.key for s in stages)
    raise KeyError(f"no stage {ref!r}; known: {known}")
