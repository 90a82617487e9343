"""Invoking a JWT-protected runtime over HTTPS with a bearer token, as the quickstart's second half does.

No SigV4 here, ever: a runtime with a customJWTAuthorizer refuses SigV4 ("Authorization method
mismatch"), and the toolkit's silent fallback to it is one of the quickstart's traps.
"""

from __future__ import annotations

import http.client
import json
import re
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from wizard.errors import AgentAnswered, RuntimeRefused, WizardError, explain

SESSION_ID_MIN, SESSION_ID_MAX = 33, 256
SESSION_HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
CALLBACK_HEADER = "OAuth2CallbackUrl"  # bedrock_agentcore.runtime.models.OAUTH2_CALLBACK_URL_HEADER
PROMPT = "Call the external service"
READ_TIMEOUT = 900.0  # the runtime allows a request up to 15 minutes
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
RETRYABLE = (409, 429, 503)  # refused before the agent ran: safe to send again
_URL = re.compile(r"https?://[^\s<>\"'`)\]]+")
_SESSION_ID = re.compile(r"[\x21-\x7E]+")  # visible ASCII, matched whole


def new_session_id() -> str:
    """One runtime session for both calls: 49 characters, well over the service's minimum of 33."""
    return f"agentcore-wizard-{uuid.uuid4().hex}"


def check_session_id(session_id: str) -> str:
    if not SESSION_ID_MIN <= len(session_id) <= SESSION_ID_MAX:
        raise WizardError(
            f"The session id {session_id!r} has {len(session_id)} characters; AgentCore needs "
            f"{SESSION_ID_MIN} to {SESSION_ID_MAX}.",
            fix="Leave --session-id out (the wizard makes one), or pass one of 33 to 256 characters.",
            code="bad_session_id",
        )
    if not _SESSION_ID.fullmatch(session_id):
        raise WizardError(
            f"The session id {session_id!r} contains spaces, control characters or characters beyond ASCII.",
            fix="Use visible ASCII characters only (it goes into an HTTP header), e.g. letters, digits, '-' and '_'.",
            code="bad_session_id",
        )
    return session_id


def data_plane_endpoint(region: str, sandbox_endpoint: str | None) -> str:
    return sandbox_endpoint or f"https://bedrock-agentcore.{region}.amazonaws.com"


def invocation_url(endpoint: str, runtime_arn: str) -> str:
    """The ARN fully percent-encoded (':' and '/' too), qualifier DEFAULT, as the service expects."""
    return f"{endpoint.rstrip('/')}/runtimes/{urllib.parse.quote(runtime_arn, safe='')}/invocations?qualifier=DEFAULT"


@dataclass
class Answer:
    text: str
    content_type: str
    session_id: str


