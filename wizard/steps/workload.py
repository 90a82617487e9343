"""Stage 6: the workload identity, with the wizard's OAuth2 return URL allowed on it."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wizard import consent, names, ownership
from wizard.errors import WizardError, absent_as_none
from wizard.files import agentcore_yaml
from wizard.state import atomic_write
from wizard.steps.base import Check, Detection, OwnedByName, Teardown, cli_maker, owned, stage_ref
from wizard.steps.configure import adopt_from_yaml, agent_name

if TYPE_CHECKING:
    from wizard.context import Context


# The AgentCore SDK's local configuration: `python agent.py` on this machine uses the workload identity named
# here (bedrock_agentcore.identity.auth._set_up_local_auth); without it the SDK makes its own `workload-…`,
# which allows no return URL and is refused.
LOCAL_CONFIG = ".agentcore.json"


def workload_name(ctx: Context) -> str:
    return ctx.settings.workload_name


def read_local_config(project: Path) -> dict[str, Any]:
    try:
        value = json.loads((project / LOCAL_CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


class WorkloadStage(OwnedByName):
    resource_label = "workload identity"
    arn_field = "workloadIdentityArn"
    key = "workload"
    requires = ("configure",)
    adoptable = True
    creates_in_aws = True
    uses = ("workload_name", "return_url")
    writes = (agentcore_yaml.YAML_NAME, LOCAL_CONFIG)
    explanation = """\
Creates the **workload identity** `identity-demo-workload`: the identity an agent presents to AgentCore
Identity to get tokens for a user. Its **allowed OAuth2 return URLs** say where AgentCore may send the
user's browser after consent; the wizard allows its own local return URL, where it completes the consent
(`CompleteResourceTokenAuth`) for you when the agent is invoked.

