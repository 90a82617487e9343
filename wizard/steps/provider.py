"""Stage 5: the OAuth2 credential provider, and its callback URL registered on the identity app client."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wizard import names, ownership
from wizard.errors import NeedsAction, WizardError, absent_as_none
from wizard.files import agentcore_yaml
from wizard.files import identity as idfiles
from wizard.settings import DEFAULT_PROVIDER
from wizard.steps.base import Check, Detection, OwnedByName, cli_maker, owned, stage_ref
from wizard.steps.configure import adopt_from_yaml, agent_name, identity_files

if TYPE_CHECKING:
    from wizard.context import Context

SECRET_MASK = "••••••••"


def provider_input(files: idfiles.IdentityFiles) -> dict[str, Any]:
    return {
        "customOauth2ProviderConfig": {
            "oauthDiscovery": {"discoveryUrl": files.identity.discovery_url},
            "clientId": files.identity.client_id,
            # Goes to boto3 only: never a command line, a log or the state file.
            "clientSecret": files.identity.client_secret or "",
        }
    }


def settings_differ(answer: dict[str, Any], files: idfiles.IdentityFiles) -> list[str]:
    config = (answer.get("oauth2ProviderConfigOutput") or {}).get("customOauth2ProviderConfig") or {}
    problems = []
    if answer.get("credentialProviderVendor") != "CustomOauth2":
        problems.append(f"vendor is {answer.get('credentialProviderVendor')}, not CustomOauth2")
    if (config.get("oauthDiscovery") or {}).get("discoveryUrl") != files.identity.discovery_url:
        problems.append("its discovery URL is another pool's")
    if config.get("clientId") != files.identity.client_id:
        problems.append(f"its client id is {config.get('clientId')}, not {files.identity.client_id}")
    return problems


def full_client_update(client: dict[str, Any], allowed: set[str], callback_urls: list[str]) -> dict[str, Any]:
    """UpdateUserPoolClient resets every setting it is not given, so give it all of them."""
    request = {key: value for key, value in client.items() if key in allowed}
    request["CallbackURLs"] = callback_urls
    return request


class ProviderStage(OwnedByName):
    resource_label = "credential provider"
    arn_field = "credentialProviderArn"
    key = "provider"
    requires = ("configure",)
    adoptable = True
    creates_in_aws = True
    uses = ("provider_name",)
    writes = (agentcore_yaml.YAML_NAME,)
    explanation = """\
Creates the **OAuth2 credential provider** in AgentCore Identity from the identity pool's app client
(`CustomOauth2` with its discovery URL, client id and secret), then registers the provider's
**callback URL** on that app client, so Cognito will send the user back to AgentCore after consent.

Done better than the quickstart:

- The client secret goes to the AWS API only, never onto a command line (where `ps` shows it) or into a log.
- The callback URL is added with an `UpdateUserPoolClient` that **copies every existing setting**: Cognito
  resets whatever an update leaves out, and the toolkit's partial update drops settings.
- A provider that already exists with the same settings is adopted; one with different settings is
  never silently changed.
