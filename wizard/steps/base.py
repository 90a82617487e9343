"""The contract every stage follows: describe, detect, run, verify, undo."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wizard.context import Context


@dataclass
class Check:
    """One named fact checked against reality."""

    name: str
    ok: bool
    detail: str = ""
    code: str = ""  # the underlying error code when a failure has a known remedy


@dataclass
class Detection:
    """What already exists for a stage, with the evidence for it."""

    status: str  # "pending" | "done" | "drifted" | "needs_action" | "unavailable"
    evidence: list[str] = field(default_factory=list)


@dataclass
class Description:
    title: str
    quickstart_step: str
    explanation: str  # Markdown: what the stage does and why
    command: str  # the quickstart's command with this project's values filled in
    values: list[tuple[str, str, bool]] = field(default_factory=list)  # (label, value, is_secret)


class Stage:
    key: str = ""
    number: int | None = None
    title: str = ""
    quickstart_step: str = ""
    available: bool = True
    needs_aws: bool = True
    explanation: str = ""

    def describe(self, ctx: Context) -> Description:
        return Description(
            title=self.title,
            quickstart_step=self.quickstart_step,
            explanation=self.explanation,
            command=self.command(ctx),
            values=self.values(ctx),
        )

    def command(self, ctx: Context) -> str:
        raise NotImplementedError

    def values(self, ctx: Context) -> list[tuple[str, str, bool]]:
        return []

    def detect(self, ctx: Context) -> Detection:
        raise NotImplementedError

    def run(self, ctx: Context) -> list[Check] | None:
        """Perform the stage; return its checks if running already verified it, else None."""
        raise NotImplementedError

    def verify(self, ctx: Context) -> list[Check]:
        raise NotImplementedError

    def undo(self, ctx: Context) -> None:
        raise NotImplementedError

    @property
    def label(self) -> str:
        return f"{self.number}" if self.number is not None else "–"

    def record(self, ctx: Context, name: str, value: Any) -> None:
        ctx.state.record(self.key, name, value)

    def resources(self, ctx: Context) -> dict[str, Any]:
        return ctx.state.resources(self.key)

    def not_done(self, ctx: Context, failed: list[Check]) -> Detection:
        """Failing checks mean drift for a stage that was done, and unfinished work otherwise."""
        was_done = ctx.state.stage(self.key).get("status") in ("done", "drifted")
        return Detection("drifted" if was_done else "pending", [f"{c.name}: {c.detail}" for c in failed])

    def record_origin(self, ctx: Context, origin: str) -> None:
        """Whether the wizard made the resource or found it: set once, so cleanup knows what is ours."""
        if self.resources(ctx).get("origin") is None:
            self.record(ctx, "origin", origin)


class UnavailableStage(Stage):
    """A stage this version shows and explains but cannot perform yet: no fake success."""

    available = False
    needs_aws = False
    command_text = ""

    def command(self, ctx: Context) -> str:
        return self.command_text

    def detect(self, ctx: Context) -> Detection:
        return Detection("unavailable", ["This version of agentcore-wizard cannot perform this stage yet."])

    def run(self, ctx: Context) -> list[Check] | None:
        from wizard.errors import WizardError

        raise WizardError(
            f"Stage {self.label} ({self.key}) is not available in this version of agentcore-wizard.",
            fix="Run the quickstart command shown on this stage by hand for now.",
        )

    def verify(self, ctx: Context) -> list[Check]:
        return [Check("available in this version", False, "not implemented yet")]

    def undo(self, ctx: Context) -> None:
        return None
