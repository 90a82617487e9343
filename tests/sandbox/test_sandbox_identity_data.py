"""Identity data plane and the consent pages: workload access tokens, USER_FEDERATION sessions, session binding."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sandbox_support import (
    PASSWORD,
    IdentityPool,
    RuntimePool,
    consent,
    create_custom_provider,
    error_code,
    error_message,
    http,
    http_status,
    login,
    make_identity_pool,
    make_runtime_pool,
    open_login,
    post_form,
    redirect_query,
    session_uri_of,
    tamper,
    unique,
)

SESSION_URI = re.compile(r"^urn:ietf:params:oauth:request_uri:[a-zA-Z0-9\-._~]+$")
INVALID_SESSION = "Invalid or expired session"


@dataclass
class World:
    runtime_pool: RuntimePool
    identity_pool: IdentityPool
    provider: str
    user: str  # a runtime-pool user (the agent's caller)
    other_user: str


@pytest.fixture(scope="module")
def world(cognito: Any, control: Any) -> World:
    runtime_pool = make_runtime_pool(cognito)
    identity_pool = make_identity_pool(cognito)
    provider = unique("ExternalServiceProvider-")
    create_custom_provider(control, provider, identity_pool)
    return World(runtime_pool, identity_pool, provider, runtime_pool.add_user(), runtime_pool.add_user())


@pytest.fixture
def return_url() -> str:
    return f"http://localhost:8081/oauth2/callback/{unique('r')}"


@pytest.fixture
def workload(control: Any, return_url: str) -> str:
    """A fresh workload identity per test, so the token vault starts empty for every user."""
    name = unique("wi-data-")
    control.create_workload_identity(name=name, allowedResourceOauth2ReturnUrls=[return_url])
    return name


def federation(data: Any, wat: str, provider: str, return_url: str | None, **extra: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "workloadIdentityToken": wat,
        "resourceCredentialProviderName": provider,
        "scopes": ["openid"],
        "oauth2Flow": "USER_FEDERATION",
    }
    if return_url is not None:
        kwargs["resourceOauth2ReturnUrl"] = return_url
    kwargs.update(extra)
    return data.get_resource_oauth2_token(**kwargs)


def wat_for_jwt(data: Any, workload: str, jwt: str) -> str:
    return data.get_workload_access_token_for_jwt(workloadName=workload, userToken=jwt)["workloadAccessToken"]


def expect_invalid_session(call: Any) -> None:
    with pytest.raises(ClientError) as info:
        call()
    assert error_code(info.value) == "ValidationException", info.value
    assert INVALID_SESSION in error_message(info.value), error_message(info.value)


# ---------------------------------------------------------------------------------- workload access tokens


def test_workload_access_token_for_jwt(data: Any, world: World, workload: str) -> None:
    jwt = world.runtime_pool.token(world.user)
    wat = wat_for_jwt(data, workload, jwt)
    assert isinstance(wat, str) and wat


@pytest.mark.parametrize(
    "bad",
    ["garbage", "tampered", "unsigned-alg-none"],
)
def test_workload_access_token_for_bad_jwt_is_refused(data: Any, world: World, workload: str, bad: str) -> None:
    good = world.runtime_pool.token(world.user)
    token = {
        "garbage": "eyJhbGciOiJSUzI1NiJ9.bm90IGEgand0.c2lnbmF0dXJl",
        "tampered": tamper(good),
        "unsigned-alg-none": "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + good.split(".")[1] + ".",
    }[bad]
    with pytest.raises(ClientError) as info:
        data.get_workload_access_token_for_jwt(workloadName=workload, userToken=token)
    assert http_status(info.value) < 500, info.value
    assert error_code(info.value) in (
        "UnauthorizedException",
        "ValidationException",
        "AccessDeniedException",
    ), info.value


def test_workload_access_token_for_user_id_and_plain(data: Any, workload: str) -> None:
    by_user = data.get_workload_access_token_for_user_id(workloadName=workload, userId=unique("user-"))
    assert by_user["workloadAccessToken"]
    plain = data.get_workload_access_token(workloadName=workload)
    assert plain["workloadAccessToken"]


def test_workload_access_token_for_unknown_workload(data: Any) -> None:
    with pytest.raises(ClientError) as info:
        data.get_workload_access_token_for_user_id(workloadName=unique("wi-missing-"), userId="someone")
    assert error_code(info.value) == "ResourceNotFoundException", info.value


# ------------------------------------------------------------------------------------ USER_FEDERATION start


def test_federation_needs_a_return_url(data: Any, world: World, workload: str) -> None:
    wat = wat_for_jwt(data, workload, world.runtime_pool.token(world.user))
    with pytest.raises(ClientError) as info:
        federation(data, wat, world.provider, None)
    assert error_code(info.value) == "ValidationException", info.value


def test_federation_refuses_a_return_url_not_allowed(data: Any, world: World, workload: str) -> None:
    wat = wat_for_jwt(data, workload, world.runtime_pool.token(world.user))
    with pytest.raises(ClientError) as info:
        federation(data, wat, world.provider, "https://evil.example/steal")
    assert error_code(info.value) == "ValidationException", info.value


def test_federation_unknown_provider(data: Any, world: World, workload: str, return_url: str) -> None:
    wat = wat_for_jwt(data, workload, world.runtime_pool.token(world.user))
    with pytest.raises(ClientError) as info:
        federation(data, wat, unique("no-such-provider-"), return_url)
    assert error_code(info.value) == "ResourceNotFoundException", info.value


def test_federation_starts_a_session(endpoint: str, data: Any, world: World, workload: str, return_url: str) -> None:
    wat = wat_for_jwt(data, workload, world.runtime_pool.token(world.user))
    answer = federation(data, wat, world.provider, return_url)
    assert "accessToken" not in answer
    assert SESSION_URI.match(answer["sessionUri"]), answer["sessionUri"]
    assert answer.get("sessionStatus") == "IN_PROGRESS"
    url = answer["authorizationUrl"]
    assert url.startswith(endpoint + "/identities/oauth2/authorize?request_uri="), url
    assert session_uri_of(url) == answer["sessionUri"]


# ------------------------------------------------------------------------------------------- consent dance


def test_consent_dance_with_jwt(endpoint: str, data: Any, world: World, workload: str, return_url: str) -> None:
    jwt = world.runtime_pool.token(world.user)
    wat = wat_for_jwt(data, workload, jwt)
    started = federation(data, wat, world.provider, return_url)
    url, session_uri = started["authorizationUrl"], started["sessionUri"]

    # Not consented yet: nothing to complete.
    expect_invalid_session(
        lambda: data.complete_resource_token_auth(sessionUri=session_uri, userIdentifier={"userToken": jwt})
    )

    # The login form, a wrong password, then the identity pool user's real credentials.
    open_login(endpoint, url)
    wrong = login(endpoint, url, world.identity_pool.username, "Not-The-Passw0rd!")
    assert wrong.status == 401, (wrong.status, wrong.text[:300])
    assert "Incorrect username or password" in wrong.text
    approved = consent(endpoint, url, world.identity_pool.username, "approve")
    query = redirect_query(approved, return_url)
    assert query.get("session_id") == [session_uri], query
    assert "error" not in query

    # Consented but not completed: still no token.
    pending = federation(data, wat, world.provider, return_url, sessionUri=session_uri)
    assert "accessToken" not in pending, pending

    # Only the exact artifact that minted the WAT completes the session.
    other_jwt = world.runtime_pool.token(world.other_user)
    expect_invalid_session(
        lambda: data.complete_resource_token_auth(sessionUri=session_uri, userIdentifier={"userToken": other_jwt})
    )
    expect_invalid_session(
        lambda: data.complete_resource_token_auth(sessionUri=session_uri, userIdentifier={"userId": world.user})
    )
    data.complete_resource_token_auth(sessionUri=session_uri, userIdentifier={"userToken": jwt})

    done = federation(data, wat, world.provider, return_url, sessionUri=session_uri)
    token = done.get("accessToken")
    assert token, done
    assert "authorizationUrl" not in done

    # Later calls for the same user, provider and scopes: the vaulted token, no new consent.
    again = federation(data, wat_for_jwt(data, workload, jwt), world.provider, return_url)
    assert again.get("accessToken") == token, again
    assert "authorizationUrl" not in again

    # forceAuthentication means a new consent.
    forced = federation(data, wat, world.provider, return_url, forceAuthentication=True)
    assert "accessToken" not in forced and forced.get("authorizationUrl"), forced
    assert forced["sessionUri"] != session_uri

    # Another user of the same workload still has to consent.
    other = federation(data, wat_for_jwt(data, workload, other_jwt), world.provider, return_url)
    assert "accessToken" not in other and other.get("authorizationUrl"), other


def authorized(endpoint: str, data: Any, world: World, workload: str, return_url: str, jwt: str) -> str:
    """The whole dance for one user; the access token."""
    wat = wat_for_jwt(data, workload, jwt)
    started = federation(data, wat, world.provider, return_url)
    redirect_query(consent(endpoint, started["authorizationUrl"], world.identity_pool.username, "approve"), return_url)
    data.complete_resource_token_auth(sessionUri=started["sessionUri"], userIdentifier={"userToken": jwt})
    token = federation(data, wat, world.provider, return_url).get("accessToken")
    assert token
    return token


def test_other_scopes_need_a_new_consent(
    endpoint: str, data: Any, world: World, workload: str, return_url: str
) -> None:
    """The vault hands out the same token for the same user, provider *and scopes* only."""
    jwt = world.runtime_pool.token(world.user)
    authorized(endpoint, data, world, workload, return_url, jwt)
    wider = federation(data, wat_for_jwt(data, workload, jwt), world.provider, return_url, scopes=["openid", "email"])
    assert "accessToken" not in wider and wider.get("authorizationUrl"), wider


def test_token_is_per_workload_identity(
    endpoint: str, control: Any, data: Any, world: World, workload: str, return_url: str
) -> None:
    jwt = world.runtime_pool.token(world.user)
    authorized(endpoint, data, world, workload, return_url, jwt)
    elsewhere = unique("wi-else-")
    control.create_workload_identity(name=elsewhere, allowedResourceOauth2ReturnUrls=[return_url])
    other = federation(data, wat_for_jwt(data, elsewhere, jwt), world.provider, return_url)
    assert "accessToken" not in other and other.get("authorizationUrl"), other


def test_consent_needs_a_pool_user_not_any_user(
    endpoint: str, data: Any, world: World, workload: str, return_url: str
) -> None:
    """The runtime pool's user is not a user of the provider's (identity) pool."""
    wat = wat_for_jwt(data, workload, world.runtime_pool.token(world.user))
    url = federation(data, wat, world.provider, return_url)["authorizationUrl"]
    answer = login(endpoint, url, world.user, PASSWORD)
    assert answer.status == 401, (answer.status, answer.text[:300])
    assert "Incorrect username or password" in answer.text


def test_consent_denied(endpoint: str, data: Any, world: World, workload: str, return_url: str) -> None:
    jwt = world.runtime_pool.token(world.user)
    wat = wat_for_jwt(data, workload, jwt)
    started = federation(data, wat, world.provider, return_url)
    denied = consent(endpoint, started["authorizationUrl"], world.identity_pool.username, "deny")
    query = redirect_query(denied, return_url)
    assert query.get("error") == ["access_denied"], query
    assert query.get("session_id") == [started["sessionUri"]], query

    expect_invalid_session(
        lambda: data.complete_resource_token_auth(sessionUri=started["sessionUri"], userIdentifier={"userToken": jwt})
    )
    after = federation(data, wat, world.provider, return_url, sessionUri=started["sessionUri"])
    assert "accessToken" not in after, after


def test_consent_dance_with_user_id(endpoint: str, data: Any, world: World, workload: str, return_url: str) -> None:
    user_id = unique("local-user-")
    wat = data.get_workload_access_token_for_user_id(workloadName=workload, userId=user_id)["workloadAccessToken"]
    started = federation(data, wat, world.provider, return_url)
    session_uri = started["sessionUri"]
    query = redirect_query(
        consent(endpoint, started["authorizationUrl"], world.identity_pool.username, "approve"), return_url
    )
    assert query.get("session_id") == [session_uri]

    expect_invalid_session(
        lambda: data.complete_resource_token_auth(sessionUri=session_uri, userIdentifier={"userId": user_id + "x"})
    )
    data.complete_resource_token_auth(sessionUri=session_uri, userIdentifier={"userId": user_id})
    done = federation(data, wat, world.provider, return_url, sessionUri=session_uri)
    assert done.get("accessToken"), done

    fresh = data.get_workload_access_token_for_user_id(workloadName=workload, userId=user_id)["workloadAccessToken"]
    again = federation(data, fresh, world.provider, return_url)
    assert again.get("accessToken") == done["accessToken"], again


def test_unknown_session_cannot_be_completed(data: Any, world: World) -> None:
    jwt = world.runtime_pool.token(world.user)
    expect_invalid_session(
        lambda: data.complete_resource_token_auth(
            sessionUri="urn:ietf:params:oauth:request_uri:" + unique("nope"), userIdentifier={"userToken": jwt}
        )
    )


def test_authorize_page_for_unknown_session(endpoint: str) -> None:
    answer = http(
        "GET",
        endpoint + "/identities/oauth2/authorize?request_uri=urn%3Aietf%3Aparams%3Aoauth%3A"
        "request_uri%3A" + unique("nope"),
    )
    assert 400 <= answer.status < 500, (answer.status, answer.text[:300])


def test_consent_without_signing_in_is_refused(
    endpoint: str, data: Any, world: World, workload: str, return_url: str
) -> None:
    """Approving straight away, skipping the login form, must not bind the session."""
    jwt = world.runtime_pool.token(world.user)
    started = federation(data, wat_for_jwt(data, workload, jwt), world.provider, return_url)
    answer = post_form(
        endpoint + "/identities/oauth2/consent", {"request_uri": started["sessionUri"], "decision": "approve"}
    )
    assert 400 <= answer.status < 500, (answer.status, answer.headers.get("location"), answer.text[:300])
    expect_invalid_session(
        lambda: data.complete_resource_token_auth(sessionUri=started["sessionUri"], userIdentifier={"userToken": jwt})
    )
