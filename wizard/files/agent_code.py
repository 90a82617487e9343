"""The agent the quickstart deploys: inbound JWT, outbound OAuth on behalf of the user."""

from __future__ import annotations

import hashlib

AGENT_FILE = "agent.py"
REQUIREMENTS_FILE = "requirements.txt"

# The starter toolkit is a deploy-time CLI; the runtime only needs the SDK, Strands and boto3.
REQUIREMENTS = """\
bedrock-agentcore>=1.0
strands-agents>=1.0
boto3>=1.40
"""

_AGENT_TEMPLATE = '''\
"""AgentCore Identity quickstart agent: accepts a Cognito JWT (inbound) and gets an
OAuth token for an external service on the user's behalf (outbound).

Written by agentcore-wizard. Edit freely: the wizard notices your changes and never
overwrites them without asking.
"""

from bedrock_agentcore.identity.auth import requires_access_token
from bedrock_agentcore.runtime import BedrockAgentCoreApp
from strands import Agent, tool

app = BedrockAgentCoreApp()

MODEL_ID = {model_id}
PROVIDER_NAME = {provider_name}
SCOPES = {scopes}



class AuthorizationRequired(Exception):
    """Raised from on_auth_url so the URL reaches the user at once, instead of the SDK
    polling for up to ten minutes while the user never sees the link."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


def _stop_with_url(url: str) -> None:
    raise AuthorizationRequired(url)


@requires_access_token(
    provider_name=PROVIDER_NAME,
    scopes=SCOPES,
    auth_flow="USER_FEDERATION",
    on_auth_url=_stop_with_url,
    # No callback_url: the SDK takes the caller's return URL from the OAuth2CallbackUrl header, which
    # the wizard sends on every call (the runtime passes it on), so consent comes back to whoever asked.
    force_authentication=False,
)
async def fetch_external_token(*, access_token: str) -> str:
    return access_token


@tool
async def check_external_service() -> str:
    """Check that the agent can reach the external service on the user's behalf."""
    try:
        token = await fetch_external_token()
    except AuthorizationRequired as needed:
        return (
            "🔐 Authorization Required\\n\\n"
            "Please open this URL in your browser to authorize:\\n"
            f"{{needed.url}}\\n\\n"
            "After authorizing, call this tool again with the same session ID."
        )
    except Exception as error:  # the model should see the failure, not a stack trace
        return f"❌ Failed to authenticate: {{error}}"
    return (
        "✅ Authenticated to external service\\n"
        f"Token length: {{len(token)}} characters\\n"
        "Status: Active and cached for this session"
    )


@app.entrypoint
async def invoke(payload, context):
    """Answer the user's prompt; the model calls check_external_service when it needs to."""
    agent = Agent(
        model=MODEL_ID,
        system_prompt=(
            "You are a helpful assistant with access to external services via OAuth.\\n"
            "When check_external_service returns an authorization URL, "
            "present it clearly to the user and ask them to authorize."
        ),
        tools=[check_external_service],
    )
    # invoke_async keeps the request's context (and its workload access token) for the tools.
    result = await agent.invoke_async(payload.get("prompt", ""))
    content = result.message.get("content") or [{{}}]
    return {{"response": str(content[0].get("text", ""))}}


if __name__ == "__main__":
    app.run()
'''


def render_agent(provider_name: str, scopes: list[str], model_id: str) -> str:
    return _AGENT_TEMPLATE.format(
        model_id=repr(model_id),
        provider_name=repr(provider_name),
        scopes=repr(list(scopes)),
    )


def sha256(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()
