"""The sandbox server process (`agentcore-wizard sandbox serve`): moto behind a front door that adds
AgentCore Identity and Runtime, the consent pages, Cognito's missing rules and fault injection.
Imports moto: keep it out of the UI process."""

from __future__ import annotations

import atexit
import io
import json
import os
import re
import signal
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

HEALTH_PATH = "/__agentcore_wizard_sandbox__/health"
ADMIN_PREFIX = "/__agentcore_wizard_sandbox__"
SANDBOX_KIND = "agentcore-wizard-sandbox"
DEFAULT_READY_DELAY = 2.0

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Answer = tuple[int, list[tuple[str, str]], bytes]
Streamed = tuple[int, list[tuple[str, str]], Iterator[bytes]]
AGENT_STATUS = re.compile(rf"^{ADMIN_PREFIX}/runtimes/(?P<id>[^/]+)/agent$")

INVOCATION = re.compile(r"^/runtimes/(?P<arn>.+)/invocations/?$")
DISCOVERY_PATH = re.compile(
    r"^/(?P<pool>(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)_[\w]+)/\.well-known/(openid-configuration|jwks\.json)$"
)
COGNITO_TARGET = "AWSCognitoIdentityProviderService."
SERVICE_QUOTAS_TARGET = "ServiceQuotasV20190624."
STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",  # AgentCore's ServiceQuotaExceededException
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


