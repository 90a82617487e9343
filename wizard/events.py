"""What a session tells its front end: one small dataclass per kind of event, and the questions it asks.

Every event names the stage it belongs to (by key; "" for the session itself) and turns into one JSON
object with `to_json()`, which is what `run --json` prints, a line each. No event ever carries a password,
client secret or token: the consent event names who signs in, never their password.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

LEVELS = ("info", "warning", "error", "success")


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str] = "event"
    stage: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}


@dataclass(frozen=True)
class LogLine(Event):
    """A line for the activity log."""

    kind: ClassVar[str] = "log"
    message: str
    level: str = "info"


@dataclass(frozen=True)
class AwsCall(Event):
    """An AWS call about to be made (every one is named as it happens)."""

    kind: ClassVar[str] = "aws"
    service: str
    operation: str
    note: str = ""

    @property
    def message(self) -> str:
        return f"{self.service} {self.operation}" + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True)
class Progress(Event):
    """How far a slow stage is; fraction None means "still working" without a measure."""

    kind: ClassVar[str] = "progress"
    fraction: float | None
    message: str = ""


@dataclass(frozen=True)
class StatusChanged(Event):
    kind: ClassVar[str] = "status"
    status: str
    error: dict[str, str] | None = None


@dataclass(frozen=True)
class OperationChanged(Event):
    """The session started an operation (`what` says which) or finished it (`what` is None)."""

    kind: ClassVar[str] = "operation"
    what: str | None


@dataclass(frozen=True)
class AnswerChunk(Event):
    """Text of the agent's answer as it streams; `starts` marks the beginning of a call's answer."""

    kind: ClassVar[str] = "answer"
    call: str
    text: str = ""
    starts: bool = False


@dataclass(frozen=True)
class ConsentRequested(Event):
    """The agent needs the user's approval: the link, who signs in, and whether the wizard listens for the
    browser's return. Opening a browser or copying the link is the front end's business."""

    kind: ClassVar[str] = "consent_requested"
    url: str
    username: str
    listening: bool
    return_url: str
    not_listening_because: str = ""
    expires_at: float = 0.0  # seconds since the epoch
    approving_itself: bool = False  # sandbox --auto-consent: the wizard signs in and approves, no browser needed


@dataclass(frozen=True)
class ConsentClosed(Event):
    kind: ClassVar[str] = "consent_closed"
    outcome: str  # "approved" | "denied" | "lapsed" | "timed_out" | "stopped" | "failed"


@dataclass(frozen=True)
class Summary(Event):
    """Where the project stands after an operation: what `status --json` prints."""

    kind: ClassVar[str] = "summary"
    summary: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "stage": self.stage, **self.summary}


# --- questions: asked through the front end, answered later with Session.answer(id, value) ---------

_ids = itertools.count(1)


def _next_id() -> int:
    return next(_ids)


@dataclass(frozen=True)
class Question(Event):
    kind: ClassVar[str] = "question"
    text: str = ""
    detail: str = ""  # a long part shown in full where there is room: a diff, a policy, a cleanup plan
    id: int = field(default_factory=_next_id)

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "question": type(self).__name__}


@dataclass(frozen=True)
class Confirm(Question):
    """A yes or no. `default` is what a run with nobody to ask takes. `needs_yes`: creating or deleting in
    AWS, which headless runs do only with --yes (or a yes typed at a terminal)."""

    default: bool = False
    yes: str = "Yes"
    no: str = "No"
    needs_yes: bool = False
    refused: str = ""  # what is said when nobody can be asked and needs_yes: why a yes was needed
    refused_fix: str = ""


@dataclass(frozen=True)
class Choose(Question):
    """One of several ways forward: answered with a choice's key, or None (nobody to ask: `default`)."""

    choices: tuple[tuple[str, str], ...] = ()  # (key, label)
    default: str = ""


@dataclass(frozen=True)
class ChooseRegion(Question):
    """No region from a flag, the state file or the profile: which one? Answered with a name, or None."""


@dataclass(frozen=True)
class OfferSandbox(Question):
    """No AWS credentials: carry on in the offline sandbox instead? Answered with True or False."""
