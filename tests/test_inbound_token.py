"""The bearer token for invocation: fetched with InitiateAuth (SECRET_HASH when needed), checked, renewed."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest

from wizard import inbound_token
from wizard.errors import WizardError

PASSWORD = "Abcdef12-x"


def cognito(endpoint: str) -> Any:
    return boto3.client(
        "cognito-idp", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="s", aws_secret_access_key="s"
    )


def pool_with_user(client: Any, secret: bool) -> tuple[str, str, str | None]:
    pool = client.create_user_pool(PoolName=f"tok-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
    app = client.create_user_pool_client(
        UserPoolId=pool, ClientName="c", GenerateSecret=secret, ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]
    client.admin_create_user(UserPoolId=pool, Username="u", MessageAction="SUPPRESS")
    client.admin_set_user_password(UserPoolId=pool, Username="u", Password=PASSWORD, Permanent=True)
    return pool, app["ClientId"], app.get("ClientSecret")


def test_fetches_an_access_token_of_the_client(sandbox_endpoint: str) -> None:
    client = cognito(sandbox_endpoint)
    _, client_id, _ = pool_with_user(client, secret=False)
    token = inbound_token.fetch(client, client_id, "u", PASSWORD)
    claims = inbound_token.claims_of(token.value)
    assert claims["client_id"] == client_id and claims["token_use"] == "access"
    assert token.expires_at == claims["exp"]
    assert token.value not in repr(token)


def test_secret_hash_is_sent_when_the_client_has_a_secret(sandbox_endpoint: str) -> None:
    client = cognito(sandbox_endpoint)
    _, client_id, secret = pool_with_user(client, secret=True)
    assert secret
    with pytest.raises(client.exceptions.NotAuthorizedException):
        inbound_token.fetch(client, client_id, "u", PASSWORD)  # the sandbox enforces SECRET_HASH
    token = inbound_token.fetch(client, client_id, "u", PASSWORD, client_secret=secret)
    assert inbound_token.claims_of(token.value)["client_id"] == client_id


def test_wrong_password_is_refused(sandbox_endpoint: str) -> None:
    client = cognito(sandbox_endpoint)
    _, client_id, _ = pool_with_user(client, secret=False)
    with pytest.raises(client.exceptions.NotAuthorizedException):
        inbound_token.fetch(client, client_id, "u", "wrong-Passw0rd")


def test_cached_token_is_reused_until_a_minute_before_expiry(sandbox_endpoint: str) -> None:
    client = cognito(sandbox_endpoint)
    _, client_id, _ = pool_with_user(client, secret=False)
    first = inbound_token.current(None, client, client_id, "u", PASSWORD)
    assert inbound_token.current(first, client, client_id, "u", PASSWORD) is first
    near_expiry = first.expires_at - 30
    renewed = inbound_token.current(first, client, client_id, "u", PASSWORD, now=near_expiry)
    assert renewed is not first


def test_a_challenge_instead_of_tokens_is_explained() -> None:
    class Challenging:
        def initiate_auth(self, **_: Any) -> dict[str, Any]:
            return {"ChallengeName": "NEW_PASSWORD_REQUIRED", "Session": "x"}

    with pytest.raises(WizardError) as caught:
        inbound_token.fetch(Challenging(), "c", "u", PASSWORD)
    assert "NEW_PASSWORD_REQUIRED" in caught.value.message and "stage 1" in caught.value.fix


def test_an_id_token_is_not_accepted_as_the_bearer() -> None:
    import base64
    import json

    payload = base64.urlsafe_b64encode(json.dumps({"token_use": "id", "aud": "c"}).encode()).decode().rstrip("=")

    class IdTokenOnly:
        def initiate_auth(self, **_: Any) -> dict[str, Any]:
            return {"AuthenticationResult": {"AccessToken": f"h.{payload}.s", "ExpiresIn": 3600}}

    with pytest.raises(WizardError) as caught:
        inbound_token.fetch(IdTokenOnly(), "c", "u", PASSWORD)
    assert "not an access token" in caught.value.message
