"""Carrying on with the quickstart's own CLI (`agentcore`, starter toolkit 0.3.14) in a wizard folder.

The toolkit resolves its region per command (setup-cognito and the identity commands from the environment,
deploy and invoke from the YAML) and reaches AgentCore through `BEDROCK_AGENTCORE_CP_ENDPOINT` /
`BEDROCK_AGENTCORE_DP_ENDPOINT`, besides boto3's own `AWS_ENDPOINT_URL`. Pointed only partly at a folder's sandbox,
its cleanup sends deletes of the quickstart's fixed names to real AWS with whatever credentials are loaded: these
variables point all of it at the right place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from wizard.errors import WizardError
from wizard.state import StateFile

SANDBOX_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "sandbox", "AWS_SECRET_ACCESS_KEY": "sandbox"}
# Set in a user's shell, these would send the toolkit's calls elsewhere than the variables below say.
CLEARED_FOR_SANDBOX = ["AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"]


@dataclass
class ToolkitEnvironment:
    values: dict[str, str] = field(default_factory=dict)
    cleared: list[str] = field(default_factory=list)
    note: str = ""


def environment(project: Path) -> ToolkitEnvironment:
    """What the agentcore CLI needs to act on this folder's resources, and nowhere else."""
    state = StateFile(project)
    state.read_only = True
    state.load()
    region = state.data.get("region")
    if not region:
        raise WizardError(
            "This folder has no pinned region yet.", fix="Run stage 0 first: agentcore-wizard run --through preflight"
        )
    values = {"AWS_REGION": str(region), "AWS_DEFAULT_REGION": str(region), "AGENTCORE_SUPPRESS_RECOMMENDATION": "1"}
    if state.data.get("mode") != "sandbox":
        return ToolkitEnvironment(values, [], f"The toolkit then works in {region}, as this project does.")
    from wizard.sandbox.manager import running_endpoint

    endpoint = running_endpoint(project)
    if endpoint is None:
        raise WizardError(
            "This folder's sandbox is not running, so there is nothing for the toolkit to reach.",
            fix="Start the wizard in this folder (`agentcore-wizard status --verify` starts the sandbox; a new "
            "sandbox is empty), then ask again.",
        )
    values.update(
        AWS_ENDPOINT_URL=endpoint,
        BEDROCK_AGENTCORE_CP_ENDPOINT=endpoint,
        BEDROCK_AGENTCORE_DP_ENDPOINT=endpoint,
        **SANDBOX_CREDENTIALS,
    )
    return ToolkitEnvironment(
        values,
        CLEARED_FOR_SANDBOX,
        f"The toolkit then talks to this folder's sandbox at {endpoint} only (nothing reaches AWS).",
    )
