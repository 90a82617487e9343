"""End-to-end timing of the headless run against a fresh folder sandbox, and of a second (no-op) run.

Prints figures; asserts nothing. Everything runs on 127.0.0.1.

    python benchmarks/sandbox_run.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def timed(args: list[str], cwd: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "wizard", *args], cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    first, second, verify = [], [], []
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
    for name, values in (
        ("run --through agent, empty folder (starts the sandbox)", first),
        ("run --through agent again (nothing to do)", second),
        ("status --verify (every done stage checked)", verify),
    ):
        print(f"{name}: median {statistics.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f})")


if __name__ == "__main__":
    main()
