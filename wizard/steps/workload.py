"""Stage 6: the workload identity, with the wizard's OAuth2 return URL allowed on it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wizard import names, ownership
from wizard.errors import WizardError, absent_as_none
from wizard.files import agentcore_yaml
from wizard.steps.base import Check, Detection, OwnedByName, cli_maker, owned, stage_ref
from wizard.steps.configure import agent_name

if TYPE_CHECKING:
    from wizard.context import Context


def workload_name(ctx: Context) -> str:
    return ctx.settings.workload_name


class WorkloadStage(OwnedByName):
    resource_label = "workload identity"
    arn_field = "workloadIdentityArn"
    key = "workload"
    title = "Create workload identity"
    quickstart_step = "Step 6"
    requires = ("configure",)
    adoptable = True
    creates_in_aws = True
    uses = ("workload_name", "return_url")
    writes = (agentcore_yaml.YAML_NAME,)
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
        found = self._get(ctx, workload_name(ctx))
        if found is None:
            return Detection("pending")
        origin = self._owner(ctx, found)
        self.record_many(ctx, name=found["name"], arn=found["workloadIdentityArn"], origin=origin)
        failed = [check for check in self._checks(ctx, found) if not check.ok]
        if failed:
            return Detection("pending", [f"{c.name}: {c.detail}" for c in failed])
        return Detection(
            "done",
            [f"workload identity {found['name']} exists and allows the return URL ({owned(origin, cli_maker(ctx))})"],
        )

    def run(self, ctx: Context) -> None:
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

    def _delete(self, ctx: Context, name: str) -> Any:
        return ctx.client("bedrock-agentcore-control").delete_workload_identity(name=name)
