"""The AgentCore account quotas a workshop room runs into, in one place: the sandbox enforces them, preflight reads
them from Service Quotas, and the error map names them in its fixes.

Each is per account and region. In a workshop sharing one account, every attendee's provider counts against the same
50, and providers that earlier runs left behind (the toolkit never deletes them) keep counting."""

from __future__ import annotations

import os
from dataclasses import dataclass

from wizard.errors import WizardError

# The Service Quotas service code of AgentCore. Not in the project's reference notes; public quota tooling and
# listings use this one. Preflight treats any failure to read it as "not readable" and falls back to the default.
SERVICE_CODE = "bedrock-agentcore"


@dataclass(frozen=True)
class Quota:
    code: str  # the Service Quotas code
    name: str  # as Service Quotas names it
    default: int
    counts: str  # what it counts, as a message says it


OAUTH2_PROVIDERS = Quota("L-431051DC", "Resource OAuth2 credential providers", 50, "OAuth2 credential providers")
API_KEY_PROVIDERS = Quota("L-B04D9A86", "Resource API key credential providers", 50, "API key credential providers")
AGENT_RUNTIMES = Quota("L-F4575653", "Total Agents per Account", 1000, "agent runtimes")
ALL = (OAUTH2_PROVIDERS, API_KEY_PROVIDERS, AGENT_RUNTIMES)
BY_CODE = {quota.code: quota for quota in ALL}

# Lowers or raises the sandbox's limits, e.g. "L-431051DC=5" (comma-separated): a rehearsal of a full account without
# making fifty providers, or a test sandbox shared by a whole suite that never deletes what it makes.
SANDBOX_QUOTAS_ENV = "AGENTCORE_WIZARD_SANDBOX_QUOTAS"


def sandbox_limits(text: str | None = None) -> dict[str, int]:
    """The sandbox's limit for each quota: the defaults, with what SANDBOX_QUOTAS_ENV (or `text`) changes."""
    limits = {quota.code: quota.default for quota in ALL}
    text = os.environ.get(SANDBOX_QUOTAS_ENV, "") if text is None else text
    example = f"{SANDBOX_QUOTAS_ENV}={OAUTH2_PROVIDERS.code}=5,{AGENT_RUNTIMES.code}=20"
    for item in filter(None, (part.strip() for part in text.split(","))):
        code, _, value = item.partition("=")
        code = code.strip()
        if code not in limits:
            raise WizardError(
                f"{SANDBOX_QUOTAS_ENV} names {code!r}, which is not a quota the sandbox enforces.",
                fix=f"Use one of {', '.join(limits)}, e.g. {example}",
                code="bad_sandbox_quotas",
            )
        try:
            limit = int(value)
        except ValueError:
            limit = -1
        if limit < 0:
            raise WizardError(
                f"{SANDBOX_QUOTAS_ENV}: {item!r} does not give {code} a whole number of 0 or more.",
                fix=f"Unset it, or set e.g. {example}",
                code="bad_sandbox_quotas",
            )
        limits[code] = limit
    return limits
