"""Unit tests for wizard/invocation.py (bearer-token invocation) and wizard/consent.py (the consent loop).

Every server here is a tiny http.server on 127.0.0.1 with an ephemeral port; nothing else is contacted.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import queue
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from wizard import consent, invocation
from wizard.errors import UsageError, WizardError, explain

ARN = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/wizard_agent-AbCdEf1234"
ENCODED_ARN = "arn%3Aaws%3Abedrock-agentcore%3Aus-east-1%3A123456789012%3Aruntime%2Fwizard_agent-AbCdEf1234"
SESSION = "test-session-" + "0123456789abcdef" * 2  # 45 characters
TOKEN = "eyJ.test-token.sig"
URN = "urn:ietf:params:oauth:request_uri:abc"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def no_connect(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Fail loudly if anything opens a TCP connection (records the attempt, then raises a non-OSError)."""
    attempts: list[Any] = []

    def refuse(address: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(address)
        raise AssertionError(f"unexpected connection to {address!r}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    delays: list[float] = []
    monkeypatch.setattr(invocation.time, "sleep", delays.append)
    return delays


# --- a scripted local HTTP server ------------------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    content_type: str = "application/json"
    body: bytes = b""
    events: list[bytes] | None = None  # streamed without Content-Length when set
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Scripted:
    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        script = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with script.lock:
                    script.seen.append(Seen(self.command, self.path, {k: v for k, v in self.headers.items()}, body))
                    reply = script.replies.pop(0) if script.replies else Reply(500, body=b'{"message":"no reply"}')
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.events is None:
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                else:
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for event in reply.events:
                        self.wfile.write(event)
                        self.wfile.flush()

            do_POST = _handle  # noqa: N815
            do_GET = _handle  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server() -> Iterator[Scripted]:
    scripted = Scripted()
    try:
        yield scripted
    finally:
        scripted.close()


def json_reply(value: Any, status: int = 200, **headers: str) -> Reply:
    return Reply(status, "application/json", json.dumps(value).encode(), headers=headers)


# --- invocation: pure helpers --------------------------------------------------------------------


def test_new_session_id_is_long_enough_unique_and_valid() -> None:
    ids = {invocation.new_session_id() for _ in range(50)}
    assert len(ids) == 50
    for session_id in ids:
        assert len(session_id) >= 33
        assert invocation.check_session_id(session_id) == session_id


@pytest.mark.parametrize("session_id", ["a" * 33, "b" * 256, "x-" * 20])
def test_check_session_id_accepts_33_to_256_characters(session_id: str) -> None:
    assert invocation.check_session_id(session_id) == session_id


@pytest.mark.parametrize(
    "session_id",
    [
        "a" * 32,
        "a" * 257,
        "",
        "a" * 20 + " " + "a" * 20,
        "a" * 40 + "\t",
        "a" * 40 + "\n",
        "a" * 20 + "\x00" + "a" * 20,
    ],
)
def test_check_session_id_refuses_bad_ids(session_id: str) -> None:
    with pytest.raises(WizardError) as caught:
        invocation.check_session_id(session_id)
    assert caught.value.code == "bad_session_id"
    assert caught.value.fix


def test_invocation_url_encodes_the_whole_arn() -> None:
    url = invocation.invocation_url("https://bedrock-agentcore.us-east-1.amazonaws.com/", ARN)
    assert url == (
        f"https://bedrock-agentcore.us-east-1.amazonaws.com/runtimes/{ENCODED_ARN}/invocations?qualifier=DEFAULT"
    )
    encoded = url.split("/runtimes/", 1)[1].split("/invocations", 1)[0]
    assert ":" not in encoded and "/" not in encoded
    assert urllib.parse.unquote(encoded) == ARN
    assert url.endswith("/invocations?qualifier=DEFAULT")


def test_data_plane_endpoint_prefers_the_sandbox() -> None:
    assert invocation.data_plane_endpoint("eu-west-1", None) == "https://bedrock-agentcore.eu-west-1.amazonaws.com"
    assert invocation.data_plane_endpoint("eu-west-1", "http://127.0.0.1:1") == "http://127.0.0.1:1"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ('{"response": "hi there"}', "hi there"),
        ('"a JSON string"', "a JSON string"),
        ('{"other": 1, "text": "é"}', '{"other": 1, "text": "é"}'),
        ('{"response": 5}', '{"response": 5}'),
        ("plain text, not JSON", "plain text, not JSON"),
        ("[1, 2]", "[1, 2]"),
    ],
)
def test_sse_text(data: str, expected: str) -> None:
    assert invocation.sse_text(data) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"response": "x"}', "x"),
        (json.dumps({"response": json.dumps({"response": "inner"})}).encode(), "inner"),
        (json.dumps({"response": json.dumps("quoted")}).encode(), "quoted"),
        (b'{"response": "42"}', "42"),
        (b"plain text answer", "plain text answer"),
        ('{"response": "caf\u00e9"}'.encode(), "caf\u00e9"),
        (b'{"result": {"a": 1}}', '{"result": {"a": 1}}'),
    ],
)
def test_json_text(body: bytes, expected: str) -> None:
    assert invocation.json_text(body) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Please approve: [link](https://x/authorize?request_uri=a).",
            "https://x/authorize?request_uri=a",
        ),
        (
            "Docs at https://docs.example/help, then open https://auth.example/oauth2/authorize?request_uri=urn%3Ab.",
            "https://auth.example/oauth2/authorize?request_uri=urn%3Ab",
        ),
        ("Open **https://x/identities/oauth2?request_uri=c**!", "https://x/identities/oauth2?request_uri=c"),
        ("Open <https://x/authorize?request_uri=d> now", "https://x/authorize?request_uri=d"),
        ('"https://x/authorize?request_uri=e";', "https://x/authorize?request_uri=e"),
        ("Only https://example.com/page.", "https://example.com/page"),
        # A request_uri token may end in "_" or "-" (base64url): kept, unless "_" is emphasis opened before.
        ("Open https://x/authorize?request_uri=urn%3Aab_", "https://x/authorize?request_uri=urn%3Aab_"),
        ("Open https://x/authorize?request_uri=urn%3Aab-.", "https://x/authorize?request_uri=urn%3Aab-"),
        ("Open **https://x/authorize?request_uri=ab_**.", "https://x/authorize?request_uri=ab_"),
        ("Open _https://x/authorize?request_uri=ab_", "https://x/authorize?request_uri=ab"),
        ("Open _https://x/authorize?request_uri=ab__", "https://x/authorize?request_uri=ab_"),
    ],
)
def test_authorization_url_picks_and_cleans_the_consent_link(text: str, expected: str) -> None:
    assert invocation.authorization_url(text) == expected


