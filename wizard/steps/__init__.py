"""The stage registry, in the quickstart's order. Adding a stage is its module and one line here."""

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
from wizard.steps.registry import Registry
from wizard.steps.workload import WorkloadStage

__all__ = ["REGISTRY", "STAGES", "Check", "Detection", "Registry", "Stage"]

STAGES: tuple[type[Stage], ...] = (
    PreflightStage,
    CognitoStage,
    EnvStage,
    AgentStage,
    ConfigureStage,
    ProviderStage,
    WorkloadStage,
    DeployStage,
    InvokeStage,
    CleanupStage,
)

# For names and declared facts; each session makes its own stage objects with Registry(STAGES).
REGISTRY = Registry(STAGES)