def build_app(
    endpoint: Callable[[], str], ready_delay: float = DEFAULT_READY_DELAY, limits: dict[str, int] | None = None
) -> WSGIApp:
    """The front door; `endpoint` gives the sandbox's own address (the agents it runs call it back); `limits` the
    account quotas it enforces (the service's defaults, or what the environment says, when None)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from wizard.sandbox import agent_host, agentcore, consent, protocol
    from wizard.sandbox import cognito as sandbox_cognito
    from wizard.sandbox.faults import Faults, fault_answer, operation_of

    sandbox_cognito.share_the_signing_key()
    moto_app = DomainDispatcherApplication(create_backend_app)
    agents = agent_host.from_environment(agentcore.ACCOUNT, endpoint)
    sandbox = agentcore.Sandbox(ready_delay=ready_delay, agents=agents, limits=limits)
    atexit.register(agents.close)
    faults = Faults()
    started = time.time()

    def respond(start_response: Callable[..., Any], answer: Answer | Streamed) -> Iterable[bytes]:
        status, headers, body = answer
        line = f"{status} {STATUS_TEXT.get(status, 'Status')}"
        if not isinstance(body, bytes):  # the agent's answer, passed on piece by piece as it comes
            start_response(line, headers)
            return body
        start_response(line, [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def json_answer(status: int, data: Any) -> Answer:
        return status, [("Content-Type", "application/json")], json.dumps(data).encode()

    def admin(method: str, path: str, body: bytes) -> Answer:
        if path == HEALTH_PATH:
            return json_answer(200, {"kind": SANDBOX_KIND, "pid": os.getpid(), "uptime": time.time() - started})
        if path == f"{ADMIN_PREFIX}/faults":
            if method == "POST":
                try:
                    return json_answer(200, {"queued": faults.add(json.loads(body or b"{}"))})
                except (ValueError, TypeError) as exc:
                    return json_answer(400, {"message": str(exc)})
            if method == "DELETE":
                faults.clear()
                return json_answer(200, {"queued": {}})
            return json_answer(200, {"queued": faults.listing()})
        found = AGENT_STATUS.match(path)
        if found:
            # How far the sandbox is with running a runtime's code (the wizard shows it while it deploys).
            status = agents.status(found["id"])
            if agents.stand_in:
                return json_answer(200, {"runtimeId": found["id"], "phase": "stand-in"})
            return json_answer(200, status) if status else json_answer(404, {"message": f"no agent {found['id']}"})
        return json_answer(404, {"message": f"no admin route {path}"})

    def invocation(environ: dict[str, Any], arn: str, body: bytes, authorization: str) -> Answer | Streamed:
        headers = {
            key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")
        }
        try:
            state, runtime = agentcore.runtime_by_arn(sandbox, arn)
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise protocol.ServiceError(
                    "UnauthorizedException", "Missing bearer token in the Authorization header.", 401
                )
            token = token.strip()
            claims = agentcore.authorize_bearer(runtime, token)
            session_id = headers.get("x-amzn-bedrock-agentcore-runtime-session-id", "")
            if len(session_id) < 33:
                raise protocol.ServiceError(
                    "ValidationException",
                    "1 validation error detected: Value at 'runtimeSessionId' failed to satisfy constraint: "
                    "Member must have length greater than or equal to 33",
                    400,
                )
            subject = f"jwt:{claims.get('iss')}#{claims.get('sub')}"
            artifact = ("userToken", token)
            session_header = ("X-Amzn-Bedrock-AgentCore-Runtime-Session-Id", session_id)
            if not sandbox.runs_code():
                with sandbox.lock:
                    callback = headers.get(agentcore.CALLBACK_HEADER)
                    text = agentcore.stand_in_agent(sandbox, state, runtime, subject, artifact, callback)
                    agentcore.note_session(runtime, session_id)
                content_type, payload = agentcore.render_answer(text, headers.get("accept", ""))
                return 200, [("Content-Type", content_type), session_header], payload
            with sandbox.lock:
                agentcore.check_ready(sandbox, runtime)
                forwarded = agentcore.agent_headers(state, runtime, headers, session_id, subject, artifact)
                agentcore.note_session(runtime, session_id)
            assert sandbox.agents is not None
            status, answer_headers, chunks = sandbox.agents.invoke(runtime.id, forwarded, body)
        except protocol.ServiceError as error:
            return protocol.error_answer(None, error)
        return status, [*answer_headers, session_header], chunks

    def service_quota(environ: dict[str, Any], operation: str, body: bytes) -> Answer | None:
        if operation not in ("GetServiceQuota", "GetAWSDefaultServiceQuota"):
            return None
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            return None
        region = protocol.region_from_authorization({"Authorization": environ.get("HTTP_AUTHORIZATION", "")})
        asked = params if isinstance(params, dict) else {}
        with sandbox.lock:
            quota = agentcore.service_quota(sandbox, region or "us-east-1", asked, operation == "GetServiceQuota")
        return None if quota is None else json_answer(200, quota)

    def agentcore_call(
        environ: dict[str, Any],
        routed: tuple[protocol.Route, dict[str, str]],
        query: dict[str, list[str]],
        body: bytes,
    ) -> Answer:
        route, uri_params = routed
        headers = {key[5:].replace("_", "-"): value for key, value in environ.items() if key.startswith("HTTP_")}
        if "CONTENT_TYPE" in environ:
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        region = protocol.region_from_authorization(headers) or "us-east-1"
        try:
            params = protocol.parse(route, uri_params, query, headers, body)
            protocol.validate(route, params)
            call = protocol.Call(
                route.service,
                route.operation.name,
                params,
                region,
                agentcore.ACCOUNT,
                headers,
                body,
                idempotency_member=protocol.idempotency_member(route),
            )
            result = sandbox.handle(call)
        except protocol.ServiceError as error:
            return protocol.error_answer(route, error)
        return protocol.serialize(route, result)

    def front_door(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        raw_path = urllib.parse.urlsplit(environ.get("RAW_URI") or environ.get("REQUEST_URI") or path).path
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        # Whatever we pass on to moto must still find its body.
        environ["wsgi.input"] = io.BytesIO(body)
        query = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", "")))
        query_lists = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        sandbox.base_url = f"http://{environ.get('HTTP_HOST', '127.0.0.1')}"

        if path.startswith(ADMIN_PREFIX):
            return respond(start_response, admin(method, path, body))
        if path == "/moto-api/reset" and method == "POST":
            sandbox.reset()
            faults.clear()

        routed = protocol.match(method, raw_path, agentcore.implemented)
        operation, kind = operation_of(environ, raw_path, query_lists, body, routed[0].operation.name if routed else "")
        if operation:
            fault = faults.take(operation)
            if fault is not None:
                answer = fault_answer(fault, operation, kind, environ)
                if answer is not None:
                    return respond(start_response, answer)

        authorization = environ.get("HTTP_AUTHORIZATION", "")
        invoked = INVOCATION.match(raw_path)
        # Anything not signed with SigV4 is the bearer-token path, missing token included.
        if method == "POST" and invoked and not authorization.startswith("AWS4-HMAC-SHA256"):
            arn = urllib.parse.unquote(invoked["arn"])
            return respond(start_response, invocation(environ, arn, body, authorization))

        if path == "/identities/oauth2/authorize" and method == "GET":
            return respond(start_response, consent.login_form(sandbox, query.get("request_uri", "")))
        if path in ("/identities/oauth2/login", "/identities/oauth2/consent") and method == "POST":
            form = dict(urllib.parse.parse_qsl(body.decode(errors="replace")))
            page = consent.login if path.endswith("login") else consent.consent
            with sandbox.lock:
                return respond(start_response, page(sandbox, form))

        if kind == "json" and operation in ("InitiateAuth", "AdminInitiateAuth"):
            try:
                sandbox_cognito.enforce_auth_rules(json.loads(body or b"{}"))
            except protocol.ServiceError as error:
                return respond(start_response, json_answer(400, {"__type": error.code, "message": error.message}))
            except ValueError:
                pass

        if kind == "json" and operation == "UpdateUserPoolClient":
            try:
                request = json.loads(body or b"{}")
                body = json.dumps(sandbox_cognito.with_reset_defaults(request)).encode()
                environ["wsgi.input"] = io.BytesIO(body)
                environ["CONTENT_LENGTH"] = str(len(body))
            except ValueError:
                pass

        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if kind == "json" and target.startswith(SERVICE_QUOTAS_TARGET):
            # moto knows only VPC's quotas: AgentCore's are answered here, with the limits this sandbox enforces.
            answered = service_quota(environ, operation, body)
            if answered is not None:
                return respond(start_response, answered)

        found = DISCOVERY_PATH.match(path)
        if found and method == "GET" and sandbox_cognito.user_pool(found["region"], found["pool"]) is None:
            return respond(start_response, json_answer(404, {"message": f"User pool {found['pool']} does not exist."}))

        if kind == "rest-json" and routed is not None:
            return respond(start_response, agentcore_call(environ, routed, query_lists, body))
        return moto_app(environ, start_response)

    return front_door


class _LoadingApp:
    """Accepts connections at once and loads moto (half a second) in the background.

    The health route answers straight away; every other request waits until moto is ready.
    """

    def __init__(self, server_ref: list[Any], ready_delay: float, limits: dict[str, int]) -> None:
        self._server_ref = server_ref
        self._ready_delay = ready_delay
        self._limits = limits
        self._app: WSGIApp | None = None
        self._error: BaseException | None = None
        self._loaded = threading.Event()
        self._started = time.time()
        threading.Thread(target=self._load, name="sandbox-load", daemon=True).start()

    def _load(self) -> None:
        try:
            self._app = build_app(
                lambda: _agent_facing(endpoint_of(self._server_ref[0])), self._ready_delay, self._limits
            )
            from moto.moto_server.werkzeug_app import MotoRequestHandler

            # Moto's handler keeps header spellings S3 needs; new connections use it from now on.
            self._server_ref[0].RequestHandlerClass = MotoRequestHandler
        except BaseException as exc:  # reported on every request instead of dying silently
            self._error = exc
        finally:
            self._loaded.set()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH and not self._loaded.is_set():
            body = json.dumps(
                {"kind": SANDBOX_KIND, "pid": os.getpid(), "uptime": time.time() - self._started, "loading": True}
            ).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        self._loaded.wait()
        if self._app is None:
            body = f"The sandbox failed to start: {self._error!r}".encode()
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
            return [body]
        return self._app(environ, start_response)


def make_sandbox_server(
    host: str = "127.0.0.1",
    port: int = 0,
    ready_delay: float = DEFAULT_READY_DELAY,
    limits: dict[str, int] | None = None,
    in_front: Callable[[WSGIApp], WSGIApp] | None = None,
) -> Any:
    """A bound, not yet serving, werkzeug server; tests run it in a thread. `limits` changes some of the account
    quotas it enforces (by Service Quotas code); without it they come from the environment, else the defaults.
    `in_front` wraps the sandbox in an app that answers some paths itself (the workshop's dashboard) and passes
    every other request on."""
    from werkzeug.serving import make_server

    from wizard import quotas

    # Read before binding: a bad AGENTCORE_WIZARD_SANDBOX_QUOTAS stops `sandbox serve` with its fix, not later.
    enforced = quotas.sandbox_limits() if limits is None else {**quotas.sandbox_limits(""), **limits}
    server_ref: list[Any] = []
    app: WSGIApp = _LoadingApp(server_ref, ready_delay, enforced)
    server = make_server(host, port, in_front(app) if in_front else app, threaded=True)
    server_ref.append(server)
    return server


def endpoint_of(server: Any) -> str:
    bound_host, bound_port = server.server_address[:2]
    return f"http://{_url_host(str(bound_host))}:{bound_port}"


def serve(
    host: str,
    port: int,
    ready_file: Path | None = None,
    announce: bool = True,
    ready_delay: float = DEFAULT_READY_DELAY,
) -> None:
    server = make_sandbox_server(host, port, ready_delay)
    endpoint = endpoint_of(server)
    if ready_file is not None:
        from wizard.state import atomic_write

        atomic_write(ready_file, json.dumps({"endpoint": endpoint, "pid": os.getpid()}) + "\n")
    if announce:
        print(f"AgentCore wizard sandbox listening on {endpoint}", flush=True)
        print("Nothing here reaches AWS. Use it with: agentcore-wizard --sandbox-endpoint " + endpoint, flush=True)
    serve_until_stopped(server, ready_file)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _agent_facing(endpoint: str) -> str:
    """The address an agent on this machine calls: a sandbox bound to every interface is reached on loopback."""
    return endpoint.replace("//0.0.0.0:", "//127.0.0.1:").replace("//[::]:", "//[::1]:")


def serve_until_stopped(server: Any, ready_file: Path | None, on_close: Callable[[], None] | None = None) -> None:
    """Serve until Ctrl-C or SIGTERM, then close the socket and take back the ready file (only if it is still
    this process's: a newer server may have written its own)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
        if on_close is not None:
            on_close()
        if ready_file is not None:
            try:
                if json.loads(ready_file.read_text()).get("pid") == os.getpid():
                    ready_file.unlink()
            except (OSError, ValueError):
                pass
