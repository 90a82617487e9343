"""The real CLI in subprocesses (`python -m wizard …`), each in its own folder with its own sandbox."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from wizard_helpers import cli_env
from wizard_helpers import client as sandbox_client

from wizard.files import identity as idf
from wizard.state import ProjectLock

pytestmark = pytest.mark.cli

TIMEOUT = 120
RUN = ["run", "--sandbox", "--yes", "--through", "agent"]


def _env(**extra: str) -> dict[str, str]:
    """The test's environment without any AWS setting, so nothing can reach a real account."""
    return {**cli_env(), "PYTHONUNBUFFERED": "1", **extra}


def cli(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wizard", *args],
        cwd=folder,
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def stop_sandbox(folder: Path) -> None:
    if folder.exists():
        subprocess.run(
            [sys.executable, "-m", "wizard", "sandbox", "stop", "--dir", str(folder)],
            env=_env(),
            capture_output=True,
            timeout=TIMEOUT,
        )


def sandbox_endpoint_of(folder: Path) -> str:
    data = json.loads((folder / ".agentcore-wizard" / "sandbox.json").read_text())
    endpoint = data["endpoint"]
    assert endpoint.startswith("http://127.0.0.1:"), endpoint
    return endpoint


def idp_of(folder: Path) -> Any:
    return sandbox_client("cognito-idp", sandbox_endpoint_of(folder))


def pool_count(folder: Path) -> int:
    client = idp_of(folder)
    return sum(len(page["UserPools"]) for page in client.get_paginator("list_user_pools").paginate(MaxResults=60))


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    """An empty project folder whose sandbox (if any test starts one) is always stopped."""
    path = tmp_path / "proj"
    path.mkdir()
    try:
        yield path
    finally:
        stop_sandbox(path)


@pytest.fixture(scope="module")
def done_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, subprocess.CompletedProcess[str]]]:
    """One full headless run through stage 3; tests only read from it."""
    path = tmp_path_factory.mktemp("cli") / "proj"
    path.mkdir()
    try:
        result = cli(path, *RUN)
        yield path, result
    finally:
        stop_sandbox(path)


def _secrets(folder: Path) -> list[str]:
    files = idf.read_identity_json(folder)
    assert files is not None
    values = [files.runtime.password, files.identity.password, files.identity.client_secret or ""]
    assert all(values)
    return values


# --- (a) a full run -------------------------------------------------------------------------------


