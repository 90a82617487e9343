"""Bearer-token invocation over plain HTTP, the stand-in agent's 3LO answers, and the refusals."""

from __future__ import annotations

import json
import re
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sandbox_support import (
    PASSWORD,
    IdentityPool,
    Response,
    RuntimePool,
    consent,
    create_custom_provider,
    error_code,
    error_message,
    http,
    make_identity_pool,
    make_runtime_pool,
    poll,
    redirect_query,
    session_uri_of,
    tamper,
    unique,
)

SESSION_HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
PROMPT = {"prompt": "Call the external service"}


@dataclass
class Deployed:
    runtime_pool: RuntimePool
    identity_pool: IdentityPool
    provider: str
    arn: str
    return_url: str


@pytest.fixture(scope="module")
def deployed(cognito: Any, control: Any, iam: Any, s3: Any) -> Deployed:
    runtime_pool = make_runtime_pool(cognito)
    identity_pool = make_identity_pool(cognito)
    provider = unique("ExternalServiceProvider-")
    create_custom_provider(control, provider, identity_pool)
    return_url = f"http://localhost:8081/oauth2/callback/{unique('r')}"

    role = iam.create_role(
        RoleName=unique("InvokeRole-"),
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "bedrock-agentcore.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    bucket = unique("invoke-code-")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="agent.zip", Body=b"PK\x05\x06" + b"\0" * 18)

    created = control.create_agent_runtime(
        agentRuntimeName=unique("identity_demo_"),
        agentRuntimeArtifact={
            "codeConfiguration": {
                "code": {"s3": {"bucket": bucket, "prefix": "agent.zip"}},
                "runtime": "PYTHON_3_12",
                "entryPoint": ["agent.py"],
            }
        },
        roleArn=role,
        authorizerConfiguration={
            "customJWTAuthorizer": {
                "discoveryUrl": runtime_pool.discovery_url,
                "allowedClients": [runtime_pool.client_id],
            }
        },
        environmentVariables={"AGENTCORE_PROVIDER_NAME": provider, "AGENTCORE_OAUTH2_RETURN_URL": return_url},
        protocolConfiguration={"serverProtocol": "HTTP"},
    )
    runtime_id = created["agentRuntimeId"]
    workload = created["workloadIdentityDetails"]["workloadIdentityArn"].rsplit("/", 1)[-1]
    control.update_workload_identity(name=workload, allowedResourceOauth2ReturnUrls=[return_url])
    poll(
        lambda: control.get_agent_runtime(agentRuntimeId=runtime_id)["status"],
        lambda status: status == "READY",
        "runtime READY",
    )
    poll(
        lambda: control.get_agent_runtime_endpoint(agentRuntimeId=runtime_id, endpointName="DEFAULT")["status"],
        lambda status: status == "READY",
        "DEFAULT endpoint READY",
    )
    return Deployed(runtime_pool, identity_pool, provider, created["agentRuntimeArn"], return_url)


def session_id() -> str:
    return (uuid.uuid4().hex + uuid.uuid4().hex)[:40]


def invoke(
    endpoint: str,
    arn: str,
    token: str | None,
    session: str | None,
    accept: str | None = None,
) -> Response:
    url = f"{endpoint}/runtimes/{urllib.parse.quote(arn, safe='')}/invocations?qualifier=DEFAULT"
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if session is not None:
        headers[SESSION_HEADER] = session
    if accept is not None:
        headers["Accept"] = accept
    return http("POST", url, json.dumps(PROMPT), headers, timeout=30)


def response_text(answer: Response) -> str:
    assert answer.status == 200, (answer.status, answer.text[:500])
    assert answer.headers.get("content-type", "").startswith("application/json"), answer.headers
    body = answer.json()
    assert isinstance(body, dict) and isinstance(body.get("response"), str), body
    return body["response"]


def authorization_url_in(endpoint: str, text: str) -> str:
    match = re.search(re.escape(endpoint) + r"/identities/oauth2/authorize\?request_uri=[A-Za-z0-9%._~\-]+", text)
    assert match, f"no authorization URL in the agent's answer: {text!r}"
    return match.group(0)


def test_bearer_invocation_through_consent(endpoint: str, data: Any, deployed: Deployed) -> None:
    user = deployed.runtime_pool.add_user()
    jwt = deployed.runtime_pool.token(user)
    session = session_id()

    first = response_text(invoke(endpoint, deployed.arn, jwt, session))
    assert "Authorization Required" in first, first
    url = authorization_url_in(endpoint, first)
    session_uri = session_uri_of(url)

    query = redirect_query(consent(endpoint, url, deployed.identity_pool.username, "approve"), deployed.return_url)
    assert query.get("session_id") == [session_uri], query

    data.complete_resource_token_auth(sessionUri=session_uri, userIdentifier={"userToken": jwt})

    second = response_text(invoke(endpoint, deployed.arn, jwt, session))
    assert "Authenticated to external service" in second, second
    assert "Authorization Required" not in second

    # The token is the user's, not the session's: a new session of the same user is served too ...
    third = response_text(invoke(endpoint, deployed.arn, deployed.runtime_pool.token(user), session_id()))
    assert "Authenticated to external service" in third, third
    # ... while another user of the same runtime still has to consent.
    stranger = deployed.runtime_pool.token(deployed.runtime_pool.add_user())
    assert "Authorization Required" in response_text(invoke(endpoint, deployed.arn, stranger, session_id()))


def test_bearer_invocation_without_completion_still_asks(endpoint: str, deployed: Deployed) -> None:
    """Consent alone does not hand out the token: the app must call CompleteResourceTokenAuth."""
    jwt = deployed.runtime_pool.token(deployed.runtime_pool.add_user())
    session = session_id()
    url = authorization_url_in(endpoint, response_text(invoke(endpoint, deployed.arn, jwt, session)))
    redirect_query(consent(endpoint, url, deployed.identity_pool.username, "approve"), deployed.return_url)
    again = response_text(invoke(endpoint, deployed.arn, jwt, session))
    assert "Authenticated to external service" not in again, again


def test_bearer_invocation_streams_when_asked(endpoint: str, deployed: Deployed) -> None:
    jwt = deployed.runtime_pool.token(deployed.runtime_pool.add_user())
    answer = invoke(endpoint, deployed.arn, jwt, session_id(), accept="text/event-stream, application/json")
    assert answer.status == 200, (answer.status, answer.text[:500])
    assert answer.headers.get("content-type", "").startswith("text/event-stream"), answer.headers
    events = [json.loads(line[len("data: ") :]) for line in answer.text.splitlines() if line.startswith("data: ")]
    assert events, answer.text
    texts = [e["response"] for e in events if isinstance(e, dict) and "response" in e]
    assert any("Authorization Required" in t for t in texts), events


def test_invocation_without_token_is_401(endpoint: str, deployed: Deployed) -> None:
    answer = invoke(endpoint, deployed.arn, None, session_id())
    assert answer.status == 401, (answer.status, answer.text[:300])
    assert "message" in answer.json()


def test_invocation_with_tampered_token_is_401(endpoint: str, deployed: Deployed) -> None:
    jwt = deployed.runtime_pool.token(deployed.runtime_pool.add_user())
    answer = invoke(endpoint, deployed.arn, tamper(jwt), session_id())
    assert answer.status == 401, (answer.status, answer.text[:300])
    assert "message" in answer.json()


def test_invocation_with_garbage_token_is_401(endpoint: str, deployed: Deployed) -> None:
    answer = invoke(endpoint, deployed.arn, "not-a-jwt", session_id())
    assert answer.status == 401, (answer.status, answer.text[:300])


def test_invocation_by_a_client_not_allowed_is_403(endpoint: str, deployed: Deployed) -> None:
    pool = deployed.runtime_pool
    jwt = pool.token(pool.add_user(), client_id=pool.other_client_id)
    answer = invoke(endpoint, deployed.arn, jwt, session_id())
    assert answer.status == 403, (answer.status, answer.text[:300])


def test_invocation_with_short_session_id_is_400(endpoint: str, deployed: Deployed) -> None:
    jwt = deployed.runtime_pool.token(deployed.runtime_pool.add_user())
    answer = invoke(endpoint, deployed.arn, jwt, "s" * 10)
    assert answer.status == 400, (answer.status, answer.text[:300])
    assert "ValidationException" in answer.text or "ValidationException" in answer.headers.get("x-amzn-errortype", "")


def test_sigv4_invocation_of_a_jwt_runtime_is_refused(data: Any, deployed: Deployed) -> None:
    with pytest.raises(ClientError) as info:
        data.invoke_agent_runtime(
            agentRuntimeArn=deployed.arn,
            qualifier="DEFAULT",
            runtimeSessionId=session_id(),
            payload=json.dumps(PROMPT).encode(),
            contentType="application/json",
        )
    assert "Authorization method mismatch" in error_message(info.value), info.value
    assert error_code(info.value) == "AccessDeniedException", info.value


def test_allowed_audience_accepts_an_id_token(
    endpoint: str, cognito: Any, control: Any, iam: Any, deployed: Deployed
) -> None:
    """customJWTAuthorizer with allowedAudience (no allowedClients): the ID token's aud is checked."""
    pool = deployed.runtime_pool
    role = control.get_agent_runtime(agentRuntimeId=deployed.arn.rsplit("/", 1)[-1])["roleArn"]
    created = control.create_agent_runtime(
        agentRuntimeName=unique("audience_"),
        agentRuntimeArtifact={
            "codeConfiguration": {
                "code": {"s3": {"bucket": "unused-bucket", "prefix": "agent.zip"}},
                "runtime": "PYTHON_3_12",
                "entryPoint": ["agent.py"],
            }
        },
        roleArn=role,
        authorizerConfiguration={
            "customJWTAuthorizer": {"discoveryUrl": pool.discovery_url, "allowedAudience": [pool.client_id]}
        },
        protocolConfiguration={"serverProtocol": "HTTP"},
    )
    poll(
        lambda: control.get_agent_runtime(agentRuntimeId=created["agentRuntimeId"])["status"],
        lambda status: status == "READY",
        "runtime READY",
    )
    user = pool.add_user()
    id_token = cognito.initiate_auth(
        ClientId=pool.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]["IdToken"]
    answer = invoke(endpoint, created["agentRuntimeArn"], id_token, session_id())
    assert answer.status == 200, (answer.status, answer.text[:300])
    other_id_token = cognito.initiate_auth(
        ClientId=pool.other_client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]["IdToken"]
    refused = invoke(endpoint, created["agentRuntimeArn"], other_id_token, session_id())
    assert refused.status == 403, (refused.status, refused.text[:300])


def test_a_bearer_session_can_be_stopped(endpoint: str, data: Any, deployed: Deployed) -> None:
    jwt = deployed.runtime_pool.token(deployed.runtime_pool.add_user())
    session = session_id()
    response_text(invoke(endpoint, deployed.arn, jwt, session))
    stopped = data.stop_runtime_session(agentRuntimeArn=deployed.arn, runtimeSessionId=session)
    assert stopped["runtimeSessionId"] == session
    with pytest.raises(ClientError) as info:
        data.stop_runtime_session(agentRuntimeArn=deployed.arn, runtimeSessionId=session)
    assert error_code(info.value) == "ResourceNotFoundException", info.value
    # A refused invocation (no token) starts no session.
    refused = session_id()
    assert invoke(endpoint, deployed.arn, None, refused).status == 401
    with pytest.raises(ClientError) as info:
        data.stop_runtime_session(agentRuntimeArn=deployed.arn, runtimeSessionId=refused)
    assert error_code(info.value) == "ResourceNotFoundException", info.value
