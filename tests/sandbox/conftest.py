"""Black-box fixtures: one `sandbox serve` subprocess per test session (per xdist worker), plain boto3 clients."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sandbox_support import SHARED_QUOTAS, Sandbox, client, start_sandbox


@pytest.fixture(scope="session")
def sandbox_process() -> Iterator[Sandbox]:
    try:
        box = start_sandbox(env=SHARED_QUOTAS)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture(scope="session")
def endpoint(sandbox_process: Sandbox) -> str:
    return sandbox_process.endpoint


def _client_fixture(service: str) -> Any:
    @pytest.fixture(scope="session")
    def make(endpoint: str) -> Any:
        return client(service, endpoint)

    return make


cognito = _client_fixture("cognito-idp")
control = _client_fixture("bedrock-agentcore-control")
data = _client_fixture("bedrock-agentcore")
iam = _client_fixture("iam")
s3 = _client_fixture("s3")
secrets = _client_fixture("secretsmanager")
sts = _client_fixture("sts")
