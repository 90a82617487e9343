"""Two wizards can never both hold a folder: not when the lock file is deleted while one runs, nor when it is
replaced between opening and locking it (ProjectLock in wizard/state.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from wizard import state
from wizard.errors import WizardError
from wizard.state import ProjectLock


def _held_file_is_at_the_path(lock: ProjectLock) -> bool:
    assert lock._fd is not None
    held, there = os.fstat(lock._fd), os.stat(lock.path)
    return (held.st_dev, held.st_ino) == (there.st_dev, there.st_ino)


def test_deleting_the_lock_file_does_not_let_a_second_wizard_in(project: Path) -> None:
    first = ProjectLock(project)
    first.acquire()
    try:
        first.path.unlink()  # a "stale lock" removed by hand while the first wizard runs
        with pytest.raises(WizardError) as caught:
            ProjectLock(project).acquire()
        assert "Another agentcore-wizard" in caught.value.message
        assert caught.value.fix
    finally:
        first.release()
    again = ProjectLock(project)
    again.acquire()  # released: the folder is free again, and a new lock file is made
    try:
        assert again.path.read_text() == str(os.getpid())
    finally:
        again.release()


def test_deleting_the_lock_file_of_another_process_does_not_let_a_second_wizard_in(project: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, sys
        from pathlib import Path
        from wizard.state import ProjectLock
        lock = ProjectLock(Path({str(project)!r}))
        lock.acquire()
        print(os.getpid(), flush=True)
        sys.stdin.read()
        """
    )
    holder = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip().isdigit()
        (project / ".agentcore-wizard" / "lock").unlink()
        with pytest.raises(WizardError, match="Another agentcore-wizard"):
            ProjectLock(project).acquire()
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)


def _replace_after_locking(monkeypatch: pytest.MonkeyPatch, path: Path, other_holds_it: bool) -> list[int]:
    """The first lock taken lands on a file that is then replaced at the path (by a wizard deleting a 'stale' lock
    and making its own), as if it happened between our open and our flock."""
    real = state._lock_fd
    others: list[int] = []

    def lock_fd(fd: int) -> None:
        real(fd)
        if not others:
            path.unlink()
            other = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            if other_holds_it:
                real(other)
                os.write(other, b"4242")
            others.append(other)

    monkeypatch.setattr(state, "_lock_fd", lock_fd)
    return others


def test_a_lock_file_replaced_while_taking_it_is_taken_again(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    others = _replace_after_locking(monkeypatch, project / ".agentcore-wizard" / "lock", other_holds_it=False)
    lock = ProjectLock(project)
    lock.acquire()
    try:
        assert others, "the replacement happened"
        assert _held_file_is_at_the_path(lock)  # not the deleted file it locked first
    finally:
        lock.release()
        os.close(others[0])


@pytest.mark.parametrize("folder_locks", [True, False], ids=["folder-locks", "no-folder-locks"])
def test_a_lock_file_replaced_and_held_by_another_is_refused(
    project: Path, monkeypatch: pytest.MonkeyPatch, folder_locks: bool
) -> None:
    """Where folders cannot be locked (Windows, some network file systems) the lock file alone must hold."""
    if not folder_locks:
        monkeypatch.setattr(state, "_lock_folder", lambda project: None)
    others = _replace_after_locking(monkeypatch, project / ".agentcore-wizard" / "lock", other_holds_it=True)
    with pytest.raises(WizardError) as caught:
        ProjectLock(project).acquire()
    assert "pid 4242" in caught.value.message
    os.close(others[0])
    # Nothing is left held: the folder is free for the next wizard.
    monkeypatch.undo()
    lock = ProjectLock(project)
    lock.acquire()
    lock.release()


def test_without_folder_locks_the_lock_file_still_refuses_a_second(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state, "_lock_folder", lambda project: None)
    first = ProjectLock(project)
    first.acquire()
    try:
        with pytest.raises(WizardError, match=f"pid {os.getpid()}"):
            ProjectLock(project).acquire()
    finally:
        first.release()


def test_a_lock_file_that_keeps_changing_is_refused(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state, "_same_file", lambda fd, path: False)
    lock = ProjectLock(project)
    with pytest.raises(WizardError, match="keeps being replaced"):
        lock.acquire()
    monkeypatch.undo()
    lock.acquire()  # nothing half-held was left behind
    lock.release()


def test_the_cli_refuses_a_second_wizard_after_the_lock_file_was_deleted(project: Path) -> None:
    from wizard_helpers import run_cli

    first = ProjectLock(project)
    first.acquire()
    try:
        first.path.unlink()
        result = run_cli(project, "run", "--sandbox-endpoint", "http://127.0.0.1:9", "--yes", timeout=60)
    finally:
        first.release()
    assert result.returncode == 1, result.stderr
    assert "Another agentcore-wizard" in result.stderr and "Traceback" not in result.stderr
    assert not (project / ".agentcore-wizard" / "state.json").exists()
