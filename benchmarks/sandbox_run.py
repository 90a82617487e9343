"""End-to-end timing of the headless run against a fresh folder sandbox, and of a second (no-op) run.

Prints figures; asserts nothing. Everything runs on 127.0.0.1.

    python benchmarks/sandbox_run.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(args: list[str], cwd: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # The front door's stand-in answers: the agent's own environment is timed by benchmarks/sandbox_agent.py.
    env["AGENTCORE_WIZARD_SANDBOX_AGENT"] = "stand-in"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "wizard", *args], cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def journey(folder: str) -> float:
    """Stages 0-8 with --auto-consent; dependencies from stand-in wheels, so no network is used."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from wizard_helpers import stand_in_wheelhouse

    wheels = stand_in_wheelhouse(Path(folder) / "wheelhouse")
    project = str(Path(folder) / "project")
    args = ["run", "--sandbox", "--yes", "--auto-consent", "--wheelhouse", str(wheels), "--dir", project]
    try:
        return timed([*args, "--return-url", f"http://localhost:{free_port()}/oauth2/callback"], folder)
    finally:
        subprocess.run([sys.executable, "-m", "wizard", "sandbox", "stop", "--dir", project], capture_output=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    first, second, verify, whole = [], [], [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as folder:
            try:
                first.append(timed(["run", "--sandbox", "--yes", "--through", "agent"], folder))
                second.append(timed(["run", "--sandbox", "--yes", "--through", "agent"], folder))
                verify.append(timed(["status", "--verify"], folder))
            finally:
                subprocess.run(
                    [sys.executable, "-m", "wizard", "sandbox", "stop", "--dir", folder], capture_output=True
                )
        with tempfile.TemporaryDirectory() as folder:
            whole.append(journey(folder))
    for name, values in (
        ("run --through agent, empty folder (starts the sandbox)", first),
        ("run --through agent again (nothing to do)", second),
        ("status --verify (every done stage checked)", verify),
        ("run --auto-consent, stages 0-8 incl. deploy and the consent loop, empty folder", whole),
    ):
        print(f"{name}: median {statistics.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f})")


if __name__ == "__main__":
    main()
