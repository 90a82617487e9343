"""The room: what every participant's wizard reported, merged, and the view the dashboard and `workshop status`
show (stuck ones first). Kept in memory and in a JSON file, so a restart of `workshop serve` keeps the room
(its join code included: the attendees' URLs stay valid)."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wizard.state import STATUSES, atomic_write, machine_state_dir
from wizard.steps import REGISTRY
from wizard.workshop.link import CODE_PATTERN, PARTICIPANT_PATTERN, new_code

ROOM_FILE = "room.json"
ROOM_KIND = "agentcore-wizard-workshop-room"
MAX_PARTICIPANTS = 300  # a room, not a conference: beyond this a report is refused (a loop gone wrong)
MAX_TEXT = 1000  # characters of an error's message or fix, or of an activity, kept
PROBLEM = ("failed", "needs_action")  # a stage in one of these waits on the person: they are stuck
STAGE_KEYS = REGISTRY.keys
# Order of the rows: stuck first, then those at work, then those who finished; each by the longest silence.
STANDING_ORDER = {"stuck": 0, "working": 1, "finished": 2}


class ReportRefused(Exception):
    """A report (or a request) the server will not take: the HTTP status and what to say."""

    def __init__(self, status: int, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.fix = fix


@dataclass(frozen=True)
class StageUpdate:
    status: str
    error: dict[str, str] | None
    at: float  # the wizard's clock: the newer of two updates of a stage wins


@dataclass(frozen=True)
class Report:
    participant: str
    version: str
    stages: dict[str, StageUpdate] = field(default_factory=dict)
    activity: tuple[str | None, float] | None = None  # what the session is doing (None: idle), and when


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ReportRefused(400, f"{what} must be a string.")
    return value[:MAX_TEXT]


def _time(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1e11:
        raise ReportRefused(400, f"{what} must be seconds since the epoch.")
    return float(value)


def _error(value: Any, what: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ReportRefused(400, f"{what} must be an object with message, fix and code, or null.")
    error = {"message": _text(value.get("message", ""), f"{what}.message"), "fix": _text(value.get("fix", ""), what)}
    if value.get("code"):
        error["code"] = _text(value["code"], f"{what}.code")[:80]
    return error


def parse_report(data: Any) -> Report:
    """A report's JSON, checked field by field (the join code is checked before, by the server)."""
    if not isinstance(data, dict):
        raise ReportRefused(400, "A report is a JSON object.")
    participant = data.get("participant")
    if not isinstance(participant, str) or not PARTICIPANT_PATTERN.fullmatch(participant):
        raise ReportRefused(
            400,
            f"Participant name {participant!r} is not allowed.",
            "Pass --participant with 1-20 lowercase letters and digits, starting with a letter.",
        )
    stages: dict[str, StageUpdate] = {}
    given = data.get("stages") or {}
    if not isinstance(given, dict):
        raise ReportRefused(400, "stages must be an object keyed by stage key.")
    for key, update in given.items():
        if key not in STAGE_KEYS:
            raise ReportRefused(400, f"No stage {key!r}; known: {', '.join(STAGE_KEYS)}.")
        if not isinstance(update, dict) or update.get("status") not in STATUSES:
            raise ReportRefused(400, f"stages.{key}.status must be one of {', '.join(STATUSES)}.")
        stages[key] = StageUpdate(
            update["status"], _error(update.get("error"), f"stages.{key}.error"), _time(update.get("at"), "at")
        )
    activity = None
    if data.get("activity") is not None:
        said = data["activity"]
        if not isinstance(said, dict):
            raise ReportRefused(400, "activity must be an object with what and at.")
        what = said.get("what")
        activity = (None if what is None else _text(what, "activity.what"), _time(said.get("at"), "activity.at"))
    version = data.get("version", "")
    return Report(participant, _text(version, "version")[:40], stages, activity)