@pytest.mark.parametrize("text", ["", "No link here, sorry.", "ftp://x/authorize?request_uri=a"])
def test_authorization_url_is_none_without_urls(text: str) -> None:
    assert invocation.authorization_url(text) is None


def test_is_authenticated() -> None:
    assert invocation.is_authenticated("Authenticated to external service. Token: abc")
    assert not invocation.is_authenticated("Failed to authenticate: Authenticated to external service?")
    assert not invocation.is_authenticated("Failed to authenticate: Invalid or expired session.")
    assert not invocation.is_authenticated("")


def test_http_error_401() -> None:
    error = invocation.http_error(401, json.dumps({"message": "Invalid bearer token"}), "UnauthorizedException:x")
    assert error.code == "http_401"
    assert "401" in error.message and "Invalid bearer token" in error.message
    assert "UnauthorizedException" in error.message and ":x" not in error.message
    assert "expired" in error.fix and "discovery URL" in error.fix


def test_http_error_403_not_allowed() -> None:
    error = invocation.http_error(403, json.dumps({"message": "Claim client_id is not allowed"}))
    assert error.code == "http_403"
    assert "Claim client_id is not allowed" in error.message
    assert "allowedClients" in error.fix
    assert "SigV4" not in error.fix


def test_http_error_403_authorization_method_mismatch() -> None:
    error = invocation.http_error(403, json.dumps({"Message": "Authorization method mismatch"}))
    assert error.code == "http_403"
    assert "Authorization method mismatch" in error.message
    assert "JWT authorizer" in error.fix and "SigV4" in error.fix
    assert "allowedClients" not in error.fix


def test_http_error_424_and_404() -> None:
    failed = invocation.http_error(424, json.dumps({"message": "Runtime initialization failed"}))
    assert failed.code == "http_424" and "Runtime initialization failed" in failed.message
    assert "aws logs tail" in failed.fix
    gone = invocation.http_error(404, json.dumps({"message": "Runtime not found"}))
    assert gone.code == "http_404" and "Runtime not found" in gone.message
    assert "Deploy" in gone.fix


