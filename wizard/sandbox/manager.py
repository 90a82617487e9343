"""Start, find and stop a project folder's detached sandbox. Never imports moto itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from wizard.errors import WizardError
from wizard.sandbox.server import HEALTH_PATH, SANDBOX_KIND
from wizard.settings import seconds_from_env
from wizard.state import sandbox_file, wizard_dir

START_TIMEOUT = 30.0
# How long this folder's sandbox keeps a new runtime CREATING (default: `sandbox serve`'s 2 s). A rehearsal or a
# test suite that does not need to watch the wait sets it lower.
READY_DELAY_ENV = "AGENTCORE_WIZARD_SANDBOX_READY_DELAY"


def _ready_delay_option() -> list[str]:
    delay = seconds_from_env(READY_DELAY_ENV, "0.5")
    return [] if delay is None else ["--ready-delay", str(delay)]


def sandbox_log(project: Path) -> Path:
    return wizard_dir(project) / "sandbox.log"


def health(endpoint: str, timeout: float = 2.0) -> dict | None:
    """The sandbox's own description of itself, or None if nothing like it answers."""
    try:
        with urllib.request.urlopen(endpoint + HEALTH_PATH, timeout=timeout) as response:  # noqa: S310
            data = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("kind") == SANDBOX_KIND else None


def is_healthy(endpoint: str, timeout: float = 2.0) -> bool:
    return health(endpoint, timeout) is not None


def require_healthy(endpoint: str) -> str:
    endpoint = endpoint.rstrip("/")
    if not is_healthy(endpoint):
        raise WizardError(
            f"No agentcore-wizard sandbox answers at {endpoint}.",
            fix="Start one with `agentcore-wizard sandbox serve` and pass the endpoint it prints, "
            "or use --sandbox to have the wizard start one for this folder.",
        )
    return endpoint


def running_endpoint(project: Path) -> str | None:
    """The endpoint of this folder's sandbox if it is up."""
    try:
        data = json.loads(sandbox_file(project).read_text())
    except (OSError, ValueError):
        return None
    endpoint = data.get("endpoint")
    if not isinstance(endpoint, str):
        return None
    answer = health(endpoint)
    # The recorded port may since have been taken by another folder's sandbox.
    if answer is None or answer.get("pid") != data.get("pid"):
        return None
    return endpoint


def ensure_folder_sandbox(project: Path) -> str:
    """Reuse this folder's sandbox, or start one detached so it outlives the wizard."""
    endpoint = running_endpoint(project)
    if endpoint:
        return endpoint
    ready = sandbox_file(project)
    ready.parent.mkdir(parents=True, exist_ok=True)
    ready.unlink(missing_ok=True)
    log = open(sandbox_log(project), "ab")  # noqa: SIM115 (handed to the child)
    try:
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wizard",
                "sandbox",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--ready-file",
                str(ready),
                *_ready_delay_option(),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
            cwd=str(project),
        )
    finally:
        log.close()
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        endpoint = running_endpoint(project)
        if endpoint:
            return endpoint
        time.sleep(0.05)
    raise WizardError(
        "The sandbox did not start.",
        fix=f"See {sandbox_log(project)} for why, then try again.",
    )


def stop_folder_sandbox(project: Path) -> bool:
    """Stop this folder's sandbox; True if one was running."""
    try:
        data = json.loads(sandbox_file(project).read_text())
    except (OSError, ValueError):
        return False
    pid = data.get("pid")
    endpoint = running_endpoint(project)
    # Only signal a pid that still answers as this folder's sandbox: pids are reused.
    if not isinstance(pid, int) or endpoint is None:
        sandbox_file(project).unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and is_healthy(endpoint, timeout=0.5):
        time.sleep(0.05)
    sandbox_file(project).unlink(missing_ok=True)
    return True
