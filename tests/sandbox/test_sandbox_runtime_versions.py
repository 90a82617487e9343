"""Runtime versions (ListAgentRuntimeVersions, GetAgentRuntime by version), description, StopRuntimeSession."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sandbox_support import (
    client,
    code_runtime_args,
    error_code,
    http_status,
    make_code_bucket,
    make_role,
    poll,
    unique,
)


@pytest.fixture(scope="module")
def role_arn(iam: Any) -> str:
    return make_role(iam)


@pytest.fixture(scope="module")
def code_bucket(s3: Any) -> str:
    return make_code_bucket(s3)


def update_args(role_arn: str, bucket: str, **extra: Any) -> dict[str, Any]:
    args = code_runtime_args("unused", role_arn, bucket, **extra)
    del args["agentRuntimeName"]
    return args


def listed(control: Any, runtime_id: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for _ in range(200):
        page = control.list_agent_runtimes(maxResults=20, **kwargs)
        for item in page["agentRuntimes"]:
            if item["agentRuntimeId"] == runtime_id:
                return item
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    raise AssertionError(f"{runtime_id} is not listed")


def ready(control: Any, runtime_id: str) -> dict[str, Any]:
    return poll(
        lambda: control.get_agent_runtime(agentRuntimeId=runtime_id),
        lambda r: r["status"] == "READY",
        "runtime READY",
    )


def test_description_round_trips(control: Any, role_arn: str, code_bucket: str) -> None:
    created = control.create_agent_runtime(
        **code_runtime_args(unique("described_"), role_arn, code_bucket, description="The quickstart's agent")
    )
    runtime_id = created["agentRuntimeId"]
    assert control.get_agent_runtime(agentRuntimeId=runtime_id)["description"] == "The quickstart's agent"
    assert listed(control, runtime_id)["description"] == "The quickstart's agent"

    control.update_agent_runtime(agentRuntimeId=runtime_id, **update_args(role_arn, code_bucket, description="v2"))
    assert control.get_agent_runtime(agentRuntimeId=runtime_id)["description"] == "v2"
    assert listed(control, runtime_id)["description"] == "v2"

    # An update replaces the whole configuration: without a description there is none.
    control.update_agent_runtime(agentRuntimeId=runtime_id, **update_args(role_arn, code_bucket))
    assert "description" not in control.get_agent_runtime(agentRuntimeId=runtime_id)
    assert listed(control, runtime_id)["description"] == ""  # required in the summary shape


def test_a_runtime_without_description(control: Any, role_arn: str, code_bucket: str) -> None:
    created = control.create_agent_runtime(**code_runtime_args(unique("plain_"), role_arn, code_bucket))
    assert "description" not in control.get_agent_runtime(agentRuntimeId=created["agentRuntimeId"])
    assert listed(control, created["agentRuntimeId"])["description"] == ""


def test_bad_description_is_a_validation_error(endpoint: str, role_arn: str, code_bucket: str) -> None:
    unchecked = client("bedrock-agentcore-control", endpoint, parameter_validation=False)
    for description in ("", "d" * 4097):
        with pytest.raises(ClientError) as info:
            unchecked.create_agent_runtime(
                **code_runtime_args(unique("bad_"), role_arn, code_bucket, description=description)
            )
        assert error_code(info.value) == "ValidationException", info.value
        assert "'***'" in str(info.value), "a sensitive member's value was shown"


def test_versions_are_listed_and_gettable(control: Any, role_arn: str, code_bucket: str) -> None:
    name = unique("versioned_")
    created = control.create_agent_runtime(**code_runtime_args(name, role_arn, code_bucket, description="one"))
    runtime_id = created["agentRuntimeId"]
    ready(control, runtime_id)
    control.update_agent_runtime(agentRuntimeId=runtime_id, **update_args(role_arn, code_bucket, description="two"))
    control.update_agent_runtime(agentRuntimeId=runtime_id, **update_args(role_arn, code_bucket, description="three"))

    versions = control.list_agent_runtime_versions(agentRuntimeId=runtime_id)
    items = versions["agentRuntimes"]
    assert [v["agentRuntimeVersion"] for v in items] == ["3", "2", "1"], items  # the latest first
    assert [v["description"] for v in items] == ["three", "two", "one"]
    for item in items:
        assert item["agentRuntimeId"] == runtime_id
        assert item["agentRuntimeArn"] == created["agentRuntimeArn"]
        assert item["agentRuntimeName"] == name
        assert item["status"] in ("READY", "UPDATING")
        assert item["lastUpdatedAt"]
    assert [v["status"] for v in items[1:]] == ["READY", "READY"]
    assert "nextToken" not in versions

    first_page = control.list_agent_runtime_versions(agentRuntimeId=runtime_id, maxResults=2)
    assert [v["agentRuntimeVersion"] for v in first_page["agentRuntimes"]] == ["3", "2"]
    rest = control.list_agent_runtime_versions(
        agentRuntimeId=runtime_id, maxResults=2, nextToken=first_page["nextToken"]
    )
    assert [v["agentRuntimeVersion"] for v in rest["agentRuntimes"]] == ["1"]
    assert "nextToken" not in rest

    old = control.get_agent_runtime(agentRuntimeId=runtime_id, agentRuntimeVersion="1")
    assert old["agentRuntimeVersion"] == "1" and old["description"] == "one" and old["status"] == "READY"
    assert control.get_agent_runtime(agentRuntimeId=runtime_id)["agentRuntimeVersion"] == "3"
    with pytest.raises(ClientError) as info:
        control.get_agent_runtime(agentRuntimeId=runtime_id, agentRuntimeVersion="9")
    assert error_code(info.value) == "ResourceNotFoundException", info.value

    # One old version can go; the latest only with the runtime.
    gone = control.delete_agent_runtime(agentRuntimeId=runtime_id, agentRuntimeVersion="1")
    assert gone["agentRuntimeVersion"] == "1"
    left = control.list_agent_runtime_versions(agentRuntimeId=runtime_id)["agentRuntimes"]
    assert [v["agentRuntimeVersion"] for v in left] == ["3", "2"]
    with pytest.raises(ClientError) as info:
        control.delete_agent_runtime(agentRuntimeId=runtime_id, agentRuntimeVersion="3")
    assert error_code(info.value) == "ValidationException", info.value
    control.get_agent_runtime(agentRuntimeId=runtime_id)  # still there


def test_versions_of_an_unknown_runtime(control: Any) -> None:
    with pytest.raises(ClientError) as info:
        control.list_agent_runtime_versions(agentRuntimeId=unique("nothere_") + "-abcdefghij")
    assert error_code(info.value) == "ResourceNotFoundException", info.value
    assert http_status(info.value) == 404


def session_id() -> str:
    return f"session-{uuid.uuid4()}"  # 44 characters


def test_stop_runtime_session(control: Any, data: Any, role_arn: str, code_bucket: str) -> None:
    created = control.create_agent_runtime(**code_runtime_args(unique("sessions_"), role_arn, code_bucket))
    arn = created["agentRuntimeArn"]
    ready(control, created["agentRuntimeId"])
    session = session_id()
    data.invoke_agent_runtime(agentRuntimeArn=arn, runtimeSessionId=session, payload=b'{"prompt": "hi"}')

    stop_token = str(uuid.uuid4())
    stopped = data.stop_runtime_session(agentRuntimeArn=arn, runtimeSessionId=session, clientToken=stop_token)
    assert stopped["runtimeSessionId"] == session
    assert stopped["statusCode"] == 200
    # The same request again (same token): the same answer.
    assert (
        data.stop_runtime_session(agentRuntimeArn=arn, runtimeSessionId=session, clientToken=stop_token)[
            "runtimeSessionId"
        ]
        == session
    )
    # A new request for a stopped session: not found or already terminated.
    with pytest.raises(ClientError) as info:
        data.stop_runtime_session(agentRuntimeArn=arn, runtimeSessionId=session)
    assert error_code(info.value) == "ResourceNotFoundException", info.value
    assert http_status(info.value) == 404

    # A new invocation starts the session again.
    data.invoke_agent_runtime(agentRuntimeArn=arn, runtimeSessionId=session, payload=b'{"prompt": "hi"}')
    assert (
        data.stop_runtime_session(agentRuntimeArn=arn, runtimeSessionId=session, qualifier="DEFAULT")["statusCode"]
        == 200
    )


def test_stop_runtime_session_refusals(endpoint: str, control: Any, data: Any, role_arn: str, code_bucket: str) -> None:
    created = control.create_agent_runtime(**code_runtime_args(unique("nosession_"), role_arn, code_bucket))
    arn = created["agentRuntimeArn"]
    with pytest.raises(ClientError) as info:
        data.stop_runtime_session(agentRuntimeArn=arn, runtimeSessionId=session_id())  # never invoked
    assert error_code(info.value) == "ResourceNotFoundException", info.value

    with pytest.raises(ClientError) as info:
        data.stop_runtime_session(agentRuntimeArn=arn + "x", runtimeSessionId=session_id())  # no such runtime
    assert error_code(info.value) == "ResourceNotFoundException", info.value

    with pytest.raises(ClientError) as info:
        data.stop_runtime_session(agentRuntimeArn=arn, runtimeSessionId=session_id(), qualifier="prod")
    assert error_code(info.value) == "ResourceNotFoundException", info.value

    unchecked = client("bedrock-agentcore", endpoint, parameter_validation=False)
    with pytest.raises(ClientError) as info:
        unchecked.stop_runtime_session(agentRuntimeArn=arn, runtimeSessionId="too-short")
    assert error_code(info.value) == "ValidationException", info.value
