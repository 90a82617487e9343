"""Stage 4: .bedrock_agentcore.yaml with the JWT authorizer, merged, never clobbered."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from wizard import names, ownership
from wizard.errors import Declined, WizardError
from wizard.files import agentcore_yaml
from wizard.files import identity as idfiles
from wizard.settings import CHOSEN
from wizard.steps.base import Check, Detection, Stage, Teardown, owned, stage_ref

if TYPE_CHECKING:
    from wizard.context import Context


def adopt_from_yaml(ctx: Context, setting: str, pick: Callable[[dict[str, Any]], str | None]) -> None:
    """A name this project never chose, taken from what the folder's YAML records for its agent: after a lost
    state file (a `--provider-name` given once is not given again) or in a folder the agentcore CLI set up.
    A default the wizard chose for this project (its return URL's port) gives way too: nobody asked for it."""
    if ctx.settings.source(setting) not in ("default", CHOSEN):
        return
    try:
        data = agentcore_yaml.load(ctx.project)
    except WizardError:
        return
    entry = (data or {"agents": {}})["agents"].get(agent_name(ctx))
    identity = entry.get("identity") if isinstance(entry, dict) else None
    found = pick(identity) if isinstance(identity, dict) else None
    # A chosen default is not compared first: reading it would claim a port only to give it up.
    if found and (ctx.settings.source(setting) == CHOSEN or found != ctx.settings.value(setting)):
        ctx.settings.adopt(setting, found)


def identity_files(ctx: Context) -> idfiles.IdentityFiles:
    files = idfiles.read_identity_json(ctx.project)
    if files is None:
        raise WizardError(
            f"{idfiles.JSON_NAME} is missing or unreadable.",
            fix=f"Run {stage_ref('cognito')} first; it writes the file.",
        )
    return files


def agent_name(ctx: Context) -> str:
    """--agent-name, else the name this project recorded, else the quickstart's."""
    return ctx.settings.agent_name


def expected_authorizer(files: idfiles.IdentityFiles) -> dict[str, Any]:
    # Cognito access tokens carry client_id and no aud: allowedClients is what matches them.
    return {
        "customJWTAuthorizer": {
            "discoveryUrl": files.runtime.discovery_url,
            "allowedClients": [files.runtime.client_id],
        }
    }


class ConfigureStage(Stage):
    key = "configure"
    requires = ("cognito", "agent")
    adoptable = True
    needs_aws = False
    uses = ("agent_name",)
    writes = (agentcore_yaml.YAML_NAME,)
    explanation = """\
Writes **`.bedrock_agentcore.yaml`**, the file the quickstart's `agentcore` CLI reads, for your agent:
entrypoint `agent.py`, **direct code deploy** (a zip, no container), PUBLIC network, memory off, and a
**custom JWT authorizer** that accepts access tokens of the runtime pool's app client.

- `allowedClients` (not `allowedAudience`): Cognito *access* tokens carry `client_id` and no `aud`.
- An existing file is **merged**: other agents, and this agent's identity and deploy sections, stay.
  The toolkit's `configure` rewrites the whole agent entry and so forgets the credential provider and
  workload identity you created.
- In the TUI you see the change as a diff before it is written.
"""

    def command(self, ctx: Context) -> str:
        files = idfiles.read_identity_json(ctx.project)
        url = files.runtime.discovery_url if files else "$RUNTIME_DISCOVERY_URL"
        client = files.runtime.client_id if files else "$RUNTIME_CLIENT_ID"
        return (
            f"agentcore configure \\\n  -e agent.py \\\n  --name {agent_name(ctx)} \\\n"
            f'  --authorizer-config \'{{"customJWTAuthorizer": {{"discoveryUrl": "{url}", '
            f'"allowedClients": ["{client}"]}}}}\' \\\n  --disable-memory'
        )

    def values(self, ctx: Context) -> list[tuple[str, str, bool]]:
        rows = [("Agent", agent_name(ctx), False), ("File", agentcore_yaml.YAML_NAME, False)]
        files = idfiles.read_identity_json(ctx.project)
        if files:
            rows += [
                ("discoveryUrl", files.runtime.discovery_url, False),
                ("allowedClients", files.runtime.client_id, False),
            ]
        return rows

    def detect(self, ctx: Context) -> Detection:
        try:
            data = agentcore_yaml.load(ctx.project)
        except WizardError as error:
            return Detection("needs_action", [error.message])
        if not data or idfiles.read_identity_json(ctx.project) is None:
            return Detection("pending")
        # A project that never chose a name carries on with the one the toolkit's file makes the default.
        chosen = ctx.settings.source("agent_name") != "default"
        name = ctx.settings.agent_name if chosen else str(data.get("default_agent") or names.DEFAULT_AGENT)
        if name not in data["agents"]:
            return Detection("pending")
        failed = [check for check in self._checks(ctx, name) if not check.ok]
        if failed:
            return self.not_done(ctx, failed)
        if not chosen:
            ctx.settings.adopt("agent_name", name)
        # Found in the file, not written by the wizard: cleanup leaves the entry (unless the wizard wrote it).
        origin = self.resources(ctx).get("entry_origin") or ownership.ADOPTED
        self.record_many(ctx, agent_name=name, entry_origin=origin)
        return Detection(
            "done",
            [
                f"{agentcore_yaml.YAML_NAME} configures {name} with the runtime pool's authorizer "
                f"({owned(origin, 'by the agentcore CLI (its own file)')})"
            ],
        )

    def run(self, ctx: Context) -> list[Check]:
        name = names.check_agent_name(agent_name(ctx))
        files = identity_files(ctx)
        if not (ctx.project / "agent.py").exists():
            raise WizardError("agent.py does not exist.", fix=f"Run {stage_ref('agent')} first.")
        account = str(ctx.state.data.get("account") or "")
        region = str(ctx.state.data.get("region") or ctx.region)
        existing = _without_renamed_entry(ctx, agentcore_yaml.load(ctx.project), name)
        # Whose the entry is: the wizard's if it wrote it first, else whoever did (cleanup keeps it then).
        had_entry = bool(existing) and name in (existing or {"agents": {}})["agents"]
        recorded = self.resources(ctx)
        legacy = recorded.get("agent_name") == name  # recorded by an earlier version, which wrote the entry
        origin = recorded.get("entry_origin") or (ownership.ADOPTED if had_entry and not legacy else ownership.CREATED)
        data = agentcore_yaml.merged_configure(existing, name, ctx.project, account, region, expected_authorizer(files))
        text = agentcore_yaml.dump(data)
        change = agentcore_yaml.diff(ctx.project, text)
        if change:
            ctx.log(f"Changes to {agentcore_yaml.YAML_NAME}:")
            for line in change.splitlines():
                ctx.log(line)
            question = f"Write these changes to {agentcore_yaml.YAML_NAME}?"
            if not ctx.confirm(question, True, "Write them", "Not now", detail=change):
                raise Declined(
                    f"{agentcore_yaml.YAML_NAME} was left as it was.",
                    fix="Run the stage again and accept the change when you are ready.",
                )
            agentcore_yaml.save(ctx.project, data)
            ctx.log(f"Wrote {agentcore_yaml.YAML_NAME}.", "success")
        else:
            ctx.log(f"{agentcore_yaml.YAML_NAME} already says this; nothing to change.")
        self.record_many(ctx, agent_name=name, entry_origin=origin)
        return self._checks(ctx, name)

    def verify(self, ctx: Context, deep: bool = False) -> list[Check]:
        return self._checks(ctx, agent_name(ctx))

    def _checks(self, ctx: Context, name: str) -> list[Check]:
        try:
            data = agentcore_yaml.load(ctx.project)
        except WizardError as error:
            return [Check(f"{agentcore_yaml.YAML_NAME} loads", False, error.message)]
        if data is None:
            return [Check(f"{agentcore_yaml.YAML_NAME} exists", False, "missing")]
        checks = [Check(f"{agentcore_yaml.YAML_NAME} loads", True, f"default_agent {data.get('default_agent')}")]
        entry = data["agents"].get(name)
        if not isinstance(entry, dict):
            return [*checks, Check(f"agent {name}", False, "not in the file")]
        checks.append(Check("default_agent", data.get("default_agent") == name, str(data.get("default_agent"))))
        files = idfiles.read_identity_json(ctx.project)
        wanted = expected_authorizer(files) if files else None
        actual = entry.get("authorizer_configuration")
        checks.append(
            Check(
                "authorizer",
                wanted is not None and actual == wanted,
                "customJWTAuthorizer: runtime pool discovery URL, allowedClients = [runtime client]"
                if actual == wanted
                else f"is {actual!r}",
            )
        )
        entrypoint = str(entry.get("entrypoint", "")).split(":")[0]
        checks.append(Check("entrypoint", bool(entrypoint) and (ctx.project / entrypoint).exists(), entrypoint))
        return checks

    def teardown_plan(self, ctx: Context) -> list[Teardown]:
        name = self.resources(ctx).get("agent_name")
        data = _load_quietly(ctx)
        if not name or not data or name not in data["agents"]:
            return []
        if self.resources(ctx).get("entry_origin") == ownership.ADOPTED:
            return [
                Teardown(
                    self.key,
                    f"agent {name} in {agentcore_yaml.YAML_NAME}",
                    False,
                    "it was there before the wizard (the agentcore CLI or you wrote it)",
                )
            ]
        named = _runtime_named(data["agents"][name])
        if named and named != ctx.state.resources("deploy").get("runtime_arn"):
            return [
                Teardown(
                    self.key, f"agent {name} in {agentcore_yaml.YAML_NAME}", False, f"it names {named}, which stays"
                )
            ]
        others = [agent for agent in data["agents"] if agent != name]
        what = (
            f"agent {name} in {agentcore_yaml.YAML_NAME} (the other agents stay)"
            if others
            else f"{agentcore_yaml.YAML_NAME} (it only describes {name})"
        )
        return [
            Teardown(self.key, what, True, gone=lambda: name not in (_load_quietly(ctx) or {"agents": {}})["agents"])
        ]

    def undo(self, ctx: Context) -> None:
        """The agent's entry names deleted resources; the toolkit's destroy removes it too."""
        name = self.resources(ctx).get("agent_name")
        data = _load_quietly(ctx)
        if name and self.resources(ctx).get("entry_origin") == ownership.ADOPTED:
            ctx.log(f"Kept {name} in {agentcore_yaml.YAML_NAME}: it was there before the wizard.")
        elif name and data and name in data["agents"] and _runtime_named(data["agents"][name]):
            ctx.log(f"Kept {name} in {agentcore_yaml.YAML_NAME}: it names a runtime the wizard did not delete.")
        elif name and data and name in data["agents"]:
            del data["agents"][name]
            if not data["agents"]:
                (ctx.project / agentcore_yaml.YAML_NAME).unlink(missing_ok=True)
                ctx.log(f"Deleted {agentcore_yaml.YAML_NAME}.", "success")
            else:
                if data.get("default_agent") == name:
                    data["default_agent"] = next(iter(data["agents"]))
                agentcore_yaml.save(ctx.project, data)
                ctx.log(f"Removed {name} from {agentcore_yaml.YAML_NAME}; the other agents stay.", "success")
        ctx.state.forget(self.key, "agent_name")
        ctx.state.forget(self.key, "entry_origin")


def _without_renamed_entry(ctx: Context, data: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
    """After --reconfigure --agent-name: the entry this stage wrote under the old name goes, unless it names a
    runtime (the settings refuse a rename once one is deployed, so that would be someone else's)."""
    old = ctx.state.resources("configure").get("agent_name")
    if not data or not old or old == name or old not in data["agents"] or _runtime_named(data["agents"][old]):
        return data
    agents = {key: value for key, value in data["agents"].items() if key != old}
    ctx.log(f"Renaming agent {old} to {name} in {agentcore_yaml.YAML_NAME}.")
    default = name if data.get("default_agent") == old else data.get("default_agent")
    return {**data, "agents": agents, "default_agent": default}


def _runtime_named(entry: dict[str, Any]) -> str | None:
    deployed = entry.get("bedrock_agentcore")
    return str(deployed["agent_arn"]) if isinstance(deployed, dict) and deployed.get("agent_arn") else None


def _load_quietly(ctx: Context) -> dict[str, Any] | None:
    try:
        return agentcore_yaml.load(ctx.project)
    except WizardError:
        return None  # a broken file is left for the person to look at
