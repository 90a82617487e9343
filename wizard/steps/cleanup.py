"""Cleanup: delete exactly what the wizard made, in dependency order, resumably, and check it is gone."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wizard.errors import Declined, WizardError
from wizard.files import agentcore_yaml
from wizard.settings import PARAMETER_NAMES
from wizard.steps.base import Check, Detection, Stage, Teardown, stage_ref

if TYPE_CHECKING:
    from wizard.context import Context


class CleanupStage(Stage):
    """Undoes the stages in the registry's teardown order (dependents first): the runtime before the role,
    provider and workload it uses; the pools after the provider that points at one; the identity files last,
    since they are the only record of the pools."""

    key = "cleanup"
    values_title = "Deletes and keeps (from the records; Run asks AWS and you first)"
    explanation = """\
Deletes **exactly what the wizard created**, in dependency order: the runtime (and waits until it
is gone), its log group, the execution role (inline policies first), the uploaded code and the
wizard's bucket, the workload identity, the credential provider (its secret goes with it), the Cognito
domains and pools, then the local files: this agent's entry in `.bedrock_agentcore.yaml`, `agent.py`
and `requirements.txt` if you did not edit them, and the identity files last, once their pools are
confirmed gone.

- Anything the wizard **found** rather than made stays: a role you passed with `--execution-role`, a
  provider or pool made by hand or by the toolkit, a bucket that held other objects. The list below
  says what goes and what stays, and why, before anything is deleted.
- Each deletion is recorded as it happens: if cleanup stops half-way, running it again carries on.
  Something already gone counts as done. At the end every deleted thing is checked again.
- The toolkit's cleanup leaves the bucket and log groups behind, deletes a role you brought, and loses
  the pool ids when a pool deletion fails; this one does none of that.
