"""The sandbox runs the user's agent: the quickstart's own agent.py on the real AgentCore SDK and Strands, with the
sandbox's stand-in model, through the real CLI in subprocesses. Each test is a whole journey in its own folder
with its own sandbox; the agent's environment is built offline from this test environment's packages."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from wizard_helpers import agent_wheelhouse, cli_env, client, free_port, make_wheel, stop_folder_sandbox

from wizard.files import identity as idf
from wizard.sandbox.agent_host import STAND_IN_ENV, WHEELHOUSE_ENV

pytestmark = pytest.mark.cli

QUICKSTART_AGENT = Path(__file__).with_name("fixtures") / "quickstart_agent.py"
SEED = Path(__file__).resolve().parents[2] / "shared" / "seed" / "agentcore-identity-quickstart.md"
TIMEOUT = 300
_RETURN_URLS: dict[Path, str] = {}


def quickstart_agent() -> str:
    """The quickstart's agent.py, verbatim (a copy kept with the tests: CI has no copy of the quickstart page)."""
    return QUICKSTART_AGENT.read_text(encoding="utf-8")


@pytest.mark.skipif(not SEED.exists(), reason="the quickstart page is not next to this checkout")
def test_the_copy_is_the_quickstarts_agent_verbatim() -> None:
    found = re.search(r"Create `agent\.py`:\n\n```python\n(.*?)```", SEED.read_text(encoding="utf-8"), re.S)
    assert found and found.group(1) == quickstart_agent()


