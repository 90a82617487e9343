"""The bearer token for invoking the agent: the runtime pool test user's Cognito access token.

Done with InitiateAuth directly (the toolkit's `get-cognito-inbound-token` prints log noise into the
token it hands to the shell), checked locally, renewed shortly before it expires, never printed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

from wizard.errors import WizardError, render_stage_refs

RENEW_BEFORE_SECONDS = 60.0


@dataclass
class BearerToken:
    value: str = field(repr=False)  # never shown, never logged
    client_id: str
    expires_at: float

    def expires_within(self, seconds: float, now: float | None = None) -> bool:
        return self.expires_at - (time.time() if now is None else now) <= seconds


def claims_of(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified: used only to check it is the token we meant to get."""
    try:
        payload = token.split(".")[1]
        return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))
    except (IndexError, ValueError, TypeError) as exc:
        raise WizardError("Cognito returned something that is not a JWT.", fix="Run the stage again.") from exc


def secret_hash(client_secret: str, username: str, client_id: str) -> str:
    digest = hmac.new(client_secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def fetch(cognito: Any, client_id: str, username: str, password: str, client_secret: str | None = None) -> BearerToken:
    """USER_PASSWORD_AUTH for the runtime pool's test user; SECRET_HASH when the client has a secret."""
    parameters = {"USERNAME": username, "PASSWORD": password}
    if client_secret:
        parameters["SECRET_HASH"] = secret_hash(client_secret, username, client_id)
    answer = cognito.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters=parameters)
    result = answer.get("AuthenticationResult")
    if not result:
        challenge = answer.get("ChallengeName", "an unknown challenge")
        raise WizardError(
            f"Cognito asked for {challenge} instead of returning tokens.",
            fix=render_stage_refs("Run {cognito} again: it sets a permanent password for the test user."),
        )
    token = str(result["AccessToken"])
    claims = claims_of(token)
    if claims.get("token_use") != "access" or claims.get("client_id") != client_id:
        raise WizardError(
            "The token Cognito returned is not an access token of the runtime client.",
            fix=render_stage_refs("Check RUNTIME_CLIENT_ID in the identity files, then run {cognito} again."),
        )
    expires_at = float(claims.get("exp") or time.time() + float(result.get("ExpiresIn", 3600)))
    return BearerToken(token, client_id, expires_at)


def current(
    cached: BearerToken | None,
    cognito: Any,
    client_id: str,
    username: str,
    password: str,
    client_secret: str | None = None,
    now: float | None = None,
) -> BearerToken:
    """The cached token while it is good for another minute, else a fresh one."""
    if cached is not None and cached.client_id == client_id and not cached.expires_within(RENEW_BEFORE_SECONDS, now):
        return cached
    return fetch(cognito, client_id, username, password, client_secret)
