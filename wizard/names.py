"""Name rules of the services, checked before any AWS call so a typo costs nothing.

Every rule is a full match (`re.fullmatch`): a `$` would let a trailing newline through."""

from __future__ import annotations

import re

from wizard.errors import UsageError

AGENT_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9_]{0,47}")
PROVIDER_NAME = re.compile(r"[a-zA-Z0-9\-_]{1,128}")
WORKLOAD_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
# An OAuth scope token (RFC 6749 3.3: visible ASCII but '"' and '\'), without the ',' that separates them here.
SCOPE = re.compile(r"[\x21\x23-\x2B\x2D-\x5B\x5D-\x7E]{1,128}")
# Bedrock model ids and inference-profile ids or ARNs: letters, digits and . _ : / - (no '*': it goes into the
# execution role's policy).
MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,255}")
# IAM: a role name, or the ARN of a role (with its path) in any partition.
ROLE_NAME = re.compile(r"[A-Za-z0-9_+=,.@-]{1,64}")
ROLE_ARN = re.compile(r"arn:aws(?:-[a-z]+)*:iam::\d{12}:role/(?:[\x21-\x2E\x30-\x7E]+/){0,50}[A-Za-z0-9_+=,.@-]{1,64}")

DEFAULT_AGENT = "identity_demo"
DEFAULT_WORKLOAD = "identity-demo-workload"
DEFAULT_PROVIDER = "ExternalServiceProvider"
# A workshop participant's name goes into every name the wizard makes (Cognito domain prefixes among them, which
# take only lowercase letters, digits and '-'; agent names take no '-'), so it is lowercase letters and digits,
# short enough that the longest derived name still fits its service's limit.
PARTICIPANT = re.compile(r"[a-z][a-z0-9]{0,19}")


def _full(pattern: re.Pattern[str], value: object) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def check_participant(name: str) -> str:
    """A participant name, lowercased (Alice and alice are one person)."""
    lowered = name.lower() if isinstance(name, str) else name
    if not _full(PARTICIPANT, lowered):
        raise UsageError(
            f"Participant name {name!r} is not allowed.",
            fix="Use 1-20 letters and digits, starting with a letter (no spaces, '-' or '_'), e.g. alice or p07.",
        )
    return str(lowered)


def participant_names(participant: str) -> dict[str, str]:
    """The names a participant's project uses where the single-user defaults would collide in a shared room."""
    return {
        "agent_name": f"{participant}_{DEFAULT_AGENT}",
        "provider_name": f"{participant}-{DEFAULT_PROVIDER}",
        "workload_name": f"{participant}-{DEFAULT_WORKLOAD}",
    }


def check_agent_name(name: str) -> str:
    if not _full(AGENT_NAME, name):
        raise UsageError(
            f"Agent name {name!r} is not allowed.",
            fix="Start with a letter; then letters, digits or '_' (no '-'); 1-48 characters, e.g. identity_demo.",
        )
    return name


def check_provider_name(name: str) -> str:
    if not _full(PROVIDER_NAME, name):
        raise UsageError(
            f"Credential provider name {name!r} is not allowed.",
            fix="Use 1-128 letters, digits, '-' or '_', e.g. ExternalServiceProvider.",
        )
    return name


def check_workload_name(name: str) -> str:
    if not _full(WORKLOAD_NAME, name):
        raise UsageError(
            f"Workload identity name {name!r} is not allowed.",
            fix="Use 3-255 letters, digits, '_', '.' or '-', e.g. identity-demo-workload.",
        )
    return name


def check_scopes(text: str) -> tuple[str, ...]:
    """Scopes separated by commas or spaces, each an OAuth scope token of 1-128 characters."""
    rule = "One or more scopes separated by ',' or ' ', each 1-128 visible characters (no '\"' or '\\'), e.g. openid."
    if not isinstance(text, str) or any(ch not in " ," and not ch.isprintable() for ch in text):
        raise UsageError(f"Scopes {text!r} contain a control character.", fix=rule)
    scopes = tuple(scope for scope in text.replace(" ", ",").split(",") if scope)
    bad = [scope for scope in scopes if not _full(SCOPE, scope)]
    if not scopes or bad:
        said = f"Scope {bad[0]!r} is not allowed." if bad else f"Scopes {text!r} name no scope."
        raise UsageError(said, fix=rule)
    return scopes


def check_model_id(model_id: str) -> str:
    if not _full(MODEL_ID, model_id):
        raise UsageError(
            f"Model id {model_id!r} is not allowed.",
            fix="Use a Bedrock model or inference profile id: 1-256 letters, digits, '.', '_', ':', '/' or '-', no "
            "spaces, e.g. us.anthropic.claude-sonnet-4-5-20250929-v1:0.",
        )
    return model_id


def check_execution_role(role: str) -> str:
    if not (_full(ROLE_ARN, role) or _full(ROLE_NAME, role)):
        raise UsageError(
            f"Execution role {role!r} is neither an IAM role ARN nor a role name.",
            fix="Pass arn:aws:iam::<12-digit account>:role/<name>, or the role's name: 1-64 letters, digits or "
            "+=,.@_- (for example AgentCoreRuntimeRole).",
        )
    return role
