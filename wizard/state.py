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

from wizard.errors import WizardError, file_error

SCHEMA_VERSION = 1
WIZARD_DIR = ".agentcore-wizard"
STATE_NAME = "state.json"
LOCK_NAME = "lock"
PROJECT_BUSY = "project_busy"  # the code of the error: another wizard holds this folder

STATUSES = ("pending", "running", "done", "failed", "drifted", "needs_action")
# Written by earlier versions for stages they could not perform yet; read as pending.
_LEGACY_STATUSES = {"unavailable": "pending"}

# Keys that must never reach the state file, whatever a stage tries to record.
_SECRET_KEY = re.compile(r"(password|secret|token)", re.IGNORECASE)
# Keys that name secrets but hold only identifiers or flags.
# client_token: CreateAgentRuntime's idempotency token, a random id that only makes a repeated create harmless.
_ALLOWED_SECRET_LIKE = {"client_secret_arn", "session_id", "runtime_session_id", "client_token"}


def wizard_dir(project: Path) -> Path:
    return project / WIZARD_DIR


def machine_state_dir() -> Path:
    """What the wizard keeps for this machine's user, not a project: $XDG_STATE_HOME/agentcore-wizard (by default
    ~/.local/state/agentcore-wizard): the return-URL port claims, the workshops a facilitator runs."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base).expanduser() / "agentcore-wizard"


def sandbox_file(project: Path) -> Path:
    """Where a folder's own (detached) sandbox says where it listens, while it runs."""
    return wizard_dir(project) / "sandbox.json"


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
    even for an instant. A failure (a full disk, a folder that is not writable) is a WizardError with its fix.
    """
    try:
        _atomic_write(path, text, mode)
    except OSError as exc:
        raise file_error(exc, path) from exc


def _atomic_write(path: Path, text: str, mode: int) -> None:
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
    """An advisory lock so two wizards never interleave writes in one folder.

    Two locks, both held for the whole session: one on the lock file, which names the holder's pid, and one on
    the project folder itself, so that deleting the lock file (a "stale lock" removed by hand) cannot let a
    second wizard in. A lock file replaced between opening and locking it is opened again: the one locked is
    always the one at the path."""

    ATTEMPTS = 20

    def __init__(self, project: Path) -> None:
        self.project = project
        self.path = wizard_dir(project) / LOCK_NAME
        self._fd: int | None = None
        self._folder_fd: int | None = None

    def acquire(self) -> None:
        folder = self.path.parent
        if folder.exists() and not folder.is_dir():
            raise WizardError(
                f"{folder} is a file, but the wizard keeps this project's progress in a folder of that name.",
                fix=f"Move the file aside (mv {folder} {folder}.file), then run again.",
                code="path_in_the_way",
            )
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise file_error(exc, folder) from None
        try:
            self._folder_fd = _lock_folder(self.project)
        except BlockingIOError:
            raise self._busy(_read_lock_holder_at(self.path)) from None
        try:
            self._fd = self._lock_file()
        except BaseException:
            self.release()
            raise

    def _lock_file(self) -> int:
        for _ in range(self.ATTEMPTS):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                raise file_error(exc, self.path) from None
            try:
                _lock_fd(fd)
            except OSError:
                holder = _read_lock_holder(fd)
                os.close(fd)
                raise self._busy(holder) from None
            if not _same_file(fd, self.path):
                # Removed or replaced after we opened it: whoever locks the file there now holds the folder.
                os.close(fd)
                continue
            try:
                os.ftruncate(fd, 0)
                os.write(fd, str(os.getpid()).encode())
            except OSError as exc:
                os.close(fd)
                raise file_error(exc, self.path) from None
            return fd
        raise WizardError(
            f"The lock file {self.path} keeps being replaced while the wizard takes it.",
            fix="Something else is removing or rewriting it (another wizard, a sync tool or a cleanup script). "
            "Stop that, then run again.",
        )

    def _busy(self, holder: str) -> WizardError:
        who = f" (pid {holder})" if holder else ""
        return WizardError(
            f"Another agentcore-wizard{who} is working in {self.project}.",
            fix="Finish or quit the other wizard first; two wizards in one folder would "
            "overwrite each other's progress.",
            code=PROJECT_BUSY,
        )

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._folder_fd is not None:
            os.close(self._folder_fd)
            self._folder_fd = None


def _same_file(fd: int, path: Path) -> bool:
    """Whether the open file is still the one at the path (not removed, not replaced by another)."""
    try:
        at_path = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (at_path.st_dev, at_path.st_ino)


def _lock_folder(project: Path) -> int | None:
    """An exclusive lock on the project folder itself, or None where folders cannot be locked (Windows, some
    network file systems): then the lock file alone guards the folder. BlockingIOError: another holds it."""
    if sys.platform == "win32":
        return None
    import fcntl

    for _ in range(ProjectLock.ATTEMPTS):
        try:
            fd = os.open(project, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError as exc:
            raise file_error(exc, project) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise
        except OSError:
            os.close(fd)
            return None
        if _same_file(fd, project):
            return fd
        os.close(fd)  # the folder was replaced after we opened it: lock the one there now
    return None


def _lock_fd(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _read_lock_holder_at(path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return ""
    try:
        return _read_lock_holder(fd)
    finally:
        os.close(fd)


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
        # Read-only (status, a dry run): records change in memory only; nothing is written, moved or created.
        self.read_only = False
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
        for key, record in self.data["stages"].items():
            if record.get("status") == "running":
                # Nobody holds the lock for it any more: the previous process died mid-stage.
                record["status"] = "failed"
                record["error"] = (
                    {
                        "message": "The cleanup was interrupted: some of what the wizard made is gone, the rest is "
                        "still there.",
                        "fix": "Run the cleanup again to finish it: it deletes what is left and skips what is gone.",
                        "code": "interrupted",
                    }
                    if key == "cleanup"
                    else {
                        "message": "Interrupted while running.",
                        "fix": "Run the stage again: it picks up what already exists and creates no duplicates.",
                        "code": "interrupted",
                    }
                )
        return self

    def _set_aside(self, problem: str) -> None:
        if self.read_only:  # reported, and left where it is for the next run that may change things
            self.load_problem = f"{problem} The next run that changes anything moves it aside and rebuilds."
            self.data = _empty_state()
            return
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        counter = 1
        while aside.exists():  # never overwrite an earlier damaged copy
            counter += 1
            aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}-{counter}")
        try:
            os.replace(self.path, aside)
        except OSError as exc:
            raise file_error(exc, self.path) from None
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
            if self.read_only:
                return
            self.data["updated_at"] = now_iso()
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(self.path, json.dumps(self.data, indent=2, sort_keys=True) + "\n")
            except OSError as exc:
                raise file_error(exc, self.path) from None

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
