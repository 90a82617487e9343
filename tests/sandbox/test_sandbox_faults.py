"""Fault injection through the admin routes: throttle, error, hang; and clearing the queue."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from sandbox_support import (
    ADMIN,
    client,
    code_runtime_args,
    error_code,
    http,
    http_status,
    make_code_bucket,
    make_role,
    post_json,
    unique,
)


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


# --- S3 (REST-XML: the operation is in the method, the path and the query) -------------------------------------


@pytest.fixture
def bucket(s3: Any) -> str:
    name = unique("fault-bucket-")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="dir/object.zip", Body=b"zip")
    return name


S3_CALLS = {
    "CreateBucket": lambda s3, bucket: s3.create_bucket(Bucket=unique("fault-new-")),
    "HeadBucket": lambda s3, bucket: s3.head_bucket(Bucket=bucket),
    "PutObject": lambda s3, bucket: s3.put_object(Bucket=bucket, Key="dir/other.zip", Body=b"zip"),
    "HeadObject": lambda s3, bucket: s3.head_object(Bucket=bucket, Key="dir/object.zip"),
    "GetObject": lambda s3, bucket: s3.get_object(Bucket=bucket, Key="dir/object.zip")["Body"].read(),
    "ListObjectsV2": lambda s3, bucket: s3.list_objects_v2(Bucket=bucket, Prefix="dir/"),
    "DeleteObject": lambda s3, bucket: s3.delete_object(Bucket=bucket, Key="dir/object.zip"),
    "DeleteBucket": lambda s3, bucket: s3.delete_bucket(Bucket=bucket),
}


@pytest.mark.parametrize("operation", sorted(S3_CALLS))
@pytest.mark.parametrize(("mode", "status", "code"), [("error", 500, "InternalError"), ("throttle", 503, "SlowDown")])
def test_s3_faults(endpoint: str, s3: Any, bucket: str, operation: str, mode: str, status: int, code: str) -> None:
    call = S3_CALLS[operation]
    if operation == "DeleteBucket":  # only an empty bucket can go
        s3.delete_object(Bucket=bucket, Key="dir/object.zip")
    queue_fault(endpoint, operation=operation, mode=mode, count=1)
    with pytest.raises(ClientError) as info:
        call(s3, bucket)
    assert http_status(info.value) == status, info.value
    # HEAD answers have no body: botocore names the error by the status.
    expected = str(status) if operation.startswith("Head") else code
    assert error_code(info.value) == expected, info.value
    assert operation not in http("GET", endpoint + ADMIN + "/faults").text, "the fault was not used up"
    call(s3, bucket)  # then served normally


def test_s3_fault_hits_only_the_named_operation(endpoint: str, s3: Any, bucket: str) -> None:
    queue_fault(endpoint, operation="PutObject", mode="error", count=1)
    # Same method and path, other operations: CopyObject (x-amz-copy-source), the bucket-level PUTs, reads.
    s3.copy_object(Bucket=bucket, Key="dir/copy.zip", CopySource={"Bucket": bucket, "Key": "dir/object.zip"})
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    s3.head_object(Bucket=bucket, Key="dir/copy.zip")
    s3.list_objects(Bucket=bucket)
    s3.get_bucket_location(Bucket=bucket)
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=bucket, Key="dir/late.zip", Body=b"zip")
    assert http_status(info.value) == 500


def test_s3_hang_times_out_the_client(endpoint: str, bucket: str) -> None:
    queue_fault(endpoint, operation="HeadBucket", mode="hang", count=1, seconds=2)
    impatient = client("s3", endpoint, read_timeout=0.5, connect_timeout=2)
    with pytest.raises(ReadTimeoutError):
        impatient.head_bucket(Bucket=bucket)
    client("s3", endpoint).head_bucket(Bucket=bucket)


# --- IAM and STS (query protocol), Logs (JSON) -------------------------------------------------------------------


def test_iam_faults(endpoint: str, iam: Any) -> None:
    queue_fault(endpoint, operation="CreateRole", mode="throttle", count=1)
    queue_fault(endpoint, operation="GetRole", mode="error", count=1)
    name = unique("FaultRole-")
    with pytest.raises(ClientError) as info:
        make_role(iam, prefix=name)
    assert (error_code(info.value), http_status(info.value)) == ("Throttling", 400), info.value
    arn = make_role(iam, prefix=name)
    role_name = arn.rsplit("/", 1)[-1]
    with pytest.raises(ClientError) as info:
        iam.get_role(RoleName=role_name)
    assert (error_code(info.value), http_status(info.value)) == ("InternalFailure", 500), info.value
    assert iam.get_role(RoleName=role_name)["Role"]["Arn"] == arn


def test_sts_faults(endpoint: str, sts: Any) -> None:
    queue_fault(endpoint, operation="GetCallerIdentity", mode="error", count=1)
    with pytest.raises(ClientError) as info:
        sts.get_caller_identity()
    assert (error_code(info.value), http_status(info.value)) == ("InternalFailure", 500), info.value
    queue_fault(endpoint, operation="GetCallerIdentity", mode="throttle", count=1)
    with pytest.raises(ClientError) as info:
        sts.get_caller_identity()
    assert error_code(info.value) == "Throttling", info.value
    assert sts.get_caller_identity()["Account"] == "123456789012"


def test_logs_faults(endpoint: str) -> None:
    logs = client("logs", endpoint)
    group = "/aws/bedrock-agentcore/runtimes/" + unique("fault-")
    queue_fault(endpoint, operation="CreateLogGroup", mode="throttle", count=1)
    queue_fault(endpoint, operation="DescribeLogGroups", mode="error", count=1)
    with pytest.raises(ClientError) as info:
        logs.create_log_group(logGroupName=group)
    assert (error_code(info.value), http_status(info.value)) == ("ThrottlingException", 400), info.value
    logs.create_log_group(logGroupName=group)
    with pytest.raises(ClientError) as info:
        logs.describe_log_groups(logGroupNamePrefix=group)
    assert http_status(info.value) == 500, info.value
    assert error_code(info.value) == "ServiceUnavailableException", info.value
    assert [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]] == [group]


# --- a hang on a create, with botocore's own retry: the clientToken makes it one runtime ---------------------


def test_hung_create_retried_by_botocore_makes_one_runtime(endpoint: str, control: Any, iam: Any, s3: Any) -> None:
    """The first attempt stalls past the read timeout and is then served; botocore's retry carries the same
    (autopopulated) clientToken, so both make one runtime and neither answer is a 409."""
    role_arn, bucket = make_role(iam), make_code_bucket(s3)
    name = unique("stalled_")
    hang = 1.0
    queue_fault(endpoint, operation="CreateAgentRuntime", mode="hang", count=1, seconds=hang)
    retrying = client(
        "bedrock-agentcore-control",
        endpoint,
        read_timeout=0.4,
        connect_timeout=2,
        retries={"total_max_attempts": 3, "mode": "standard"},
    )
    started = time.monotonic()
    created = retrying.create_agent_runtime(**code_runtime_args(name, role_arn, bucket))
    assert created["agentRuntimeId"].startswith(name + "-")
    # Let the stalled first attempt be served too (it answers the same runtime, to a client that left).
    time.sleep(max(0.0, started + hang + 0.5 - time.monotonic()))
    runtimes = [r for r in all_runtimes(control) if r["agentRuntimeName"] == name]
    assert [r["agentRuntimeId"] for r in runtimes] == [created["agentRuntimeId"]], runtimes


def all_runtimes(control: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    for _ in range(200):
        page = control.list_agent_runtimes(maxResults=20, **kwargs)
        found += page["agentRuntimes"]
        if not page.get("nextToken"):
            return found
        kwargs["nextToken"] = page["nextToken"]
    raise AssertionError("list_agent_runtimes never stopped paging")
