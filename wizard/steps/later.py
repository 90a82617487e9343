"""Stage 8 and cleanup: shown and explained, with the quickstart's command, but not performed yet."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wizard.steps.base import UnavailableStage

if TYPE_CHECKING:
    pass


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
