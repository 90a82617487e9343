"""The workshop's URL and join code, the participant's name, and the calls a wizard makes to the server.

Shared by the wizard (which joins and reports) and the server (which checks the same rules on what it gets)."""

from __future__ import annotations

import json
import re
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from wizard import names
from wizard.errors import UsageError, WizardError

PREFIX = "/workshop"
DASHBOARD_PATH = f"{PREFIX}/"
JOIN_PATH = f"{PREFIX}/api/join"
REPORT_PATH = f"{PREFIX}/api/report"
STATUS_PATH = f"{PREFIX}/api/status"
# secrets.token_urlsafe's alphabet; 8 bytes make 11 characters, too many to guess over HTTP.
CODE_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")
PARTICIPANT_PATTERN = names.PARTICIPANT  # the rule of --participant
ROOM_NAME_MAX = 80
TIMEOUT = 5.0  # seconds: a workshop server is on the room's network; longer means it is not there


def new_code() -> str:
    return secrets.token_urlsafe(8)


def check_room_name(name: str) -> str:
    if (
        not isinstance(name, str)
        or not name.strip()
        or len(name) > ROOM_NAME_MAX
        or re.search(r"[\x00-\x1f\x7f]", name)
    ):
        raise UsageError(
            f"Workshop name {name!r} is empty, too long or has a control character in it.",
            fix=f'Pass a short name of up to {ROOM_NAME_MAX} characters, e.g. --name "Identity workshop, room 2".',
        )
    return name.strip()


@dataclass(frozen=True)
class WorkshopLink:
    """A workshop URL taken apart: `base` (scheme://host:port, the sandbox's AWS endpoint too) and the join code."""

    base: str
    code: str

    @property
    def url(self) -> str:
        return f"{self.base}{DASHBOARD_PATH}?code={self.code}"

    def api(self, path: str) -> str:
        return f"{self.base}{path}"


def parse_link(url: str) -> WorkshopLink:
    """The URL `workshop serve` printed, checked: an http(s) address whose path is /workshop/ and whose query
    carries the join code."""
    from wizard.settings import ENDPOINT_PATTERN

    fix = (
        "Copy the URL from the line `agentcore-wizard workshop serve` printed, "
        "e.g. --workshop 'http://127.0.0.1:4566/workshop/?code=Xy3kP0aQmZc'."
    )
    parts = urllib.parse.urlsplit(url) if isinstance(url, str) and not re.search(r"[\s\x00-\x1f\x7f]", url) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        raise UsageError(f"Workshop URL {url!r} is not an http(s) URL.", fix=fix)
    base = f"{parts.scheme}://{parts.netloc}"
    try:
        port = parts.port
    except ValueError:
        port = -1
    if not ENDPOINT_PATTERN.fullmatch(base) or (port is not None and not 0 < port < 65536):
        raise UsageError(f"Workshop URL {url!r} has no usable host and port.", fix=fix)
    if parts.path.rstrip("/") != PREFIX:
        raise UsageError(f"Workshop URL {url!r} does not point at /workshop/.", fix=fix)
    codes = urllib.parse.parse_qs(parts.query).get("code", [])
    if len(codes) != 1 or not CODE_PATTERN.fullmatch(codes[0]):
        raise UsageError(f"Workshop URL {url!r} carries no join code (?code=…).", fix=fix)
    return WorkshopLink(base, codes[0])


# --- the wizard's calls to the server ----------------------------------------------------------------


class Refused(Exception):
    """The workshop server answered, with an HTTP error status (`message`: what it said)."""

    def __init__(self, status: int, message: str, fix: str = "") -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.fix = fix


def call(url: str, payload: dict[str, Any] | None = None, timeout: float = TIMEOUT) -> dict[str, Any]:
    """GET (or POST the payload as JSON) and return the JSON answer; Refused for an HTTP error, OSError when
    nobody answers."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            body = answer.read()
    except urllib.error.HTTPError as error:
        try:
            said = json.loads(error.read() or b"{}")
        except ValueError:
            said = {}
        said = said if isinstance(said, dict) else {}
        raise Refused(error.code, str(said.get("message") or error.reason), str(said.get("fix") or "")) from None
    try:
        answer_data = json.loads(body or b"{}")
    except ValueError:
        raise OSError(f"{url} did not answer with JSON: is it an agentcore-wizard workshop?") from None
    if not isinstance(answer_data, dict):
        raise OSError(f"{url} did not answer with a JSON object")
    return answer_data


def _unreachable(link: WorkshopLink, exc: BaseException) -> WizardError:
    reason = getattr(exc, "reason", exc)
    return WizardError(
        f"The workshop at {link.base} does not answer ({reason}).",
        fix="Check the URL against the line `agentcore-wizard workshop serve` printed, and ask the facilitator "
        "whether it is still running.",
        code="workshop_unreachable",
    )


def _refused(link: WorkshopLink, refused: Refused) -> WizardError:
    if refused.status == 403:
        return UsageError(
            f"The workshop at {link.base} refused the join code {link.code!r}.",
            fix="Copy the whole URL again from the line `agentcore-wizard workshop serve` printed (the code after "
            "?code= is part of it).",
        )
    return WizardError(
        f"The workshop at {link.base} answered {refused.status}: {refused.message}",
        fix=refused.fix or "Ask the facilitator; the server's output says more.",
        code="workshop_refused",
    )


@dataclass(frozen=True)
class Joined:
    name: str
    sandbox: bool


def join(link: WorkshopLink) -> Joined:
    """Ask the server whether the code is right and whether it runs the room's sandbox."""
    try:
        answer = call(f"{link.api(JOIN_PATH)}?code={urllib.parse.quote(link.code)}")
    except Refused as refused:
        raise _refused(link, refused) from None
    except OSError as exc:
        raise _unreachable(link, exc) from None
    return Joined(str(answer.get("name") or ""), bool(answer.get("sandbox")))


def room_status(link: WorkshopLink) -> dict[str, Any]:
    """What the dashboard shows, as JSON (`workshop status`)."""
    try:
        return call(f"{link.api(STATUS_PATH)}?code={urllib.parse.quote(link.code)}")
    except Refused as refused:
        raise _refused(link, refused) from None
    except OSError as exc:
        raise _unreachable(link, exc) from None