class Room:
    """Every participant's latest stage statuses, under one lock (reports arrive from many threads at once)."""

    def __init__(
        self,
        name: str,
        code: str,
        sandbox: bool,
        participants: dict[str, dict[str, Any]] | None = None,
        port: int | None = None,
    ) -> None:
        self.name = name
        self.code = code
        self.sandbox = sandbox
        self.port = port  # where it was served last: a restart without --port takes it again, so the URL stays
        self.participants: dict[str, dict[str, Any]] = participants or {}
        self.lock = threading.Lock()
        self.changed = threading.Event()  # set by every merge: the store saves the room soon after
        self.version = 0  # counts merges: a dashboard waits for it to move (a long poll) instead of asking often
        self._moved = threading.Condition(self.lock)

    def merge(self, report: Report, now: float | None = None) -> None:
        """Fold a report into the room: per stage (and for the activity) the newer update wins, so reports that
        arrive out of order, or twice after a retry, leave the same room."""
        now = time.time() if now is None else now
        with self.lock:
            record = self.participants.get(report.participant)
            if record is None:
                if len(self.participants) >= MAX_PARTICIPANTS:
                    raise ReportRefused(429, f"This room already holds {MAX_PARTICIPANTS} participants.")
                record = self.participants[report.participant] = {
                    "name": report.participant,
                    "first_seen": now,
                    "stages": {},
                    "activity": {"what": None, "at": 0.0},
                }
            for key, update in report.stages.items():
                held = record["stages"].get(key)
                if held is None or update.at >= held["at"]:
                    record["stages"][key] = {"status": update.status, "error": update.error, "at": update.at}
            if report.activity is not None and report.activity[1] >= record["activity"]["at"]:
                record["activity"] = {"what": report.activity[0], "at": report.activity[1]}
            if report.version:
                record["version"] = report.version
            record["last_event_at"] = now  # the server's clock: "time since" never suffers an attendee's clock
            self.version += 1
            self._moved.notify_all()
        self.changed.set()

    def wait_for_change(self, seen: int, timeout: float) -> None:
        """Return once the room is past version `seen` (at once if it already is), or after `timeout` seconds."""
        with self._moved:
            self._moved.wait_for(lambda: self.version != seen, timeout)

    def view(self, now: float | None = None) -> dict[str, Any]:
        """The room as the dashboard and `workshop status --json` show it: stuck participants first."""
        now = time.time() if now is None else now
        with self.lock:
            rows = [participant_view(record, now) for record in self.participants.values()]
            version = self.version
        rows.sort(key=lambda row: (STANDING_ORDER[row["standing"]], row["last_event_at"], row["name"]))
        return {
            "kind": ROOM_KIND,
            "name": self.name,
            "sandbox": self.sandbox,
            "now": now,
            "version": version,
            "stages": [{"key": s.key, "number": s.number, "title": s.title} for s in REGISTRY],
            "participants": rows,
        }

    def to_json(self) -> dict[str, Any]:
        with self.lock:
            participants = json.loads(json.dumps(self.participants))
        return {
            "kind": ROOM_KIND,
            "name": self.name,
            "code": self.code,
            "port": self.port,
            "participants": participants,
        }


def participant_view(record: dict[str, Any], now: float) -> dict[str, Any]:
    held = record["stages"]
    stages = []
    for stage in REGISTRY:
        update = held.get(stage.key) or {"status": "pending", "error": None, "at": 0.0}
        stages.append(
            {
                "key": stage.key,
                "number": stage.number,
                "title": stage.title,
                "status": update["status"],
                "error": update["error"],
            }
        )
    status = {row["key"]: row["status"] for row in stages}
    run_keys = [stage.key for stage in REGISTRY.run_order]
    problems = [
        (held[key]["at"], key) for key in STAGE_KEYS if status[key] in (*PROBLEM, "drifted") and held[key]["error"]
    ]
    # Where they are: the stage running, else the one they are stuck on, else the next to do.
    running = next((key for key in STAGE_KEYS if status[key] == "running"), None)
    stuck_on = max(((held[key]["at"], key) for key in STAGE_KEYS if status[key] in PROBLEM), default=(0.0, None))[1]
    current = running or stuck_on or next((key for key in run_keys if status[key] != "done"), None)
    last_error = None
    if problems:
        _at, key = max(problems)
        last_error = {"stage": key, **held[key]["error"]}
    if any(status[key] in PROBLEM for key in STAGE_KEYS):
        standing = "stuck"
    elif status["cleanup"] == "done" or all(status[key] == "done" for key in run_keys):
        standing = "finished"
    else:
        standing = "working"
    last = float(record.get("last_event_at", record.get("first_seen", now)))
    return {
        "name": record["name"],
        "standing": standing,
        "current_stage": current,
        "current_status": status[current] if current else None,
        "activity": record["activity"]["what"],
        "last_error": last_error,
        "last_event_at": last,
        "seconds_since_last_event": max(0.0, now - last),
        "version": record.get("version", ""),
        "stages": stages,
    }


# --- keeping the room across restarts ------------------------------------------------------------------


def default_state_dir(name: str) -> Path:
    """Where a room called `name` is kept unless --state-dir says: one folder per room name."""
    slug = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-") or "workshop"
    return machine_state_dir() / "workshops" / slug[:60]


@dataclass
class Loaded:
    room: Room
    restored: bool  # the file held this room: same code, same participants
    problem: str = ""  # a file that could not be read, and where it was moved


