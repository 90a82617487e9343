"""No traceback in any failure: a folder that cannot be written, a full disk during stage 1, the wizard's folder
being a plain file, a damaged state file, a 500 during detection. Each ends in `error: …` and `fix: …` with exit
1 or 2. And no request's Authorization header is ever shown.

The CLI runs in this process (`wizard.cli.dispatch`) against the test session's sandbox on 127.0.0.1, so that a
full disk can be simulated; an exception escaping dispatch would fail the test by itself."""

from __future__ import annotations

import errno
import json
import os
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wizard import cli
from wizard.errors import WizardError, explain, scrub

SIGNED = (
    "Invalid header value b'AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-west-2\\n/sts/aws4_request, "
    "SignedHeaders=content-type;host;x-amz-date, Signature=51f9f6e2ce08f4c67b7d5eb599134f85bd86600e2d67a2f0d29c8ceec'"
)
SECRET_PARTS = ("AKIAEXAMPLE", "51f9f6e2ce08", "Signature=5", "Credential=AKIA")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.dispatch(list(args))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def assert_clean_failure(code: int, output: str, *expected: str) -> None:
    assert code in (1, 2), output
    assert "Traceback" not in output
    assert "\nerror: " in "\n" + output and "\n  fix: " in output, output
    for text in expected:
        assert text in output, output
    for part in SECRET_PARTS:
        assert part not in output


@pytest.fixture
def base(project: Path, sandbox_endpoint: str) -> list[str]:
    """`run` in the project against the session's sandbox, with names of its own (the sandbox is shared)."""
    suffix = uuid.uuid4().hex[:8]
    return [
        "run",
        "--dir",
        str(project),
        "--sandbox-endpoint",
        sandbox_endpoint,
        "--yes",
        "--no-browser",
        f"--agent-name=agent_{suffix}",
        f"--provider-name=Provider-{suffix}",
        f"--workload-name=workload-{suffix}",
    ]


# --- the folder ----------------------------------------------------------------------------------


