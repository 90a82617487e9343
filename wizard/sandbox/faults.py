"""Fault injection: which operation a request is for (any service on the port), and the failure it answers.

Operations are named as botocore names them. JSON services carry it in X-Amz-Target, query services (IAM, STS) in
the form's Action, AgentCore and S3 in the method and path; S3 is told by its SigV4 signing name and matched against
botocore's own S3 model, so `PutObject`, `HeadBucket`, `ListObjectsV2` … are the names a test queues.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Answer = tuple[int, list[tuple[str, str]], bytes]

SIGNING_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[a-z0-9-]+/(?P<service>[a-z0-9-]+)/aws4_request")
QUERY_SCOPE = re.compile(r"^[^/]+/\d{8}/[a-z0-9-]+/(?P<service>[a-z0-9-]+)/aws4_request$")
# Virtual-hosted S3 (bucket.s3.<region>.amazonaws.com, bucket.localhost): the bucket is in the host, not the path.
S3_VIRTUAL_HOST = re.compile(
    r"^(?P<bucket>[a-z0-9][a-z0-9.-]*?)\.(?:s3(?:[.-][a-z0-9-]+)*\.amazonaws\.com|localhost)$", re.IGNORECASE
)
# The failure a JSON service answers for "error", by X-Amz-Target prefix (its model's server-side error).
JSON_SERVER_ERRORS = {
    "AWSCognitoIdentityProviderService": "InternalErrorException",
    "Logs_20140328": "ServiceUnavailableException",
    "secretsmanager": "InternalServiceError",
}


class Faults:
    """Queued failures for named operations, for tests of retries, timeouts and error paths."""

    MODES = ("throttle", "error", "hang")

    def __init__(self) -> None:
        self._queued: dict[str, deque[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def add(self, spec: dict[str, Any]) -> dict[str, Any]:
        operation = str(spec.get("operation", ""))
        mode = str(spec.get("mode", ""))
        count = int(spec.get("count", 1))
        if not operation or mode not in self.MODES or count < 1:
            raise ValueError("give operation, mode (throttle|error|hang) and count >= 1")
        fault = {"operation": operation, "mode": mode, "seconds": float(spec.get("seconds", 30))}
        with self._lock:
            queue = self._queued.setdefault(operation, deque())
            queue.extend(dict(fault) for _ in range(count))
        return {**fault, "count": count}

    def take(self, operation: str) -> dict[str, Any] | None:
        with self._lock:
            queue = self._queued.get(operation)
            if not queue:
                return None
            fault = queue.popleft()
            if not queue:
                del self._queued[operation]
            return fault

    def clear(self) -> None:
        with self._lock:
            self._queued.clear()

    def listing(self) -> dict[str, int]:
        with self._lock:
            return {operation: len(queue) for operation, queue in self._queued.items()}


# --- which operation ------------------------------------------------------------------------------


def signing_service(environ: dict[str, Any], query: Mapping[str, list[str]]) -> str:
    """The service a request was signed for (SigV4 header or presigned URL), "" when unsigned."""
    found = SIGNING_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if found:
        return found["service"]
    credential = (query.get("X-Amz-Credential") or [""])[0]
    scoped = QUERY_SCOPE.match(credential)
    return scoped["service"] if scoped else ""


@dataclass
class _S3Route:
    name: str
    method: str
    pattern: re.Pattern[str]
    fixed: dict[str, str]  # the query keys in the model's requestUri (?list-type=2, ?delete, ?uploads …)
    required_query: list[str]
    required_headers: list[str]
    deprecated: bool

    @property
    def score(self) -> tuple[int, bool]:
        return len(self.fixed) + len(self.required_query) + len(self.required_headers), not self.deprecated


_s3_routes: list[_S3Route] | None = None
_s3_lock = threading.Lock()


def _s3_pattern(path: str) -> re.Pattern[str]:
    regex = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{"):
            name = part[1:-1].rstrip("+")
            regex += f"(?P<{name}>.+)" if part.endswith("+}") else f"(?P<{name}>[^/]+)"
        else:
            regex += re.escape(part)
    if path != "/" and not path.endswith("+}"):
        regex += "/?"  # path-style bucket operations may come with a trailing slash
    return re.compile(f"^{regex}$")


def s3_routes() -> list[_S3Route]:
    global _s3_routes
    with _s3_lock:
        if _s3_routes is None:
            import botocore.session

            model = botocore.session.get_session().get_service_model("s3")
            built = []
            for name in model.operation_names:
                operation = model.operation_model(name)
                path, _, fixed_query = operation.http["requestUri"].partition("?")
                shape = operation.input_shape
                required: list[tuple[str, str]] = []
                if shape is not None:
                    required = [
                        (member.serialization.get("location", ""), member.serialization.get("name", key))
                        for key, member in shape.members.items()
                        if key in shape.required_members
                    ]
                built.append(
                    _S3Route(
                        name=name,
                        method=operation.http["method"],
                        pattern=_s3_pattern(path),
                        fixed=dict(urllib.parse.parse_qsl(fixed_query, keep_blank_values=True)),
                        required_query=[wire for location, wire in required if location == "querystring"],
                        required_headers=[wire.lower() for location, wire in required if location == "header"],
                        deprecated=bool(operation.deprecated),
                    )
                )
            _s3_routes = built
        return _s3_routes


def s3_operation(method: str, host: str, raw_path: str, query: Mapping[str, list[str]], headers: set[str]) -> str:
    """The S3 operation of a request: the model's routes for its method and path, the most specific that fits."""
    virtual = S3_VIRTUAL_HOST.match(host.rsplit(":", 1)[0] if host.count(":") == 1 else host)
    if virtual:
        raw_path = f"/{virtual['bucket']}{raw_path if raw_path != '/' else ''}"
    best: _S3Route | None = None
    for route in s3_routes():
        if route.method != method or not route.pattern.match(raw_path):
            continue
        if any(key not in query or (value and query[key][0] != value) for key, value in route.fixed.items()):
            continue
        if any(key not in query for key in route.required_query):
            continue
        if any(header not in headers for header in route.required_headers):
            continue
        if best is None or route.score > best.score:
            best = route
    return best.name if best else ""


