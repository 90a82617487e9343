"""A full account: the error map explains AgentCore's quota error, a headless run at stage 5 in a sandbox already
holding 50 providers fails with that explanation (and loses nothing), and preflight against AWS counts the providers
against the quota Service Quotas reports (here the real calls, pointed at a sandbox of this module's own)."""

from __future__ import annotations

import dataclasses
import json
import re
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from wizard_helpers import cli_env, client, free_port, open_session, run_cli

from wizard import errors, quotas
from wizard.events import LogLine
from wizard.settings import Options
from wizard.steps.preflight import QUOTA_CHECK, ROOM_SIZE_ENV, provider_quota

QUOTA_LIMIT = 8  # the module's sandbox's: a full account is a handful of providers, not fifty


def quota_error(operation: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "ServiceQuotaExceededException", "Message": "... has reached its limit"},
            "ResponseMetadata": {"HTTPStatusCode": 402},
        },
        operation,
    )


def google_provider(control: Any, name: str | None = None) -> str:
    name = name or f"filler-{uuid.uuid4().hex[:10]}"
    control.create_oauth2_credential_provider(
        name=name,
        credentialProviderVendor="GoogleOauth2",
        oauth2ProviderConfigInput={"googleOauth2ProviderConfig": {"clientId": "id", "clientSecret": "secret"}},
    )
    return name


# --- the error map --------------------------------------------------------------------------------


def test_a_full_account_on_create_provider_says_how_to_make_room() -> None:
    error = errors.explain(quota_error("CreateOauth2CredentialProvider"))
    assert error.code == "ServiceQuotaExceededException"
    assert error.message.startswith("CreateOauth2CredentialProvider: ServiceQuotaExceededException")
    for needed in (
        "L-431051DC",
        "`agentcore-wizard cleanup` in the folders that made them",
        "aws bedrock-agentcore-control list-oauth2-credential-providers",
        "Service Quotas",
        "stage 5 (Create credential provider)",
    ):
        assert needed in error.fix


def test_a_full_account_on_create_runtime_points_at_runtimes_and_deploy() -> None:
    fix = errors.explain(quota_error("CreateAgentRuntime")).fix
    assert "list-agent-runtimes" in fix and "stage 7 (Deploy agent)" in fix
    assert "L-431051DC" not in fix


def test_a_quota_error_elsewhere_gets_the_general_advice() -> None:
    fix = errors.explain(quota_error("CreateWorkloadIdentity")).fix
    assert "quota" in fix and "agentcore-wizard cleanup" in fix
    assert fix != errors.GENERIC_AWS_FIX


def test_operation_only_entries_still_match_by_operation() -> None:
    # An entry with operations and no codes keeps matching any error of that operation.
    failure = ClientError({"Error": {"Code": "ValidationException", "Message": "bad"}}, "CompleteResourceTokenAuth")
    assert "fresh session" in errors.explain(failure).fix


# --- a headless run at stage 5, in a sandbox that is already full ---------------------------------