def test_http_error_other_statuses_and_bodies() -> None:
    short = invocation.http_error(400, json.dumps({"message": "runtimeSessionId is too short"}))
    assert "33 to 256" in short.fix
    busy = invocation.http_error(429, "Too Many Requests")
    assert busy.code == "http_429" and "Too Many Requests" in busy.message and "busy" in busy.fix
    odd = invocation.http_error(418, "<html>" + "x" * 2000)
    assert odd.code == "http_418" and len(odd.message) < 600
    assert "run the stage again" in odd.fix


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("Failed to authenticate: Workload access token has not been set.", "workload access token"),
        ("Failed to authenticate: ValidationException: You must provide a ResourceOauth2ReturnUrl", "callback_url"),
        ("Failed to authenticate: Invalid or expired session.", "expired"),
    ],
)
def test_agent_failure_maps_known_identity_messages(text: str, needle: str) -> None:
    fix = explain(text).fix
    assert fix and needle in fix
    error = invocation.agent_failure(text)
    assert error.code == "agent"
    assert error.fix == fix
    assert "could not get the user's token" in error.message
    reason = text.split("Failed to authenticate: ", 1)[1]
    assert error.message.endswith(reason)
    assert "Failed to authenticate" not in error.message


def test_known_fix_is_case_insensitive_and_distinct() -> None:
    fixes = {
        explain("workload ACCESS token HAS NOT BEEN SET").fix,
        explain("You must provide a ResourceOauth2ReturnUrl").fix,
        explain("invalid or expired session").fix,
    }
    assert "" not in fixes and len(fixes) == 3


def test_agent_failure_for_unknown_text() -> None:
    text = "  I'm sorry, I can't call that tool right now.  "
    assert explain(text).fix == ""
    error = invocation.agent_failure(text)
    assert error.code == "agent"
    assert "without a consent link or a token" in error.message
    assert error.message.endswith("I'm sorry, I can't call that tool right now.")
    assert "stage 3" in error.fix


# --- invocation: invoke() against a local server -------------------------------------------------


def test_invoke_json_answer(server: Scripted) -> None:
    server.replies.append(json_reply({"response": "hello"}))
    chunks: list[str] = []
    answer = invocation.invoke(
        invocation.invocation_url(server.endpoint, ARN), TOKEN, SESSION, prompt="Hi", on_text=chunks.append
    )
    assert answer.text == "hello"
    assert answer.session_id == SESSION
    assert answer.content_type.startswith("application/json")
    assert chunks == ["hello"]
    assert len(server.seen) == 1
    assert json.loads(server.seen[0].body) == {"prompt": "Hi"}


def test_invoke_streams_event_stream_chunks_in_order(server: Scripted) -> None:
    events = [f"data: {json.dumps({'response': f'line {n}' + chr(10)})}\n\n".encode() for n in (1, 2, 3)]
    server.replies.append(Reply(200, "text/event-stream", events=[b": comment\n\n", *events]))
    chunks: list[str] = []
    answer = invocation.invoke(invocation.invocation_url(server.endpoint, ARN), TOKEN, SESSION, on_text=chunks.append)
    assert chunks == ["line 1\n", "line 2\n", "line 3\n"]
    assert answer.text == "line 1\nline 2\nline 3\n"
    assert "text/event-stream" in answer.content_type


def test_invoke_sends_bearer_token_session_and_encoded_path(server: Scripted) -> None:
    server.replies.append(json_reply({"response": "ok"}))
    invocation.invoke(invocation.invocation_url(server.endpoint, ARN), TOKEN, SESSION)
    (seen,) = server.seen
    headers = {name.lower(): value for name, value in seen.headers.items()}
    assert seen.method == "POST"
    assert seen.path == f"/runtimes/{ENCODED_ARN}/invocations?qualifier=DEFAULT"
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers[invocation.SESSION_HEADER.lower()] == SESSION
    assert "text/event-stream" in headers["accept"]
    assert headers["content-type"] == "application/json"
    # Never SigV4: no AWS signature headers go out with the bearer token.
    assert not any(name.startswith("x-amz-") for name in headers)


def test_invoke_maps_localhost_to_loopback(server: Scripted) -> None:
    server.replies.append(json_reply({"response": "via localhost"}))
    url = invocation.invocation_url(f"http://localhost:{server.port}", ARN)
    assert invocation.invoke(url, TOKEN, SESSION).text == "via localhost"