def sse_text(data: str) -> str:
    """One `data:` payload as the toolkit prints it: strings as they are, {"response": …} unwrapped."""
    try:
        value = json.loads(data)
    except ValueError:
        return data
    if isinstance(value, dict) and isinstance(value.get("response"), str):
        return str(value["response"])
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def json_text(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace")
    try:
        value = json.loads(text)
    except ValueError:
        return text
    # Agents often return {"response": "..."}, sometimes with the JSON string nested once more.
    for _ in range(2):
        if isinstance(value, dict) and "response" in value:
            value = value["response"]
        if isinstance(value, str):
            try:
                nested = json.loads(value)
            except ValueError:
                return value
            if not isinstance(nested, (dict, str)):
                return value
            value = nested
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _connection(url: str) -> tuple[http.client.HTTPConnection, str]:
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WizardError(f"{url} is not a valid URL: {exc}.", fix="Check the runtime ARN and endpoint.") from exc
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    host = parts.hostname or ""
    if parts.scheme == "https":
        import ssl  # only for real endpoints; keeps it off the start-up path

        return http.client.HTTPSConnection(
            host, port or 443, timeout=READ_TIMEOUT, context=ssl.create_default_context()
        ), target
    if parts.scheme == "http" and host in LOOPBACK_HOSTS:
        # Plain HTTP only to this machine: that is the sandbox, never a real endpoint.
        return http.client.HTTPConnection("127.0.0.1" if host == "localhost" else host, port, timeout=60), target
    raise WizardError(f"Refusing to send a bearer token to {url}.", fix="Use the runtime's HTTPS endpoint.")


def invoke(
    url: str,
    bearer_token: str,
    session_id: str,
    prompt: str = PROMPT,
    on_text: Callable[[str], None] = lambda chunk: None,
    attempts: int = 4,
    return_url: str | None = None,
) -> Answer:
    """POST the prompt; stream text/event-stream answers chunk by chunk into on_text.

    The return URL travels in the OAuth2CallbackUrl header: the runtime passes it to the agent, and the SDK's
    requires_access_token uses it when the code names no callback_url (the quickstart's agent.py names none)."""
    check_session_id(session_id)
    body = json.dumps({"prompt": prompt}).encode()
    headers = {
        "Content-Type": "application/json",
        "Accept": "text/event-stream, application/json",
        "Authorization": f"Bearer {bearer_token}",
        SESSION_HEADER: session_id,
        "User-Agent": "agentcore-wizard",
    }
    if return_url:
        headers[CALLBACK_HEADER] = return_url
    for attempt in range(attempts):
        connection, target = _connection(url)
        answered = False
        try:
            connection.request("POST", target, body=body, headers=headers)
            response = connection.getresponse()
            content_type = response.getheader("Content-Type", "") or ""
            if response.status >= 400:
                error_body = response.read().decode("utf-8", errors="replace")
                if response.status in RETRYABLE and attempt + 1 < attempts:
                    time.sleep(min(8.0, 0.5 * 2**attempt))
                    continue
                raise http_error(response.status, error_body, response.getheader("x-amzn-ErrorType", "") or "")
            answered = True
            if "text/event-stream" in content_type:
                chunks: list[str] = []
                for raw in response:
                    line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                    if line.startswith("data:"):
                        data = line[5:]
                        chunk = sse_text(data[1:] if data.startswith(" ") else data)  # one space, per the SSE spec
                        chunks.append(chunk)
                        on_text(chunk)
                return Answer("".join(chunks), content_type, session_id)
            payload = response.read()
            if not payload:
                raise WizardError(
                    "The runtime answered with an empty body.",
                    fix="Look at the agent's logs (the command is on this screen) and run the stage again.",
                )
            text = json_text(payload)
            on_text(text)
            return Answer(text, content_type, session_id)
        except (OSError, http.client.HTTPException) as exc:
            # Once the runtime accepted the call the agent has run: sending it again would run it twice.
            if attempt + 1 < attempts and not answered:
                time.sleep(min(8.0, 0.5 * 2**attempt))
                continue
            raise WizardError(
                f"Could not reach the runtime endpoint: {exc}",
                fix="Check the network (or that the sandbox is running) and run the stage again.",
                code="endpoint_unreachable",
            ) from exc
        finally:
            connection.close()
    raise AssertionError("unreachable")  # pragma: no cover


def http_error(status: int, body: str, error_type: str = "") -> WizardError:
    """A refused invocation with its body and the fix people need, from the one map of known failures."""
    return explain(RuntimeRefused(status, body, error_type))


# --- what the agent said ------------------------------------------------------------------------

AUTHENTICATED_MARK = "Authenticated to external service"
DOCUMENTATION_HOSTS = ("docs.aws.amazon.com", "aws.amazon.com", "github.com")
FAILED_MARK = "Failed to authenticate"


def authorization_url(text: str) -> str | None:
    """The consent link in an answer. Sentence punctuation and "*" after it go (no URL token holds a "*");
    "_" goes only as Markdown emphasis opened before the link (`_url_`): a request_uri token may itself end in
    "_", and cutting it gives "Invalid or expired session" at sign-in (one link in 64)."""
    urls = []
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(".,;:!?*")
        before = text[: match.start()].rstrip("*")
        underscores = len(before) - len(before.rstrip("_"))
        if underscores and url.endswith("_" * underscores):
            url = url[:-underscores].rstrip(".,;:!?*")
        urls.append(url)
    for url in urls:
        if "authorize" in url or "request_uri" in url:
            return url
    # Any other link only when the agent did not say it failed: an SDK error carries a documentation link
    # ("Workload access token has not been set … see https://docs.aws.amazon.com/…"), which is no consent.
    if FAILED_MARK in text:
        return None
    urls = [url for url in urls if urllib.parse.urlsplit(url).hostname not in DOCUMENTATION_HOSTS]
    return urls[0] if urls else None


def is_authenticated(text: str) -> bool:
    return AUTHENTICATED_MARK in text and FAILED_MARK not in text


def agent_failure(text: str) -> WizardError:
    """An answer with neither a consent link nor the user's token, with its fix from the one map."""
    return explain(AgentAnswered(text))