@pytest.fixture
def full_sandbox(tmp_path: Path) -> Iterator[tuple[str, Any, list[str]]]:
    """A facilitator's `sandbox serve` (the service's own limit of 50) already holding 50 providers."""
    serve = subprocess.Popen(
        [sys.executable, "-m", "wizard", "sandbox", "serve", "--port", "0", "--ready-delay", "0.2"],
        env={**cli_env(), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert serve.stdout is not None
        found = re.search(r"(http://127\.0\.0\.1:\d+)", serve.stdout.readline())
        assert found, "the sandbox announced no endpoint"
        endpoint = found.group(1)
        control = client("bedrock-agentcore-control", endpoint)
        fillers = [google_provider(control) for _ in range(quotas.OAUTH2_PROVIDERS.default)]
        yield endpoint, control, fillers
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=60)


def test_run_through_provider_in_a_full_account_explains_and_loses_nothing(
    tmp_path: Path, full_sandbox: tuple[str, Any, list[str]]
) -> None:
    endpoint, control, fillers = full_sandbox
    folder = tmp_path / "attendee"
    folder.mkdir()
    run = ["run", "--sandbox-endpoint", endpoint, "--yes", "--through", "provider", "--provider-name", "MyProvider"]
    result = run_cli(folder, *run)
    assert result.returncode != 0, result.stderr
    said = result.stderr
    assert "ServiceQuotaExceededException" in said and "reached its limit" in said
    assert "L-431051DC" in said
    assert "agentcore-wizard cleanup" in said
    assert "list-oauth2-credential-providers" in said
    # Nothing was made, and the stages before it stand.
    names = [
        p["name"]
        for page in control.get_paginator("list_oauth2_credential_providers").paginate()
        for p in page["credentialProviders"]
    ]
    assert "MyProvider" not in names and len(names) == 50
    state = json.loads((folder / ".agentcore-wizard" / "state.json").read_text())
    assert state["stages"]["cognito"]["status"] == "done"
    assert state["stages"]["provider"]["status"] != "done"
    # Room made (as the fix says), the same command carries on from stage 5.
    control.delete_oauth2_credential_provider(name=fillers[0])
    again = run_cli(folder, *run)
    assert again.returncode == 0, again.stderr
    assert control.get_oauth2_credential_provider(name="MyProvider")["name"] == "MyProvider"


# --- preflight against AWS: the real calls, pointed at this module's sandbox ----------------------


@pytest.fixture(scope="module")
def quota_sandbox() -> Iterator[str]:
    """A sandbox of this module's own (the session's has its quotas raised), with a small provider quota."""
    from wizard.sandbox.server import endpoint_of, make_sandbox_server

    server = make_sandbox_server("127.0.0.1", 0, ready_delay=0.2, limits={quotas.OAUTH2_PROVIDERS.code: QUOTA_LIMIT})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint_of(server)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def aws_options(project: Path, quota_sandbox: str, monkeypatch: pytest.MonkeyPatch) -> Options:
    """AWS mode (no sandbox option), with botocore's own endpoint setting sending every call to the sandbox."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", quota_sandbox)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "sandbox")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "sandbox")
    return Options(
        project=project, region="us-east-1", no_browser=True, return_url=f"http://localhost:{free_port()}/cb"
    )


def quota_check(outcome: Any) -> Any:
    return next(check for check in outcome.checks if check.name == QUOTA_CHECK)


def empty(endpoint: str) -> Any:
    control = client("bedrock-agentcore-control", endpoint)
    for page in control.get_paginator("list_oauth2_credential_providers").paginate():
        for provider in page["credentialProviders"]:
            control.delete_oauth2_credential_provider(name=provider["name"])
    return control


def test_preflight_against_aws_reports_how_many_are_used(aws_options: Options, quota_sandbox: str) -> None:
    control = empty(quota_sandbox)
    google_provider(control)
    wizard = open_session(aws_options)
    assert not wizard.ctx.is_sandbox
    outcome = wizard.run_stage("preflight")
    assert outcome.ok, outcome.error and outcome.error.message
    check = quota_check(outcome)
    assert check.ok and not check.warning
    assert check.detail.startswith(f"1 of {QUOTA_LIMIT} OAuth2 credential providers")
    assert "applied quota" in check.detail
    logged = [e for e in wizard.events if isinstance(e, LogLine) and e.message == check.detail]
    assert logged and logged[0].level == "info"


def test_preflight_warns_when_few_are_left_but_does_not_fail(aws_options: Options, quota_sandbox: str) -> None:
    control = empty(quota_sandbox)
    for _ in range(QUOTA_LIMIT - 2):
        google_provider(control)
    wizard = open_session(aws_options)
    outcome = wizard.run_stage("preflight")
    assert outcome.ok and outcome.status == "done"
    check = quota_check(outcome)
    assert check.ok and check.warning
    assert f"{QUOTA_LIMIT - 2} of {QUOTA_LIMIT}" in check.detail and "2 left" in check.detail
    assert "agentcore-wizard cleanup" in check.detail
    assert any(isinstance(e, LogLine) and e.level == "warning" and e.message == check.detail for e in wizard.events)
    # The doctor says it too, as a warning.
    from wizard.doctor import _credentials

    findings: list[Any] = []
    _credentials(wizard, findings)
    assert [f.level for f in findings if f.topic == "quotas"] == ["warning"]


def test_preflight_warns_when_the_room_would_not_fit(
    aws_options: Options, quota_sandbox: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty(quota_sandbox)
    monkeypatch.setenv(ROOM_SIZE_ENV, str(QUOTA_LIMIT + 1))
    wizard = open_session(aws_options)
    check = quota_check(wizard.run_stage("preflight"))
    assert check.warning and f"not enough for a room of {QUOTA_LIMIT + 1}" in check.detail
    monkeypatch.setenv(ROOM_SIZE_ENV, "3")
    check = quota_check(wizard.verify_stage("preflight"))
    assert not check.warning and "enough for a room of 3" in check.detail


def test_a_bad_room_size_is_a_clear_error(aws_options: Options, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ROOM_SIZE_ENV, "thirty")
    outcome = open_session(aws_options).run_stage("preflight")
    assert not outcome.ok
    assert outcome.error is not None and ROOM_SIZE_ENV in outcome.error.message
    assert "e.g." in outcome.error.fix


def test_preflight_in_the_sandbox_does_not_count(wizard: Any) -> None:
    outcome = wizard.run_stage("preflight")
    assert outcome.ok
    assert QUOTA_CHECK not in [check.name for check in outcome.checks]


# --- what cannot be read is a note, never a failure -----------------------------------------------


class _Refusing:
    """A client whose every call is refused with `code`."""

    def __init__(self, code: str, pages: list[dict[str, Any]] | None = None) -> None:
        self.code = code
        self.pages = pages

    def get_paginator(self, name: str) -> Any:
        pages = self.pages
        refuse = self._refuse

        class Paginator:
            def paginate(self, **_: Any) -> Any:
                return iter(pages) if pages is not None else refuse()

        return Paginator()

    def _refuse(self, *_: Any, **__: Any) -> Any:
        raise ClientError({"Error": {"Code": self.code, "Message": "no"}}, "Call")

    def __getattr__(self, name: str) -> Any:
        return self._refuse


@dataclasses.dataclass
class _Ctx:
    clients: dict[str, Any]

    def client(self, service: str) -> Any:
        return self.clients[service]

    def session(self) -> Any:
        class Session:
            def get_credentials(self) -> object:
                return object()

        return Session()


def test_not_allowed_to_list_is_skipped_quietly() -> None:
    ctx = _Ctx({"bedrock-agentcore-control": _Refusing("AccessDeniedException")})
    check = provider_quota(ctx)  # type: ignore[arg-type]
    assert check.ok and not check.warning
    assert "AccessDeniedException" in check.detail and "skipped" in check.detail


def test_service_quotas_not_readable_falls_back_to_the_default() -> None:
    listing = _Refusing("unused", pages=[{"credentialProviders": [{"name": "a"}] * 47}])
    ctx = _Ctx({"bedrock-agentcore-control": listing, "service-quotas": _Refusing("AccessDeniedException")})
    check = provider_quota(ctx)  # type: ignore[arg-type]
    assert check.ok and check.warning  # 3 of the default 50 left
    assert "47 of 50" in check.detail and "Service Quotas not readable: AccessDeniedException" in check.detail