def test_invoke_401_is_a_wizard_error_and_not_retried(server: Scripted, no_sleep: list[float]) -> None:
    server.replies.extend(
        [
            json_reply({"message": "Invalid bearer token"}, 401, **{"x-amzn-ErrorType": "UnauthorizedException"}),
            json_reply({"response": "must not be reached"}),
        ]
    )
    with pytest.raises(WizardError) as caught:
        invocation.invoke(invocation.invocation_url(server.endpoint, ARN), TOKEN, SESSION)
    assert caught.value.code == "http_401"
    assert "401" in caught.value.message and "Invalid bearer token" in caught.value.message
    assert len(server.seen) == 1
    assert no_sleep == []


def test_invoke_retries_429_then_succeeds(server: Scripted, no_sleep: list[float]) -> None:
    server.replies.extend(
        [
            json_reply({"message": "Too many requests"}, 429),
            json_reply({"message": "Too many requests"}, 429),
            json_reply({"response": "finally"}),
        ]
    )
    chunks: list[str] = []
    answer = invocation.invoke(invocation.invocation_url(server.endpoint, ARN), TOKEN, SESSION, on_text=chunks.append)
    assert answer.text == "finally"
    assert chunks == ["finally"]
    assert len(server.seen) == 3
    assert len(no_sleep) == 2 and all(delay > 0 for delay in no_sleep)
    assert all(seen.headers.get(invocation.SESSION_HEADER) == SESSION for seen in server.seen)


def test_invoke_gives_up_after_the_last_attempt(server: Scripted, no_sleep: list[float]) -> None:
    server.replies.extend([json_reply({"message": "Runtime not ready"}, 503) for _ in range(3)])
    with pytest.raises(WizardError) as caught:
        invocation.invoke(invocation.invocation_url(server.endpoint, ARN), TOKEN, SESSION, attempts=2)
    assert caught.value.code == "http_503"
    assert "Runtime not ready" in caught.value.message
    assert len(server.seen) == 2
    assert len(no_sleep) == 1


def test_invoke_empty_body_is_an_error(server: Scripted) -> None:
    server.replies.append(Reply(200, "application/json", b""))
    with pytest.raises(WizardError, match="empty body"):
        invocation.invoke(invocation.invocation_url(server.endpoint, ARN), TOKEN, SESSION)


def test_invoke_unreachable_endpoint(no_sleep: list[float]) -> None:
    url = invocation.invocation_url(f"http://127.0.0.1:{free_port()}", ARN)
    with pytest.raises(WizardError) as caught:
        invocation.invoke(url, TOKEN, SESSION, attempts=2)
    assert caught.value.code == "endpoint_unreachable"
    assert len(no_sleep) == 1


def test_invoke_checks_the_session_id_before_any_request(server: Scripted) -> None:
    with pytest.raises(WizardError) as caught:
        invocation.invoke(invocation.invocation_url(server.endpoint, ARN), TOKEN, "too-short")
    assert caught.value.code == "bad_session_id"
    assert server.seen == []


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/runtimes/x/invocations?qualifier=DEFAULT",
        "http://10.0.0.1:8080/runtimes/x/invocations?qualifier=DEFAULT",
        "ftp://127.0.0.1/runtimes/x/invocations",
    ],
)
def test_invoke_refuses_plain_http_off_this_machine(url: str, no_connect: list[Any], no_sleep: list[float]) -> None:
    with pytest.raises(WizardError, match="Refusing to send a bearer token"):
        invocation.invoke(url, TOKEN, SESSION)
    assert no_connect == []
    assert no_sleep == []


