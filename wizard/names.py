"""Name rules of the services, checked before any AWS call so a typo costs nothing."""

from __future__ import annotations

import re

from wizard.errors import UsageError

AGENT_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]{0,47}$")
PROVIDER_NAME = re.compile(r"^[a-zA-Z0-9\-_]{1,128}$")
WORKLOAD_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")

DEFAULT_AGENT = "identity_demo"
DEFAULT_WORKLOAD = "identity-demo-workload"


def check_agent_name(name: str) -> str:
    if not AGENT_NAME.match(name):
        raise UsageError(
            f"Agent name {name!r} is not allowed.",
            fix="Start with a letter; then letters, digits or '_' (no '-'); 1-48 characters, e.g. identity_demo.",
        )
    return name


def check_provider_name(name: str) -> str:
    if not PROVIDER_NAME.match(name):
        raise UsageError(
            f"Credential provider name {name!r} is not allowed.",
            fix="Use 1-128 letters, digits, '-' or '_', e.g. ExternalServiceProvider.",
        )
    return name


def check_workload_name(name: str) -> str:
    if not WORKLOAD_NAME.match(name):
        raise UsageError(
            f"Workload identity name {name!r} is not allowed.",
            fix="Use 3-255 letters, digits, '_', '.' or '-', e.g. identity-demo-workload.",
        )
    return name
