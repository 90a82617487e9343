"""The pages an authorizationUrl opens: sign in as the identity pool's user, then approve or deny.

Real AgentCore sends the browser through the provider's hosted login and back; the sandbox keeps
the same three beats (login, consent, redirect to the return URL with the session) on one origin.
"""

from __future__ import annotations

import html
import urllib.parse

from wizard.sandbox import cognito
from wizard.sandbox.agentcore import OAuthSession, Sandbox, _now, provider_pool

Page = tuple[int, list[tuple[str, str]], bytes]

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#222}"
    "h1{font-size:1.3rem}label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.4rem}"
    "button{margin:1rem .5rem 0 0;padding:.5rem 1rem}.note{color:#555;font-size:.9rem}"
    ".error{color:#b00020}"
)


def _page(status: int, title: str, body: str) -> Page:
    document = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}"
        "<p class='note'>agentcore-wizard sandbox: nothing here is AWS.</p></body></html>"
    )
    return status, [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")], document.encode()


def _session(sandbox: Sandbox, uri: str) -> OAuthSession | None:
    found = sandbox.find_session(uri)
    if found is None:
        return None
    session = found[1]
    return session if session.expires_at >= _now() else None


def _gone() -> Page:
    return _page(400, "Invalid or expired session", "<p>Start again from the agent: ask it for a new link.</p>")


def login_form(sandbox: Sandbox, uri: str, error: str = "") -> Page:
    session = _session(sandbox, uri)
    if session is None or session.state != "pending":
        return _gone()
    message = f"<p class='error'>{html.escape(error)}</p>" if error else ""
    body = (
        f"<p>The agent asks to reach <b>{html.escape(session.provider)}</b> on your behalf "
        f"(scopes: {html.escape(' '.join(session.scopes) or '-')}). Sign in as the identity pool's test user.</p>"
        f"{message}<form method='post' action='/identities/oauth2/login'>"
        f"<input type='hidden' name='request_uri' value='{html.escape(uri)}'>"
        "<label for='username'>Username</label><input id='username' name='username' autocomplete='username'>"
        "<label for='password'>Password</label>"
        "<input id='password' name='password' type='password' autocomplete='current-password'>"
        "<button type='submit'>Sign in</button></form>"
    )
    return _page(401 if error else 200, "Sign in", body)


def login(sandbox: Sandbox, form: dict[str, str]) -> Page:
    uri = form.get("request_uri", "")
    found = sandbox.find_session(uri)
    session = _session(sandbox, uri)
    if found is None or session is None or session.state != "pending":
        return _gone()
    state = found[0]
    provider = state.providers.get(session.provider)
    if provider is None:
        return _gone()
    pool = provider_pool(provider)
    username, password = form.get("username", ""), form.get("password", "")
    if pool is not None:
        client_id = str(provider.config.get("clientId", ""))
        user_pool = cognito.user_pool(*pool)
        if user_pool is None or client_id not in user_pool.clients:
            return _page(400, "Invalid client", "<p>The provider's client id is not an app client of its pool.</p>")
        ok = cognito.check_password(pool[0], pool[1], username, password)
    else:
        # Other vendors have no sandbox directory: any non-empty sign-in stands for the user's.
        ok = bool(username and password)
    if not ok:
        return login_form(sandbox, uri, "Incorrect username or password.")
    body = (
        f"<p>Signed in as <b>{html.escape(username)}</b>.</p>"
        f"<p>Allow the agent to access <b>{html.escape(session.provider)}</b> on your behalf?</p>"
        "<form method='post' action='/identities/oauth2/consent'>"
        f"<input type='hidden' name='request_uri' value='{html.escape(uri)}'>"
        "<button type='submit' name='decision' value='approve'>Approve</button>"
        "<button type='submit' name='decision' value='deny'>Deny</button></form>"
    )
    session.state = "signed_in"
    return _page(200, "Allow access?", body)


def consent(sandbox: Sandbox, form: dict[str, str]) -> Page:
    uri = form.get("request_uri", "")
    session = _session(sandbox, uri)
    if session is None or session.state != "signed_in":
        return _gone()
    approved = form.get("decision") == "approve"
    session.state = "consented" if approved else "denied"
    query = {"session_id": uri} if approved else {"error": "access_denied", "session_id": uri}
    separator = "&" if "?" in session.return_url else "?"
    location = f"{session.return_url}{separator}{urllib.parse.urlencode(query)}"
    status, headers, body = _page(302, "Redirecting", f"<p><a href='{html.escape(location)}'>Continue</a></p>")
    return status, [*headers, ("Location", location)], body
