"""What the deployed agent wrote to its log group (CloudWatch Logs, in AWS and in the sandbox alike), read
while a call is open or after it failed: where a printed authorization URL or a traceback ends up."""

from __future__ import annotations

import json
import time
from typing import Any


def log_group(runtime_id: str) -> str:
    return f"/aws/bedrock-agentcore/runtimes/{runtime_id}-DEFAULT"


def readable(message: str) -> list[str]:
    """A log event as lines a person reads: the SDK logs JSON records, with a failure's traceback as a list."""
    text = message.strip()
    if text.startswith("{") and text.endswith("}"):
        try:
            record = json.loads(text)
        except ValueError:
            record = None
        if isinstance(record, dict) and "message" in record:
            lines = [f"{record.get('level', '')} {record['message']}".strip()]
            trace = record.get("stackTrace")
            if isinstance(trace, list):
                lines += [part.rstrip() for item in trace for part in str(item).splitlines() if part.strip()]
            elif record.get("errorMessage"):
                lines.append(f"{record.get('errorType', 'Error')}: {record['errorMessage']}")
            return lines
    return message.splitlines()


class AgentLogs:
    """The runtime's log lines since a moment, fetched on demand; a logs API that refuses (no permission, no
    group yet) gives no lines rather than an error: the logs help explain, they never fail a stage."""

    def __init__(self, logs_client: Any, runtime_id: str, since: float | None = None) -> None:
        self._client = logs_client
        self.group = log_group(runtime_id)
        self._since_ms = max(0, int(((since if since is not None else time.time()) - 2) * 1000))
        self.unavailable = ""

    def lines(self, limit: int = 400) -> list[str]:
        found: list[str] = []
        token = None
        try:
            while len(found) < limit:
                request: dict[str, Any] = {"logGroupName": self.group, "startTime": self._since_ms, "limit": 100}
                if token:
                    request["nextToken"] = token
                page = self._client.filter_log_events(**request)
                found.extend(str(event.get("message", "")) for event in page.get("events") or [])
                token = page.get("nextToken")
                if not token:
                    break
        except Exception as exc:  # ResourceNotFoundException, AccessDenied, the network: no lines
            self.unavailable = f"{type(exc).__name__}: {exc}"
            return []
        return [line for message in found for line in readable(message)]

    def authorization_url(self) -> str | None:
        """The first consent link the agent wrote: by the same rule as a link in its answer (invocation's), and
        only a link that is one (a line may hold any other URL)."""
        from wizard.invocation import authorization_url

        for line in self.lines():
            found = authorization_url(line)
            if found and ("request_uri=" in found or "/oauth2/authorize" in found):
                return found
        return None

    def tail(self, count: int = 15) -> list[str]:
        return [line for line in self.lines() if line.strip()][-count:]
