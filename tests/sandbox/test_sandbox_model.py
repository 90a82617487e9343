"""The stand-in model: Bedrock's Converse and ConverseStream as botocore (and so Strands) speaks them."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from sandbox_support import client

MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
TOOLS = {
    "tools": [
        {
            "toolSpec": {
                "name": "check_external_service",
                "description": "Check authentication to external services via Identity OAuth.",
                "inputSchema": {"json": {"type": "object", "properties": {}}},
            }
        },
        {
            "toolSpec": {
                "name": "get_weather",
                "description": "Today's weather for a city.",
                "inputSchema": {
                    "json": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
                },
            }
        },
    ]
}


@pytest.fixture(scope="module")
def runtime(endpoint: str) -> Any:
    return client("bedrock-runtime", endpoint)


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"text": text}]}


def test_a_message_that_asks_for_what_a_tool_does_calls_that_tool(runtime: Any) -> None:
    answer = runtime.converse(modelId=MODEL, messages=[user("Call the external service")], toolConfig=TOOLS)
    assert answer["stopReason"] == "tool_use"
    (block,) = answer["output"]["message"]["content"]
    assert block["toolUse"]["name"] == "check_external_service" and block["toolUse"]["input"] == {}
    assert answer["usage"]["totalTokens"] == answer["usage"]["inputTokens"] + answer["usage"]["outputTokens"]


def test_a_required_string_parameter_gets_the_message(runtime: Any) -> None:
    answer = runtime.converse(modelId=MODEL, messages=[user("What is the weather in Lyon?")], toolConfig=TOOLS)
    (block,) = answer["output"]["message"]["content"]
    assert block["toolUse"]["name"] == "get_weather"
    assert block["toolUse"]["input"] == {"city": "What is the weather in Lyon?"}


def test_a_tool_result_is_answered_verbatim(runtime: Any) -> None:
    use = {"toolUse": {"toolUseId": "tooluse_1", "name": "check_external_service", "input": {}}}
    result = {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "🔐 Authorization Required\nhttp://x"}]}}
    messages = [user("Call the external service"), {"role": "assistant", "content": [use]}]
    messages.append({"role": "user", "content": [result]})
    answer = runtime.converse(modelId=MODEL, messages=messages, toolConfig=TOOLS)
    assert answer["stopReason"] == "end_turn"
    assert answer["output"]["message"]["content"] == [{"text": "🔐 Authorization Required\nhttp://x"}]


def test_without_a_matching_tool_a_short_fixed_reply_echoes_the_message(runtime: Any) -> None:
    answer = runtime.converse(modelId=MODEL, messages=[user("hello there")], toolConfig=TOOLS)
    (block,) = answer["output"]["message"]["content"]
    assert block["text"].startswith("Sandbox model:") and block["text"].endswith("You said: hello there")
    plain = runtime.converse(modelId=MODEL, messages=[user("Call the external service")])
    assert "toolUse" not in plain["output"]["message"]["content"][0]  # no tools offered: nothing to call


def test_converse_stream_is_a_real_event_stream(runtime: Any) -> None:
    answer = runtime.converse_stream(modelId=MODEL, messages=[user("Call the external service")], toolConfig=TOOLS)
    events = list(answer["stream"])
    kinds = [next(iter(event)) for event in events]
    assert kinds[0] == "messageStart" and kinds[-2:] == ["messageStop", "metadata"]
    start = next(event["contentBlockStart"] for event in events if "contentBlockStart" in event)
    assert start["start"]["toolUse"]["name"] == "check_external_service"
    assert events[-2]["messageStop"]["stopReason"] == "tool_use"
    text = runtime.converse_stream(modelId=MODEL, messages=[user("hello")])
    pieces = [event["contentBlockDelta"]["delta"]["text"] for event in text["stream"] if "contentBlockDelta" in event]
    assert len(pieces) > 1 and "".join(pieces).endswith("You said: hello")


@pytest.mark.parametrize("model_id", ["gpt-4", "anthropic", "us.nosuchvendor.model-v1:0"])
def test_an_unknown_model_id_gets_the_services_error(runtime: Any, model_id: str) -> None:
    with pytest.raises(ClientError) as raised:
        runtime.converse(modelId=model_id, messages=[user("hi")])
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert raised.value.response["Error"]["Message"] == "The provided model identifier is invalid."
    with pytest.raises(ClientError):
        list(runtime.converse_stream(modelId=model_id, messages=[user("hi")])["stream"])
