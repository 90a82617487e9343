"""The sandbox's Cognito (moto's), read directly: pools, clients, users, token checks, and the auth
rules moto leaves out (ExplicitAuthFlows, SECRET_HASH)."""

from __future__ import annotations

import hmac
import json
import re
import time
from functools import lru_cache
from typing import Any

from wizard.inbound_token import secret_hash
from wizard.sandbox.protocol import ServiceError

ACCOUNT = "123456789012"
DISCOVERY = re.compile(
    r"^https://cognito-idp\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<pool>[\w-]+)/\.well-known/openid-configuration$"
)
ISSUER = re.compile(r"^https://cognito-idp\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<pool>[\w-]+)$")
# Cognito's own default when a client is created without ExplicitAuthFlows.
DEFAULT_FLOWS = ("ALLOW_USER_SRP_AUTH", "ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")
LEGACY_FLOWS = {"USER_PASSWORD_AUTH": "ALLOW_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH": "ALLOW_ADMIN_USER_PASSWORD_AUTH"}
FLOW_NEEDS = {
    "USER_PASSWORD_AUTH": "ALLOW_USER_PASSWORD_AUTH",
    "ADMIN_USER_PASSWORD_AUTH": "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "ADMIN_NO_SRP_AUTH": "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "USER_SRP_AUTH": "ALLOW_USER_SRP_AUTH",
    "REFRESH_TOKEN_AUTH": "ALLOW_REFRESH_TOKEN_AUTH",
    "REFRESH_TOKEN": "ALLOW_REFRESH_TOKEN_AUTH",
    "CUSTOM_AUTH": "ALLOW_CUSTOM_AUTH",
}


def share_the_signing_key() -> None:
    """moto gives every pool the same RSA signing key (its bundled test key) but parses it again for each new
    pool, recovering the primes: ~0.13 s of CPU a pool, most of what creating one costs. Parse it once."""
    import moto.cognitoidp.models as models

    if getattr(models.jwk, "shared_by_agentcore_wizard", False):
        return
    original = models.jwk

    class SharedKey:
        def __init__(self) -> None:
            self._parsed: dict[str, Any] = {}

        def import_key(self, data: Any, *args: Any, **kwargs: Any) -> Any:
            if args or kwargs or not isinstance(data, dict):
                return original.RSAKey.import_key(data, *args, **kwargs)
            key = json.dumps(data, sort_keys=True)
            if key not in self._parsed:
                self._parsed[key] = original.RSAKey.import_key(data)
            return self._parsed[key]

    class Jwk:
        shared_by_agentcore_wizard = True
        RSAKey = SharedKey()

        def __getattr__(self, name: str) -> Any:
            return getattr(original, name)

    models.jwk = Jwk()  # type: ignore[assignment]


def backend(region: str) -> Any:
    from moto.cognitoidp.models import cognitoidp_backends

    return cognitoidp_backends[ACCOUNT][region]


def user_pool(region: str, pool_id: str) -> Any | None:
    return backend(region).user_pools.get(pool_id)


def pool_of_discovery_url(url: str) -> tuple[str, str] | None:
    """(region, pool id) of a real-form Cognito discovery URL naming a pool this sandbox has."""
    found = DISCOVERY.match(url or "")
    if not found or user_pool(found["region"], found["pool"]) is None:
        return None
    return found["region"], found["pool"]


def find_client(client_id: str) -> tuple[Any, Any] | None:
    """(pool, client) for a client id in any region: unsigned Cognito calls carry no region."""
    from moto.cognitoidp.models import find_account_region_by_value

    _, region = find_account_region_by_value("client_id", client_id, (ACCOUNT, "us-east-1"))
    for pool in backend(region).user_pools.values():
        client = pool.clients.get(client_id)
        if client is not None:
            return pool, client
    return None


def check_password(region: str, pool_id: str, username: str, password: str) -> bool:
    pool = user_pool(region, pool_id)
    if pool is None:
        return False
    user = pool._get_user(username)
    return bool(user is not None and user.password == password and user.status == "CONFIRMED")


@lru_cache(maxsize=1)
def _public_keys() -> Any:
    from joserfc.jwk import KeySet
    from moto.utilities.utils import load_resource

    return KeySet.import_key_set(load_resource("cognitoidp/resources/jwks-public.json"))


def verify_token(token: str) -> dict[str, Any]:
    """Claims of a token minted by the sandbox's Cognito; ValueError with the reason otherwise."""
    from joserfc import jwt
    from joserfc.errors import JoseError

    try:
        decoded = jwt.decode(token, _public_keys(), algorithms=["RS256"])
    except (JoseError, ValueError) as exc:
        raise ValueError(f"Signature verification failed ({type(exc).__name__})") from None
    claims = dict(decoded.claims)
    if float(claims.get("exp", 0)) < time.time():
        raise ValueError("Token has expired")
    issuer = ISSUER.match(str(claims.get("iss", "")))
    if not issuer or user_pool(issuer["region"], issuer["pool"]) is None:
        raise ValueError(f"Issuer {claims.get('iss')!r} is not a user pool of this sandbox")
    return claims


def enforce_auth_rules(body: dict[str, Any]) -> None:
    """What real Cognito refuses and moto lets through, for InitiateAuth and AdminInitiateAuth."""
    client_id = str(body.get("ClientId", ""))
    flow = str(body.get("AuthFlow", ""))
    found = find_client(client_id)
    if found is None:
        return  # moto answers unknown clients itself
    _, client = found
    configured = client.extended_config.get("ExplicitAuthFlows") or list(DEFAULT_FLOWS)
    allowed = {LEGACY_FLOWS.get(item, item) for item in configured}
    needed = FLOW_NEEDS.get(flow)
    if needed and needed not in allowed:
        raise ServiceError("InvalidParameterException", f"{flow} flow not enabled for this client", 400)
    if client.generate_secret and flow in ("USER_PASSWORD_AUTH", "ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"):
        parameters = body.get("AuthParameters") or {}
        given = parameters.get("SECRET_HASH")
        if not given:
            raise ServiceError(
                "NotAuthorizedException",
                f"Client {client_id} is configured with secret but SECRET_HASH was not received",
                400,
            )
        username = str(parameters.get("USERNAME", ""))
        if not hmac.compare_digest(str(given), secret_hash(client.secret, username, client_id)):
            raise ServiceError("NotAuthorizedException", f"Unable to verify secret hash for client {client_id}", 400)


# What real Cognito sets a client's setting to when an UpdateUserPoolClient leaves it out; moto keeps the
# old value instead, which would hide the partial-update bug the quickstart's CLI has.
_RESET_ON_UPDATE: dict[str, Any] = {
    "CallbackURLs": [],
    "LogoutURLs": [],
    "AllowedOAuthFlows": [],
    "AllowedOAuthScopes": [],
    "SupportedIdentityProviders": [],
    "ReadAttributes": [],
    "WriteAttributes": [],
    "AllowedOAuthFlowsUserPoolClient": False,
    "ExplicitAuthFlows": list(DEFAULT_FLOWS),
}


def with_reset_defaults(request: dict[str, Any]) -> dict[str, Any]:
    return {**_RESET_ON_UPDATE, **request}
