"""How long the test suite takes with the README's command, and its slowest tests.

Goal (issue 11): the whole suite in 120 s or less on a 2-core machine. Prints figures; asserts nothing.
Run from the repository root with the project's venv: `.venv/bin/python benchmarks/suite.py [--repeat N]`.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--slowest", type=int, default=10)
    args = parser.parse_args()
    walls = []
    last = ""
    for _ in range(args.repeat):
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-n", "auto", "-q", f"--durations={args.slowest}"],
            capture_output=True,
            text=True,
        )
        walls.append(time.perf_counter() - started)
        last = result.stdout
        summary = last.strip().splitlines()[-1] if last.strip() else result.stderr[-500:]
        print(f"run {len(walls)}: {walls[-1]:.1f} s wall, exit {result.returncode}: {summary}")
    print(f"median wall over {len(walls)} runs: {statistics.median(walls):.1f} s (goal: <= 120 s on 2 cores)")
    print(f"slowest {args.slowest} (last run):")
    for line in last.splitlines():
        if re.match(r"^\d+\.\d+s (call|setup|teardown)", line):
            print(f"  {line}")


if __name__ == "__main__":
    main()