@pytest.fixture(scope="session")
def agent_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The CLI's environment with the sandbox running the deployed code (no stand-in) from a wheelhouse."""
    wheels = agent_wheelhouse(tmp_path_factory.getbasetemp().parent)
    env = {key: value for key, value in cli_env().items() if key != STAND_IN_ENV}
    return {**env, WHEELHOUSE_ENV: str(wheels), "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    project = tmp_path / "agent-project"
    project.mkdir()
    yield project
    stop_folder_sandbox(project)


def run(folder: Path, env: dict[str, str], wheelhouse: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "wizard", "run", "--sandbox", "--yes", "--auto-consent", "--no-browser"]
    # One return URL per folder (a later run must listen where the first one registered).
    return_url = _RETURN_URLS.setdefault(folder, f"http://localhost:{free_port()}/oauth2/callback")
    command += ["--wheelhouse", str(wheelhouse), "--return-url", return_url]
    return subprocess.run(
        [*command, *extra],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


def answers(output: str) -> list[str]:
    """The agent's answers as the run showed them, call by call."""
    parts = re.split(r"the agent's answer \((?:first|second) call\):", output)[1:]
    return [part.split("\n  ✓", 1)[0].split("\n  ✗", 1)[0] for part in parts]


def sandbox_endpoint(folder: Path) -> str:
    return str(json.loads((folder / ".agentcore-wizard" / "sandbox.json").read_text())["endpoint"])


def test_the_quickstarts_agent_runs_unchanged_and_answers_from_its_own_code(
    folder: Path, agent_env: dict[str, str], wheelhouse: Path
) -> None:
    """The issue's done-when: the quickstart's agent.py, placed before stage 3 (the wizard keeps it), answers both
    calls itself; a changed reply text comes back through the wizard on the next run."""
    (folder / "agent.py").write_text(quickstart_agent())
    first_run = run(folder, agent_env, wheelhouse)
    assert first_run.returncode == 0, first_run.stderr[-4000:]
    first, second = answers(first_run.stderr)
    # The quickstart's own words (the wizard's agent.py says the same, but it was not written: the file was kept).
    assert "Please open this URL in your browser to authorize:" in first and "request_uri=" in first
    assert "✅ Authenticated to external service" in second
    assert (folder / "agent.py").read_text() == quickstart_agent()
    assert "The sandbox runs your agent" in first_run.stderr

    # The agent's own output went to the runtime's log group, as in AWS.
    runtime_id = json.loads((folder / ".agentcore-wizard" / "state.json").read_text())["stages"]["deploy"]
    runtime_id = runtime_id["resources"]["runtime_id"]
    logs = client("logs", sandbox_endpoint(folder))
    group = f"/aws/bedrock-agentcore/runtimes/{runtime_id}-DEFAULT"
    messages = [event["message"] for event in logs.filter_log_events(logGroupName=group)["events"]]
    assert any("Tool #1: check_external_service" in message for message in messages), messages[-10:]

    # `python agent.py` on this machine would use the wizard's workload identity, not one the SDK invents.
    local = json.loads((folder / ".agentcore.json").read_text())
    assert local["workload_identity_name"] == "identity-demo-workload" and len(local["user_id"]) == 8

    (folder / "agent.py").write_text(quickstart_agent().replace("Token length:", "MARKER-7f3a Token length:"))
    again = run(folder, agent_env, wheelhouse)
    assert again.returncode == 0, again.stderr[-4000:]
    assert "the agent's code changed since it was deployed: running it again" in again.stderr
    assert "MARKER-7f3a Token length:" in answers(again.stderr)[-1]

    secrets = idf.read_identity_json(folder)
    assert secrets is not None
    for secret in (secrets.runtime.password, secrets.identity.password, secrets.identity.client_secret or ""):
        assert not secret or secret not in first_run.stdout + first_run.stderr + again.stderr


def failing_run(
    folder: Path, env: dict[str, str], wheelhouse: Path, agent: str, stage: str = "[8] Invoke the agent"
) -> str:
    """Run the journey with this agent.py; it must fail: what the run said from the stage on."""
    (folder / "agent.py").write_text(agent)
    result = run(folder, env, wheelhouse)
    assert result.returncode != 0, result.stderr[-3000:]
    assert stage in result.stderr, result.stderr[-3000:]
    return result.stderr.split(stage, 1)[1]


def _agent_with(replace: str, by: str) -> str:
    text = quickstart_agent()
    assert replace in text, replace
    return text.replace(replace, by)


def test_an_agent_that_only_prints_the_link_is_caught_within_a_bounded_wait(
    folder: Path, agent_env: dict[str, str], wheelhouse: Path
) -> None:
    """on_auth_url prints, and the tool waits for the token: the SDK would poll for ten minutes while the user
    never sees the link. The wizard finds the link in the agent's logs, says so and how to fix it, and stops."""
    printing = _agent_with(
        'on_auth_url=lambda url: auth_url_holder.update({"url": url, "needs_auth": True}),',
        'on_auth_url=lambda url: print("Please authorize:", url),',
    )
    printing = printing.replace(
        "token_task = asyncio.create_task(get_identity_token())\n        await asyncio.sleep(0.5)",
        "token_task = asyncio.create_task(get_identity_token())\n        await token_task",
    )
    (folder / "agent.py").write_text(printing)
    result = run(folder, agent_env, wheelhouse)
    assert result.returncode != 0
    assert "wrote the authorization URL to its logs" in result.stderr
    assert "/aws/bedrock-agentcore/runtimes/" in result.stderr
    assert "on_auth_url in agent.py prints or logs the URL" in result.stderr  # the fix, from the one map
    assert "Traceback (most recent call last)" not in result.stderr.split("[8]")[0]


def test_an_agent_that_raises_shows_its_traceback_and_log_group(
    folder: Path, agent_env: dict[str, str], wheelhouse: Path
) -> None:
    raising = _agent_with(
        '    user_message = payload.get("prompt", "")',
        '    raise RuntimeError("boom-5d1e: on purpose")\n    user_message = payload.get("prompt", "")',
    )
    shown = failing_run(folder, agent_env, wheelhouse, raising)
    assert "RuntimeClientError: Received error (500) from runtime" in shown
    assert "The agent's last lines in its log group /aws/bedrock-agentcore/runtimes/" in shown
    assert "RuntimeError: boom-5d1e: on purpose" in shown
    assert 'raise RuntimeError("boom-5d1e: on purpose")' in shown  # its own line of the traceback


def test_an_entrypoint_that_calls_the_agent_synchronously_behaves_as_with_these_versions(
    folder: Path, agent_env: dict[str, str], wheelhouse: Path
) -> None:
    """`agent(user_message)` instead of `await agent.invoke_async(...)`: Strands (>= 1.20, as pinned for the tests)
    runs the call on a thread of its own but carries the context over, so the token is there and both calls work,
    as they would in AWS with the same SDK and Strands."""
    (folder / "agent.py").write_text(
        _agent_with("response = await agent.invoke_async(user_message)", "response = agent(user_message)")
    )
    result = run(folder, agent_env, wheelhouse)
    assert result.returncode == 0, result.stderr[-3000:]
    first, second = answers(result.stderr)
    assert "request_uri=" in first and "✅ Authenticated to external service" in second


def test_a_tool_that_loses_the_request_context_fails_as_it_would_in_aws(
    folder: Path, agent_env: dict[str, str], wheelhouse: Path
) -> None:
    """A tool that fetches the token on a thread of its own (the context, and the workload access token in it,
    stay behind): the SDK's own error, with the cause and the fix."""
    losing = _agent_with(
        "        token_task = asyncio.create_task(get_identity_token())\n        await asyncio.sleep(0.5)",
        "        import concurrent.futures\n"
        "        pool = concurrent.futures.ThreadPoolExecutor(1)  # its threads start with an empty context\n"
        "        token = pool.submit(asyncio.run, get_identity_token()).result()\n"
        "        token_task = asyncio.get_running_loop().create_future()\n"
        "        token_task.set_result(token)\n"
        "        await asyncio.sleep(0.5)",
    )
    shown = failing_run(folder, agent_env, wheelhouse, losing)
    assert "Workload access token has not been set" in shown
    assert "invoke_async" in shown and "context" in shown  # the fix names the cause


def test_a_package_whose_environment_cannot_be_built_answers_the_runtimes_error(
    folder: Path, agent_env: dict[str, str], wheelhouse: Path, tmp_path: Path
) -> None:
    """No index and a wheelhouse without one of the agent's requirements: the runtime's own error at the first
    call, and deploy says why beforehand; never a stand-in pretending to be the agent."""
    (folder / "agent.py").write_text(quickstart_agent())
    (folder / "requirements.txt").write_text("bedrock-agentcore\nstrands-agents\nboto3\nno-such-package-4b2e\n")
    # The linux/arm64 layer still builds (its own wheelhouse has the package); the sandbox's has not.
    arm64 = Path(shutil.copytree(wheelhouse, tmp_path / "arm64-wheels"))
    make_wheel(arm64, "no_such_package_4b2e", "1.0")
    result = run(folder, agent_env, arm64)
    assert result.returncode != 0
    shown = result.stderr.split("[7] Deploy agent", 1)[1]
    assert "The sandbox cannot run your agent" in shown
    assert "no-such-package-4b2e" in shown
    assert "424 RuntimeClientError: Runtime initialization failed" in shown
    assert "Authenticated" not in shown and "Authorization Required" not in shown
