"""The account quotas a workshop room runs into, in a sandbox of their own (the shared one has them raised): the
51st OAuth2 or API-key credential provider and the runtime past the limit get AgentCore's ServiceQuotaExceededException
(HTTP 402, as botocore's model declares it); Service Quotas answers the limits the sandbox enforces."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sandbox_support import (
    QUOTAS_ENV,
    REPO,
    SERVE,
    Sandbox,
    clean_env,
    client,
    code_runtime_args,
    error_code,
    start_sandbox,
    unique,
)

OAUTH2 = "L-431051DC"
API_KEY = "L-B04D9A86"
RUNTIMES = "L-F4575653"
RUNTIME_LIMIT = 2  # lowered: a thousand runtimes would test nothing more


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    """The service's own provider limits (50 each); runtimes lowered through the environment."""
    # The stand-in answers for the runtimes: no agent code runs.
    sandbox = start_sandbox(
        env={QUOTAS_ENV: f"{RUNTIMES}={RUNTIME_LIMIT}", "AGENTCORE_WIZARD_SANDBOX_AGENT": "stand-in"}
    )
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture(scope="module")
def control(box: Sandbox) -> Any:
    return client("bedrock-agentcore-control", box.endpoint)


def google_provider(control: Any, name: str) -> dict[str, Any]:
    return control.create_oauth2_credential_provider(
        name=name,
        credentialProviderVendor="GoogleOauth2",
        oauth2ProviderConfigInput={"googleOauth2ProviderConfig": {"clientId": "id", "clientSecret": "secret"}},
    )


def listed(control: Any, operation: str) -> list[str]:
    pages = control.get_paginator(operation).paginate(PaginationConfig={"PageSize": 20})
    return [item["name"] for page in pages for item in page["credentialProviders"]]


def test_the_51st_oauth2_provider_is_refused_with_the_services_quota_error(control: Any) -> None:
    names = [unique("quota-") for _ in range(50)]
    for name in names:
        google_provider(control, name)
    with pytest.raises(control.exceptions.ServiceQuotaExceededException) as refused:
        google_provider(control, unique("quota-"))
    answer = refused.value.response
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 402
    assert error_code(refused.value) == "ServiceQuotaExceededException"
    assert "Oauth2 credential providers in this account has reached its limit" in answer["Error"]["Message"]
    assert sorted(listed(control, "list_oauth2_credential_providers")) == sorted(names)  # nothing half-made
    # Deleting one makes room for one.
    control.delete_oauth2_credential_provider(name=names[0])
    google_provider(control, unique("quota-"))
    with pytest.raises(control.exceptions.ServiceQuotaExceededException):
        google_provider(control, unique("quota-"))


def test_a_name_already_taken_is_a_conflict_even_when_full(control: Any) -> None:
    taken = listed(control, "list_oauth2_credential_providers")
    if len(taken) < 50:
        pytest.skip("runs after the account was filled")
    with pytest.raises(ClientError) as refused:
        google_provider(control, taken[0])
    assert error_code(refused.value) == "ConflictException"


def test_the_51st_api_key_provider_is_refused(control: Any) -> None:
    names = [unique("key-") for _ in range(50)]
    for name in names:
        made = control.create_api_key_credential_provider(name=name, apiKey="not-a-real-key")
        assert made["apiKeySecretArn"]["secretArn"]
    with pytest.raises(control.exceptions.ServiceQuotaExceededException) as refused:
        control.create_api_key_credential_provider(name=unique("key-"), apiKey="not-a-real-key")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 402
    assert sorted(listed(control, "list_api_key_credential_providers")) == sorted(names)
    got = control.get_api_key_credential_provider(name=names[0])
    assert got["credentialProviderArn"].endswith(f"/apikeycredentialprovider/{names[0]}")
    assert "apiKey" not in got  # the key itself is never answered
    control.delete_api_key_credential_provider(name=names[0])
    with pytest.raises(control.exceptions.ResourceNotFoundException):
        control.get_api_key_credential_provider(name=names[0])


def test_runtimes_past_the_limit_are_refused(box: Sandbox, control: Any) -> None:
    iam = client("iam", box.endpoint)
    s3 = client("s3", box.endpoint)
    role = iam.create_role(RoleName=unique("role-"), AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    bucket = unique("code-")
    s3.create_bucket(Bucket=bucket)
    for _ in range(RUNTIME_LIMIT):
        control.create_agent_runtime(**code_runtime_args(unique("rt_"), role, bucket))
    with pytest.raises(control.exceptions.ServiceQuotaExceededException) as refused:
        control.create_agent_runtime(**code_runtime_args(unique("rt_"), role, bucket))
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 402
    assert "agent runtimes" in refused.value.response["Error"]["Message"]


def test_service_quotas_answers_the_limits_the_sandbox_enforces(box: Sandbox) -> None:
    quotas = client("service-quotas", box.endpoint)
    applied = quotas.get_service_quota(ServiceCode="bedrock-agentcore", QuotaCode=OAUTH2)["Quota"]
    assert (applied["QuotaCode"], applied["Value"], applied["ServiceCode"]) == (OAUTH2, 50.0, "bedrock-agentcore")
    lowered = quotas.get_service_quota(ServiceCode="bedrock-agentcore", QuotaCode=RUNTIMES)["Quota"]
    assert lowered["Value"] == float(RUNTIME_LIMIT)
    default = quotas.get_aws_default_service_quota(ServiceCode="bedrock-agentcore", QuotaCode=RUNTIMES)["Quota"]
    assert default["Value"] == 1000.0
    assert quotas.get_service_quota(ServiceCode="bedrock-agentcore", QuotaCode=API_KEY)["Quota"]["Value"] == 50.0
    # Anything else is moto's business, which knows only VPC's quotas.
    with pytest.raises(ClientError) as unknown:
        quotas.get_service_quota(ServiceCode="bedrock-agentcore", QuotaCode="L-00000000")
    assert error_code(unknown.value) == "NoSuchResourceException"


@pytest.mark.parametrize("value", ["L-431051DC=many", "L-NOPE=3", "L-431051DC=-1"])
def test_a_bad_quota_setting_stops_the_sandbox_with_its_fix(value: str) -> None:
    import subprocess

    result = subprocess.run(
        SERVE,
        cwd=str(REPO),
        env={**clean_env(), QUOTAS_ENV: value},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode != 0
    assert QUOTAS_ENV in result.stderr
    assert "listening" not in result.stdout
