"""The resumable state file: versioned, atomic, locked, 0600, and never holding a secret."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wizard.errors import WizardError

SCHEMA_VERSION = 1
WIZARD_DIR = ".agentcore-wizard"
STATE_NAME = "state.json"
LOCK_NAME = "lock"

STATUSES = ("pending", "running", "done", "failed", "drifted", "needs_action")
# Written by earlier versions for stages they could not perform yet; read as pending.
_LEGACY_STATUSES = {"unavailable": "pending"}

# Keys that must never reach the state file, whatever a stage tries to record.
_SECRET_KEY = re.compile(r"(password|secret|token)", re.IGNORECASE)
# Keys that name secrets but hold only identifiers or flags.
_ALLOWED_SECRET_LIKE = {"client_secret_arn", "session_id", "runtime_session_id"}


def wizard_dir(project: Path) -> Path:
    return project / WIZARD_DIR


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _check_no_secrets(data: Any, path: str = "") -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            if _SECRET_KEY.search(str(key)) and key not in _ALLOWED_SECRET_LIKE:
                raise ValueError(f"refusing to write secret-looking key {path}{key} to the state file")
            _check_no_secrets(value, f"{path}{key}.")
    elif isinstance(data, list):
        for item in data:
            _check_no_secrets(item, path)


def atomic_write(path: Path, text: str, mode: int = 0o600) -> None:
    """Write text so that readers see the old file or the new one, never a torn one.

    The temp file is created with its final mode, so the content is never readable by others,
    even for an instant.
    """
    directory = path.parent
    fd, tmp_name = _create_exclusive_temp(directory, path.name, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(directory)


def _create_exclusive_temp(directory: Path, stem: str, mode: int) -> tuple[int, str]:
    for _ in range(100):
        name = directory / f".{stem}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            continue
        return fd, str(name)
    raise OSError(f"could not create a temporary file in {directory}")


def remove_stale_temps(directory: Path, names: tuple[str, ...]) -> list[Path]:
    """Temp files left by a process killed mid-write. Call only while holding the project lock."""
    removed = []
    for name in names:
        for path in directory.glob(f".{name}.*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ProjectLock:
    """An advisory lock so two wizards never interleave writes in one folder."""

    def __init__(self, project: Path) -> None:
        self.path = wizard_dir(project) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock_fd(fd)
        except OSError:
            holder = _read_lock_holder(fd)
            os.close(fd)
            who = f" (pid {holder})" if holder else ""
            raise WizardError(
                f"Another agentcore-wizard{who} is working in {self.path.parent.parent}.",
                fix="Finish or quit the other wizard first; two wizards in one folder would "
                "overwrite each other's progress.",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _lock_fd(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _read_lock_holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 32).decode(errors="replace").strip()
    except OSError:
        return ""


def _empty_state() -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "created_at": now_iso(),
        "updated_at": now_iso(),
        "region": None,
        "account": None,
        "mode": None,
        "project_id": None,
        "settings": {},
        "stages": {},
    }


def _settings_of_earlier_versions(data: dict[str, Any]) -> dict[str, Any]:
    """Earlier versions kept the project's parameters where each stage used them; gather them in one place."""
    stages = data.get("stages") or {}

    def recorded(stage: str, name: str) -> Any:
        record = stages.get(stage)
        return (record.get("resources") or {}).get(name) if isinstance(record, dict) else None

    found = {
        "agent_name": recorded("configure", "agent_name"),
        "provider_name": recorded("provider", "name"),
        "workload_name": recorded("workload", "name"),
        "return_url": data.pop("return_url", None),
        "session_id": recorded("invoke", "runtime_session_id"),
    }
    if recorded("deploy", "role_origin") == "yours":
        found["execution_role"] = recorded("deploy", "role_arn")
    return {name: value for name, value in found.items() if value}


