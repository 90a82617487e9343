"""REST-JSON as botocore speaks it, for the AgentCore services: route, parse, validate, serialize.

Everything is read from botocore's own service models, so the sandbox answers in exactly the shapes
real clients expect, and refuses input the way the service does.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# The stand-in model answers Bedrock's Converse APIs from the same front door.
AGENTCORE_SERVICES = ("bedrock-agentcore-control", "bedrock-agentcore", "bedrock-runtime")


class ServiceError(Exception):
    """An error answer in the service's style; the status comes from the model when not given."""

    def __init__(self, code: str, message: str, status: int | None = None, **members: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.members = members  # further members of the error shape, e.g. a ValidationException's reason


@dataclass
class Route:
    service: str
    operation: Any  # botocore OperationModel
    method: str
    pattern: re.Pattern[str]
    query: dict[str, str]


@dataclass
class Call:
    """One parsed request: what the handlers see."""

    service: str
    operation: str
    params: dict[str, Any]
    region: str
    account: str
    headers: dict[str, str]
    raw_body: bytes
    # The input member the model marks as the idempotency token (clientToken), if the operation has one.
    idempotency_member: str | None = field(default=None)


_routes: list[Route] | None = None
_routes_lock = threading.Lock()


def _compile(uri: str) -> tuple[re.Pattern[str], dict[str, str]]:
    path, _, query = uri.partition("?")
    regex = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{"):
            name = part[1:-1].rstrip("+")
            regex += f"(?P<{name}>.+)" if part.endswith("+}") else f"(?P<{name}>[^/]+)"
        else:
            regex += re.escape(part)
    fixed = dict(urllib.parse.parse_qsl(query)) if query else {}
    return re.compile(f"^{regex}$"), fixed


def routes() -> list[Route]:
    global _routes
    with _routes_lock:
        if _routes is None:
            import botocore.session

            session = botocore.session.get_session()
            built = []
            for service in AGENTCORE_SERVICES:
                model = session.get_service_model(service)
                for name in model.operation_names:
                    operation = model.operation_model(name)
                    pattern, query = _compile(operation.http["requestUri"])
                    built.append(Route(service, operation, operation.http["method"], pattern, query))
            # Literal paths first, so /runtimes/ is not taken for /runtimes/{id}/.
            built.sort(key=lambda route: route.pattern.pattern.count("(?P"))
            _routes = built
        return _routes


def match(method: str, raw_path: str, implemented: Callable[[str, str], bool]) -> tuple[Route, dict[str, str]] | None:
    """The operation a request is for, among those the sandbox implements."""
    for route in routes():
        if route.method != method or not implemented(route.service, route.operation.name):
            continue
        found = route.pattern.match(raw_path)
        if found:
            return route, {key: urllib.parse.unquote(value) for key, value in found.groupdict().items()}
    return None


def idempotency_member(route: Route) -> str | None:
    """The body or query member the model marks `idempotencyToken` (botocore fills it in when it is not given).

    Header members so marked (InvokeAgentRuntime's runtimeSessionId) name a session, not a request: left out.
    """
    shape = route.operation.input_shape
    if shape is None:
        return None
    for name, member in shape.members.items():
        if member.metadata.get("idempotencyToken") and member.serialization.get("location") != "header":
            return str(name)
    return None


def parse(
    route: Route,
    uri_params: dict[str, str],
    query: Mapping[str, list[str]],
    headers: dict[str, str],
    body: bytes,
) -> dict[str, Any]:
    shape = route.operation.input_shape
    params: dict[str, Any] = {}
    if shape is None:
        return params
    lowered = {key.lower(): value for key, value in headers.items()}
    payload_member = shape.serialization.get("payload")
    document: dict[str, Any] = {}
    if body and not payload_member:
        try:
            document = json.loads(body)
        except ValueError:
            raise ServiceError("SerializationException", "Could not parse the request body as JSON.", 400) from None
        if not isinstance(document, dict):
            raise ServiceError("SerializationException", "The request body must be a JSON object.", 400)
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri":
            if wire in uri_params:
                params[name] = uri_params[wire]
        elif location == "querystring":
            values = query.get(wire)
            if values:
                if member.type_name == "list":  # repeated keys: tagKeys=a&tagKeys=b
                    params[name] = [_scalar(member.member, value) for value in values]
                else:
                    params[name] = _scalar(member, values[0])
        elif location == "header":
            value = lowered.get(wire.lower())
            if value is not None:
                params[name] = _scalar(member, value)
        elif name == payload_member:
            params[name] = body
        elif name in document:
            params[name] = document[name]
    return params


def _scalar(shape: Any, value: str) -> Any:
    if shape.type_name == "integer":
        try:
            return int(value)
        except ValueError:
            return value
    if shape.type_name == "boolean":
        return value.lower() == "true"
    return value


# --- validation in the service's words ------------------------------------------------------------


def validate(route: Route, params: dict[str, Any]) -> None:
    problems: list[str] = []
    _validate_structure(route.operation.input_shape, params, "", problems)
    if problems:
        count = len(problems)
        noun = "error" if count == 1 else "errors"
        raise ServiceError(
            "ValidationException",
            f"{count} validation {noun} detected: " + "; ".join(problems),
            400,
            reason="FieldValidationFailed",
        )


def _validate_structure(shape: Any, value: Any, path: str, problems: list[str]) -> None:
    if shape is None or not isinstance(value, dict):
        return
    for name in shape.required_members:
        if value.get(name) is None:
            problems.append(f"Value null at '{path}{name}' failed to satisfy constraint: Member must not be null")
    for name, member in shape.members.items():
        if name in value and value[name] is not None:
            _validate_value(member, value[name], f"{path}{name}", problems)


def _validate_value(shape: Any, value: Any, path: str, problems: list[str]) -> None:
    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure":
        _validate_structure(shape, value, f"{path}.", problems)
    elif kind == "list" and isinstance(value, list):
        _check_length(meta, len(value), value, path, problems)
        for index, item in enumerate(value):
            _validate_value(shape.member, item, f"{path}.{index + 1}.member", problems)
    elif kind == "map" and isinstance(value, dict):
        _check_length(meta, len(value), value, path, problems)
        secret = "sensitive" in meta
        for key, item in value.items():
            # The service's style for maps: one problem per entry, its constraints in brackets.
            for part, shown, constraints in (
                ("keys", "***" if secret else key, _string_constraints(shape.key, key)),
                ("value", "***" if secret else item, _string_constraints(shape.value, item)),
            ):
                if constraints:
                    problems.append(
                        f"Value '{shown}' at '{path}' failed to satisfy constraint: "
                        f"Map {part} must satisfy constraint: [{', '.join(constraints)}]"
                    )
    elif kind == "string" and isinstance(value, str):
        shown = "***" if "sensitive" in meta else value
        for constraint in _string_constraints(shape, value):
            problems.append(f"Value '{shown}' at '{path}' failed to satisfy constraint: {constraint}")
    elif kind == "integer" and isinstance(value, int):
        if "min" in meta and value < meta["min"]:
            problems.append(
                f"Value '{value}' at '{path}' failed to satisfy constraint: "
                f"Member must have value greater than or equal to {meta['min']}"
            )
        if "max" in meta and value > meta["max"]:
            problems.append(
                f"Value '{value}' at '{path}' failed to satisfy constraint: "
                f"Member must have value less than or equal to {meta['max']}"
            )


def _string_constraints(shape: Any, value: Any) -> list[str]:
    """The constraints of a string shape that a value breaks, each as `Member must ...`."""
    if shape.type_name != "string" or not isinstance(value, str):
        return []
    meta = shape.metadata
    broken = []
    if "min" in meta and len(value) < meta["min"]:
        broken.append(f"Member must have length greater than or equal to {meta['min']}")
    if "max" in meta and len(value) > meta["max"]:
        broken.append(f"Member must have length less than or equal to {meta['max']}")
    pattern = meta.get("pattern")
    if pattern and not re.fullmatch(pattern, value):
        broken.append(f"Member must satisfy regular expression pattern: {pattern}")
    if shape.enum and value not in shape.enum:
        broken.append(f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
    return broken


def _check_length(meta: dict[str, Any], length: int, value: Any, path: str, problems: list[str]) -> None:
    shown = value if isinstance(value, str) and "sensitive" not in meta else "***"
    if "min" in meta and length < meta["min"]:
        problems.append(
            f"Value '{shown}' at '{path}' failed to satisfy constraint: "
            f"Member must have length greater than or equal to {meta['min']}"
        )
    if "max" in meta and length > meta["max"]:
        problems.append(
            f"Value '{shown}' at '{path}' failed to satisfy constraint: "
            f"Member must have length less than or equal to {meta['max']}"
        )


# --- answers --------------------------------------------------------------------------------------


def serialize(route: Route, result: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    operation = route.operation
    status = int(operation.http.get("responseCode", 200))
    shape = operation.output_shape
    headers: list[tuple[str, str]] = []
    if shape is None:
        return status, headers, b""
    payload_member = shape.serialization.get("payload")
    body: dict[str, Any] = {}
    raw: bytes | None = None
    for name, member in shape.members.items():
        if name not in result or result[name] is None:
            continue
        location = member.serialization.get("location")
        if location == "header":
            headers.append((member.serialization.get("name", name), str(result[name])))
        elif location == "statusCode":
            status = int(result[name])
        elif name == payload_member:
            value = result[name]
            raw = value if isinstance(value, bytes) else json.dumps(_to_wire(member, value)).encode()
            if member.serialization.get("eventstream"):
                headers.append(("Content-Type", "application/vnd.amazon.eventstream"))
        else:
            body[name] = _to_wire(member, result[name])
    if raw is not None:
        return status, headers, raw
    headers.append(("Content-Type", "application/json"))
    return status, headers, json.dumps(body).encode()


def _to_wire(shape: Any, value: Any) -> Any:
    kind = shape.type_name
    if getattr(shape, "is_document_type", False):
        return value  # a free-form JSON document (a tool's input): no members to pick
    if kind == "structure" and isinstance(value, dict):
        return {
            name: _to_wire(shape.members[name], item)
            for name, item in value.items()
            if name in shape.members and item is not None
        }
    if kind == "list" and isinstance(value, list):
        return [_to_wire(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: _to_wire(shape.value, item) for key, item in value.items()}
    if kind == "timestamp":
        moment = value if isinstance(value, dt.datetime) else dt.datetime.fromtimestamp(float(value), dt.timezone.utc)
        if shape.serialization.get("timestampFormat") == "iso8601":
            return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return moment.timestamp()
    if kind == "blob":
        return base64.b64encode(value).decode() if isinstance(value, bytes) else value
    return value


def error_answer(route: Route | None, error: ServiceError) -> tuple[int, list[tuple[str, str]], bytes]:
    status = error.status
    if status is None and route is not None:
        for shape in route.operation.error_shapes:
            if shape.name == error.code:
                status = int(shape.metadata.get("error", {}).get("httpStatusCode", 400))
    if status is None:
        status = 500 if error.code in ("InternalServerException", "InternalFailure") else 400
    body = json.dumps({**error.members, "message": error.message, "Message": error.message}).encode()
    return status, [("Content-Type", "application/json"), ("x-amzn-ErrorType", error.code)], body


def region_from_authorization(headers: dict[str, str]) -> str | None:
    value = {key.lower(): item for key, item in headers.items()}.get("authorization", "")
    found = re.search(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/", value)
    return found.group(1) if found else None