"""

    def command(self, ctx: Context) -> str:
        name = ctx.state.resources("configure").get("agent_name") or ctx.settings.agent_name
        return (
            "# The quickstart (deletes a role you brought; leaves the bucket and log groups):\n"
            f"agentcore identity cleanup --agent {name} --force\n"
            f"agentcore destroy --agent {name} --force\n\n"
            "# The wizard: list first, then delete exactly what it made\n"
            "agentcore-wizard cleanup --dry-run\nagentcore-wizard cleanup --yes"
        )

    def values(self, ctx: Context) -> list[tuple[str, str, bool]]:
        return [(f"{'delete' if item.delete else 'keep'}", _line(item), False) for item in self.plan(ctx, quick=True)]

    def plan(self, ctx: Context, quick: bool = False) -> list[Teardown]:
        """What goes and what stays. quick: from the records only, without asking AWS (for the screen)."""
        if quick:
            return _recorded_summary(ctx)
        plan = [item for stage in ctx.stages.teardown_order for item in stage.teardown_plan(ctx)]
        plan.extend(_unrecorded(ctx))
        return plan

    def detect(self, ctx: Context) -> Detection:
        return Detection("pending")

    def run(self, ctx: Context) -> list[Check]:
        plan = self.plan(ctx)
        deletions = [item for item in plan if item.delete]
        for line in render_plan(plan).splitlines():
            ctx.log(line)
        if deletions and not ctx.confirm(
            "Delete what the plan lists?",
            False,
            "Delete them",
            "Keep everything",
            detail=render_plan(plan),
            needs_yes=True,
            refused="Cleanup deletes the resources listed above, and nobody was asked.",
            refused_fix="Pass --yes to confirm, or run it at a terminal to be asked.",
        ):
            raise Declined("Nothing was deleted.", fix="Run cleanup again when you are ready.")
        order = ctx.stages.teardown_order
        for index, stage in enumerate(order):
            ctx.checkpoint()
            ctx.progress(index / len(order), f"cleaning up {stage_ref(stage.key)}")
            if stage.has_teardown and ctx.state.stage(stage.key).get("status") in ("done", "drifted"):
                # Taken down from here on: a cleanup stopped half-way leaves it pending, never "done".
                ctx.set_status(stage.key, "pending")
            stage.undo(ctx)
        ctx.progress(1.0, "checking")
        checks = [Check(f"gone: {item.what}", bool(item.gone()), "") for item in deletions if item.gone is not None]
        if all(check.ok for check in checks):
            reset_stages(ctx)
            # Nothing is made under the old names any more: a new start may choose others.
            ctx.settings.forget(*PARAMETER_NAMES)
            ctx.log(
                "Everything the wizard made is gone and every stage is pending again "
                "(the lines it added to .gitignore stay).",
                "success",
            )
        return checks or [Check("nothing the wizard made was left", True, "")]

    def verify(self, ctx: Context, deep: bool = False) -> list[Check]:
        remaining = [item for item in self.plan(ctx) if item.delete]
        detail = "; ".join(item.what for item in remaining) or "nothing recorded remains"
        return [Check("nothing the wizard made remains", not remaining, detail)]


def reset_stages(ctx: Context) -> None:
    for key, record in list(ctx.state.data.get("stages", {}).items()):
        if key == "cleanup":
            continue
        for name in list(record.get("resources") or {}):
            ctx.state.forget(key, name)
        ctx.set_status(key, "pending")


def _line(item: Teardown) -> str:
    return item.what if item.delete else f"{item.what}: {item.reason}"


def render_plan(plan: list[Teardown]) -> str:
    deletions = [item for item in plan if item.delete]
    kept = [item for item in plan if not item.delete]
    if not deletions and not kept:
        return "Nothing the wizard made is left."
    lines = []
    if deletions:
        lines.append("Deletes, in this order:")
        lines.extend(f"  - {item.what}" for item in deletions)
    else:
        lines.append("Nothing the wizard made is left to delete.")
    if kept:
        lines.append("Keeps:")
        lines.extend(f"  - {_line(item)}" for item in kept)
    return "\n".join(lines)


def _recorded_summary(ctx: Context) -> list[Teardown]:
    """A cheap list for the screen: what the state file records, without asking AWS."""
    state = ctx.state
    items = []
    deploy = state.resources("deploy")
    if deploy.get("runtime_id"):
        items.append(Teardown("deploy", f"runtime {deploy['runtime_id']}", True))
    role = deploy.get("role_name") or str(deploy.get("role_arn") or "").rsplit("/", 1)[-1]
    if role:
        created = deploy.get("role_origin") == "created"
        items.append(Teardown("deploy", f"execution role {role}", created, "you brought it"))
    for key, label in (("provider", "credential provider"), ("workload", "workload identity")):
        recorded = state.resources(key)
        if recorded.get("name"):
            created = recorded.get("origin") == "created"
            items.append(Teardown(key, f"{label} {recorded['name']}", created, "it existed before the wizard"))
    cognito = state.resources("cognito")
    for role in ("runtime", "identity"):
        if cognito.get(f"{role}_pool_id"):
            created = cognito.get(f"{role}_origin") == "created"
            what = f"{role} pool {cognito[f'{role}_pool_id']}"
            items.append(Teardown("cognito", what, created, "the wizard did not create it"))
    return items


def _unrecorded(ctx: Context) -> list[Teardown]:
    """A runtime the YAML names but the state does not: without the record the wizard cannot prove it made it."""
    try:
        data = agentcore_yaml.load(ctx.project)
    except WizardError:
        return []
    if not data or ctx.state.resources("deploy").get("runtime_id"):
        return []
    found = []
    for name, entry in data["agents"].items():
        arn = (entry.get("bedrock_agentcore") or {}).get("agent_arn")
        if arn:
            found.append(
                Teardown(
                    "deploy",
                    f"runtime {arn} of agent {name}",
                    False,
                    "no wizard record says the wizard made it; if it is yours, "
                    f"`agentcore destroy --agent {name}` deletes it",
                )
            )
    return found