class RawServer:
    """Answers each connection with canned bytes (for chunked streams and broken answers); counts requests."""

    def __init__(self, replies: list[bytes]) -> None:
        self.replies = list(replies)
        self.requests = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(10)
        self.port = int(self.sock.getsockname()[1])
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.replies:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            with connection:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += connection.recv(65536)
                head, _, rest = data.partition(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                sizes = [line.split(b":", 1)[1] for line in lines if line.lower().startswith(b"content-length:")]
                length = int(sizes[0])
                while len(rest) < length:
                    rest += connection.recv(65536)
                self.requests += 1
                connection.sendall(self.replies.pop(0))

    def close(self) -> None:
        # shutdown wakes an accept() still waiting for a reply nobody will ask for; close alone does not.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(timeout=5)


def chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_invoke_reads_a_chunked_event_stream() -> None:
    raw = RawServer([SSE_HEAD + chunked(b'data: "Hello"\r\n\r\n', b'data:{"response": ", you"}\n\nid: 1\n', b"\n")])
    try:
        chunks: list[str] = []
        answer = invocation.invoke(f"http://127.0.0.1:{raw.port}/x", TOKEN, SESSION, on_text=chunks.append)
    finally:
        raw.close()
    assert chunks == ["Hello", ", you"]
    assert answer.text == "Hello, you"
    assert raw.requests == 1


def test_invoke_keeps_leading_spaces_of_plain_text_events() -> None:
    raw = RawServer([SSE_HEAD + chunked(b"data: Hello\n\n", b"data:  world\n\n")])
    try:
        answer = invocation.invoke(f"http://127.0.0.1:{raw.port}/x", TOKEN, SESSION)
    finally:
        raw.close()
    assert answer.text == "Hello world"


def test_invoke_does_not_resend_after_a_partial_json_answer(no_sleep: list[float]) -> None:
    partial = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"response": "par'
    full = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{"response": "x"}'
    raw = RawServer([partial, full])
    try:
        with pytest.raises(WizardError) as caught:
            invocation.invoke(f"http://127.0.0.1:{raw.port}/x", TOKEN, SESSION)
    finally:
        raw.close()
    assert caught.value.code == "endpoint_unreachable"
    assert raw.requests == 1


# --- consent: return URL and pasted redirects ----------------------------------------------------


@pytest.mark.parametrize("url", ["http://localhost:8081/oauth2/callback", "http://127.0.0.1:9000/cb"])
def test_check_return_url_accepts_local_http(url: str) -> None:
    assert consent.check_return_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://localhost:8081/oauth2/callback",
        "http://example.com:8081/oauth2/callback",
        "http://192.168.1.5:8081/oauth2/callback",
        "http://localhost/oauth2/callback",
        "localhost:8081/oauth2/callback",
    ],
)
def test_check_return_url_refuses_others(url: str) -> None:
    with pytest.raises(UsageError):
        consent.check_return_url(url)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://localhost:99999/oauth2/callback"),
        pytest.param("http://localhost:abc/oauth2/callback"),
        pytest.param("http://[localhost:8081/oauth2/callback"),
    ],
)
def test_check_return_url_refuses_malformed_ports(url: str) -> None:
    with pytest.raises(UsageError):
        consent.check_return_url(url)


RETURN_URL = "http://localhost:8081/oauth2/callback"


def test_parse_redirect_full_url() -> None:
    redirect = consent.parse_redirect(f"{RETURN_URL}?session_id={URN}", RETURN_URL)
    assert redirect == consent.Redirect(session_uri=URN)
    assert not redirect.denied


def test_parse_redirect_percent_encoded_session_and_whitespace() -> None:
    pasted = f"  http://127.0.0.1:8081/oauth2/callback/?session_id={urllib.parse.quote(URN, safe='')}&x=1 \n"
    assert consent.parse_redirect(pasted, RETURN_URL) == consent.Redirect(URN)


def test_parse_redirect_bare_urn() -> None:
    assert consent.parse_redirect(f"  {URN}\n") == consent.Redirect(URN)


def test_parse_redirect_denied() -> None:
    redirect = consent.parse_redirect(f"{RETURN_URL}?error=access_denied", RETURN_URL)
    assert redirect.denied and redirect.error == "access_denied"
    described = consent.parse_redirect(
        f"{RETURN_URL}?session_id={URN}&error=access_denied&error_description=User+said+no", RETURN_URL
    )
    assert described.denied and described.error == "User said no" and described.session_uri == URN


@pytest.mark.parametrize(
    ("text", "return_url"),
    [
        (f"http://localhost:9999/oauth2/callback?session_id={URN}", RETURN_URL),
        (f"http://localhost:8081/other?session_id={URN}", RETURN_URL),
        ("not a url at all", None),
        ("session_id=" + URN, None),
        ("", None),
        (f"{RETURN_URL}?state=xyz", RETURN_URL),
        (f"{RETURN_URL}?session_id=abc", RETURN_URL),
    ],
)
def test_parse_redirect_refuses_bad_input(text: str, return_url: str | None) -> None:
    with pytest.raises(WizardError) as caught:
        consent.parse_redirect(text, return_url)
    assert caught.value.code == "bad_redirect"
    assert caught.value.fix