def operation_of(
    environ: dict[str, Any],
    raw_path: str,
    query: Mapping[str, list[str]],
    body: bytes,
    agentcore_operation: str,
) -> tuple[str, str]:
    """(operation, protocol) of a request, as botocore names them; ("", "") when it is none of them."""
    method = environ["REQUEST_METHOD"]
    if signing_service(environ, query) == "s3":
        headers = {key[5:].replace("_", "-").lower() for key in environ if key.startswith("HTTP_")}
        operation = s3_operation(method, environ.get("HTTP_HOST", ""), raw_path, query, headers)
        return (operation, "rest-xml") if operation else ("", "")
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.split(".")[-1], "json"
    action = (query.get("Action") or [""])[0]
    if not action and "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        action = urllib.parse.parse_qs(body.decode(errors="replace")).get("Action", [""])[0]
    if action:
        return action, "query"
    if agentcore_operation:
        return agentcore_operation, "rest-json"
    return "", ""


# --- the failure ----------------------------------------------------------------------------------


def fault_answer(fault: dict[str, Any], operation: str, kind: str, environ: dict[str, Any]) -> Answer | None:
    """The injected failure in the protocol's own error format; None for a hang (after it), served normally."""
    if fault["mode"] == "hang":
        time.sleep(fault["seconds"])
        return None
    throttle = fault["mode"] == "throttle"
    message = "Rate exceeded" if throttle else f"Injected failure of {operation}"
    if kind == "rest-xml":  # S3: 503 SlowDown, 500 InternalError
        code = "SlowDown" if throttle else "InternalError"
        message = (
            "Please reduce your request rate." if throttle else "We encountered an internal error. Please try again."
        )
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            "<RequestId>sandbox-fault</RequestId><HostId>sandbox-fault</HostId></Error>"
        )
        # A HEAD answer has no body (S3 sends none; the client reads none and goes by the status).
        payload = b"" if environ["REQUEST_METHOD"] == "HEAD" else xml.encode()
        return 503 if throttle else 500, [("Content-Type", "application/xml")], payload
    if kind == "query":
        code = "Throttling" if throttle else "InternalFailure"
        xml = (
            f"<ErrorResponse><Error><Type>{'Sender' if throttle else 'Receiver'}</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>sandbox-fault</RequestId></ErrorResponse>"
        )
        return 400 if throttle else 500, [("Content-Type", "text/xml")], xml.encode()
    if kind == "json":
        prefix = environ.get("HTTP_X_AMZ_TARGET", "").split(".")[0]
        code = "ThrottlingException" if throttle else JSON_SERVER_ERRORS.get(prefix, "InternalFailure")
        payload = json.dumps({"__type": code, "message": message}).encode()
        return 400 if throttle else 500, [("Content-Type", "application/x-amz-json-1.1")], payload
    code = "ThrottlingException" if throttle else "InternalServerException"
    payload = json.dumps({"message": message}).encode()
    return 429 if throttle else 500, [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)], payload