def test_run_through_agent_succeeds(done_folder: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    folder, result = done_folder
    assert result.returncode == 0, result.stderr
    assert "SANDBOX MODE" in result.stderr
    for name in ("agent.py", "requirements.txt", idf.JSON_NAME, idf.ENV_NAME, ".gitignore"):
        assert (folder / name).is_file(), name


def test_status_json_after_run(done_folder: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    folder, _ = done_folder
    result = cli(folder, "status", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["mode"] == "sandbox"
    assert summary["region"] == "us-east-1"
    assert summary["state_problem"] is None
    rows = summary["stages"]
    for row in rows:
        assert {"number", "key", "title", "status", "error"} <= set(row), row
    by_number = {row["number"]: row for row in rows}
    for number in range(4):
        assert by_number[number]["status"] == "done", by_number[number]
        assert by_number[number]["error"] is None
    # Stages 4-8 can be performed but this run stopped at 3; cleanup is not available yet.
    for number in range(4, 9):
        assert by_number[number]["status"] == "pending", by_number[number]
        assert by_number[number]["error"] is None
    assert by_number[None]["status"] == "pending", by_number[None]
    assert [row["key"] for row in rows][:4] == ["preflight", "cognito", "env", "agent"]


def test_identity_files_private_and_complete(done_folder: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    folder, _ = done_folder
    for name in idf.SECRET_FILES:
        assert (folder / name).stat().st_mode & 0o777 == 0o600, name
    values = idf.read_env_file(folder)
    assert list(values) == list(idf.ENV_KEYS)
    assert all(values[key] for key in idf.ENV_KEYS)
    files = idf.read_identity_json(folder)
    assert files is not None and files.env_values() == values


def test_no_other_file_holds_a_secret(done_folder: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    folder, result = done_folder
    secrets = [secret.encode() for secret in _secrets(folder)]
    checked = []
    for path in folder.rglob("*"):
        if not path.is_file() or path.name in idf.SECRET_FILES:
            continue
        data = path.read_bytes()
        checked.append(path.relative_to(folder).as_posix())
        for secret in secrets:
            assert secret not in data, f"{path} contains a secret"
    assert ".agentcore-wizard/state.json" in checked
    assert ".agentcore-wizard/sandbox.log" in checked
    # Nor did the run print one.
    for secret in _secrets(folder):
        assert secret not in result.stdout and secret not in result.stderr


def test_status_verify_still_done(done_folder: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    folder, _ = done_folder
    result = cli(folder, "status", "--verify", "--json")
    assert result.returncode == 0, result.stderr
    statuses = {row["key"]: row["status"] for row in json.loads(result.stdout)["stages"]}
    assert [statuses[key] for key in ("preflight", "cognito", "env", "agent")] == ["done"] * 4


def test_status_table(done_folder: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    folder, _ = done_folder
    result = cli(folder, "status")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^\s+1\s+cognito\s+done", result.stdout, re.MULTILINE)
    assert re.search(r"^\s+4\s+configure\s+pending", result.stdout, re.MULTILINE)
    assert re.search(r"^\s+7\s+deploy\s+pending", result.stdout, re.MULTILINE)
    assert re.search(r"^\s+8\s+invoke\s+pending", result.stdout, re.MULTILINE)
    assert re.search(r"^\s+-\s+cleanup\s+pending", result.stdout, re.MULTILINE)


def test_rerun_is_a_no_op(done_folder: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    folder, _ = done_folder
    before = pool_count(folder)
    result = cli(folder, *RUN)
    assert result.returncode == 0, result.stderr
    assert "Already done" in result.stderr
    assert "Create" not in "".join(line for line in result.stderr.splitlines() if "AWS" in line)
    assert pool_count(folder) == before == 2


# --- (d) env --------------------------------------------------------------------------------------


def test_env_prints_bash_exports(done_folder: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    folder, _ = done_folder
    result = cli(folder, "env", "--shell", "bash")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 11
    assert all(line.startswith("export ") for line in lines)
    assert [line.split("=", 1)[0].removeprefix("export ") for line in lines] == list(idf.ENV_KEYS)
    # And bash reads back exactly the values in the file.
    script = result.stdout + "".join(f'printf "%s\\0" "${key}"\n' for key in idf.ENV_KEYS)
    out = subprocess.run(["bash", "-c", script], capture_output=True, check=True, timeout=TIMEOUT).stdout
    assert dict(zip(idf.ENV_KEYS, out.decode().split("\0")[:-1], strict=True)) == idf.read_env_file(folder)


def test_env_in_empty_folder_fails_clearly(folder: Path) -> None:
    result = cli(folder, "env")
    assert result.returncode == 1
    assert result.stdout == ""
    assert idf.ENV_NAME in result.stderr
    assert "does not exist" in result.stderr
    assert "fix:" in result.stderr
    assert "Traceback" not in result.stderr


# --- (b) killed mid-stage -------------------------------------------------------------------------


def _lines(stream: Any, sink: queue.Queue) -> None:
    for line in stream:
        sink.put(line)
    sink.put(None)


def _settled_pool_count(folder: Path) -> int:
    """The pool count once it has stopped changing (polling only; nothing is asserted on time)."""
    last = pool_count(folder)
    stable = 0
    for _ in range(50):
        time.sleep(0.2)
        current = pool_count(folder)
        stable = stable + 1 if current == last else 0
        last = current
        if stable >= 4:
            break
    return last


@pytest.mark.parametrize(
    "kill_after",
    [
        r"AWS cognito-idp CreateUserPool$",
        r"created domain",
        r"AWS cognito-idp CreateUserPoolClient$",
        r"set a permanent password",
    ],
)
def test_sigkill_during_cognito_then_rerun_makes_exactly_two_pools(folder: Path, kill_after: str) -> None:
    pattern = re.compile(kill_after)
    proc = subprocess.Popen(
        [sys.executable, "-m", "wizard", *RUN],
        cwd=folder,
        env=_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=_lines, args=(proc.stderr, lines), daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        while True:
            line = lines.get(timeout=TIMEOUT)
            if line is None:
                pytest.fail("the wizard ended before the kill point:\n" + "".join(seen))
            seen.append(line)
            if pattern.search(line.rstrip("\n")):
                break
        proc.send_signal(signal.SIGKILL)  # the wizard only; its sandbox is a separate session
        proc.wait(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=TIMEOUT)
        reader.join(timeout=TIMEOUT)
    assert proc.returncode == -signal.SIGKILL
    state = json.loads((folder / ".agentcore-wizard" / "state.json").read_text())
    assert state["stages"]["cognito"]["status"] == "running", "the kill did not land inside the stage"
    assert not (folder / idf.JSON_NAME).exists()

    # The folder's sandbox survived the kill, with whatever was created before it (a request the
    # wizard had in flight may still complete in the sandbox: let it settle, as AWS would).
    assert _settled_pool_count(folder) <= 2

    again = cli(folder, *RUN)
    assert again.returncode == 0, again.stderr
    assert pool_count(folder) == 2
    state = json.loads((folder / ".agentcore-wizard" / "state.json").read_text())
    assert state["stages"]["cognito"]["status"] == "done"
    # The files name the two pools that exist.
    files = idf.read_identity_json(folder)
    client = idp_of(folder)
    existing = {pool["Id"] for pool in client.list_user_pools(MaxResults=60)["UserPools"]}
    assert existing == {files.runtime.pool_id, files.identity.pool_id}


# --- (c) usage errors and a second wizard ---------------------------------------------------------


def test_run_through_unknown_stage_is_a_usage_error(folder: Path) -> None:
    result = cli(folder, "run", "--sandbox", "--yes", "--through", "nosuch")
    assert result.returncode == 2
    assert "nosuch" in result.stderr
    assert not (folder / ".agentcore-wizard").exists()


def test_run_through_cleanup_points_at_its_own_command(folder: Path) -> None:
    result = cli(folder, "run", "--sandbox", "--yes", "--through", "cleanup")
    assert result.returncode == 2
    assert "agentcore-wizard cleanup" in result.stderr
    assert not (folder / ".agentcore-wizard").exists()


def test_bad_option_is_a_usage_error(folder: Path) -> None:
    result = cli(folder, "env", "--shell", "tcsh")
    assert result.returncode == 2


def test_second_wizard_is_refused(folder: Path) -> None:
    lock = ProjectLock(folder)
    lock.acquire()
    try:
        result = cli(folder, "status", "--verify", "--sandbox")
        assert result.returncode == 1
        assert "Another agentcore-wizard" in result.stderr
        assert f"pid {os.getpid()}" in result.stderr
        run = cli(folder, *RUN)
        assert run.returncode == 1
        assert "Another agentcore-wizard" in run.stderr
    finally:
        lock.release()
    # Neither started a sandbox nor wrote any state.
    assert not (folder / ".agentcore-wizard" / "sandbox.json").exists()
    assert not (folder / ".agentcore-wizard" / "state.json").exists()


# --- (e) a damaged state file ---------------------------------------------------------------------


def test_corrupt_state_is_reported_and_kept(folder: Path) -> None:
    state_dir = folder / ".agentcore-wizard"
    state_dir.mkdir()
    garbage = b"{ this is not json \x00\xff"
    (state_dir / "state.json").write_bytes(garbage)
    result = cli(folder, "status", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    problem = summary["state_problem"]
    assert problem and "state.json" in problem
    # status only reads: it reports the damage and leaves the file where it is.
    assert (state_dir / "state.json").read_bytes() == garbage
    assert not list(state_dir.glob("state.json.damaged-*"))
    assert all(row["status"] == "pending" for row in summary["stages"])
    # The next command that may change things moves it aside (never overwriting it) and rebuilds.
    again = cli(folder, "run", "--through", "agent", "--sandbox-endpoint", "http://127.0.0.1:9")
    assert "could not be read" in again.stderr, again.stderr
    damaged = list(state_dir.glob("state.json.damaged-*"))
    assert len(damaged) == 1
    assert damaged[0].read_bytes() == garbage
    assert str(damaged[0]) in again.stderr


# --- (f) no AWS setup at all ----------------------------------------------------------------------


def test_run_without_region_or_credentials_fails_before_any_call(folder: Path) -> None:
    # Belt and braces: even if something tried, every endpoint points at a closed loopback port.
    env = _env(
        AWS_ENDPOINT_URL="http://127.0.0.1:9",
        AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:9",
    )
    result = cli(folder, "run", "--yes", "--through", "agent", env=env)
    assert result.returncode == 1, result.stderr
    assert "region" in result.stderr.lower()
    assert "AWS sts" not in result.stderr  # no AWS call was even attempted
    assert "SANDBOX MODE" not in result.stderr
    assert not (folder / ".agentcore-wizard" / "sandbox.json").exists()
    status = json.loads(cli(folder, "status", "--json").stdout)
    preflight = status["stages"][0]
    assert preflight["key"] == "preflight"
    assert preflight["status"] == "needs_action"
    assert "region" in preflight["error"]["message"].lower()


def test_run_with_region_but_no_credentials_fails_offline(folder: Path) -> None:
    env = _env(
        AWS_ENDPOINT_URL="http://127.0.0.1:9",
        AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:9",
    )
    result = cli(folder, "run", "--yes", "--region", "us-east-1", "--through", "agent", env=env)
    assert result.returncode == 1, result.stderr
    assert "credentials" in result.stderr.lower()
    assert "Traceback" not in result.stderr


def test_bad_region_name_is_refused(folder: Path) -> None:
    result = cli(folder, "run", "--sandbox", "--yes", "--region", "Mars-1", "--through", "preflight")
    assert result.returncode == 2  # a usage error, refused before the folder is touched
    assert "not an AWS region" in result.stderr
    assert not (folder / ".agentcore-wizard").exists()
    assert not (folder / ".agentcore-wizard" / "sandbox.json").exists()


def test_version_flag(folder: Path) -> None:
    result = cli(folder, "--version")
    assert result.returncode == 0
    assert re.match(r"agentcore-wizard \d+\.\d+\.\d+", result.stdout)


# --- a shared sandbox, as a workshop facilitator runs it ---------------------------------------


def test_sandbox_serve_prints_its_endpoint_and_serves_a_run(tmp_path: Path) -> None:
    serve = subprocess.Popen(
        [sys.executable, "-m", "wizard", "sandbox", "serve", "--port", "0"],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert serve.stdout is not None
        first = serve.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)", first)
        assert match, first
        endpoint = match.group(1)
        folder = tmp_path / "attendee"
        folder.mkdir()
        result = cli(folder, "run", "--sandbox-endpoint", endpoint, "--yes", "--through", "cognito")
        assert result.returncode == 0, result.stderr
        assert "SANDBOX" in result.stderr
        # The facilitator's sandbox holds the attendee's pools; no folder sandbox was started.
        idp = sandbox_client("cognito-idp", endpoint)
        assert len(idp.list_user_pools(MaxResults=60)["UserPools"]) == 2
        assert not (folder / ".agentcore-wizard" / "sandbox.json").exists()
    finally:
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=TIMEOUT) == 0


def test_sandbox_endpoint_that_does_not_answer_is_a_clear_error(tmp_path: Path) -> None:
    result = cli(tmp_path, "run", "--sandbox-endpoint", "http://127.0.0.1:9", "--yes", "--through", "preflight")
    assert result.returncode == 1
    assert "No agentcore-wizard sandbox answers at http://127.0.0.1:9" in result.stderr
    assert "sandbox serve" in result.stderr


def test_sandbox_stop_without_a_sandbox_says_so(tmp_path: Path) -> None:
    result = cli(tmp_path, "sandbox", "stop", "--dir", str(tmp_path))
    assert result.returncode == 0
    assert "No sandbox was running" in result.stdout


# --- stages 4-6 headless: configure, provider, workload -----------------------------------------

THROUGH_WORKLOAD = ["run", "--sandbox", "--yes", "--through", "workload"]
YAML_NAME = ".bedrock_agentcore.yaml"


def control_of(folder: Path) -> Any:
    return sandbox_client("bedrock-agentcore-control", sandbox_endpoint_of(folder))


def _listed(call: Any, key: str) -> list[str]:
    names: list[str] = []
    token = None
    while True:
        answer = call(**({"nextToken": token} if token else {}), maxResults=20)
        names += [item["name"] for item in answer[key]]
        token = answer.get("nextToken")
        if not token:
            return sorted(names)


def _aws_world(folder: Path) -> dict[str, Any]:
    """What the folder's sandbox holds for stages 4-6."""
    control = control_of(folder)
    files = idf.read_identity_json(folder)
    assert files is not None
    client = idp_of(folder).describe_user_pool_client(
        UserPoolId=files.identity.pool_id, ClientId=files.identity.client_id
    )["UserPoolClient"]
    return {
        "providers": _listed(control.list_oauth2_credential_providers, "credentialProviders"),
        "workloads": _listed(control.list_workload_identities, "workloadIdentities"),
        "client": {k: v for k, v in client.items() if k != "LastModifiedDate"},
        "pools": pool_count(folder),
    }


@pytest.fixture(scope="module")
def workload_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    """One folder taken through stage 6, then the same command again, then a hand edit and a repair.

    Everything is done here, in order; the tests only read what was recorded (so xdist may spread them).
    """
    import yaml

    path = tmp_path_factory.mktemp("cli46") / "proj"
    path.mkdir()
    seen: dict[str, Any] = {}
    try:
        seen["first"] = cli(path, *THROUGH_WORKLOAD)
        if seen["first"].returncode == 0:
            seen["status"] = cli(path, "status", "--json")
            seen["yaml_1"] = (path / YAML_NAME).read_bytes()
            seen["world_1"] = _aws_world(path)
            seen["second"] = cli(path, *THROUGH_WORKLOAD)
            seen["yaml_2"] = (path / YAML_NAME).read_bytes()
            seen["world_2"] = _aws_world(path)
            # Someone adds an agent by hand and breaks ours; verify flags it, the same command repairs it.
            data = yaml.safe_load(seen["yaml_2"])
            data["agents"]["other_agent"] = {
                "name": "other_agent",
                "entrypoint": "other.py",
                "my_own_key": {"nested": [1, "two", None]},
            }
            data["agents"]["identity_demo"]["authorizer_configuration"] = {
                "customJWTAuthorizer": {"discoveryUrl": "https://example.com/x", "allowedClients": ["someone-else"]}
            }
            seen["edited"] = data
            (path / YAML_NAME).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
            seen["verify"] = cli(path, "status", "--verify", "--json")
            seen["third"] = cli(path, *THROUGH_WORKLOAD)
            seen["yaml_3"] = (path / YAML_NAME).read_bytes()
            seen["world_3"] = _aws_world(path)
        yield path, seen
    finally:
        stop_sandbox(path)


def _first_ok(runs: tuple[Path, dict[str, Any]]) -> tuple[Path, dict[str, Any]]:
    folder, seen = runs
    assert seen["first"].returncode == 0, seen["first"].stderr
    return folder, seen


def test_run_through_workload_in_an_empty_folder(workload_runs: tuple[Path, dict[str, Any]]) -> None:
    folder, seen = _first_ok(workload_runs)
    assert "SANDBOX MODE" in seen["first"].stderr
    assert seen["status"].returncode == 0, seen["status"].stderr
    rows = {row["number"]: row for row in json.loads(seen["status"].stdout)["stages"]}
    for number in range(7):
        assert rows[number]["status"] == "done", rows[number]
        assert rows[number]["error"] is None
    assert rows[7]["status"] == rows[8]["status"] == "pending", rows[7]
    assert rows[None]["status"] == "pending", rows[None]
    assert rows[5]["resources"]["origin"] == rows[6]["resources"]["origin"] == "created"


def test_yaml_after_run_through_workload(workload_runs: tuple[Path, dict[str, Any]]) -> None:
    import yaml

    folder, seen = _first_ok(workload_runs)
    data = yaml.safe_load(seen["yaml_1"])
    files = idf.read_identity_json(folder)
    assert files is not None
    assert data["default_agent"] == "identity_demo"
    assert list(data["agents"]) == ["identity_demo"]
    agent = data["agents"]["identity_demo"]
    assert agent["authorizer_configuration"] == {
        "customJWTAuthorizer": {
            "discoveryUrl": files.runtime.discovery_url,
            "allowedClients": [files.runtime.client_id],
        }
    }
    assert files.runtime.discovery_url != files.identity.discovery_url  # the runtime pool's, not the identity's
    assert agent["entrypoint"] == str(folder.resolve() / "agent.py")

    control = control_of(folder)
    provider = control.get_oauth2_credential_provider(name="ExternalServiceProvider")
    assert agent["identity"]["credential_providers"] == [
        {
            "name": "ExternalServiceProvider",
            "arn": provider["credentialProviderArn"],
            "type": "cognito",
            "callback_url": provider["callbackUrl"],
        }
    ]
    workload = control.get_workload_identity(name="identity-demo-workload")
    assert agent["identity"]["workload"] == {
        "name": "identity-demo-workload",
        "arn": workload["workloadIdentityArn"],
        "return_urls": workload["allowedResourceOauth2ReturnUrls"],
    }
    # No --return-url: the port the wizard chose for this project, pinned in its state before AWS was told it.
    from wizard import return_ports

    state = json.loads((folder / ".agentcore-wizard" / "state.json").read_text())
    return_url = state["settings"]["return_url"]
    assert workload["allowedResourceOauth2ReturnUrls"] == [return_url]
    assert return_ports.port_of(return_url) in return_ports.PORTS
    assert return_ports.claimed_by(return_ports.port_of(return_url) or 0) == str(folder.resolve())
    assert json.loads(seen["status"].stdout)["settings"]["return_url"] == {"value": return_url, "from": "this project"}


def test_identity_client_gains_the_callback_url_and_keeps_its_settings(
    workload_runs: tuple[Path, dict[str, Any]],
) -> None:
    from wizard.steps.cognito import IDENTITY_SCOPES, agentcore_callback_url

    folder, seen = _first_ok(workload_runs)
    client = seen["world_1"]["client"]
    callback = control_of(folder).get_oauth2_credential_provider(name="ExternalServiceProvider")["callbackUrl"]
    assert client["CallbackURLs"] == [agentcore_callback_url("us-east-1"), callback]
    assert client["AllowedOAuthFlows"] == ["code"]
    assert sorted(client["AllowedOAuthScopes"]) == sorted(IDENTITY_SCOPES)
    assert client["AllowedOAuthFlowsUserPoolClient"] is True
    assert client["SupportedIdentityProviders"] == ["COGNITO"]
    assert client["ClientSecret"]


def test_rerun_through_workload_changes_and_creates_nothing(workload_runs: tuple[Path, dict[str, Any]]) -> None:
    folder, seen = _first_ok(workload_runs)
    second = seen["second"]
    assert second.returncode == 0, second.stderr
    assert seen["yaml_2"] == seen["yaml_1"]
    assert seen["world_2"] == seen["world_1"]
    assert seen["world_1"]["providers"] == ["ExternalServiceProvider"]
    assert seen["world_1"]["workloads"] == ["identity-demo-workload"]
    urls = seen["world_2"]["client"]["CallbackURLs"]
    assert len(urls) == len(set(urls)) == 2
    calls = [line for line in second.stderr.splitlines() if "· AWS " in line]
    for line in calls:
        assert not re.search(r"\b(Create|Update|Delete)\w+$", line), line


def test_hand_added_agent_survives_a_rerun_that_repairs_configure(
    workload_runs: tuple[Path, dict[str, Any]],
) -> None:
    import yaml

    folder, seen = _first_ok(workload_runs)
    verify = seen["verify"]
    assert verify.returncode == 1, verify.stderr  # the broken authorizer is drift
    statuses = {row["key"]: row["status"] for row in json.loads(verify.stdout)["stages"]}
    assert statuses["configure"] == "drifted"
    assert statuses["provider"] == statuses["workload"] == "done"

    third = seen["third"]
    assert third.returncode == 0, third.stderr
    assert "someone-else" in third.stderr  # the diff was shown before it was written
    data = yaml.safe_load(seen["yaml_3"])
    original = yaml.safe_load(seen["yaml_1"])
    assert data["agents"]["other_agent"] == seen["edited"]["agents"]["other_agent"]
    assert data["agents"]["identity_demo"] == original["agents"]["identity_demo"]  # repaired, identity kept
    assert data["default_agent"] == "identity_demo"
    assert seen["world_3"] == seen["world_1"]
    status = json.loads(cli(folder, "status", "--json").stdout)
    assert [row["status"] for row in status["stages"][:7]] == ["done"] * 7


def test_run_through_workload_never_shows_or_stores_the_secret(workload_runs: tuple[Path, dict[str, Any]]) -> None:
    folder, seen = _first_ok(workload_runs)
    secrets = _secrets(folder)
    checked = []
    for path in folder.rglob("*"):
        if not path.is_file() or path.name in idf.SECRET_FILES:
            continue
        checked.append(path.relative_to(folder).as_posix())
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"{path} contains a secret"
    for name in (YAML_NAME, ".agentcore-wizard/state.json", ".agentcore-wizard/sandbox.log"):
        assert name in checked, name
    for key in ("first", "status", "second", "verify", "third"):
        for secret in secrets:
            assert secret not in seen[key].stdout and secret not in seen[key].stderr, key


@pytest.mark.parametrize(
    ("flag", "bad", "rule"),
    [
        ("--agent-name", "qs-agent", "no '-'"),
        ("--agent-name", "9lives", "Start with a letter"),
        ("--provider-name", "bad name!", "letters, digits, '-' or '_'"),
        ("--workload-name", "ab", "3-255"),
    ],
)
def test_bad_names_are_refused_before_any_aws_call(folder: Path, flag: str, bad: str, rule: str) -> None:
    result = cli(folder, *THROUGH_WORKLOAD, flag, bad)
    assert result.returncode == 2, result.stderr
    assert repr(bad) in result.stderr and rule in result.stderr, result.stderr
    assert "· AWS" not in result.stderr
    assert "Traceback" not in result.stderr
    assert not (folder / ".agentcore-wizard" / "sandbox.json").exists()
    assert not (folder / ".agentcore-wizard" / "state.json").exists()
    assert not (folder / YAML_NAME).exists()
