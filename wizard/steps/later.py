"""Cleanup: shown and explained, with the quickstart's commands, but not performed yet."""

from __future__ import annotations

from wizard.steps.base import UnavailableStage


class CleanupStage(UnavailableStage):
    key = "cleanup"
    number = None
    title = "Cleanup"
    quickstart_step = "Cleanup"
    explanation = (
        "Removes exactly what the wizard created, in dependency order, and verifies nothing it recorded remains."
    )
    command_text = (
        "agentcore identity cleanup --agent identity_demo --force\nagentcore destroy --agent identity_demo --force"
    )