class StateFile:
    """In-memory view of the state file with save-on-every-change semantics."""

    def __init__(self, project: Path) -> None:
        self.project = project
        self.path = wizard_dir(project) / STATE_NAME
        self.data: dict[str, Any] = _empty_state()
        self.recovered_from: Path | None = None
        self.load_problem: str | None = None
        # Stages may record from parallel worker threads.
        self._lock = threading.RLock()

    @property
    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> StateFile:
        """Read the file; a corrupt or newer one is kept aside and the problem remembered."""
        if not self.path.exists():
            return self
        try:
            raw = self.path.read_text(encoding="utf-8")
            data = json.loads(raw)
            if not isinstance(data, dict) or not isinstance(data.get("stages"), dict):
                raise ValueError("it is not a wizard state object")
            version = data.get("schema_version")
            if not isinstance(version, int):
                raise ValueError("it has no schema_version")
            for key, record in data["stages"].items():
                if isinstance(record, dict) and record.get("status") in _LEGACY_STATUSES:
                    record["status"] = _LEGACY_STATUSES[record["status"]]
                if not isinstance(record, dict) or record.get("status", "pending") not in STATUSES:
                    raise ValueError(f"its record of stage {key!r} is damaged")
        except (OSError, ValueError) as exc:
            self._set_aside(f"{self.path} could not be read ({exc}).")
            return self
        if version > SCHEMA_VERSION:
            self._set_aside(
                f"{self.path} was written by a newer agentcore-wizard (schema {version}, "
                f"this one understands {SCHEMA_VERSION})."
            )
            return self
        base = _empty_state()
        base.update(data)
        if not isinstance(data.get("settings"), dict):  # base always has one: the empty default
            base["settings"] = _settings_of_earlier_versions(base)
        self.data = base
        for record in self.data["stages"].values():
            if record.get("status") == "running":
                # Nobody holds the lock for it any more: the previous process died mid-stage.
                record["status"] = "failed"
                record["error"] = {
                    "message": "Interrupted while running.",
                    "fix": "Run the stage again: it picks up what already exists and creates no duplicates.",
                }
        return self

    def _set_aside(self, problem: str) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        counter = 1
        while aside.exists():  # never overwrite an earlier damaged copy
            counter += 1
            aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}-{counter}")
        os.replace(self.path, aside)
        self.recovered_from = aside
        self.load_problem = (
            f"{problem} It was moved to {aside}; the wizard rebuilds what it can from the folder and AWS."
        )
        self.data = _empty_state()

    def update(self, **fields: Any) -> None:
        """Set top-level fields (region, mode, settings …) and persist at once."""
        with self._lock:
            self.data.update(fields)
            self.save()

    def save(self) -> None:
        with self._lock:
            _check_no_secrets(self.data)
            self.data["updated_at"] = now_iso()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, json.dumps(self.data, indent=2, sort_keys=True) + "\n")

    # --- per-stage records -------------------------------------------------------------------------

    def stage(self, key: str) -> dict[str, Any]:
        with self._lock:
            return self.data["stages"].setdefault(key, {"status": "pending", "resources": {}})

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self.data)

    def set_status(self, key: str, status: str, error: dict[str, str] | None = None, save: bool = True) -> None:
        assert status in STATUSES, status
        with self._lock:
            record = self.stage(key)
            record["status"] = status
            record["error"] = error
            if status == "running":
                record["started_at"] = now_iso()
            elif status == "done":
                record["finished_at"] = now_iso()
            if save:
                self.save()

    def record(self, key: str, name: str, value: Any) -> None:
        """Store one created resource (or fact) and persist at once: this is what makes resume safe."""
        # Checked before it touches the data: a refused secret must not linger and poison later saves.
        _check_no_secrets({name: value})
        with self._lock:
            self.stage(key).setdefault("resources", {})[name] = value
            self.save()

    def record_many(self, key: str, values: dict[str, Any]) -> None:
        """Several facts of one resource (its id, ARN and origin) in one write: a kill never splits them."""
        _check_no_secrets(values)
        with self._lock:
            self.stage(key).setdefault("resources", {}).update(values)
            self.save()

    def forget(self, key: str, name: str) -> None:
        with self._lock:
            self.stage(key).setdefault("resources", {}).pop(name, None)
            self.save()

    def resources(self, key: str) -> dict[str, Any]:
        with self._lock:
            return dict(self.stage(key).get("resources") or {})


@contextlib.contextmanager
def locked(project: Path) -> Iterator[ProjectLock]:
    lock = ProjectLock(project)
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()
