"""Fault injection through the admin routes: throttle, error, hang; and clearing the queue."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from sandbox_support import ADMIN, client, error_code, http, http_status, post_json, unique


def queue_fault(endpoint: str, **fault: Any) -> dict[str, Any]:
    answer = post_json(endpoint + ADMIN + "/faults", fault)
    assert 200 <= answer.status < 300, (answer.status, answer.text[:300])
    body = answer.json()
    assert "queued" in body, body
    return body


@pytest.fixture(autouse=True)
def no_faults_left(endpoint: str) -> Iterator[None]:
    """Faults are per server, and the server is shared by this worker's other tests: never leave one queued."""
    http("DELETE", endpoint + ADMIN + "/faults")
    yield
    http("DELETE", endpoint + ADMIN + "/faults")


def test_throttle_json_protocol(endpoint: str, cognito: Any) -> None:
    queue_fault(endpoint, operation="ListUserPools", mode="throttle", count=2)
    for _ in range(2):
        with pytest.raises(ClientError) as info:
            cognito.list_user_pools(MaxResults=10)
        assert error_code(info.value) == "ThrottlingException", info.value
        assert http_status(info.value) == 400
    assert "UserPools" in cognito.list_user_pools(MaxResults=10)


def test_throttle_rest_json_protocol(endpoint: str, control: Any) -> None:
    queue_fault(endpoint, operation="ListWorkloadIdentities", mode="throttle", count=1)
    with pytest.raises(ClientError) as info:
        control.list_workload_identities()
    assert error_code(info.value) == "ThrottlingException", info.value
    assert http_status(info.value) == 429
    assert "workloadIdentities" in control.list_workload_identities()


def test_throttle_only_hits_the_named_operation(endpoint: str, cognito: Any) -> None:
    queue_fault(endpoint, operation="ListUserPools", mode="throttle", count=1)
    pool_id = cognito.create_user_pool(PoolName=unique("unaffected-"))["UserPool"]["Id"]
    assert cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]["Id"] == pool_id
    with pytest.raises(ClientError) as info:
        cognito.list_user_pools(MaxResults=10)
    assert error_code(info.value) == "ThrottlingException"


def test_error_then_success(endpoint: str, control: Any) -> None:
    queue_fault(endpoint, operation="CreateWorkloadIdentity", mode="error", count=1)
    name = unique("wi-fault-")
    with pytest.raises(ClientError) as info:
        control.create_workload_identity(name=name)
    assert http_status(info.value) >= 500, info.value
    assert error_code(info.value) in ("InternalServerException", "InternalFailure"), info.value
    # The failed call created nothing: the same name is free.
    created = control.create_workload_identity(name=name)
    assert created["name"] == name


def test_hang_times_out_the_client(endpoint: str) -> None:
    queue_fault(endpoint, operation="GetCallerIdentity", mode="hang", count=1, seconds=2)
    impatient = client("sts", endpoint, read_timeout=0.5, connect_timeout=2)
    with pytest.raises(ReadTimeoutError):
        impatient.get_caller_identity()
    # The fault was used up; the next call is served normally (a patient client: a busy machine is slow).
    assert client("sts", endpoint).get_caller_identity()["Account"] == "123456789012"


def test_faults_are_listed_and_cleared(endpoint: str, cognito: Any) -> None:
    queue_fault(endpoint, operation="ListUserPools", mode="throttle", count=5)
    listed = http("GET", endpoint + ADMIN + "/faults")
    assert listed.status == 200, (listed.status, listed.text[:300])
    assert "ListUserPools" in listed.text
    cleared = http("DELETE", endpoint + ADMIN + "/faults")
    assert 200 <= cleared.status < 300, (cleared.status, cleared.text[:300])
    assert "ListUserPools" not in http("GET", endpoint + ADMIN + "/faults").text
    assert "UserPools" in cognito.list_user_pools(MaxResults=10)
