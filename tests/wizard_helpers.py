"""Plain helpers the wizard's tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

BEFORE_DEPLOY = ("preflight", "cognito", "env", "agent", "configure", "provider", "workload")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def client(service: str, endpoint: str) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="sandbox",
        aws_secret_access_key="sandbox",
    )


def make_unique(wizard: Any, wheelhouse: Path) -> None:
    """The session's sandbox is shared: provider, workload and runtime names are unique per account."""
    suffix = uuid.uuid4().hex[:8]
    wizard.options.wheelhouse = wheelhouse
    wizard.options.provider_name = f"Provider-{suffix}"
    wizard.options.workload_name = f"workload-{suffix}"
    wizard.options.agent_name = f"agent_{suffix}"


def cli_env() -> dict[str, str]:
    """The test's environment without any AWS setting, so a CLI under test cannot reach a real account."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true")
    return env


def stop_folder_sandbox(folder: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "wizard", "sandbox", "stop", "--dir", str(folder)],
        env=cli_env(),
        capture_output=True,
        timeout=60,
    )