@pytest.mark.parametrize(
    "text", [f"http://localhost:99999/oauth2/callback?session_id={URN}", "http://[oops/oauth2/callback?session_id=x"]
)
def test_parse_redirect_refuses_malformed_urls(text: str) -> None:
    with pytest.raises(WizardError) as caught:
        consent.parse_redirect(text, RETURN_URL)
    assert caught.value.code == "bad_redirect"


# --- consent: the return URL listener --------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[consent.ReturnListener]:
    inbox: queue.Queue[str] = queue.Queue()
    running = consent.ReturnListener(f"http://localhost:{free_port()}/oauth2/callback", inbox, sessions={URN})
    running.start()
    try:
        yield running
    finally:
        running.stop()


def get(port: int, path: str) -> tuple[int, str, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read().decode()
    finally:
        connection.close()


def test_listener_accepts_the_redirect(listener: consent.ReturnListener) -> None:
    status, content_type, body = get(listener.port, f"/oauth2/callback?session_id={URN}")
    assert status == 200
    assert content_type.startswith("text/html")
    assert "close this tab" in body
    queued = listener.inbox.get_nowait()
    assert queued == f"http://127.0.0.1:{listener.port}/oauth2/callback?session_id={URN}"
    assert consent.parse_redirect(queued, listener.return_url) == consent.Redirect(URN)
    assert listener.inbox.empty()


def test_listener_queues_a_denial(listener: consent.ReturnListener) -> None:
    status, _, body = get(listener.port, f"/oauth2/callback?error=access_denied&session_id={URN}")
    assert status == 200 and "denied" in body
    assert consent.parse_redirect(listener.inbox.get_nowait()).denied


OTHER_URN = "urn:ietf:params:oauth:request_uri:someone-elses"


@pytest.mark.parametrize(
    "query",
    [f"session_id={OTHER_URN}", f"error=access_denied&session_id={OTHER_URN}", "error=access_denied"],
    ids=["another-session", "another-sessions-denial", "a-denial-of-no-session"],
)
def test_listener_refuses_a_redirect_for_another_session(listener: consent.ReturnListener, query: str) -> None:
    """Another wizard's browser (or an older link of this project) landed here: no "Approved" for it, and this
    wait neither ends nor fails on it."""
    status, content_type, body = get(listener.port, f"/oauth2/callback?{query}")
    assert status == 409 and content_type.startswith("text/html")
    assert "Approved" not in body and "close this tab" not in body
    assert "another agentcore-wizard session" in body and f"port {listener.port}" in body
    assert "Go back to the terminal" in body and "paste" in body
    assert OTHER_URN not in body  # the page never echoes the request
    assert listener.inbox.empty()
    # Its own session still gets through afterwards.
    assert get(listener.port, f"/oauth2/callback?session_id={URN}")[0] == 200
    assert consent.parse_redirect(listener.inbox.get_nowait()) == consent.Redirect(URN)


def test_listener_waits_for_any_of_its_sessions() -> None:
    inbox: queue.Queue[str] = queue.Queue()
    running = consent.ReturnListener(f"http://localhost:{free_port()}/cb", inbox, sessions={URN, OTHER_URN})
    running.start()
    try:
        assert get(running.port, f"/cb?session_id={OTHER_URN}")[0] == 200
        assert get(running.port, f"/cb?session_id={URN}x")[0] == 409
    finally:
        running.stop()
    assert inbox.qsize() == 1


def test_listener_without_a_known_session_takes_any() -> None:
    """A link that names no session (no request_uri): the listener cannot tell, and takes what comes, as before."""
    inbox: queue.Queue[str] = queue.Queue()
    running = consent.ReturnListener(f"http://localhost:{free_port()}/cb", inbox, sessions=None)
    running.start()
    try:
        assert get(running.port, f"/cb?session_id={OTHER_URN}")[0] == 200
    finally:
        running.stop()
    assert inbox.qsize() == 1


@pytest.mark.parametrize(
    ("link", "session"),
    [
        (f"http://127.0.0.1:9/identities/oauth2/authorize?request_uri={urllib.parse.quote(URN, safe='')}", URN),
        (f"https://bedrock-agentcore.us-east-1.amazonaws.com/identities/oauth2/authorize?request_uri={URN}", URN),
        ("https://example.com/authorize?client_id=x", None),
        ("https://example.com/authorize?request_uri=not-a-urn", None),
        ("http://[oops/authorize?request_uri=x", None),
    ],
)
def test_session_of_link(link: str, session: str | None) -> None:
    assert consent.session_of_link(link) == session


def test_listener_404_for_other_paths(listener: consent.ReturnListener) -> None:
    status, _, _ = get(listener.port, f"/elsewhere?session_id={URN}")
    assert status == 404
    assert listener.inbox.empty()


def test_listener_400_without_session_id(listener: consent.ReturnListener) -> None:
    status, _, body = get(listener.port, "/oauth2/callback?state=abc")
    assert status == 400
    assert "session_id" in body
    assert listener.inbox.empty()


def test_listener_page_does_not_echo_the_request(listener: consent.ReturnListener) -> None:
    status, _, body = get(listener.port, f"/oauth2/callback?error=%3Cscript%3E&session_id={URN}")
    assert status == 200
    assert "<script>" not in body


def test_second_listener_on_the_same_port_is_refused(listener: consent.ReturnListener) -> None:
    second = consent.ReturnListener(listener.return_url, queue.Queue(), sessions={URN})
    with pytest.raises(WizardError) as caught:
        second.start()
    assert caught.value.code == "return_port_busy"
    assert str(listener.port) in caught.value.message
    # The first one still works.
    assert get(listener.port, f"/oauth2/callback?session_id={URN}")[0] == 200


def test_port_is_free_again_after_stop() -> None:
    port = free_port()
    running = consent.ReturnListener(f"http://127.0.0.1:{port}/cb", queue.Queue(), sessions={URN})
    running.start()
    running.stop()
    running.stop()  # twice is harmless
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))


