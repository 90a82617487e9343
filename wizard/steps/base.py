"""The contract every stage follows: describe, detect, run, verify, undo."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wizard.contents import BY_KEY
from wizard.errors import absent_as_none, render_stage_refs

if TYPE_CHECKING:
    from wizard.context import Context


@dataclass
class Check:
    """One named fact checked against reality."""

    name: str
    ok: bool
    detail: str = ""
    code: str = ""  # the underlying error code when a failure has a known remedy
    fix: str = ""  # the remedy, when explaining the underlying error already found it
    warning: bool = False  # held, but worth a look (a quota nearly used up): said, never a failure


@dataclass
class Detection:
    """What already exists for a stage, with the evidence for it."""

    status: str  # "pending" | "done" | "drifted" | "needs_action" | "unavailable"
    evidence: list[str] = field(default_factory=list)


@dataclass
class Teardown:
    """One thing cleanup deletes, or keeps and why (the dry run lists these)."""

    stage: str
    what: str
    delete: bool
    reason: str = ""
    gone: Callable[[], bool] | None = None  # asked after cleanup: is it really gone?


@dataclass
class Description:
    title: str
    quickstart_step: str
    explanation: str  # Markdown: what the stage does and why
    command: str  # the quickstart's command with this project's values filled in
    values: list[tuple[str, str, bool]] = field(default_factory=list)  # (label, value, is_secret)


class Stage:
    """One stage. Besides the five calls, a stage declares the facts the rest of the wizard derives things from:
    the run order and the gate (`requires`), the teardown order (the reverse), what start-up may adopt
    (`adoptable`), what `run` goes through (`in_run`), which settings it records when it succeeds (`uses`),
    which project files it writes (`writes`: half-written copies of them are removed at start), and whether
    it creates things in AWS (`creates_in_aws`: the account is confirmed first)."""

    key: str = ""
    title: str = ""
    quickstart_step: str = ""
    explanation: str = ""
    requires: tuple[str, ...] = ()
    adoptable: bool = False
    in_run: bool = True
    needs_aws: bool = True
    creates_in_aws: bool = False
    uses: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    number: int | None = None  # set by the registry from the stage's place in the run order

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # What a stage is called, and whether `run` goes through it, is said once, in the table of contents (the
        # first screen shows it before any stage module is imported). A stage that is not listed (a test's)
        # declares its own.
        super().__init_subclass__(**kwargs)
        entry = BY_KEY.get(cls.key)
        if entry is not None:
            cls.title, cls.quickstart_step, cls.in_run = entry.title, entry.quickstart_step, entry.in_run

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

    def verify(self, ctx: Context, deep: bool = False) -> list[Check]:
        """Check the result against reality. Only what costs nothing, unless deep: then also what has a cost
        (asking the deployed agent runs its model)."""
        raise NotImplementedError

    def undo(self, ctx: Context) -> None:
        """Delete what this stage made (never what it adopted), forgetting each record as it goes."""
        return None

    def teardown_plan(self, ctx: Context) -> list[Teardown]:
        """What undo would delete and what it keeps, without changing anything."""
        return []

    def outdated(self, ctx: Context) -> str | None:
        """Why a done stage is worth running again, from what this machine alone knows (no AWS call): `run`
        asks before it skips a done stage. None: still as it was done."""
        return None

    values_title = "Values"

    @property
    def has_teardown(self) -> bool:
        return type(self).undo is not Stage.undo

    @property
    def label(self) -> str:
        return f"{self.number}" if self.number is not None else "–"

    @property
    def name(self) -> str:
        """How people refer to it: "Stage 5 (Create credential provider)", or just "Cleanup"."""
        return f"Stage {self.number} ({self.title})" if self.number is not None else self.title

    def record(self, ctx: Context, name: str, value: Any) -> None:
        ctx.state.record(self.key, name, value)

    def record_many(self, ctx: Context, **values: Any) -> None:
        ctx.state.record_many(self.key, values)

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


def owned(origin: str | None, maker: str = "") -> str:
    """What an origin means to a person; `maker` says who made a found resource, when there is evidence."""
    found = f"made before the wizard, {maker}" if maker else "made before the wizard: by the agentcore CLI or by hand"
    return {"created": "made by the wizard", "creating": "being made by the wizard"}.get(str(origin), found)


def cli_maker(ctx: Context) -> str:
    """Who made a found resource of a folder: the agentcore CLI's mark is a .bedrock_agentcore.yaml entry the
    wizard did not write (that file is the CLI's own)."""
    configure = ctx.state.stage("configure").get("resources") or {}
    return "in a folder the agentcore CLI configured" if configure.get("entry_origin") == "adopted" else ""


def shown_region(ctx: Context) -> str | None:
    """The region a command on screen names: the pinned one, else what the settings resolve to (never a guess;
    None while there is none). Looking must not ask AWS for a profile, so only the flag, the choice or the pin."""
    pinned = ctx.state.data.get("region")
    return str(pinned) if pinned else ctx.options.region or ctx.settings.chosen_region


def stage_ref(key: str, capital: bool = False) -> str:
    """A stage as messages name it: "stage 1 (Create Cognito pools)"."""
    return render_stage_refs("{" + (key.capitalize() if capital else key) + "}")


def deleted_or_gone(what: str, found: bool) -> tuple[str, str]:
    """The log line for one deletion: honest about things that were already gone."""
    return (f"Deleted {what}.", "success") if found else (f"{what[0].upper()}{what[1:]} was already gone.", "info")


class OwnedByName(Stage):
    """A stage that makes one named AgentCore resource: cleanup deletes it only if the wizard created it."""

    resource_label = ""
    arn_field = ""  # where the resource's ARN is in the service's answer

    def _owner(self, ctx: Context, answer: dict[str, Any]) -> str:
        """Created by this project (its tag, or the intent recorded before the create), or found."""
        from wizard import ownership

        recorded = self.resources(ctx)
        intent = recorded.get("origin") if recorded.get("name") == answer["name"] else None
        return ownership.settle(ctx, intent, ownership.agentcore_tag(ctx, str(answer[self.arn_field])))

    def _delete(self, ctx: Context, name: str) -> Any:
        raise NotImplementedError

    def _get(self, ctx: Context, name: str) -> dict[str, Any] | None:
        """The resource, or None when it does not exist."""
        raise NotImplementedError

    def teardown_plan(self, ctx: Context) -> list[Teardown]:
        recorded = self.resources(ctx)
        name = recorded.get("name")
        if not name:
            return []
        what = f"{self.resource_label} {name}"
        if recorded.get("origin") == "creating":
            # The intent of a create a kill interrupted: it is this project's if it exists with this project's tag.
            found = self._get(ctx, name)
            if found is None:
                ctx.state.forget(self.key, "origin")
                return []
            recorded["origin"] = self._owner(ctx, found)
            self.record(ctx, "origin", recorded["origin"])
        if recorded.get("origin") != "created":
            return [Teardown(self.key, what, False, "it existed before the wizard (made by hand or by the toolkit)")]
        return [Teardown(self.key, what, True, gone=lambda: self._get(ctx, name) is None)]

    def undo(self, ctx: Context) -> None:
        self.teardown_plan(ctx)  # settles the intent of a create a kill interrupted
        recorded = self.resources(ctx)
        name = recorded.get("name")
        if name and recorded.get("origin") == "created":
            found = absent_as_none(lambda: self._delete(ctx, name)) is not None
            ctx.log(*deleted_or_gone(f"{self.resource_label} {name}", found))
        for stale in list(recorded):
            ctx.state.forget(self.key, stale)