def load_room(path: Path, name: str | None, sandbox: bool) -> Loaded:
    """The room kept at `path`, or a new one with a fresh join code. An unreadable file is moved aside, never
    overwritten in place."""
    default_name = "AgentCore Identity workshop"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Loaded(Room(name or default_name, new_code(), sandbox), restored=False)
    except (OSError, ValueError) as exc:
        return Loaded(Room(name or default_name, new_code(), sandbox), False, _moved_aside(path, exc))
    if not isinstance(data, dict):
        data = {}
    code = data.get("code")
    participants = data.get("participants")
    if data.get("kind") != ROOM_KIND or not isinstance(code, str) or not CODE_PATTERN.fullmatch(code):
        return Loaded(Room(name or default_name, new_code(), sandbox), False, _moved_aside(path, "not a room file"))
    port = data.get("port")
    port = port if isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536 else None
    kept = {}
    for key, value in (participants if isinstance(participants, dict) else {}).items():
        if isinstance(value, dict) and PARTICIPANT_PATTERN.fullmatch(str(key)):
            kept[key] = _restored(key, value)
    return Loaded(Room(name or str(data.get("name") or default_name), code, sandbox, kept, port), restored=True)


def _restored(name: str, record: dict[str, Any]) -> dict[str, Any]:
    """A participant from the file, through the same checks a report passes (a hand-edited file cannot break
    the view)."""
    stages = {}
    for key, update in (record.get("stages") or {}).items():
        try:
            parsed = parse_report({"participant": name, "stages": {key: update}}).stages[key]
        except (ReportRefused, AttributeError):
            continue
        stages[key] = {"status": parsed.status, "error": parsed.error, "at": parsed.at}
    said = record.get("activity")
    activity: dict[str, Any] = said if isinstance(said, dict) else {}
    now = time.time()

    def number(value: Any, default: float) -> float:
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default

    restored: dict[str, Any] = {
        "name": name,
        "first_seen": number(record.get("first_seen"), now),
        "last_event_at": number(record.get("last_event_at"), now),
        "stages": stages,
        "activity": {
            "what": activity.get("what") if isinstance(activity.get("what"), str) else None,
            "at": number(activity.get("at"), 0.0),
        },
    }
    if isinstance(record.get("version"), str):
        restored["version"] = record["version"][:40]
    return restored


def _moved_aside(path: Path, why: object) -> str:
    aside = path.with_name(f"{path.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        os.replace(path, aside)
    except OSError as exc:
        return f"{path} could not be read ({why}) nor moved aside ({exc}); a new room starts."
    return f"{path} could not be read ({why}); it was moved to {aside} and a new room starts."


class RoomStore:
    """Writes the room to its file soon after it changes (at most twice a second, off the request threads) and
    once more at the end; 0600, since the file holds the join code."""

    def __init__(self, room: Room, path: Path, interval: float = 0.5) -> None:
        self.room = room
        self.path = path
        self.interval = interval
        self.problem = ""  # the last write that failed, said once on stderr by the server
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="workshop-room-store", daemon=True)

    def start(self) -> RoomStore:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.save()  # the code is on disk before anyone is told it
        self._thread.start()
        return self

    def save(self) -> None:
        self.room.changed.clear()
        atomic_write(self.path, json.dumps(self.room.to_json(), indent=1) + "\n")

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self.room.changed.wait(self.interval) and not self._stop.is_set():
                try:
                    self.save()
                except Exception as exc:  # a full disk must not stop the room; said once, tried again later
                    self.problem = str(exc)
                self._stop.wait(self.interval)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.save()


# --- the same view as text (`workshop status`) -----------------------------------------------------------

MARKS = {"done": "✓", "running": "…", "failed": "✗", "needs_action": "!", "drifted": "~", "pending": "·"}
SAID = {"needs_action": "needs the attendee"}


def _ago(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def render_table(view: dict[str, Any]) -> str:
    """One line per participant, stuck first: each stage's mark, where they are, since when, the last error."""
    stages = view.get("stages") or []
    numbers = " ".join(str(s["number"]) if s.get("number") is not None else "c" for s in stages)
    rows = view.get("participants") or []
    lines = [f"{view.get('name', 'Workshop')}: {len(rows)} participant{'s' if len(rows) != 1 else ''}"]
    if not rows:
        lines.append("Nobody has reported yet.")
        return "\n".join(lines)
    width = max(11, *(len(row["name"]) for row in rows))
    lines.append(f"{'participant':<{width}}  {numbers:<{2 * len(stages)}}  {'since':>6}  now")
    for row in rows:
        marks = " ".join(MARKS.get(stage["status"], "?") for stage in row["stages"])
        where = row.get("current_stage") or "finished"
        if row.get("current_stage"):
            status = row.get("current_status")
            where = f"{where} ({'next' if status == 'pending' else SAID.get(status, status)})"
        since = _ago(row["seconds_since_last_event"])
        lines.append(f"{row['name']:<{width}}  {marks:<{2 * len(stages)}}  {since:>6}  {where}")
        error = row.get("last_error")
        if error:
            lines.append(f"{'':<{width}}    ✗ {error['stage']}: {error['message']}")
            if error.get("fix"):
                lines.append(f"{'':<{width}}      fix: {error['fix']}")
    lines.append("Marks: ✓ done  … running  ✗ failed  ! needs you  ~ drifted  · pending")
    return "\n".join(lines)