def test_listener_can_restart_on_its_port_after_serving() -> None:
    inbox: queue.Queue[str] = queue.Queue()
    url = f"http://localhost:{free_port()}/oauth2/callback"
    first = consent.ReturnListener(url, inbox, sessions={URN})
    first.start()
    try:
        assert get(first.port, f"/oauth2/callback?session_id={URN}")[0] == 200
    finally:
        first.stop()
    again = consent.ReturnListener(url, inbox, sessions={URN})
    again.start()
    try:
        assert get(again.port, f"/oauth2/callback?session_id={URN}")[0] == 200
    finally:
        again.stop()
    assert inbox.qsize() == 2


def test_listener_refuses_a_non_local_return_url() -> None:
    with pytest.raises(UsageError):
        consent.ReturnListener("https://example.com/cb", queue.Queue(), sessions=None)


# --- consent: following the redirect, the sandbox's consent pages, the browser --------------------


def test_follow_to_listener_reaches_a_running_listener(listener: consent.ReturnListener) -> None:
    location = f"http://localhost:{listener.port}/oauth2/callback?session_id={URN}"
    assert consent.follow_to_listener(location) is True
    assert consent.parse_redirect(listener.inbox.get_nowait()) == consent.Redirect(URN)


def test_follow_to_listener_false_when_the_listener_refuses(listener: consent.ReturnListener) -> None:
    assert consent.follow_to_listener(f"http://127.0.0.1:{listener.port}/oauth2/callback") is False
    assert listener.inbox.empty()


def test_follow_to_listener_false_when_nothing_listens() -> None:
    assert consent.follow_to_listener(f"http://127.0.0.1:{free_port()}/oauth2/callback?session_id={URN}") is False


@pytest.mark.parametrize(
    "location",
    [
        f"http://example.com:8081/oauth2/callback?session_id={URN}",
        f"https://10.1.2.3/oauth2/callback?session_id={URN}",
        "not a url",
    ],
)
def test_follow_to_listener_never_leaves_this_machine(location: str, no_connect: list[Any]) -> None:
    assert consent.follow_to_listener(location) is False
    assert no_connect == []


def test_follow_to_listener_false_for_a_malformed_port(no_connect: list[Any]) -> None:
    assert consent.follow_to_listener(f"http://127.0.0.1:99999/oauth2/callback?session_id={URN}") is False


