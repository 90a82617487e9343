"""Shared fixtures. Every test talks to 127.0.0.1 only: a sandbox server in this process, or a
folder sandbox started by the CLI under test."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from wizard_helpers import (
    BEFORE_DEPLOY,
    SHARED_SANDBOX_LIMITS,
    close_all,
    free_port,
    make_unique,
    open_session,
    stand_in_wheelhouse,
)

# No test may reach AWS: blank out anything that could point boto3 at a real account.
for _name in (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
):
    os.environ.pop(_name, None)
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
# Folder sandboxes the CLIs under test start make runtimes READY after 0.2 s, not 2 s (what the tests check is
# the waiting, not its length).
os.environ["AGENTCORE_WIZARD_SANDBOX_READY_DELAY"] = "0.2"
# The sandboxes of these tests answer invocations with the built-in stand-in (the explicit switch for tests of the
# front door): the tests of the wizard's flow need no agent environment. tests/test_sandbox_agent.py lifts it and
# runs the real agent.py on the real SDK.
os.environ["AGENTCORE_WIZARD_SANDBOX_AGENT"] = "stand-in"


# Markers for a fast inner loop (`pytest -m "not tui and not cli and not deployed"`): the screens, the real CLI
# in subprocesses, and the tests that need a deployed agent are the slow ones.
_TUI_FILES = ("test_screens.py", "test_snapshots.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in _TUI_FILES:
            item.add_marker(pytest.mark.tui)
        if "deployed" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.deployed)


@pytest.fixture(scope="session")
def sandbox_endpoint() -> Iterator[str]:
    """One in-process sandbox (moto behind the wizard's front door) for the whole session."""
    from wizard.sandbox.server import endpoint_of, make_sandbox_server

    # Runtimes are READY after 0.2 s, not the CLI's 2 s: what the tests check is the waiting, not its length.
    # Every test of a worker shares this sandbox and few delete what they make: the account quotas (50 providers)
    # are raised so that a long run never fills it. tests/test_quotas.py checks the real limits in sandboxes of its own.
    server = make_sandbox_server("127.0.0.1", 0, ready_delay=0.2, limits=SHARED_SANDBOX_LIMITS)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint_of(server)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


@pytest.fixture
def options(project: Path, sandbox_endpoint: str):
    from wizard.settings import Options

    # No test opens a browser; each gets its own return-URL port, since tests run in parallel.
    return Options(
        project=project,
        sandbox_endpoint=sandbox_endpoint,
        region="us-east-1",
        no_browser=True,
        return_url=f"http://localhost:{free_port()}/oauth2/callback",
    )


@pytest.fixture(scope="session", autouse=True)
def _layer_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Dependency layers go to a cache this test run shares across its workers (and CLIs it starts),
    never to the user's own ~/.cache."""
    from wizard.files.package import CACHE_ENV

    previous = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(tmp_path_factory.getbasetemp().parent / "layer-cache")
    yield
    if previous is None:
        os.environ.pop(CACHE_ENV, None)
    else:
        os.environ[CACHE_ENV] = previous


@pytest.fixture(scope="session", autouse=True)
def _return_port_claims(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The return-URL ports projects claim go to a folder this test run shares across its workers (and the CLIs
    it starts, so their projects get distinct ports too), never to the user's own ~/.local/state."""
    from wizard.return_ports import REGISTRY_ENV

    previous = os.environ.get(REGISTRY_ENV)
    os.environ[REGISTRY_ENV] = str(tmp_path_factory.getbasetemp().parent / "return-ports")
    yield
    if previous is None:
        os.environ.pop(REGISTRY_ENV, None)
    else:
        os.environ[REGISTRY_ENV] = previous


@pytest.fixture(autouse=True)
def _close_sessions() -> Iterator[None]:
    """Every session a test opened (reopened ones too) lets go of its folder's lock at the end."""
    yield
    close_all()


@pytest.fixture
def wizard(options) -> Any:
    """An opened core session on a fresh project, with a port that records every event."""
    return open_session(options)


# --- a deployed agent (stages 0-7), for the deploy and invoke tests -------------------------------


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return stand_in_wheelhouse(tmp_path_factory.mktemp("wheelhouse"))


@pytest.fixture
def deployed(wizard: Any, wheelhouse: Path) -> Any:
    wizard = make_unique(wizard, wheelhouse)
    for key in BEFORE_DEPLOY:
        outcome = wizard.run_stage(key)
        assert outcome.ok, (key, outcome.error and outcome.error.message)
    outcome = wizard.run_stage("deploy")
    assert outcome.ok, outcome.error and outcome.error.message
    return wizard
