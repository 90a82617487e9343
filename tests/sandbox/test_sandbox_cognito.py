"""Cognito where the sandbox goes beyond moto: ExplicitAuthFlows, SECRET_HASH, discovery documents."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from sandbox_support import (
    PASSWORD,
    REGION,
    add_user,
    error_code,
    http,
    jwt_claims,
    secret_hash,
    unique,
)


@pytest.fixture(scope="module")
def pool(cognito: Any) -> tuple[str, str]:
    pool_id = cognito.create_user_pool(PoolName=unique("cognito-gaps-"))["UserPool"]["Id"]
    username = unique("user")
    add_user(cognito, pool_id, username)
    return pool_id, username


def make_client(cognito: Any, pool_id: str, flows: list[str] | None, secret: bool = False) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"UserPoolId": pool_id, "ClientName": unique("c-"), "GenerateSecret": secret}
    if flows is not None:
        kwargs["ExplicitAuthFlows"] = flows
    return cognito.create_user_pool_client(**kwargs)["UserPoolClient"]


def password_auth(cognito: Any, client_id: str, username: str, **extra: str) -> dict[str, Any]:
    return cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD, **extra},
    )


@pytest.mark.parametrize(
    "flows",
    [["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"], None],
    ids=["other-flows", "no-explicit-flows"],
)
def test_user_password_auth_needs_the_flow(cognito: Any, pool: tuple[str, str], flows: list[str] | None) -> None:
    pool_id, username = pool
    app = make_client(cognito, pool_id, flows)
    with pytest.raises(ClientError) as info:
        password_auth(cognito, app["ClientId"], username)
    assert error_code(info.value) == "InvalidParameterException", info.value


def test_user_password_auth_with_the_flow(cognito: Any, pool: tuple[str, str]) -> None:
    pool_id, username = pool
    app = make_client(cognito, pool_id, ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    result = password_auth(cognito, app["ClientId"], username)["AuthenticationResult"]
    assert result["AccessToken"] and result["IdToken"]


def test_user_password_auth_wrong_password(cognito: Any, pool: tuple[str, str]) -> None:
    pool_id, username = pool
    app = make_client(cognito, pool_id, ["ALLOW_USER_PASSWORD_AUTH"])
    with pytest.raises(ClientError) as info:
        cognito.initiate_auth(
            ClientId=app["ClientId"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": "Wrong-Passw0rd!"},
        )
    assert error_code(info.value) == "NotAuthorizedException", info.value


def test_secret_client_needs_secret_hash(cognito: Any, pool: tuple[str, str]) -> None:
    pool_id, username = pool
    app = make_client(cognito, pool_id, ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"], secret=True)
    with pytest.raises(ClientError) as info:
        password_auth(cognito, app["ClientId"], username)
    assert error_code(info.value) == "NotAuthorizedException", info.value


def test_secret_client_refuses_a_wrong_secret_hash(cognito: Any, pool: tuple[str, str]) -> None:
    pool_id, username = pool
    app = make_client(cognito, pool_id, ["ALLOW_USER_PASSWORD_AUTH"], secret=True)
    wrong = secret_hash("not-the-secret", username, app["ClientId"])
    with pytest.raises(ClientError) as info:
        password_auth(cognito, app["ClientId"], username, SECRET_HASH=wrong)
    assert error_code(info.value) == "NotAuthorizedException", info.value


def test_secret_client_accepts_the_right_secret_hash(cognito: Any, pool: tuple[str, str]) -> None:
    pool_id, username = pool
    app = make_client(cognito, pool_id, ["ALLOW_USER_PASSWORD_AUTH"], secret=True)
    right = secret_hash(app["ClientSecret"], username, app["ClientId"])
    result = password_auth(cognito, app["ClientId"], username, SECRET_HASH=right)["AuthenticationResult"]
    assert result["AccessToken"]


def test_admin_auth_needs_the_flow(cognito: Any, pool: tuple[str, str]) -> None:
    pool_id, username = pool
    app = make_client(cognito, pool_id, ["ALLOW_USER_PASSWORD_AUTH"])
    with pytest.raises(ClientError) as info:
        cognito.admin_initiate_auth(
            UserPoolId=pool_id,
            ClientId=app["ClientId"],
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
        )
    assert error_code(info.value) == "InvalidParameterException", info.value


def test_admin_auth_on_secret_client_needs_secret_hash(cognito: Any, pool: tuple[str, str]) -> None:
    pool_id, username = pool
    app = make_client(cognito, pool_id, ["ALLOW_ADMIN_USER_PASSWORD_AUTH"], secret=True)
    with pytest.raises(ClientError) as info:
        cognito.admin_initiate_auth(
            UserPoolId=pool_id,
            ClientId=app["ClientId"],
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
        )
    assert error_code(info.value) == "NotAuthorizedException", info.value
    ok = cognito.admin_initiate_auth(
        UserPoolId=pool_id,
        ClientId=app["ClientId"],
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={
            "USERNAME": username,
            "PASSWORD": PASSWORD,
            "SECRET_HASH": secret_hash(app["ClientSecret"], username, app["ClientId"]),
        },
    )
    assert ok["AuthenticationResult"]["AccessToken"]


def test_discovery_issuer_matches_token_issuer(endpoint: str, cognito: Any, pool: tuple[str, str]) -> None:
    pool_id, username = pool
    answer = http("GET", f"{endpoint}/{pool_id}/.well-known/openid-configuration")
    assert answer.status == 200, (answer.status, answer.text[:300])
    document = answer.json()
    issuer = f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}"
    assert document["issuer"] == issuer
    assert document.get("jwks_uri"), document

    app = make_client(cognito, pool_id, ["ALLOW_USER_PASSWORD_AUTH"])
    token = password_auth(cognito, app["ClientId"], username)["AuthenticationResult"]["AccessToken"]
    claims = jwt_claims(token)
    assert claims["iss"] == issuer
    assert claims["client_id"] == app["ClientId"]
    assert claims["token_use"] == "access"


def test_jwks_is_served(endpoint: str, pool: tuple[str, str]) -> None:
    pool_id, _ = pool
    answer = http("GET", f"{endpoint}/{pool_id}/.well-known/jwks.json")
    assert answer.status == 200, (answer.status, answer.text[:300])
    assert answer.json()["keys"], answer.text


def test_discovery_of_unknown_pool_is_404(endpoint: str) -> None:
    answer = http("GET", f"{endpoint}/{REGION}_ZZZZZZZZZ/.well-known/openid-configuration")
    assert answer.status == 404, (answer.status, answer.text[:300])
