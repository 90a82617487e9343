"""Helpers for the black-box sandbox tests: start a `sandbox serve` subprocess, plain HTTP, plain boto3.

Nothing here imports wizard code: the sandbox is driven exactly as a user's boto3 or browser would drive it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http import client as httpclient
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"
ADMIN = "/__agentcore_wizard_sandbox__"
FIRST_LINE = re.compile(r"^AgentCore wizard sandbox listening on (http://127\.0\.0\.1:(\d+))\s*$")
SERVE = [sys.executable, "-m", "wizard", "sandbox", "serve", "--port", "0", "--ready-delay", "0.3"]
START_TIMEOUT = 30.0
PASSWORD = "Sandbox-Passw0rd!"
# Bounded polling: never more than POLL_LIMIT * POLL_SLEEP seconds, and no assertion on how long it took.
POLL_SLEEP = 0.1
POLL_LIMIT = 150
# The account quotas of the sandbox all tests of a worker share, raised so that what they leave behind never fills
# it (test_sandbox_quotas.py checks the real ones in a sandbox of its own).
QUOTAS_ENV = "AGENTCORE_WIZARD_SANDBOX_QUOTAS"
SHARED_QUOTAS = {QUOTAS_ENV: "L-431051DC=100000,L-B04D9A86=100000,L-F4575653=100000"}


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def clean_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


# --------------------------------------------------------------------------------------------- process


@dataclass
class Sandbox:
    proc: subprocess.Popen[str]
    endpoint: str
    first_line: str
    stderr_path: Path
    _drain: threading.Thread | None = field(default=None, repr=False)

    def stderr_tail(self, n: int = 4000) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.stderr_path.unlink(missing_ok=True)
        return self.proc.returncode


def start_sandbox(args: list[str] | None = None, env: dict[str, str] | None = None) -> Sandbox:
    """Start `python -m wizard sandbox serve` and read the endpoint from its first stdout line; `env` adds to the
    environment it gets."""
    fd, name = tempfile.mkstemp(prefix="sandbox-stderr-", suffix=".log")
    stderr_path = Path(name)
    with os.fdopen(fd, "wb") as err:
        proc = subprocess.Popen(
            args or SERVE,
            cwd=str(REPO),
            env={**clean_env(), **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(START_TIMEOUT)
    line = box[0] if box else ""
    match = FIRST_LINE.match(line.rstrip("\n"))
    if not match:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=5)
        tail = stderr_path.read_text(errors="replace")[-3000:]
        stderr_path.unlink(missing_ok=True)
        raise RuntimeError(
            f"`{' '.join(args or SERVE)}` did not announce an endpoint; first stdout line {line!r}, "
            f"exit code {proc.returncode}, stderr:\n{tail}"
        )

    def drain() -> None:  # keep stdout flowing so the server can never block on a full pipe
        for _ in proc.stdout:  # type: ignore[union-attr]
            pass

    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()
    return Sandbox(
        proc=proc, endpoint=match.group(1), first_line=line.rstrip("\n"), stderr_path=stderr_path, _drain=drainer
    )


# ------------------------------------------------------------------------------------------------- HTTP


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


def http(
    method: str,
    url: str,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 20.0,
) -> Response:
    """One request, never following redirects."""
    parts = urllib.parse.urlsplit(url)
    assert parts.hostname == "127.0.0.1", f"tests only talk to 127.0.0.1, not {url}"
    conn = httpclient.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        if isinstance(body, str):
            body = body.encode()
        conn.request(method, target, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def post_form(url: str, fields: dict[str, str]) -> Response:
    return http(
        "POST",
        url,
        urllib.parse.urlencode(fields),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )


def post_json(url: str, payload: Any) -> Response:
    return http("POST", url, json.dumps(payload), {"Content-Type": "application/json"})


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "method": a.get("method", "get").lower(), "inputs": {}})
        elif tag in ("input", "button", "select", "textarea") and self.forms and a.get("name"):
            self.forms[-1]["inputs"].setdefault(a["name"], []).append((a.get("type", ""), a.get("value", "")))


def forms(html: str) -> list[dict[str, Any]]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def form_posting_to(html: str, path: str) -> dict[str, Any]:
    for form in forms(html):
        if urllib.parse.urlsplit(form["action"]).path == path:
            return form
    raise AssertionError(f"no <form> posting to {path} in page:\n{html[:2000]}")


def hidden_fields(form: dict[str, Any]) -> dict[str, str]:
    return {name: values[0][1] for name, values in form["inputs"].items() if values and values[0][0] == "hidden"}


# ------------------------------------------------------------------------------------------------ boto3


def client(service: str, endpoint: str, region: str = REGION, **config: Any) -> Any:
    cfg = {"retries": {"total_max_attempts": 1}}  # see the first answer: no retry eats an injected fault
    cfg.update(config)
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="sandbox",
        aws_secret_access_key="sandbox",
        config=Config(**cfg),
    )


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def error_message(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Message", "") or str(exc)


def http_status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    return json.loads(base64.urlsafe_b64decode(payload))


def tamper(token: str) -> str:
    header, payload, sig = token.split(".")
    i = len(sig) // 2
    sig = sig[:i] + ("A" if sig[i] != "A" else "B") + sig[i + 1 :]
    return ".".join([header, payload, sig])


def secret_hash(secret: str, username: str, client_id: str) -> str:
    digest = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def discovery_url(pool_id: str, region: str = REGION) -> str:
    """The real-AWS form; the sandbox must recognise its own pools behind it."""
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_id}/.well-known/openid-configuration"


def poll(fetch: Any, done: Any, what: str) -> Any:
    value = None
    for _ in range(POLL_LIMIT):
        value = fetch()
        if done(value):
            return value
        time.sleep(POLL_SLEEP)
    raise AssertionError(f"{what} never happened; last value {value!r}")


# ---------------------------------------------------------------------------------------------- Cognito


@dataclass
class RuntimePool:
    """The inbound pool: public clients with USER_PASSWORD_AUTH, users whose access tokens call the runtime."""

    cognito: Any
    pool_id: str
    client_id: str  # allowed on runtimes
    other_client_id: str  # a second client of the same pool, never allowed

    @property
    def discovery_url(self) -> str:
        return discovery_url(self.pool_id)

    def add_user(self, name: str | None = None) -> str:
        name = name or unique("user")
        add_user(self.cognito, self.pool_id, name)
        return name

    def token(self, username: str, client_id: str | None = None) -> str:
        out = self.cognito.initiate_auth(
            ClientId=client_id or self.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
        )
        return out["AuthenticationResult"]["AccessToken"]


@dataclass
class IdentityPool:
    """The outbound pool behind the credential provider: domain, confidential code-flow client, a user."""

    pool_id: str
    domain: str
    client_id: str
    client_secret: str
    username: str

    @property
    def discovery_url(self) -> str:
        return discovery_url(self.pool_id)


def add_user(cognito: Any, pool_id: str, username: str) -> None:
    cognito.admin_create_user(
        UserPoolId=pool_id,
        Username=username,
        TemporaryPassword="Temp-Passw0rd!",
        MessageAction="SUPPRESS",
    )
    cognito.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=PASSWORD, Permanent=True)


def make_runtime_pool(cognito: Any) -> RuntimePool:
    pool_id = cognito.create_user_pool(PoolName=unique("runtime-pool-"))["UserPool"]["Id"]
    ids = []
    for label in ("client", "other"):
        ids.append(
            cognito.create_user_pool_client(
                UserPoolId=pool_id,
                ClientName=unique(label + "-"),
                ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            )["UserPoolClient"]["ClientId"]
        )
    return RuntimePool(cognito, pool_id, ids[0], ids[1])


def make_identity_pool(cognito: Any, callback_url: str = "https://example.invalid/callback") -> IdentityPool:
    pool_id = cognito.create_user_pool(PoolName=unique("identity-pool-"))["UserPool"]["Id"]
    domain = unique("agentcore-id-")
    cognito.create_user_pool_domain(Domain=domain, UserPoolId=pool_id)
    created = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=unique("identity-client-"),
        GenerateSecret=True,
        AllowedOAuthFlows=["code"],
        AllowedOAuthScopes=["openid"],
        AllowedOAuthFlowsUserPoolClient=True,
        CallbackURLs=[callback_url],
        SupportedIdentityProviders=["COGNITO"],
    )["UserPoolClient"]
    username = unique("externaluser")
    add_user(cognito, pool_id, username)
    return IdentityPool(pool_id, domain, created["ClientId"], created["ClientSecret"], username)


def create_custom_provider(control: Any, name: str, pool: IdentityPool) -> dict[str, Any]:
    return control.create_oauth2_credential_provider(
        name=name,
        credentialProviderVendor="CustomOauth2",
        oauth2ProviderConfigInput={
            "customOauth2ProviderConfig": {
                "oauthDiscovery": {"discoveryUrl": pool.discovery_url},
                "clientId": pool.client_id,
                "clientSecret": pool.client_secret,
            }
        },
    )


# --------------------------------------------------------------------------------------------- consent


def session_uri_of(authorization_url: str) -> str:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(authorization_url).query)
    assert "request_uri" in query, f"no request_uri in {authorization_url}"
    return query["request_uri"][0]


def open_login(endpoint: str, authorization_url: str) -> dict[str, Any]:
    assert authorization_url.startswith(endpoint + "/identities/oauth2/authorize?"), authorization_url
    page = http("GET", authorization_url)
    assert page.status == 200, (page.status, page.text[:500])
    assert "text/html" in page.headers.get("content-type", ""), page.headers
    form = form_posting_to(page.text, "/identities/oauth2/login")
    assert "username" in form["inputs"] and "password" in form["inputs"], form
    return form


def login(endpoint: str, authorization_url: str, username: str, password: str) -> Response:
    form = open_login(endpoint, authorization_url)
    fields = hidden_fields(form)
    fields.setdefault("request_uri", session_uri_of(authorization_url))
    fields.update(username=username, password=password)
    answer = post_form(endpoint + "/identities/oauth2/login", fields)
    if answer.status in (302, 303) and "location" in answer.headers:  # a PRG-style consent page is fine too
        location = urllib.parse.urljoin(endpoint + "/", answer.headers["location"])
        answer = http("GET", location)
    return answer


def consent(endpoint: str, authorization_url: str, username: str, decision: str) -> Response:
    """Log in with the identity pool user and answer the consent page; the raw (unfollowed) answer."""
    page = login(endpoint, authorization_url, username, PASSWORD)
    assert page.status == 200, (page.status, page.text[:500])
    form = form_posting_to(page.text, "/identities/oauth2/consent")
    fields = hidden_fields(form)
    fields.setdefault("request_uri", session_uri_of(authorization_url))
    fields["decision"] = decision
    return post_form(endpoint + "/identities/oauth2/consent", fields)


def redirect_query(answer: Response, return_url: str) -> dict[str, list[str]]:
    assert answer.status == 302, (answer.status, answer.text[:500])
    location = answer.headers.get("location", "")
    assert location.startswith(return_url + "?"), (location, return_url)
    return urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)


AUTH_URL = re.compile(r"http://127\.0\.0\.1:\d+/identities/oauth2/authorize\?request_uri=[A-Za-z0-9%._~\-]+")


# ---------------------------------------------------------------------------------------------- Runtime

AGENTCORE_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "bedrock-agentcore.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def make_role(iam: Any, prefix: str = "AgentCoreRole-") -> str:
    return iam.create_role(RoleName=unique(prefix), AssumeRolePolicyDocument=json.dumps(AGENTCORE_TRUST))["Role"]["Arn"]


def make_code_bucket(s3: Any, key: str = "agent.zip") -> str:
    bucket = unique("agent-code-")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=b"PK\x05\x06" + b"\0" * 18)
    return bucket


def code_runtime_args(name: str, role_arn: str, bucket: str, **extra: Any) -> dict[str, Any]:
    """A direct-code runtime with SigV4 inbound auth (no authorizer), as CreateAgentRuntime's arguments."""
    return {
        "agentRuntimeName": name,
        "agentRuntimeArtifact": {
            "codeConfiguration": {
                "code": {"s3": {"bucket": bucket, "prefix": "agent.zip"}},
                "runtime": "PYTHON_3_12",
                "entryPoint": ["agent.py"],
            }
        },
        "roleArn": role_arn,
        "networkConfiguration": {"networkMode": "PUBLIC"},
        "protocolConfiguration": {"serverProtocol": "HTTP"},
        **extra,
    }
