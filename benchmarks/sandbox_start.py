"""How long `agentcore-wizard sandbox serve` takes to answer, from process start.

Goal: well under a second on a 2-core machine. Prints figures; asserts nothing. Loopback only.

    python benchmarks/sandbox_start.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import urllib.request

HEALTH = "/__agentcore_wizard_sandbox__/health"


def first_aws_call(endpoint: str) -> None:
    """An unsigned Cognito call (the kind InitiateAuth is): waits until moto has loaded."""
    request = urllib.request.Request(
        endpoint + "/",
        data=b'{"MaxResults": 1}',
        headers={
            "X-Amz-Target": "AWSCognitoIdentityProviderService.ListUserPools",
            "Content-Type": "application/x-amz-json-1.1",
            "Authorization": "AWS4-HMAC-SHA256 Credential=sandbox/20260101/us-east-1/cognito-idp/aws4_request, "
            "SignedHeaders=host, Signature=0",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def start_once() -> tuple[float, float, float]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env["PYTHONUNBUFFERED"] = "1"
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "wizard", "sandbox", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        announced = time.perf_counter() - started
        endpoint = line.strip().rsplit(" ", 1)[-1]
        with urllib.request.urlopen(endpoint + HEALTH, timeout=10) as response:
            response.read()
        answered = time.perf_counter() - started
        first_aws_call(endpoint)
        served = time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(timeout=10)
    return announced, answered, served


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    runs = [start_once() for _ in range(args.repeat)]
    for label, values in (
        ("process start -> endpoint printed", [run[0] for run in runs]),
        ("process start -> health answered (accepting connections)", [run[1] for run in runs]),
        ("process start -> first AWS call answered (moto loaded)", [run[2] for run in runs]),
    ):
        print(
            f"{label}: median {statistics.median(values) * 1000:.0f} ms "
            f"(min {min(values) * 1000:.0f}, max {max(values) * 1000:.0f}, {len(values)} runs)"
        )


if __name__ == "__main__":
    main()