def _deny_writes(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """What the kernel says to anyone but root in a folder without write permission (tests often run as root)."""
    real_mkdir, real_open = os.mkdir, os.open

    def inside(path: Any) -> bool:
        return str(os.fspath(path)).startswith(str(folder))

    def mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
        if inside(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        real_mkdir(path, *args, **kwargs)

    def open_(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if inside(path) and flags & (os.O_CREAT | os.O_WRONLY | os.O_RDWR):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(os, "open", open_)


def test_read_only_folder(
    project: Path, base: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.geteuid() == 0:
        _deny_writes(monkeypatch, project)
    else:
        project.chmod(0o555)
    try:
        code, output = run(capsys, *base, "--through", "preflight")
    finally:
        project.chmod(0o755)
    assert_clean_failure(code, output, "Permission denied", "writable")
    assert code == 1
    assert not (project / ".agentcore-wizard").exists()


def test_read_only_parent_of_a_new_folder(
    tmp_path: Path, sandbox_endpoint: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = tmp_path / "locked"
    parent.mkdir()
    _deny_writes(monkeypatch, parent)
    code, output = run(capsys, "run", "--dir", str(parent / "new"), "--sandbox-endpoint", sandbox_endpoint, "--yes")
    assert_clean_failure(code, output, "Permission denied", "writable")


def test_wizard_folder_is_a_plain_file(project: Path, base: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    (project / ".agentcore-wizard").write_text("not a folder")
    for command in (base + ["--through", "preflight"], ["doctor", "--dir", str(project)]):
        code, output = run(capsys, *command)
        assert_clean_failure(code, output, ".agentcore-wizard is a file", "Move the file aside")
    assert (project / ".agentcore-wizard").read_text() == "not a folder"  # left as it was


def test_state_file_is_a_directory(project: Path, base: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """A damaged state file is moved aside and the wizard carries on, as the README says; never a traceback."""
    (project / ".agentcore-wizard" / "state.json").mkdir(parents=True)
    code, output = run(capsys, *base, "--through", "preflight")
    assert code == 0, output
    assert "Traceback" not in output
    assert "could not be read" in output and "moved to" in output
    assert json.loads((project / ".agentcore-wizard" / "state.json").read_text())["stages"]["preflight"]
    assert list((project / ".agentcore-wizard").glob("state.json.damaged-*"))


# --- a full disk during stage 1 ------------------------------------------------------------------


def _disk_full(path: Path, *_: Any, **__: Any) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def test_full_disk_for_the_identity_files(
    project: Path, base: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(capsys, *base, "--through", "preflight")[0] == 0
    monkeypatch.setattr("wizard.files.identity.atomic_write", _disk_full)
    code, output = run(capsys, *base, "--through", "cognito")
    assert_clean_failure(code, output, "No space left on device", "free some space")
    assert code == 1
    recorded = json.loads((project / ".agentcore-wizard" / "state.json").read_text())["stages"]["cognito"]
    assert recorded["status"] == "failed" and recorded["error"]["code"] == "disk_full"


def test_full_disk_for_every_write(
    project: Path, base: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(capsys, *base, "--through", "preflight")[0] == 0
    for where in ("wizard.state", "wizard.files.identity", "wizard.files.agentcore_yaml", "wizard.steps.agent"):
        monkeypatch.setattr(f"{where}.atomic_write", _disk_full)
    code, output = run(capsys, *base, "--through", "cognito")
    assert_clean_failure(code, output, "state.json", "No space left on device", "free some space")


def test_full_disk_inside_the_atomic_write(
    project: Path, base: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real atomic write, with the disk filling up as it syncs the temp file: the temp file goes too."""
    assert run(capsys, *base, "--through", "preflight")[0] == 0
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).endswith(".tmp"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc to tell the temp file's fd")
    monkeypatch.setattr(os, "fsync", fsync)
    code, output = run(capsys, *base, "--through", "cognito")
    assert_clean_failure(code, output, "No space left on device", "free some space")
    monkeypatch.undo()
    assert not list(project.rglob("*.tmp"))


# --- a 500 from the sandbox during detection -----------------------------------------------------


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore retries as it would, without pausing between the attempts."""
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)


@pytest.fixture
def faults(sandbox_endpoint: str, no_backoff: None) -> Iterator[Any]:
    """Queue sandbox faults; cleared afterwards (the sandbox is shared)."""
    url = sandbox_endpoint + "/__agentcore_wizard_sandbox__/faults"

    def inject(operation: str, mode: str = "error", count: int = 30) -> None:
        body = json.dumps({"operation": operation, "mode": mode, "count": count}).encode()
        request = urllib.request.Request(url, body, {"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 (127.0.0.1)
            assert answer.status == 200

    try:
        yield inject
    finally:
        with urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=10):  # noqa: S310
            pass


@pytest.mark.parametrize(
    ("through", "operation"),
    [("provider", "GetOauth2CredentialProvider"), ("workload", "GetWorkloadIdentity")],
)
def test_500_during_detection(
    base: list[str], capsys: pytest.CaptureFixture[str], faults: Any, through: str, operation: str
) -> None:
    before = "configure" if through == "provider" else "provider"
    code, output = run(capsys, *base, "--through", before)
    assert code == 0, output
    faults(operation)
    code, output = run(capsys, *base, "--through", through)
    assert_clean_failure(code, output, operation, "InternalServerException", "run the stage again")
    assert code == 1


# --- never an Authorization header -----------------------------------------------------------------


def test_explain_scrubs_a_signed_header_from_botocore() -> None:
    from botocore.exceptions import HTTPClientError

    error = explain(HTTPClientError(error=ValueError(SIGNED)))
    for part in SECRET_PARTS:
        assert part not in error.message + error.fix
    assert "[redacted]" in error.message
    assert "region" in error.fix  # the likely cause: a control character in a header value


def test_explain_scrubs_authorization_in_aws_answers_and_wizard_errors() -> None:
    from botocore.exceptions import ClientError

    said = "Request had {'Authorization': 'Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl'} in it"
    failure = ClientError({"Error": {"Code": "ValidationException", "Message": said}}, "InvokeAgentRuntime")
    error = explain(failure)
    assert "eyJhbGci" not in error.message and "[redacted]" in error.message
    # A WizardError keeps its kind; only the credential goes.
    from wizard.errors import NeedsAction

    kept = explain(NeedsAction(f"failed: {SIGNED}", fix="x"))
    assert isinstance(kept, NeedsAction) and "Signature=5" not in kept.message and kept.fix == "x"
    # Nothing to hide: the same error, untouched (the known phrase about authorization methods stays).
    plain = WizardError("Authorization method mismatch", fix="f")
    assert explain(plain) is plain
    assert scrub("Authorization: Basic dXNlcjpwYXNz") == "Authorization: [redacted]"


def test_a_bad_pinned_region_never_shows_the_signed_header(
    project: Path, base: list[str], capsys: pytest.CaptureFixture[str], no_backoff: None
) -> None:
    """A region with a newline recorded by an earlier version: botocore refuses the header it signed."""
    state = project / ".agentcore-wizard" / "state.json"
    state.parent.mkdir()
    state.write_text(json.dumps({"schema_version": 1, "stages": {}, "region": "us-west-2\n", "mode": "sandbox"}))
    code, output = run(capsys, *base, "--through", "preflight")
    assert code == 1, output
    assert "Traceback" not in output
    assert "AWS4-HMAC-SHA256 Credential" not in output and "Signature=" not in output
    assert "Signature=" not in state.read_text()


def test_headless_output_never_shows_a_signed_header() -> None:
    import io

    from wizard.events import LogLine
    from wizard.headless import HeadlessPort, print_table

    out, err = io.StringIO(), io.StringIO()
    port = HeadlessPort(json_lines=True, interactive=False, out=out, err=err)
    port.emit(LogLine("", f"AWS credentials: {SIGNED}", "error"))
    summary = {"project": "p", "mode": "sandbox", "region": None, "stages": []}
    summary["stages"].append(
        {"number": 0, "key": "preflight", "status": "failed", "title": "t", "error": {"message": SIGNED, "fix": ""}}
    )
    print_table(summary, err)
    for part in SECRET_PARTS:
        assert part not in out.getvalue() + err.getvalue()
    assert json.loads(out.getvalue())["message"].startswith("AWS credentials: Invalid header value")


# --- a cleanup that stops half-way ------------------------------------------------------------------


def test_a_cleanup_stopped_half_way_says_so_and_leaves_nothing_done_that_is_gone(deployed: Any, faults: Any) -> None:
    """DeleteAgentRuntime keeps failing: the cleanup fails there. What it already took down (stage 8) and the stage
    it stopped in (7, its runtime may be gone) are pending, never "done"; the stages it had not reached are still
    done; the one next step every front end shows is finishing the cleanup."""
    faults("DeleteAgentRuntime")
    deployed.port.assume_yes = True
    outcome = deployed.run_stage("cleanup")
    assert not outcome.ok
    assert deployed.status_of("cleanup") == "failed"
    assert deployed.status_of("invoke") == "pending" and deployed.status_of("deploy") == "pending"
    assert deployed.status_of("workload") == "done"  # not reached: its identity is still there
    assert deployed.cleanup_interrupted() and deployed.first_unfinished().key == "cleanup"
