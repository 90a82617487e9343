"""A stand-in for Amazon Bedrock's Converse and ConverseStream: a small deterministic "model", so the user's
agent (Strands, or anything that speaks Converse) runs in the sandbox with no account and no cost.

What it does, in order (docs/sandbox.md says the same):
1. The last message carries tool results: it answers with their text, verbatim.
2. The request offers tools and the last user message shares words with one of them (its name, split at
   `_`/`-`/capitals, or its description): it calls the one sharing the most, once, with an empty input (or
   the message for each required string parameter).
3. Otherwise a short fixed reply that echoes the message.
ConverseStream answers in the real `application/vnd.amazon.eventstream` framing, so botocore parses it unchanged.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import re
import struct
from typing import Any

from wizard.sandbox.protocol import ServiceError

# Foundation models and cross-region inference profiles: `[geo.]provider.model…`, or an ARN of either.
MODEL_ID = re.compile(
    r"^(?:arn:aws[\w-]*:bedrock:[\w-]*:\d{0,12}:(?:foundation-model|inference-profile|"
    r"application-inference-profile)/)?(?:(?:us|eu|apac|global|jp|au|ca|us-gov)\.)?"
    r"(?:anthropic|amazon|meta|mistral|cohere|ai21|deepseek|openai|qwen|writer|twelvelabs|stability|luma)"
    r"\.[a-z0-9][\w.:-]*$"
)
INVALID_MODEL = "The provided model identifier is invalid."
FIXED_REPLY = "Sandbox model: no tool of this agent matches that, so there is nothing to do. You said: "
_STOP_WORDS = {"the", "and", "for", "with", "via", "this", "that", "from", "you", "your", "call", "use", "can"}


def check_model(model_id: str) -> None:
    if not MODEL_ID.match(model_id or ""):
        raise ServiceError("ValidationException", INVALID_MODEL, 400)


def _words(text: str) -> set[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", text or "")
    words = set()
    for word in re.split(r"[^A-Za-z0-9]+", spaced.lower()):
        if len(word) < 3 or word in _STOP_WORDS:
            continue
        words.add(word[:-1] if len(word) > 3 and word.endswith("s") else word)
    return words


def _text_of(blocks: list[dict[str, Any]]) -> str:
    return "\n".join(str(block["text"]) for block in blocks if "text" in block)


def _tool_result_text(blocks: list[dict[str, Any]]) -> str | None:
    results = [block["toolResult"] for block in blocks if "toolResult" in block]
    if not results:
        return None
    parts = []
    for result in results:
        for item in result.get("content") or []:
            if "text" in item:
                parts.append(str(item["text"]))
            elif "json" in item:
                parts.append(json.dumps(item["json"], ensure_ascii=False))
    return "\n".join(parts)


def _tool_input(spec: dict[str, Any], message: str) -> dict[str, Any]:
    schema = (spec.get("inputSchema") or {}).get("json") or {}
    properties = schema.get("properties") or {}
    filled: dict[str, Any] = {}
    for name in schema.get("required") or []:
        kind = (properties.get(name) or {}).get("type")
        defaults: dict[str, Any] = {"integer": 0, "number": 0, "boolean": False, "array": [], "object": {}}
        filled[name] = defaults.get(str(kind), message)
    return filled


def _chosen_tool(params: dict[str, Any], message: str) -> dict[str, Any] | None:
    wanted = _words(message)
    best, best_score = None, 0
    for tool in (params.get("toolConfig") or {}).get("tools") or []:
        spec = tool.get("toolSpec") or {}
        score = len(wanted & (_words(str(spec.get("name", ""))) | _words(str(spec.get("description", "")))))
        if score > best_score:
            best, best_score = spec, score
    return best


def reply(params: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """The assistant's content blocks and the stop reason for one Converse request."""
    messages = params.get("messages") or []
    last: dict[str, Any] = messages[-1] if messages else {"role": "user", "content": []}
    blocks: list[dict[str, Any]] = last.get("content") or []
    results = _tool_result_text(blocks)
    if results is not None:
        return [{"text": results}], "end_turn"
    message = _text_of(blocks)
    tool = _chosen_tool(params, message)
    if tool is not None:
        digest = hashlib.sha256(json.dumps(messages, sort_keys=True, default=str).encode()).hexdigest()[:20]
        use = {"toolUseId": f"tooluse_{digest}", "name": tool["name"], "input": _tool_input(tool, message)}
        return [{"toolUse": use}], "tool_use"
    return [{"text": FIXED_REPLY + " ".join(message.split())[:200]}], "end_turn"


def _usage(params: dict[str, Any], content: list[dict[str, Any]]) -> dict[str, int]:
    asked = len(json.dumps(params.get("messages") or [], default=str)) // 4
    answered = max(1, len(json.dumps(content, default=str)) // 4)
    return {"inputTokens": asked, "outputTokens": answered, "totalTokens": asked + answered}


def converse(params: dict[str, Any]) -> dict[str, Any]:
    check_model(str(params.get("modelId", "")))
    content, stop = reply(params)
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": _usage(params, content),
        "metrics": {"latencyMs": 1},
    }


def converse_stream_events(params: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The ConverseStream events for one request, as (event type, payload)."""
    check_model(str(params.get("modelId", "")))
    content, stop = reply(params)
    events: list[tuple[str, dict[str, Any]]] = [("messageStart", {"role": "assistant"})]
    for index, block in enumerate(content):
        if "toolUse" in block:
            use = block["toolUse"]
            start = {"toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}
            events.append(("contentBlockStart", {"start": start, "contentBlockIndex": index}))
            delta = {"toolUse": {"input": json.dumps(use["input"])}}
            events.append(("contentBlockDelta", {"delta": delta, "contentBlockIndex": index}))
        else:
            # A few pieces, as a model streams its words.
            text = str(block["text"])
            size = max(1, len(text) // 3 + 1)
            for offset in range(0, len(text) or 1, size):
                piece = {"text": text[offset : offset + size]}
                events.append(("contentBlockDelta", {"delta": piece, "contentBlockIndex": index}))
        events.append(("contentBlockStop", {"contentBlockIndex": index}))
    events.append(("messageStop", {"stopReason": stop}))
    events.append(("metadata", {"usage": _usage(params, content), "metrics": {"latencyMs": 1}}))
    return events


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return struct.pack("!B", len(raw_name)) + raw_name + struct.pack("!BH", 7, len(raw_value)) + raw_value


def event_message(event_type: str, payload: dict[str, Any], message_type: str = "event") -> bytes:
    """One message of the AWS event-stream framing: prelude, its CRC, headers, payload, message CRC."""
    kind = ":event-type" if message_type == "event" else ":exception-type"
    headers = (
        _header(kind, event_type)
        + _header(":content-type", "application/json")
        + _header(":message-type", message_type)
    )
    body = json.dumps(payload, ensure_ascii=False).encode()
    total = 12 + len(headers) + len(body) + 4
    prelude = struct.pack("!II", total, len(headers))
    prelude += struct.pack("!I", binascii.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + headers + body
    return message + struct.pack("!I", binascii.crc32(message) & 0xFFFFFFFF)


def converse_stream_body(params: dict[str, Any]) -> bytes:
    return b"".join(event_message(kind, payload) for kind, payload in converse_stream_events(params))