What the quickstart does not tell you: **the deployed runtime does not use this workload identity.**
AgentCore Runtime creates its own, named in `workloadIdentityDetails`; the deploy stage registers the
return URL there too. This one is what you use when you run the agent locally or call AgentCore Identity
yourself, and it is what the quickstart's cleanup expects to find.
"""

    def command(self, ctx: Context) -> str:
        return f"agentcore identity create-workload-identity \\\n  --name {workload_name(ctx)}"

    def values(self, ctx: Context) -> list[tuple[str, str, bool]]:
        recorded = self.resources(ctx)
        rows = [("Workload identity", workload_name(ctx), False), ("Return URL", ctx.return_url, False)]
        if recorded.get("arn"):
            rows.append(("ARN", str(recorded["arn"]), False))
        return rows

    def _get(self, ctx: Context, name: str) -> dict[str, Any] | None:
        control = ctx.client("bedrock-agentcore-control")
        return absent_as_none(lambda: dict(control.get_workload_identity(name=name)))

    def detect(self, ctx: Context) -> Detection:
        adopt_from_yaml(ctx, "workload_name", lambda identity: (identity.get("workload") or {}).get("name"))
        adopt_from_yaml(ctx, "return_url", _listenable_return_url)
        found = self._get(ctx, workload_name(ctx))
        if found is None:
            return Detection("pending")
        origin = self._owner(ctx, found)
        taken = ownership.taken_in_room(ctx, f"Workload identity {found['name']}", origin)
        if taken is not None:
            return Detection("needs_action", [f"{taken.message} {taken.fix}"])
        self.record_many(ctx, name=found["name"], arn=found["workloadIdentityArn"], origin=origin)
        failed = [check for check in self._checks(ctx, found) if not check.ok]
        if failed:
            return Detection("pending", [f"{c.name}: {c.detail}" for c in failed])
        return Detection(
            "done",
            [f"workload identity {found['name']} exists and allows the return URL ({owned(origin, cli_maker(ctx))})"],
        )

    def run(self, ctx: Context) -> None:
        adopt_from_yaml(ctx, "return_url", _listenable_return_url)
        name = names.check_workload_name(workload_name(ctx))
        control = ctx.client("bedrock-agentcore-control")
        return_url = ctx.return_url
        # Before AWS holds them: later runs listen where the browser returns, and cannot forget the name.
        ctx.settings.record("workload_name", "return_url")
        found = self._get(ctx, name)
        if found is None:
            self.record_many(ctx, name=name, origin=ownership.CREATING)  # the intent, before it exists
            creator = ctx.creator("bedrock-agentcore-control")
            found = ownership.create_once(
                ctx,
                f"workload identity {name}",
                lambda: dict(
                    creator.create_workload_identity(
                        name=name, allowedResourceOauth2ReturnUrls=[return_url], tags=ownership.project_tags(ctx)
                    )
                ),
                lambda: self._get(ctx, name),
            )
            # Made just now: ours, whatever was here before (one write, so a kill never leaves it unowned).
            self.record_many(ctx, name=name, arn=found["workloadIdentityArn"], origin=ownership.CREATED)
            ctx.log(f"Created workload identity {name}.", "success")
        else:
            origin = self._owner(ctx, found)
            taken = ownership.taken_in_room(ctx, f"Workload identity {name}", origin)
            if taken is not None:
                raise taken
            self.record_many(ctx, name=name, arn=found["workloadIdentityArn"], origin=origin)
            urls = list(found.get("allowedResourceOauth2ReturnUrls") or [])
            if return_url not in urls:
                found = dict(
                    control.update_workload_identity(name=name, allowedResourceOauth2ReturnUrls=[*urls, return_url])
                )
                ctx.log(
                    f"Allowed the return URL {return_url} on workload identity {name} (kept the others).", "success"
                )
            else:
                ctx.log(f"Workload identity {name} already exists and allows the return URL.")
        ctx.checkpoint()
        data = agentcore_yaml.load(ctx.project)
        agent = agent_name(ctx)
        if not data or agent not in data["agents"]:
            raise WizardError(
                f"{agentcore_yaml.YAML_NAME} has no agent {agent}.", fix=f"Run {stage_ref('configure')} first."
            )
        updated = agentcore_yaml.with_workload(
            data, agent, name, found["workloadIdentityArn"], list(found.get("allowedResourceOauth2ReturnUrls") or [])
        )
        if updated != data:
            agentcore_yaml.save(ctx.project, updated)
            ctx.log(f"Recorded the workload identity in {agentcore_yaml.YAML_NAME} (identity.workload).")
        self._write_local_config(ctx, name)

    def _write_local_config(self, ctx: Context, name: str) -> None:
        """Name this workload identity where the SDK looks when the agent runs on this machine; the SDK's own
        user id is kept if it made one."""
        current = read_local_config(ctx.project)
        if current.get("workload_identity_name") == name and current.get("user_id"):
            return
        previous = current.get("workload_identity_name")
        config = {**current, "workload_identity_name": name, "user_id": current.get("user_id") or uuid.uuid4().hex[:8]}
        atomic_write(ctx.project / LOCAL_CONFIG, json.dumps(config, indent=2) + "\n", mode=0o644)
        self.record(ctx, "local_config", name)
        ctx.log(
            f"Wrote {LOCAL_CONFIG}: `python agent.py` on this machine uses {name}"
            + (f" (it named {previous}, which the SDK made; that one is left as it is)." if previous else ".")
        )

    def verify(self, ctx: Context, deep: bool = False) -> list[Check]:
        name = workload_name(ctx)
        found = self._get(ctx, name)
        if found is None:
            return [Check("workload identity exists", False, f"{name} does not exist")]
        return self._checks(ctx, found)

    def _checks(self, ctx: Context, found: dict[str, Any]) -> list[Check]:
        name = found["name"]
        urls = list(found.get("allowedResourceOauth2ReturnUrls") or [])
        data = agentcore_yaml.load(ctx.project) or {"agents": {}}
        entry = data["agents"].get(agent_name(ctx)) or {}
        workload = (entry.get("identity") or {}).get("workload") or {}
        return [
            Check("workload identity exists", True, found["workloadIdentityArn"]),
            Check("return URL allowed", ctx.return_url in urls, ctx.return_url),
            Check(
                f"listed in {agentcore_yaml.YAML_NAME}",
                workload.get("name") == name and workload.get("arn") == found["workloadIdentityArn"],
                name,
            ),
        ]

    def outdated(self, ctx: Context) -> str | None:
        """The SDK's local configuration is a convenience the stage adds, not what makes it done (a folder the
        agentcore CLI set up has none): `run` writes it when it is missing or names another identity."""
        named = read_local_config(ctx.project).get("workload_identity_name")
        if named == workload_name(ctx):
            return None
        return f"{LOCAL_CONFIG} names {named}" if named else f"there is no {LOCAL_CONFIG} for running agent.py locally"

    def teardown_plan(self, ctx: Context) -> list[Teardown]:
        plan = super().teardown_plan(ctx)
        written = self.resources(ctx).get("local_config")
        if written and read_local_config(ctx.project).get("workload_identity_name") == written:
            local = ctx.project / LOCAL_CONFIG
            plan.append(Teardown(self.key, f"file {LOCAL_CONFIG}", True, gone=lambda: not local.exists()))
        return plan

    def undo(self, ctx: Context) -> None:
        written = self.resources(ctx).get("local_config")
        if written and read_local_config(ctx.project).get("workload_identity_name") == written:
            (ctx.project / LOCAL_CONFIG).unlink(missing_ok=True)
            ctx.log(f"Deleted {LOCAL_CONFIG}.")
        super().undo(ctx)

    def _delete(self, ctx: Context, name: str) -> Any:
        return ctx.client("bedrock-agentcore-control").delete_workload_identity(name=name)


def _listenable_return_url(identity: dict[str, Any]) -> str | None:
    """The first return URL the folder's workload identity allows that the wizard can listen on: a folder the
    agentcore CLI set up (its --return-urls, e.g. http://localhost:8081/oauth2/callback) keeps using it, as it did
    when that was every project's default, instead of a port of its own added beside it."""
    workload = identity.get("workload")
    urls = workload.get("return_urls") if isinstance(workload, dict) else None
    for url in urls if isinstance(urls, list) else []:
        try:
            return consent.check_return_url(url)
        except WizardError:
            continue
    return None
