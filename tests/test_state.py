"""StateFile and ProjectLock (wizard/state.py): atomic, private, locked, versioned, secret-free."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from wizard import state as state_mod
from wizard.errors import WizardError
from wizard.state import (
    SCHEMA_VERSION,
    ProjectLock,
    StateFile,
    atomic_write,
    locked,
    wizard_dir,
)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def _write_state(project: Path, payload: bytes | str | dict) -> Path:
    path = wizard_dir(project) / "state.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(payload, dict):
        payload = json.dumps(payload)
    if isinstance(payload, str):
        payload = payload.encode()
    path.write_bytes(payload)
    return path


def _damaged(project: Path) -> list[Path]:
    return sorted(wizard_dir(project).glob("state.json.damaged-*"))


# --- atomic_write ---------------------------------------------------------------------------------


def test_atomic_write_creates_private_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "secret.txt"
    atomic_write(target, "hello\n")
    assert target.read_text() == "hello\n"
    assert _mode(target) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.txt"]


def test_atomic_write_is_private_even_with_umask_zero(tmp_path: Path) -> None:
    target = tmp_path / "secret.txt"
    old = os.umask(0)
    try:
        atomic_write(target, "x")
    finally:
        os.umask(old)
    assert _mode(target) == 0o600


def test_atomic_write_replaces_content_whole_and_tightens_mode(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("a much longer original content\n" * 50)
    os.chmod(target, 0o644)
    atomic_write(target, "short")
    assert target.read_bytes() == b"short"
    assert _mode(target) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_atomic_write_honours_explicit_mode(tmp_path: Path) -> None:
    target = tmp_path / "agent.py"
    atomic_write(target, "print('hi')\n", mode=0o644)
    assert _mode(target) == 0o644 & ~_current_umask()


def _current_umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


class _Boom(Exception):
    pass


def test_atomic_write_failure_in_replace_keeps_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "state.json"
    target.write_text("old content")

    def fail(*_args, **_kwargs):
        raise _Boom("disk on fire")

    monkeypatch.setattr(state_mod.os, "replace", fail)
    with pytest.raises(_Boom):
        atomic_write(target, "new content")
    monkeypatch.undo()
    assert target.read_text() == "old content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_atomic_write_failure_while_writing_keeps_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "state.json"
    target.write_text("old content")

    def fail(_fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(state_mod.os, "fsync", fail)
    with pytest.raises(WizardError) as caught:  # said with its fix, never a bare OSError
        atomic_write(target, "new content")
    assert caught.value.code == "disk_full" and "free some space" in caught.value.fix
    monkeypatch.undo()
    assert target.read_text() == "old content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_save_failure_keeps_previous_state(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = StateFile(project)
    state.record("cognito", "runtime_pool_id", "us-east-1_first")
    before = state.path.read_bytes()

    def fail(*_args, **_kwargs):
        raise _Boom()

    monkeypatch.setattr(state_mod.os, "replace", fail)
    with pytest.raises(_Boom):
        state.record("cognito", "identity_pool_id", "us-east-1_second")
    monkeypatch.undo()
    assert state.path.read_bytes() == before
    assert sorted(p.name for p in state.path.parent.iterdir()) == ["state.json"]


# --- save / load round trip -----------------------------------------------------------------------


def test_record_persists_immediately_private(project: Path) -> None:
    state = StateFile(project)
    assert not state.exists
    state.record("cognito", "runtime_pool_id", "us-east-1_abc")
    assert state.exists
    assert _mode(state.path) == 0o600
    on_disk = json.loads(state.path.read_text())
    assert on_disk["schema_version"] == SCHEMA_VERSION
    assert on_disk["stages"]["cognito"]["resources"]["runtime_pool_id"] == "us-east-1_abc"

    again = StateFile(project).load()
    assert again.load_problem is None
    assert again.resources("cognito") == {"runtime_pool_id": "us-east-1_abc"}
    again.forget("cognito", "runtime_pool_id")
    assert StateFile(project).load().resources("cognito") == {}


def test_set_status_round_trip(project: Path) -> None:
    state = StateFile(project)
    state.set_status("preflight", "done")
    state.set_status("cognito", "failed", {"message": "m", "fix": "f"})
    loaded = StateFile(project).load()
    assert loaded.stage("preflight")["status"] == "done"
    assert loaded.stage("preflight").get("finished_at")
    assert loaded.stage("cognito")["error"] == {"message": "m", "fix": "f"}


# --- ProjectLock ----------------------------------------------------------------------------------


def test_second_lock_in_same_process_conflicts(project: Path) -> None:
    first = ProjectLock(project)
    first.acquire()
    try:
        second = ProjectLock(project)
        with pytest.raises(WizardError) as info:
            second.acquire()
        message = info.value.message
        assert "Another agentcore-wizard" in message
        assert f"pid {os.getpid()}" in message
        assert info.value.fix
    finally:
        first.release()
    # Once released, the folder is free again.
    third = ProjectLock(project)
    third.acquire()
    third.release()


def test_locked_context_manager_releases(project: Path) -> None:
    with locked(project), pytest.raises(WizardError):
        ProjectLock(project).acquire()
    with locked(project):
        pass


def test_lock_file_is_private_and_names_holder(project: Path) -> None:
    lock = ProjectLock(project)
    lock.acquire()
    try:
        assert _mode(lock.path) == 0o600
        assert lock.path.read_text() == str(os.getpid())
    finally:
        lock.release()


def test_lock_held_by_other_process_conflicts_and_names_its_pid(project: Path) -> None:
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
        pid = holder.stdout.readline().strip()
        assert pid.isdigit()
        with pytest.raises(WizardError) as info:
            ProjectLock(project).acquire()
        assert f"pid {pid}" in info.value.message
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    # The holder's death released the lock.
    lock = ProjectLock(project)
    lock.acquire()
    lock.release()


# --- damaged / newer / interrupted state ----------------------------------------------------------


def test_corrupt_state_is_moved_aside(project: Path) -> None:
    garbage = b'{"schema_version": 1, "stages": {\xff\xfe not json'
    path = _write_state(project, garbage)
    state = StateFile(project).load()
    aside = _damaged(project)
    assert len(aside) == 1
    assert aside[0].read_bytes() == garbage
    assert state.recovered_from == aside[0]
    assert not path.exists()
    assert state.load_problem is not None
    assert str(path) in state.load_problem
    assert str(aside[0]) in state.load_problem
    assert state.data["stages"] == {}
    assert state.data["project_id"] is None
    assert state.data["schema_version"] == SCHEMA_VERSION


@pytest.mark.parametrize(
    "payload",
    ["[]", "{}", '{"stages": {}}', '{"schema_version": "1", "stages": {}}', '{"schema_version": 1, "stages": []}'],
)
def test_valid_json_that_is_not_a_state_is_moved_aside(project: Path, payload: str) -> None:
    _write_state(project, payload)
    state = StateFile(project).load()
    aside = _damaged(project)
    assert len(aside) == 1 and aside[0].read_text() == payload
    assert state.load_problem and "state.json" in state.load_problem
    assert state.data["stages"] == {}


def test_newer_schema_is_moved_aside(project: Path) -> None:
    payload = {
        "schema_version": 99,
        "stages": {"cognito": {"status": "done", "resources": {"x": "y"}}},
        "project_id": "abc",
    }
    _write_state(project, payload)
    state = StateFile(project).load()
    aside = _damaged(project)
    assert len(aside) == 1
    assert json.loads(aside[0].read_text()) == payload
    assert state.load_problem and "newer" in state.load_problem
    assert "99" in state.load_problem
    assert state.data["stages"] == {}
    assert state.data["project_id"] is None


def test_running_stage_becomes_failed_interrupted(project: Path) -> None:
    _write_state(
        project,
        {
            "schema_version": SCHEMA_VERSION,
            "project_id": "p1",
            "stages": {
                "cognito": {"status": "running", "resources": {"runtime_pool_id": "us-east-1_x"}},
                "preflight": {"status": "done", "resources": {}},
            },
        },
    )
    state = StateFile(project).load()
    assert state.load_problem is None
    assert _damaged(project) == []
    cognito = state.stage("cognito")
    assert cognito["status"] == "failed"
    assert "Interrupted" in cognito["error"]["message"]
    assert cognito["error"]["fix"]
    assert cognito["resources"] == {"runtime_pool_id": "us-east-1_x"}
    assert state.stage("preflight")["status"] == "done"
    assert state.data["project_id"] == "p1"


def test_an_interrupted_cleanup_says_so_and_that_running_it_again_finishes_it(project: Path) -> None:
    _write_state(project, {"schema_version": SCHEMA_VERSION, "stages": {"cleanup": {"status": "running"}}})
    error = StateFile(project).load().stage("cleanup")["error"]
    assert error["code"] == "interrupted"
    assert "cleanup was interrupted" in error["message"] and "finish it" in error["fix"]
    assert "creates no duplicates" not in error["fix"]  # a stage's wording, not a cleanup's


def test_missing_top_level_keys_are_filled_in(project: Path) -> None:
    _write_state(project, {"schema_version": SCHEMA_VERSION, "stages": {}})
    state = StateFile(project).load()
    assert state.load_problem is None
    for key in ("region", "account", "mode", "project_id", "created_at", "settings"):
        assert key in state.data
    assert state.data["settings"] == {}


def test_stored_unavailable_status_is_read_as_pending(project: Path) -> None:
    """Earlier versions stored "unavailable" for stages they could not perform yet; that status is gone."""
    assert "unavailable" not in state_mod.STATUSES
    _write_state(
        project,
        {
            "schema_version": SCHEMA_VERSION,
            "stages": {
                "invoke": {"status": "unavailable", "resources": {"note": "kept"}},
                "preflight": {"status": "done", "resources": {}},
            },
        },
    )
    state = StateFile(project).load()
    assert state.load_problem is None
    assert _damaged(project) == []
    assert state.stage("invoke")["status"] == "pending"
    assert state.stage("invoke")["resources"] == {"note": "kept"}
    assert state.stage("preflight")["status"] == "done"
    with pytest.raises(AssertionError):
        state.set_status("invoke", "unavailable")


def _earlier_version_state(role_origin: str) -> dict:
    """A state file as earlier versions wrote it: no "settings"; each value where the stage that used it kept it."""
    return {
        "schema_version": SCHEMA_VERSION,
        "project_id": "p1",
        "region": "us-east-1",
        "return_url": "http://localhost:8123/oauth2/callback",
        "stages": {
            "configure": {"status": "done", "resources": {"agent_name": "my_agent"}},
            "provider": {"status": "done", "resources": {"name": "MyProvider", "origin": "created"}},
            "workload": {"status": "done", "resources": {"name": "my-workload", "origin": "adopted"}},
            "deploy": {
                "status": "done",
                "resources": {
                    "role_arn": "arn:aws:iam::123456789012:role/TheirRole",
                    "role_origin": role_origin,
                    "runtime_id": "rt-1",
                },
            },
            "invoke": {"status": "done", "resources": {"runtime_session_id": "s" * 40}},
        },
    }


def test_earlier_versions_settings_are_gathered_in_one_place(project: Path) -> None:
    payload = _earlier_version_state("yours")
    _write_state(project, payload)
    state = StateFile(project).load()
    assert state.load_problem is None and _damaged(project) == []
    assert state.data["settings"] == {
        "agent_name": "my_agent",
        "provider_name": "MyProvider",
        "workload_name": "my-workload",
        "return_url": "http://localhost:8123/oauth2/callback",
        "execution_role": "arn:aws:iam::123456789012:role/TheirRole",
        "session_id": "s" * 40,
    }
    assert "return_url" not in state.data  # it lives in the settings now, not beside them
    # Nothing else moved: the stages keep their records as they were.
    for key, record in payload["stages"].items():
        assert state.stage(key)["resources"] == record["resources"], key
        assert state.stage(key)["status"] == "done", key
    # Written back in the new shape on the next save, and read the same way again.
    state.save()
    on_disk = json.loads(state.path.read_text())
    assert on_disk["settings"] == state.data["settings"] and "return_url" not in on_disk
    assert StateFile(project).load().data["settings"] == state.data["settings"]


def test_earlier_versions_role_made_by_the_wizard_is_not_a_setting(project: Path) -> None:
    """Only a role the person brought (--execution-role) was their choice; one the wizard made is not."""
    _write_state(project, _earlier_version_state("created"))
    settings = StateFile(project).load().data["settings"]
    assert "execution_role" not in settings
    assert settings["agent_name"] == "my_agent" and settings["provider_name"] == "MyProvider"


def test_earlier_versions_without_those_values_get_empty_settings(project: Path) -> None:
    _write_state(
        project,
        {"schema_version": SCHEMA_VERSION, "stages": {"preflight": {"status": "done", "resources": {}}}},
    )
    assert StateFile(project).load().data["settings"] == {}


def test_recorded_settings_are_kept_as_they_are(project: Path) -> None:
    """A file that has settings is of this version: they are not gathered again from the stages."""
    payload = _earlier_version_state("yours")
    payload["settings"] = {"provider_name": "Chosen", "model_id": "m-1", "scopes": ["openid", "profile"]}
    _write_state(project, payload)
    state = StateFile(project).load()
    assert state.data["settings"] == {"provider_name": "Chosen", "model_id": "m-1", "scopes": ["openid", "profile"]}


def test_update_sets_top_level_fields_and_persists_at_once(project: Path) -> None:
    state = StateFile(project)
    assert not state.exists
    state.update(region="eu-west-1", mode="sandbox", settings={"agent_name": "a1", "scopes": ["openid"]})
    assert _mode(state.path) == 0o600
    loaded = StateFile(project).load()
    assert loaded.load_problem is None
    assert loaded.data["region"] == "eu-west-1" and loaded.data["mode"] == "sandbox"
    assert loaded.data["settings"] == {"agent_name": "a1", "scopes": ["openid"]}
    assert loaded.data["schema_version"] == SCHEMA_VERSION
    # Only the fields named change.
    loaded.update(region="us-east-1")
    again = StateFile(project).load().data
    assert again["region"] == "us-east-1" and again["mode"] == "sandbox"
    assert again["settings"] == {"agent_name": "a1", "scopes": ["openid"]}
    assert sorted(p.name for p in state.path.parent.iterdir()) == ["state.json"]


def test_update_refuses_a_secret_and_writes_nothing(project: Path) -> None:
    state = StateFile(project)
    state.update(region="us-east-1")
    before = state.path.read_bytes()
    with pytest.raises(ValueError, match="secret"):
        state.update(settings={"client_secret": "x"})
    assert state.path.read_bytes() == before


# Regression: StateFile.load() used to crash with AttributeError when a stage record was not an
# object (e.g. "stages": {"cognito": null}); such a file is moved aside like any other damaged one.
def test_stage_record_that_is_not_an_object_is_moved_aside(project: Path) -> None:
    _write_state(project, {"schema_version": SCHEMA_VERSION, "stages": {"cognito": None}})
    state = StateFile(project).load()
    assert len(_damaged(project)) == 1
    assert state.load_problem is not None
    assert state.data["stages"] == {}


# Regression: StateFile._set_aside used to name the copy with a one-second timestamp and
# os.replace() onto it, so a second damaged file in the same second overwrote the first copy.
def test_two_damaged_files_in_the_same_second_are_both_kept(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_strftime = time.strftime

    def frozen(fmt: str, *args):
        if fmt == "%Y%m%d-%H%M%S":
            return "20260101-000000"
        return real_strftime(fmt, *args)

    monkeypatch.setattr(state_mod.time, "strftime", frozen)
    _write_state(project, b"first garbage")
    StateFile(project).load()
    _write_state(project, b"second garbage")
    StateFile(project).load()
    contents = sorted(path.read_bytes() for path in _damaged(project))
    assert contents == [b"first garbage", b"second garbage"]


# --- never a secret -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("password", "x"),
        ("RUNTIME_PASSWORD", "x"),
        ("client_secret", "x"),
        ("access_token", "x"),
        ("pools", {"identity": {"client_secret": "x"}}),
        ("users", [{"name": "u", "password": "x"}]),
    ],
)
def test_secret_looking_keys_are_refused_and_nothing_written(project: Path, name: str, value) -> None:
    state = StateFile(project)
    state.record("cognito", "runtime_pool_id", "us-east-1_ok")
    before = state.path.read_bytes()
    with pytest.raises(ValueError, match="secret"):
        state.record("cognito", name, value)
    assert state.path.read_bytes() == before
    assert b'"x"' not in state.path.read_bytes()


def test_secret_key_refused_on_fresh_folder_writes_no_file(project: Path) -> None:
    state = StateFile(project)
    with pytest.raises(ValueError):
        state.record("cognito", "password", "hunter2")
    assert not state.path.exists()
    leftovers = list(wizard_dir(project).iterdir()) if wizard_dir(project).exists() else []
    assert leftovers == []


def test_allowed_secret_like_keys_are_accepted(project: Path) -> None:
    state = StateFile(project)
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bedrock-agentcore-identity!default/oauth2/P-abc123"
    state.record("provider", "client_secret_arn", arn)
    state.record("invoke", "session_id", "abc")
    assert StateFile(project).load().resources("provider") == {"client_secret_arn": arn}
    assert StateFile(project).load().resources("invoke") == {"session_id": "abc"}


# Regression: StateFile.record() used to put the value into self.data *before* save() checked it,
# so a refused secret stayed in memory and every later save() raised ValueError too.
def test_refused_secret_does_not_poison_later_saves(project: Path) -> None:
    state = StateFile(project)
    with pytest.raises(ValueError):
        state.record("cognito", "password", "hunter2")
    state.record("cognito", "runtime_pool_id", "us-east-1_after")
    assert StateFile(project).load().resources("cognito") == {"runtime_pool_id": "us-east-1_after"}
    assert "hunter2" not in json.dumps(state.data)
