"""clientToken idempotency: the same token and request answer the first result again; another request is refused."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sandbox_support import (
    code_runtime_args,
    error_code,
    error_message,
    http,
    http_status,
    make_code_bucket,
    make_role,
    unique,
)


@pytest.fixture(scope="module")
def role_arn(iam: Any) -> str:
    return make_role(iam)


@pytest.fixture(scope="module")
def code_bucket(s3: Any) -> str:
    return make_code_bucket(s3)


def token() -> str:
    return str(uuid.uuid4())  # what botocore itself fills in: 36 characters


def runtimes_named(control: Any, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    for _ in range(200):
        page = control.list_agent_runtimes(maxResults=20, **kwargs)
        found += [r for r in page["agentRuntimes"] if r["agentRuntimeName"] == name]
        if not page.get("nextToken"):
            return found
        kwargs["nextToken"] = page["nextToken"]
    raise AssertionError("list_agent_runtimes never stopped paging")


def without_metadata(answer: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in answer.items() if key != "ResponseMetadata"}


def test_same_token_same_request_answers_the_first_result(control: Any, role_arn: str, code_bucket: str) -> None:
    name = unique("idem_")
    args = code_runtime_args(name, role_arn, code_bucket, clientToken=token(), description="first")
    first = control.create_agent_runtime(**args)
    again = control.create_agent_runtime(**args)  # a retry after a lost answer: no 409, no second runtime
    assert without_metadata(again) == without_metadata(first)
    assert [r["agentRuntimeId"] for r in runtimes_named(control, name)] == [first["agentRuntimeId"]]


def test_same_token_other_request_is_refused(control: Any, role_arn: str, code_bucket: str) -> None:
    name = unique("idem_")
    client_token = token()
    first = control.create_agent_runtime(**code_runtime_args(name, role_arn, code_bucket, clientToken=client_token))
    for changed in (
        code_runtime_args(name, role_arn, code_bucket, clientToken=client_token, description="changed"),
        code_runtime_args(unique("other_"), role_arn, code_bucket, clientToken=client_token),
    ):
        with pytest.raises(ClientError) as info:
            control.create_agent_runtime(**changed)
        assert error_code(info.value) == "ValidationException", info.value
        assert http_status(info.value) == 400
        assert info.value.response.get("reason") == "IdempotentParameterMismatchException", info.value.response
        assert "client token" in error_message(info.value), error_message(info.value)
    assert [r["agentRuntimeId"] for r in runtimes_named(control, name)] == [first["agentRuntimeId"]]


def test_without_a_token_botocore_fills_one_in_and_a_repeat_is_a_conflict(
    control: Any, role_arn: str, code_bucket: str
) -> None:
    """Each call without clientToken gets a fresh one from botocore: a repeated create is a new request."""
    name = unique("autotoken_")
    control.create_agent_runtime(**code_runtime_args(name, role_arn, code_bucket))
    with pytest.raises(ClientError) as info:
        control.create_agent_runtime(**code_runtime_args(name, role_arn, code_bucket))
    assert error_code(info.value) == "ConflictException", info.value
    assert len(runtimes_named(control, name)) == 1


def test_plain_http_without_any_token_is_served(endpoint: str, control: Any, role_arn: str, code_bucket: str) -> None:
    """No clientToken at all (a client that is not botocore): served, with no idempotency."""
    name = unique("notoken_")
    body = json.dumps(code_runtime_args(name, role_arn, code_bucket))
    answer = http(
        "PUT",
        endpoint + "/runtimes/",
        body,
        {
            "Content-Type": "application/json",
            "Authorization": "AWS4-HMAC-SHA256 Credential=sandbox/20250101/us-east-1/bedrock-agentcore/aws4_request, "
            "SignedHeaders=host, Signature=0",
        },
    )
    assert answer.status == 202, (answer.status, answer.text[:300])  # the model's responseCode
    assert answer.json()["agentRuntimeId"].startswith(name + "-")
    again = http("PUT", endpoint + "/runtimes/", body, {"Content-Type": "application/json"})
    assert again.status == 409, (again.status, again.text[:300])


def test_a_refused_request_does_not_take_the_token(control: Any, role_arn: str, code_bucket: str) -> None:
    """Only answered requests are remembered: after a conflict, the same token may be sent again."""
    name = unique("taken_")
    control.create_agent_runtime(**code_runtime_args(name, role_arn, code_bucket))
    client_token = token()
    with pytest.raises(ClientError) as info:
        control.create_agent_runtime(**code_runtime_args(name, role_arn, code_bucket, clientToken=client_token))
    assert error_code(info.value) == "ConflictException"
    other = unique("free_")
    created = control.create_agent_runtime(**code_runtime_args(other, role_arn, code_bucket, clientToken=client_token))
    assert created["agentRuntimeId"].startswith(other + "-")


def test_update_and_delete_are_idempotent_too(control: Any, role_arn: str, code_bucket: str) -> None:
    created = control.create_agent_runtime(**code_runtime_args(unique("upd_"), role_arn, code_bucket))
    runtime_id = created["agentRuntimeId"]
    update = {
        key: value
        for key, value in code_runtime_args("x", role_arn, code_bucket, description="v2").items()
        if key != "agentRuntimeName"
    }
    update_token = token()
    first = control.update_agent_runtime(agentRuntimeId=runtime_id, clientToken=update_token, **update)
    again = control.update_agent_runtime(agentRuntimeId=runtime_id, clientToken=update_token, **update)
    assert first["agentRuntimeVersion"] == again["agentRuntimeVersion"] == "2"
    versions = control.list_agent_runtime_versions(agentRuntimeId=runtime_id)["agentRuntimes"]
    assert sorted(v["agentRuntimeVersion"] for v in versions) == ["1", "2"], versions

    delete_token = token()
    deleted = control.delete_agent_runtime(agentRuntimeId=runtime_id, clientToken=delete_token)
    # The service "ignores the request but does not return an error" when the token matches a previous one.
    replay = control.delete_agent_runtime(agentRuntimeId=runtime_id, clientToken=delete_token)
    assert without_metadata(replay) == without_metadata(deleted)
    with pytest.raises(ClientError) as info:
        control.delete_agent_runtime(agentRuntimeId=runtime_id)  # a new token: a new request
    assert error_code(info.value) == "ResourceNotFoundException", info.value
