"""The wizard's side of a workshop: its session's progress, posted to the facilitator's server from a background
thread, so a stage never waits on the network.

Only progress travels: each stage's status, its error's message, fix and code (from the one error map, with any
secret the project holds, URL query and long token taken out), what the session is doing, timestamps and the
wizard's version. Updates wait in a small map keyed by stage (the newest of each wins), so while the server does
not answer nothing piles up: the next post that gets through carries where every stage stands."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from wizard import __version__
from wizard.errors import REDACTED, scrub
from wizard.events import ConsentClosed, ConsentRequested, Event, OperationChanged, StatusChanged
from wizard.workshop.link import REPORT_PATH, Refused, WorkshopLink, call

POST_TIMEOUT = 2.0  # seconds: a room's server answers in milliseconds; a slow one is treated as away
RETRY_FIRST, RETRY_MOST = 1.0, 10.0  # seconds between tries while the server does not answer, doubling
CLOSE_WAIT = 3.0  # seconds the end of a command waits for the last report to go out
MAX_TEXT = 1000
# A link's query and fragment carry what identifies a session (a consent link's request_uri, a state).
_URL_QUERY = re.compile(r"(https?://[^\s?#'\"<>]+)[?#][^\s'\"<>]*")
# A long run of token characters with a digit in it: a client secret, a session id, a JWT's part, a signature.
_LONG_TOKEN = re.compile(r"(?<![A-Za-z0-9_+=-])(?=[A-Za-z0-9_+=-]*[0-9])[A-Za-z0-9_+=-]{32,}")

Post = Callable[[str, dict[str, Any]], Any]


def clean(text: str, hidden: Iterable[str] = ()) -> str:
    """Text fit to leave the attendee's machine: no credential a request carried, none of the project's secrets,
    no URL query, no long token."""
    text = scrub(text or "")
    for secret in sorted((value for value in hidden if value and len(value) >= 6), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _URL_QUERY.sub(lambda match: f"{match.group(1)}?{REDACTED}", text)
    text = _LONG_TOKEN.sub(REDACTED, text)
    return text[:MAX_TEXT]


def clean_error(error: dict[str, str] | None, hidden: Iterable[str] = ()) -> dict[str, str] | None:
    if not error:
        return None
    hidden = list(hidden)
    out = {"message": clean(error.get("message", ""), hidden), "fix": clean(error.get("fix", ""), hidden)}
    if error.get("code"):
        out["code"] = clean(error["code"], hidden)[:80]
    return out


def _post(url: str, payload: dict[str, Any]) -> Any:
    return call(url, payload, timeout=POST_TIMEOUT)


class Reporter:
    """Sees a session's events (never blocking it) and posts the progress in them to the workshop."""

    def __init__(
        self,
        link: WorkshopLink,
        participant: str,
        say: Callable[[str, str], None],
        hidden: Callable[[], Iterable[str]] = lambda: (),
        post: Post | None = None,
        retry_first: float = RETRY_FIRST,
    ) -> None:
        self.link = link
        self.participant = participant
        self._say = say  # (text, level): a line in the activity log
        self._hidden = hidden  # the project's secrets, read when an error is about to be sent
        self._post = post or _post
        self._retry_first = retry_first
        self._lock = threading.Lock()
        self._stages: dict[str, dict[str, Any]] = {}  # stage key -> the newest status not yet sent
        self._activity: dict[str, Any] | None = None
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="workshop-reporter", daemon=True)
        self.sent = 0  # reports the server took (tests and the benchmark read it)
        self.dropped = 0  # reports the server refused (a wrong code, a bad field): never sent again

    def start(self) -> Reporter:
        self._thread.start()
        return self

    # --- the session's side: quick, never raises --------------------------------------------------------

    def snapshot(self, statuses: dict[str, tuple[str, dict[str, str] | None]]) -> None:
        """Where every stage stands now (when the session opens): the dashboard's row is whole from the start."""
        at = time.time()
        with self._lock:
            for key, (status, error) in statuses.items():
                self._stages[key] = {"status": status, "error": error, "at": at}
        self._wake.set()

    def see(self, event: Event) -> None:
        try:
            at = time.time()
            with self._lock:
                if isinstance(event, StatusChanged) and event.stage:
                    self._stages[event.stage] = {"status": event.status, "error": event.error, "at": at}
                elif isinstance(event, OperationChanged):
                    self._activity = {"what": event.what, "at": at}
                elif isinstance(event, ConsentRequested):
                    # That it waits, never the link: the link is the attendee's alone.
                    self._activity = {"what": "waiting for approval in the browser", "at": at}
                elif isinstance(event, ConsentClosed):
                    self._activity = {"what": f"consent {event.outcome.replace('_', ' ')}", "at": at}
                else:
                    return
            self._wake.set()
        except Exception:  # reporting is a courtesy to the facilitator: it never stops a stage
            return

    def close(self, wait: float = CLOSE_WAIT) -> None:
        """Send what is left (waiting at most `wait` seconds), then stop."""
        self._closing.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=wait)

    # --- the background thread ------------------------------------------------------------------------

    def _take(self) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None] | None:
        with self._lock:
            self._wake.clear()
            if not self._stages and self._activity is None:
                return None
            taken = (self._stages, self._activity)
            self._stages, self._activity = {}, None
            return taken

    def _put_back(self, stages: dict[str, dict[str, Any]], activity: dict[str, Any] | None) -> None:
        """A post that did not get through: its updates wait again, under any newer ones."""
        with self._lock:
            for key, update in stages.items():
                self._stages.setdefault(key, update)
            if self._activity is None:
                self._activity = activity

    def payload(self, stages: dict[str, dict[str, Any]], activity: dict[str, Any] | None) -> dict[str, Any]:
        hidden: list[str] = []
        if any(update.get("error") for update in stages.values()) or activity:
            try:
                hidden = [value for value in self._hidden() if value]
            except Exception:  # unreadable identity files: the patterns still apply
                hidden = []
        body: dict[str, Any] = {
            "code": self.link.code,
            "participant": self.participant,
            "version": __version__,
            "sent_at": time.time(),
            "stages": {
                key: {"status": update["status"], "error": clean_error(update["error"], hidden), "at": update["at"]}
                for key, update in stages.items()
            },
        }
        if activity is not None:
            what = activity["what"]
            body["activity"] = {"what": None if what is None else clean(what, hidden), "at": activity["at"]}
        return body

    def _loop(self) -> None:
        retry = self._retry_first
        away = False  # the server did not answer the last try: said once in the log
        while True:
            if not away and not self._closing.is_set():
                self._wake.wait()
            taken = self._take()
            if taken is None:
                if self._closing.is_set():
                    return
                away = False  # nothing waits while the server is away (it would have been put back)
                continue
            try:
                self._post(self.link.api(REPORT_PATH), self.payload(*taken))
            except Refused as refused:
                # The server read it and said no (a restarted room with a new code, a field it does not take):
                # sending it again would get the same answer.
                self.dropped += 1
                away, retry = False, self._retry_first
                self._say(f"The workshop did not take a progress report: {refused.message}", "warning")
                continue
            except Exception as exc:  # nobody answers: keep the updates, try again later, carry on meanwhile
                self._put_back(*taken)
                if not away:
                    reason = getattr(exc, "reason", exc)
                    self._say(
                        f"The workshop at {self.link.base} does not answer ({reason}); your progress is sent "
                        "when it does. The wizard carries on.",
                        "warning",
                    )
                    away = True
                if self._closing.is_set():
                    return
                self._closing.wait(retry)  # the end of the command cuts the wait short
                retry = min(retry * 2, RETRY_MOST)
                continue
            self.sent += 1
            if away:
                self._say("The workshop answers again; progress is being reported.", "info")
                away, retry = False, self._retry_first