@pytest.mark.parametrize(
    "url",
    [
        "https://bedrock-agentcore.us-east-1.amazonaws.com/identities/oauth2/authorize?request_uri=x",
        "http://example.com/identities/oauth2/authorize?request_uri=x",
        "https://127.0.0.1:9/identities/oauth2/authorize?request_uri=x",
    ],
)
def test_sandbox_consent_refuses_non_local_urls(url: str, no_connect: list[Any]) -> None:
    with pytest.raises(UsageError):
        consent.sandbox_consent(url, "user", "password")
    assert no_connect == []


def test_sandbox_consent_signs_in_and_approves(server: Scripted) -> None:
    landing = f"http://localhost:8081/oauth2/callback?session_id={URN}"
    server.replies.extend([Reply(200, "text/html", b"ok"), Reply(302, "text/html", headers={"Location": landing})])
    authorize = f"http://localhost:{server.port}/identities/oauth2/authorize?request_uri={urllib.parse.quote(URN)}"
    assert consent.sandbox_consent(authorize, "alice", "s3cret") == landing
    login, decision = server.seen
    assert (login.method, login.path) == ("POST", "/identities/oauth2/login")
    assert dict(urllib.parse.parse_qsl(login.body.decode())) == {
        "request_uri": URN,
        "username": "alice",
        "password": "s3cret",
    }
    assert decision.path == "/identities/oauth2/consent"
    assert dict(urllib.parse.parse_qsl(decision.body.decode())) == {"request_uri": URN, "decision": "approve"}


def test_sandbox_consent_deny_and_failures(server: Scripted) -> None:
    authorize = f"http://127.0.0.1:{server.port}/identities/oauth2/authorize?request_uri={URN}"
    server.replies.extend([Reply(200, body=b"ok"), Reply(302, headers={"Location": "http://localhost:1/cb?error=x"})])
    assert consent.sandbox_consent(authorize, "u", "p", approve=False).endswith("error=x")
    assert dict(urllib.parse.parse_qsl(server.seen[1].body.decode()))["decision"] == "deny"

    server.replies.append(Reply(401, body=b"bad password"))
    with pytest.raises(WizardError, match="sign-in page refused"):
        consent.sandbox_consent(authorize, "u", "wrong")

    server.replies.extend([Reply(200, body=b"ok"), Reply(200, body=b"no redirect")])
    with pytest.raises(WizardError, match="did not redirect"):
        consent.sandbox_consent(authorize, "u", "p")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("SSH_CONNECTION", "SSH_TTY", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_can_open_browser_false_over_ssh(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setattr(consent.sys, "platform", "darwin")
    assert consent.can_open_browser() is True
    clean_env.setenv("SSH_CONNECTION", "10.0.0.2 50000 10.0.0.1 22")
    assert consent.can_open_browser() is False
    clean_env.delenv("SSH_CONNECTION")
    clean_env.setenv("SSH_TTY", "/dev/pts/1")
    assert consent.can_open_browser() is False


def test_can_open_browser_on_linux_needs_a_display(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setattr(consent.sys, "platform", "linux")
    assert consent.can_open_browser() is False
    clean_env.setenv("DISPLAY", ":0")
    assert consent.can_open_browser() is True
    clean_env.delenv("DISPLAY")
    clean_env.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert consent.can_open_browser() is True
    clean_env.setenv("SSH_CONNECTION", "10.0.0.2 50000 10.0.0.1 22")
    assert consent.can_open_browser() is False


def test_a_name_taken_by_someone_else_says_how_to_pick_another() -> None:
    from botocore.exceptions import ClientError

    taken = ClientError(
        {"Error": {"Code": "ConflictException", "Message": "An agent runtime named identity_demo already exists"}},
        "CreateAgentRuntime",
    )
    error = explain(taken)
    assert error.code == "ConflictException" and "--agent-name" in error.fix


def test_every_link_the_sandbox_makes_survives_the_answer_text() -> None:
    """The sandbox's request_uri tokens are base64url, like AWS's: whatever they end in, the link is kept whole
    (a cut token was the 1-in-64 "Invalid or expired session" at sign-in)."""
    import secrets

    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for last in alphabet:
        token = secrets.token_urlsafe(24)[:-1] + last
        url = f"http://127.0.0.1:1/identities/oauth2/authorize?request_uri=urn%3Aietf%3Aparams%3Aoauth%3A{token}"
        for text in (f"Authorization Required: {url}", f"Please open **{url}** and approve.", f"{url}."):
            assert invocation.authorization_url(text) == url, (last, text)