"""

    def command(self, ctx: Context, reveal_secret: bool = False) -> str:
        files = idfiles.read_identity_json(ctx.project)
        client = files.identity.client_id if files else "$IDENTITY_CLIENT_ID"
        url = files.identity.discovery_url if files else "$IDENTITY_DISCOVERY_URL"
        pool = files.identity.pool_id if files else "$IDENTITY_POOL_ID"
        secret = (files.identity.client_secret or "") if (files and reveal_secret) else SECRET_MASK
        return (
            f"agentcore identity create-credential-provider \\\n  --name {ctx.settings.provider_name} \\\n"
            f"  --type cognito \\\n  --client-id {client} \\\n  --client-secret '{secret}' \\\n"
            f"  --discovery-url {url} \\\n  --cognito-pool-id {pool}"
        )

    def command_with_secret(self, ctx: Context) -> str | None:
        return self.command(ctx, reveal_secret=True) if idfiles.read_identity_json(ctx.project) else None

    def values(self, ctx: Context) -> list[tuple[str, str, bool]]:
        recorded = self.resources(ctx)
        rows = [("Provider", ctx.settings.provider_name, False)]
        if recorded.get("arn"):
            rows.append(("ARN", str(recorded["arn"]), False))
        if recorded.get("callback_url"):
            rows.append(("Callback URL", str(recorded["callback_url"]), False))
        files = idfiles.read_identity_json(ctx.project)
        if files:
            rows.append(("Client secret", files.identity.client_secret or "", True))
        return rows

    def detect(self, ctx: Context) -> Detection:
        files = idfiles.read_identity_json(ctx.project)
        if files is None:
            return Detection("pending")
        adopt_from_yaml(ctx, "provider_name", _provider_in_yaml)
        name = ctx.settings.provider_name
        answer = self._get(ctx, name)
        if answer is None:
            return Detection("pending")
        origin = self._owner(ctx, answer)
        taken = ownership.taken_in_room(ctx, f"Credential provider {name}", origin)
        if taken is not None:
            return Detection("needs_action", [f"{taken.message} {taken.fix}"])
        differ = settings_differ(answer, files)
        if differ:
            return Detection("needs_action", [f"A provider named {name} exists, but " + "; ".join(differ)])
        self._remember(ctx, answer, origin=origin)
        failed = [check for check in self._checks(ctx, files, answer) if not check.ok]
        if failed:
            return Detection("pending", [f"{c.name}: {c.detail}" for c in failed])
        return Detection(
            "done", [f"provider {name} exists with this project's settings ({owned(origin, cli_maker(ctx))})"]
        )

    def _owner(self, ctx: Context, answer: dict[str, Any]) -> str:
        """A provider carries no tags that can be read (ListTagsForResource refuses its ARN), so with its record
        lost (a deleted state file), what it is built on says whose it is: the app client of the identity pool
        this project made (and tagged) means this project made it too."""
        recorded = self.resources(ctx)
        intent = recorded.get("origin") if recorded.get("name") == answer["name"] else None
        tag = ownership.agentcore_tag(ctx, str(answer[self.arn_field]))
        # A record made whole says who made it: no intent means by hand. A lost one says nothing; then a provider
        # on this project's own identity-pool client is this project's (else it is left behind after cleanup).
        lost = ownership.record_was_lost(ctx)
        if intent is None and tag is None and lost and self._on_this_projects_pool(ctx, answer):
            return ownership.CREATED
        return ownership.settle(ctx, intent, tag)

    @staticmethod
    def _on_this_projects_pool(ctx: Context, answer: dict[str, Any]) -> bool:
        pools = ctx.state.stage("cognito").get("resources") or {}
        config = (answer.get("oauth2ProviderConfigOutput") or {}).get("customOauth2ProviderConfig") or {}
        client_id = pools.get("identity_client_id")
        return (
            pools.get("identity_origin") == ownership.CREATED
            and bool(client_id)
            and config.get("clientId") == client_id
        )

    def _get(self, ctx: Context, name: str) -> dict[str, Any] | None:
        control = ctx.client("bedrock-agentcore-control")
        return absent_as_none(lambda: dict(control.get_oauth2_credential_provider(name=name)))

    def _remember(self, ctx: Context, answer: dict[str, Any], **more: Any) -> None:
        self.record_many(
            ctx,
            name=answer["name"],
            arn=answer["credentialProviderArn"],
            callback_url=answer.get("callbackUrl"),
            client_secret_arn=(answer.get("clientSecretArn") or {}).get("secretArn"),
            **more,
        )

    def run(self, ctx: Context) -> None:
        name = names.check_provider_name(ctx.settings.provider_name)
        files = identity_files(ctx)
        control = ctx.client("bedrock-agentcore-control")
        answer = self._get(ctx, name)
        owner = self._owner(ctx, answer) if answer is not None else None
        taken = ownership.taken_in_room(ctx, f"Credential provider {name}", owner) if owner is not None else None
        if taken is not None:
            raise taken
        if answer is None:
            self.record_many(ctx, name=name, origin=ownership.CREATING)  # the intent, before it exists
            creator = ctx.creator("bedrock-agentcore-control")
            answer = ownership.create_once(
                ctx,
                f"credential provider {name}",
                lambda: dict(
                    creator.create_oauth2_credential_provider(
                        name=name,
                        credentialProviderVendor="CustomOauth2",
                        oauth2ProviderConfigInput=provider_input(files),
                        tags=ownership.project_tags(ctx),
                    )
                ),
                lambda: self._get(ctx, name),
            )
            self._remember(ctx, answer, origin=ownership.CREATED)  # made just now: ours, whatever was here before
            ctx.log(f"Created credential provider {name}.", "success")
        elif owner == ownership.CREATED:
            # This project made it (an earlier run was stopped before it could record so): carry on with it.
            self._remember(ctx, answer, origin=ownership.CREATED)
            ctx.log(f"Credential provider {name} is this project's own, from an earlier run.")
        else:
            differ = settings_differ(answer, files)
            if differ:
                question = (
                    f"A credential provider named {name} already exists, but " + "; ".join(differ) + ".\n\n"
                    "Update it to this project's identity pool client? (If someone else uses it (a workshop "
                    "sharing one account or sandbox), updating breaks their agent: leave it and pick another "
                    "name with --reconfigure --provider-name.)"
                )
                if not ctx.confirm(question, False, "Update it", "Leave it"):
                    raise NeedsAction(
                        f"Credential provider {name} exists with other settings: " + "; ".join(differ) + ".",
                        fix="Choose another name with --reconfigure --provider-name NAME, or update it from the TUI.",
                    )
                answer = control.update_oauth2_credential_provider(
                    name=name, credentialProviderVendor="CustomOauth2", oauth2ProviderConfigInput=provider_input(files)
                )
                ctx.log(f"Updated credential provider {name}.", "success")
            else:
                ctx.log(f"Credential provider {name} already exists with these settings; adopting it.")
            self._remember(ctx, answer, origin=ownership.ADOPTED)
        ctx.checkpoint()
        self._register_callback(ctx, files, str(answer.get("callbackUrl") or ""))
        ctx.checkpoint()
        self._write_yaml(ctx, name, answer)

    def _register_callback(self, ctx: Context, files: idfiles.IdentityFiles, callback_url: str) -> None:
        if not callback_url:
            raise WizardError("The service returned no callbackUrl for the provider.", fix="Run the stage again.")
        cognito = ctx.client("cognito-idp")
        client = cognito.describe_user_pool_client(
            UserPoolId=files.identity.pool_id, ClientId=files.identity.client_id
        )["UserPoolClient"]
        urls = list(client.get("CallbackURLs") or [])
        if callback_url in urls:
            ctx.log("The callback URL is already registered on the identity app client.")
            return
        allowed = set(cognito.meta.service_model.operation_model("UpdateUserPoolClient").input_shape.members)
        cognito.update_user_pool_client(**full_client_update(client, allowed, [*urls, callback_url]))
        ctx.log(
            "Registered the provider's callback URL on the identity app client (all other settings kept).", "success"
        )

    def _write_yaml(self, ctx: Context, name: str, answer: dict[str, Any]) -> None:
        data = agentcore_yaml.load(ctx.project)
        agent = agent_name(ctx)
        if not data or agent not in data["agents"]:
            raise WizardError(
                f"{agentcore_yaml.YAML_NAME} has no agent {agent}.", fix=f"Run {stage_ref('configure')} first."
            )
        updated = agentcore_yaml.with_provider(
            data, agent, name, answer["credentialProviderArn"], str(answer.get("callbackUrl") or "")
        )
        if updated != data:
            agentcore_yaml.save(ctx.project, updated)
            ctx.log(f"Recorded the provider in {agentcore_yaml.YAML_NAME} (identity.credential_providers).")

    def verify(self, ctx: Context, deep: bool = False) -> list[Check]:
        name = ctx.settings.provider_name
        answer = self._get(ctx, name)
        if answer is None:
            return [Check("provider exists", False, f"{name} does not exist")]
        return self._checks(ctx, identity_files(ctx), answer)

    def _checks(self, ctx: Context, files: idfiles.IdentityFiles, answer: dict[str, Any]) -> list[Check]:
        name = ctx.settings.provider_name
        differ = settings_differ(answer, files)
        checks = [
            Check("provider exists", True, answer["credentialProviderArn"]),
            Check("provider settings", not differ, "; ".join(differ) or "CustomOauth2, identity pool, its client id"),
        ]
        callback_url = answer.get("callbackUrl")
        client = ctx.client("cognito-idp").describe_user_pool_client(
            UserPoolId=files.identity.pool_id, ClientId=files.identity.client_id
        )["UserPoolClient"]
        registered = callback_url in (client.get("CallbackURLs") or [])
        checks.append(Check("callback URL registered", registered, str(callback_url)))
        oauth_ok = "code" in (client.get("AllowedOAuthFlows") or []) and "openid" in (
            client.get("AllowedOAuthScopes") or []
        )
        checks.append(Check("identity client OAuth settings", oauth_ok, "code flow, openid"))
        data = agentcore_yaml.load(ctx.project) or {"agents": {}}
        entry = data["agents"].get(agent_name(ctx)) or {}
        listed = [
            p
            for p in ((entry.get("identity") or {}).get("credential_providers") or [])
            if isinstance(p, dict) and p.get("name") == name and p.get("arn") == answer["credentialProviderArn"]
        ]
        checks.append(Check(f"listed in {agentcore_yaml.YAML_NAME}", bool(listed), name))
        return checks

    def _delete(self, ctx: Context, name: str) -> Any:
        # The client secret the service keeps in Secrets Manager goes with the provider.
        return ctx.client("bedrock-agentcore-control").delete_oauth2_credential_provider(name=name)


def _provider_in_yaml(identity: dict[str, Any]) -> str | None:
    names_ = [
        str(p["name"]) for p in identity.get("credential_providers") or [] if isinstance(p, dict) and p.get("name")
    ]
    return None if not names_ or DEFAULT_PROVIDER in names_ else names_[0]
