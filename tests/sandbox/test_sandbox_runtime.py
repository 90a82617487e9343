"""Agent runtimes: create (code deploy, JWT authorizer, no networkConfiguration), status, DEFAULT endpoint, delete."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sandbox_support import (
    ACCOUNT,
    REGION,
    RuntimePool,
    error_code,
    error_message,
    make_runtime_pool,
    poll,
    unique,
)

RUNTIME_ARN = f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:runtime/"
WORKLOAD_ARN = re.compile(
    rf"^arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:workload-identity-directory/default/workload-identity/"
    r"(?P<name>[A-Za-z0-9_.-]+)$"
)

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "bedrock-agentcore.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


@pytest.fixture(scope="module")
def runtime_pool(cognito: Any) -> RuntimePool:
    return make_runtime_pool(cognito)


@pytest.fixture(scope="module")
def role_arn(iam: Any) -> str:
    return iam.create_role(
        RoleName=unique("AgentCoreRole-"),
        Path="/service-role/",
        AssumeRolePolicyDocument=json.dumps(TRUST),
    )["Role"]["Arn"]


@pytest.fixture(scope="module")
def code_bucket(s3: Any) -> str:
    bucket = unique("agent-code-")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="identity_demo/deployment_package.zip", Body=b"PK\x05\x06" + b"\0" * 18)
    return bucket


def runtime_args(name: str, role_arn: str, bucket: str, pool: RuntimePool, **env: str) -> dict[str, Any]:
    return {
        "agentRuntimeName": name,
        "agentRuntimeArtifact": {
            "codeConfiguration": {
                "code": {"s3": {"bucket": bucket, "prefix": "identity_demo/deployment_package.zip"}},
                "runtime": "PYTHON_3_12",
                "entryPoint": ["agent.py"],
            }
        },
        "roleArn": role_arn,
        "authorizerConfiguration": {
            "customJWTAuthorizer": {"discoveryUrl": pool.discovery_url, "allowedClients": [pool.client_id]}
        },
        "environmentVariables": env or {"AGENTCORE_PROVIDER_NAME": "ExternalServiceProvider"},
        "protocolConfiguration": {"serverProtocol": "HTTP"},
    }


def all_runtimes(control: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    for _ in range(200):
        page = control.list_agent_runtimes(**kwargs)
        out += page["agentRuntimes"]
        if not page.get("nextToken"):
            return out
        kwargs["nextToken"] = page["nextToken"]
    raise AssertionError("list_agent_runtimes never stopped paging")


def test_runtime_lifecycle(control: Any, role_arn: str, code_bucket: str, runtime_pool: RuntimePool) -> None:
    name = unique("qs_agent_")
    created = control.create_agent_runtime(**runtime_args(name, role_arn, code_bucket, runtime_pool))

    runtime_id = created["agentRuntimeId"]
    assert re.fullmatch(re.escape(name) + r"-[A-Za-z0-9]{10}", runtime_id), runtime_id
    assert created["agentRuntimeArn"] == RUNTIME_ARN + runtime_id
    assert created["status"] == "CREATING"
    workload_arn = created["workloadIdentityDetails"]["workloadIdentityArn"]
    match = WORKLOAD_ARN.match(workload_arn)
    assert match, workload_arn
    workload_name = match.group("name")

    # The runtime's own workload identity is a real one: gettable and updatable.
    wi = control.get_workload_identity(name=workload_name)
    assert wi["workloadIdentityArn"] == workload_arn
    control.update_workload_identity(name=workload_name, allowedResourceOauth2ReturnUrls=["https://app.example/cb"])
    assert control.get_workload_identity(name=workload_name)["allowedResourceOauth2ReturnUrls"] == [
        "https://app.example/cb"
    ]

    ready = poll(
        lambda: control.get_agent_runtime(agentRuntimeId=runtime_id),
        lambda r: r["status"] != "CREATING",
        "runtime leaving CREATING",
    )
    assert ready["status"] == "READY", ready.get("failureReason")
    assert ready["agentRuntimeArn"] == RUNTIME_ARN + runtime_id
    assert ready["agentRuntimeName"] == name
    assert ready["roleArn"] == role_arn
    assert ready["authorizerConfiguration"]["customJWTAuthorizer"]["allowedClients"] == [runtime_pool.client_id]
    assert ready["authorizerConfiguration"]["customJWTAuthorizer"]["discoveryUrl"] == runtime_pool.discovery_url
    assert ready["workloadIdentityDetails"]["workloadIdentityArn"] == workload_arn
    assert ready["agentRuntimeArtifact"]["codeConfiguration"]["entryPoint"] == ["agent.py"]

    endpoint = poll(
        lambda: control.get_agent_runtime_endpoint(agentRuntimeId=runtime_id, endpointName="DEFAULT"),
        lambda e: e["status"] != "CREATING",
        "DEFAULT endpoint leaving CREATING",
    )
    assert endpoint["status"] == "READY", endpoint.get("failureReason")
    assert endpoint["name"] == "DEFAULT"
    assert endpoint["agentRuntimeArn"] == RUNTIME_ARN + runtime_id

    listed = {r["agentRuntimeId"]: r for r in all_runtimes(control)}
    assert runtime_id in listed
    assert listed[runtime_id]["agentRuntimeName"] == name
    assert listed[runtime_id]["agentRuntimeArn"] == RUNTIME_ARN + runtime_id

    control.delete_agent_runtime(agentRuntimeId=runtime_id)
    with pytest.raises(ClientError) as info:
        control.get_agent_runtime(agentRuntimeId=runtime_id)
    assert error_code(info.value) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as info:
        control.get_workload_identity(name=workload_name)
    assert error_code(info.value) == "ResourceNotFoundException", "the runtime's workload identity outlived it"
    assert runtime_id not in {r["agentRuntimeId"] for r in all_runtimes(control)}


def test_default_endpoint_exists_at_once(
    control: Any, role_arn: str, code_bucket: str, runtime_pool: RuntimePool
) -> None:
    """The DEFAULT endpoint exists straight after create (CREATING or READY, never missing)."""
    created = control.create_agent_runtime(**runtime_args(unique("early_"), role_arn, code_bucket, runtime_pool))
    endpoint = control.get_agent_runtime_endpoint(agentRuntimeId=created["agentRuntimeId"], endpointName="DEFAULT")
    assert endpoint["status"] in ("CREATING", "READY")


def test_hyphenated_runtime_name_is_a_validation_error(
    control: Any, role_arn: str, code_bucket: str, runtime_pool: RuntimePool
) -> None:
    with pytest.raises(ClientError) as info:
        control.create_agent_runtime(**runtime_args("qs-agent", role_arn, code_bucket, runtime_pool))
    assert error_code(info.value) == "ValidationException", info.value
    message = error_message(info.value)
    assert "'qs-agent'" in message and "agentRuntimeName" in message, message
    assert "regular expression pattern" in message, message


@pytest.mark.parametrize("name", ["a" * 49, "1agent", "_agent", "agent.v2"])
def test_other_bad_runtime_names_are_validation_errors(
    control: Any, role_arn: str, code_bucket: str, runtime_pool: RuntimePool, name: str
) -> None:
    with pytest.raises(ClientError) as info:
        control.create_agent_runtime(**runtime_args(name, role_arn, code_bucket, runtime_pool))
    assert error_code(info.value) == "ValidationException", info.value


def test_longest_runtime_name_is_fine(control: Any, role_arn: str, code_bucket: str, runtime_pool: RuntimePool) -> None:
    name = ("L" + unique("_")).ljust(48, "x")
    created = control.create_agent_runtime(**runtime_args(name, role_arn, code_bucket, runtime_pool))
    assert created["agentRuntimeId"].startswith(name + "-")


def test_duplicate_runtime_name_is_a_conflict(
    control: Any, role_arn: str, code_bucket: str, runtime_pool: RuntimePool
) -> None:
    name = unique("dup_agent_")
    control.create_agent_runtime(**runtime_args(name, role_arn, code_bucket, runtime_pool))
    with pytest.raises(ClientError) as info:
        control.create_agent_runtime(**runtime_args(name, role_arn, code_bucket, runtime_pool))
    assert error_code(info.value) == "ConflictException", info.value


def test_unknown_runtime_is_not_found(control: Any) -> None:
    missing = unique("nothere_") + "-abcdefghij"
    with pytest.raises(ClientError) as info:
        control.get_agent_runtime(agentRuntimeId=missing)
    assert error_code(info.value) == "ResourceNotFoundException", info.value
    with pytest.raises(ClientError) as info:
        control.get_agent_runtime_endpoint(agentRuntimeId=missing, endpointName="DEFAULT")
    assert error_code(info.value) == "ResourceNotFoundException", info.value
