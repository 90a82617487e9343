"""How fast the sandbox runs the deployed agent: the quickstart's agent.py on the real SDK and Strands.

Prints figures; asserts nothing. Everything runs on 127.0.0.1; the agent's environment is built offline from this
environment's installed packages (repacked as wheels, as the tests do), so the first build is measured too.

- environment build: the sandbox builds the agent's environment from requirements.txt (first time only, then cached);
- cold invocation: a new runtime version (UpdateAgentRuntime), then the first call answered: the agent process
  starts (environment cached) and serves;
- warm invocation: the next call to the same process.

    python benchmarks/sandbox_agent.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from wizard_helpers import agent_wheelhouse, client, free_port, stand_in_wheelhouse  # noqa: E402

from wizard.files import identity as idfiles  # noqa: E402
from wizard.inbound_token import current  # noqa: E402
from wizard.invocation import invocation_url, invoke, new_session_id  # noqa: E402
from wizard.sandbox.agent_host import WHEELHOUSE_ENV  # noqa: E402

QUICKSTART_AGENT = ROOT / "tests" / "fixtures" / "quickstart_agent.py"  # the quickstart's agent.py, verbatim


def quickstart_agent() -> str:
    return QUICKSTART_AGENT.read_text(encoding="utf-8")


def start_sandbox(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "wizard", "sandbox", "serve", "--port", "0", "--ready-delay", "0.2"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    found = re.search(r"(http://127\.0\.0\.1:\d+)", line)
    if not found:
        process.kill()
        raise SystemExit(f"the sandbox did not start: {line!r}")
    return process, found.group(1)


def agent_status(endpoint: str, runtime_id: str) -> dict[str, Any]:
    url = f"{endpoint}/__agentcore_wizard_sandbox__/runtimes/{urllib.parse.quote(runtime_id)}/agent"
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 (loopback)
        return dict(json.loads(answer.read()))


def call_until_answered(url: str, token: str, session: str) -> float:
    """Seconds until the agent answers (a 409 while it starts is retried by the wizard's own client)."""
    started = time.perf_counter()
    while True:
        try:
            invoke(url, token, session, attempts=1)
            return time.perf_counter() - started
        except Exception as exc:  # RetryableConflict: the new version's process is still starting
            if "409" not in str(exc) and "still" not in str(exc):
                raise
            time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        wheels = agent_wheelhouse(work)
        wheel_count = len(list(wheels.glob("*.whl")))
        env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
        env.pop("AGENTCORE_WIZARD_SANDBOX_AGENT", None)
        env.update({WHEELHOUSE_ENV: str(wheels), "AGENTCORE_WIZARD_CACHE": str(work / "cache")})
        sandbox, endpoint = start_sandbox(env)
        try:
            project = work / "project"
            project.mkdir()
            (project / "agent.py").write_text(quickstart_agent())
            run = [sys.executable, "-m", "wizard", "run", "--sandbox-endpoint", endpoint, "--yes", "--through"]
            run += ["deploy", "--wheelhouse", str(stand_in_wheelhouse(work / "arm64-wheels"))]
            run += ["--return-url", f"http://localhost:{free_port()}/oauth2/callback"]
            started = time.perf_counter()
            subprocess.run(run, cwd=project, env=env, check=True, capture_output=True)
            deploy_seconds = time.perf_counter() - started
            state = json.loads((project / ".agentcore-wizard" / "state.json").read_text())
            arn = state["stages"]["deploy"]["resources"]["runtime_arn"]
            runtime_id = arn.rsplit("/", 1)[-1]
            first = agent_status(endpoint, runtime_id)

            files = idfiles.read_identity_json(project)
            assert files is not None
            runtime_user = files.runtime
            token = current(
                None,
                client("cognito-idp", endpoint),
                runtime_user.client_id,
                runtime_user.username,
                runtime_user.password,
                runtime_user.client_secret,
            ).value
            url = invocation_url(endpoint, arn)
            control = client("bedrock-agentcore-control", endpoint)
            cold, warm, starts = [], [], []
            for round_ in range(args.repeat):
                current_runtime = control.get_agent_runtime(agentRuntimeId=runtime_id)
                keys = ("agentRuntimeArtifact", "roleArn", "networkConfiguration", "protocolConfiguration")
                request = {key: current_runtime[key] for key in keys if key in current_runtime}
                request["authorizerConfiguration"] = current_runtime["authorizerConfiguration"]
                request["environmentVariables"] = current_runtime.get("environmentVariables") or {}
                control.update_agent_runtime(agentRuntimeId=runtime_id, description=f"round {round_}", **request)
                time.sleep(0.25)  # the ready delay: invoking before READY is refused by the runtime itself
                session = new_session_id()
                cold.append(call_until_answered(url, token, session))
                starts.append(float(agent_status(endpoint, runtime_id)["startSeconds"]))
                began = time.perf_counter()
                invoke(url, token, session)
                warm.append(time.perf_counter() - began)
        finally:
            sandbox.terminate()
            sandbox.wait(timeout=10)
    print(f"run --through deploy, empty folder, first environment build: {deploy_seconds:.2f} s")
    print(
        f"  the agent's environment, built offline from {wheel_count} wheels: "
        f"{first['buildSeconds']:.2f} s; its process ready in {first['startSeconds']:.2f} s"
    )
    for name, values in (
        ("cold invocation after a new version (environment cached, process start)", cold),
        ("  of which the agent process starting until /ping answers", starts),
        ("warm invocation (same process, same session)", warm),
    ):
        print(f"{name}: median {statistics.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f})")


if __name__ == "__main__":
    main()
