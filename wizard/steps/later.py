"""Stages 4–8 and cleanup: shown and explained, with the quickstart's command, but not performed yet."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wizard.files import identity as idfiles
from wizard.steps.base import UnavailableStage

if TYPE_CHECKING:
    from wizard.context import Context


def _identity_value(ctx: Context, role: str, field: str, placeholder: str) -> str:
    files = idfiles.read_identity_json(ctx.project)
    if files is None:
        return placeholder
    return str(getattr(getattr(files, role), field) or placeholder)


class ConfigureStage(UnavailableStage):
    key = "configure"
    number = 4
    title = "Configure agent with JWT auth"
    quickstart_step = "Step 4"
    explanation = (
        "Writes `.bedrock_agentcore.yaml` for the agent `identity_demo`: entrypoint `agent.py`, memory off, "
        "and a **custom JWT authorizer** that accepts access tokens of the runtime pool's app client "
        "(`allowedClients`, since Cognito access tokens carry no `aud`)."
    )

    def command(self, ctx: Context) -> str:
        url = _identity_value(ctx, "runtime", "discovery_url", "$RUNTIME_DISCOVERY_URL")
        client = _identity_value(ctx, "runtime", "client_id", "$RUNTIME_CLIENT_ID")
        return (
            "agentcore configure \\\n  -e agent.py \\\n  --name identity_demo \\\n"
            f'  --authorizer-config \'{{"customJWTAuthorizer": {{"discoveryUrl": "{url}", '
            f'"allowedClients": ["{client}"]}}}}\' \\\n  --disable-memory'
        )


class ProviderStage(UnavailableStage):
    key = "provider"
    number = 5
    title = "Create credential provider"
    quickstart_step = "Step 5"
    explanation = (
        "Creates the OAuth2 credential provider `ExternalServiceProvider` in AgentCore Identity from the "
        "identity pool's app client, and registers the provider's callback URL on that client."
    )

    def command(self, ctx: Context) -> str:
        client = _identity_value(ctx, "identity", "client_id", "$IDENTITY_CLIENT_ID")
        url = _identity_value(ctx, "identity", "discovery_url", "$IDENTITY_DISCOVERY_URL")
        pool = _identity_value(ctx, "identity", "pool_id", "$IDENTITY_POOL_ID")
        # The secret stays a variable reference: it never appears in text the wizard shows.
        return (
            f"agentcore identity create-credential-provider \\\n  --name {ctx.options.provider_name} \\\n"
            f'  --type cognito \\\n  --client-id {client} \\\n  --client-secret "$IDENTITY_CLIENT_SECRET" \\\n'
            f"  --discovery-url {url} \\\n  --cognito-pool-id {pool}"
        )


class WorkloadStage(UnavailableStage):
    key = "workload"
    number = 6
    title = "Create workload identity"
    quickstart_step = "Step 6"
    explanation = (
        "Creates the workload identity `identity-demo-workload`, the agent's identity towards AgentCore "
        "Identity, with the OAuth return URLs it may send users back to."
    )
    command_text = "agentcore identity create-workload-identity \\\n  --name identity-demo-workload"


class DeployStage(UnavailableStage):
    key = "deploy"
    number = 7
    title = "Deploy agent"
    quickstart_step = "Step 7"
    explanation = (
        "Packages the agent, creates its execution role with the Identity permissions, creates the "
        "AgentCore Runtime and waits until it is READY."
    )
    command_text = "agentcore deploy"


class InvokeStage(UnavailableStage):
    key = "invoke"
    number = 8
    title = "Invoke the agent"
    quickstart_step = "Step 8"
    explanation = (
        "Gets a bearer token for the runtime pool's test user, invokes the agent (which answers with an "
        "authorization URL), has you consent in the browser, and invokes again in the same session to get "
        "an authenticated answer."
    )
    command_text = (
        "BEARER_TOKEN=$(agentcore identity get-cognito-inbound-token)\n"
        'agentcore invoke \'{"prompt": "Call the external service"}\' \\\n'
        '  --bearer-token "$BEARER_TOKEN" \\\n  --session-id "demo_session_$(uuidgen | tr -d \'-\')"'
    )


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
