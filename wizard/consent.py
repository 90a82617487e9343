"""The user-consent loop the quickstart leaves open: where the browser comes back after approval.

AgentCore sends the browser to the workload identity's return URL with `session_id`; the app must then
call CompleteResourceTokenAuth with the exact bearer token of the first call. The wizard listens on
that URL itself (127.0.0.1 only), or takes the URL the browser ended on when it was pasted instead.
"""

from __future__ import annotations

import functools
import html
import http.client
import os
import queue
import re
import sys
import threading
import urllib.parse
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wizard.errors import UsageError, WizardError, render_stage_refs

if TYPE_CHECKING:
    from http.server import ThreadingHTTPServer

LOOPBACK = ("localhost", "127.0.0.1")
SESSION_PREFIX = "urn:ietf:params:oauth:request_uri:"
# How long an authorization link stays usable. The sandbox uses this too; AWS documents no figure, and
# the SDK's own poller gives up after the same 600 seconds.
CONSENT_SECONDS = 600.0


@dataclass(frozen=True)
class Redirect:
    """Where the browser came back: the session to complete, or the user's refusal."""

    session_uri: str
    denied: bool = False
    error: str = ""


def _split(url: str) -> tuple[urllib.parse.SplitResult, int | None]:
    """The URL's parts and port; empty parts when it cannot be parsed (a bad port, a stray bracket)."""
    try:
        parts = urllib.parse.urlsplit(url)
        return parts, parts.port
    except ValueError:
        return urllib.parse.urlsplit(""), None


# http://localhost|127.0.0.1:PORT/path, matched whole: no user, query or fragment (the service appends its own
# query, and the wizard's listener answers on the path alone).
RETURN_URL = re.compile(
    r"http://(?:localhost|127\.0\.0\.1):(?P<port>[1-9][0-9]{0,4})"
    r"(?:/(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})*)+"
)


def check_return_url(url: str) -> str:
    """A return URL the wizard can listen on itself: http on this machine, with a port and a path."""
    match = RETURN_URL.fullmatch(url) if isinstance(url, str) else None
    if match is None or int(match.group("port")) > 65535:
        raise UsageError(
            f"Return URL {url!r} is not a local URL the wizard can listen on.",
            fix="Use http://localhost:<port>/<path> or http://127.0.0.1:<port>/<path> with a port of 1-65535 and "
            "no query, fragment or user name, for example http://localhost:8081/oauth2/callback.",
        )
    return url


def parse_redirect(text: str, return_url: str | None = None) -> Redirect:
    """The URL the browser ended on (pasted by the user), or just its session id."""
    text = text.strip()
    if text.startswith(SESSION_PREFIX):
        return Redirect(text)
    parts, port = _split(text)
    if not parts.scheme or not parts.netloc:
        raise WizardError(
            "That is not the URL your browser ended on.",
            fix="Copy the whole address from the browser's address bar after approving (it contains session_id=).",
            code="bad_redirect",
        )
    if return_url is not None:
        expected = urllib.parse.urlsplit(return_url)
        if (port, parts.path.rstrip("/")) != (expected.port, expected.path.rstrip("/")):
            raise WizardError(
                f"That URL is not the return URL {return_url}.",
                fix="Approve in the browser first; then paste the address it ends on (it may show an error page).",
                code="bad_redirect",
            )
    query = dict(urllib.parse.parse_qsl(parts.query))
    session_uri = query.get("session_id", "")
    if query.get("error"):
        return Redirect(session_uri, denied=True, error=query.get("error_description") or query["error"])
    if not session_uri.startswith(SESSION_PREFIX):
        raise WizardError(
            "That URL carries no session_id.",
            fix="Approve in the browser first, then paste the address it ends on.",
            code="bad_redirect",
        )
    return Redirect(session_uri)


def foreign_session_text(port: int) -> str:
    return (
        "This approval is for another agentcore-wizard session, not the one waiting here on port "
        f"{port}, so nothing was completed. Go back to the terminal (or wizard window) that showed you this "
        "link and paste this page's address there. If that wizard has stopped, run its stage 8 again for a "
        "fresh link."
    )


_DONE_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
    "<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;color:#222}}</style>"
    "</head><body><h1>{title}</h1><p>{text}</p></body></html>"
)


def session_of_link(link: str) -> str | None:
    """The session an authorization link starts (its request_uri): what the browser brings back as session_id."""
    parts, _ = _split(link)
    session_uri = dict(urllib.parse.parse_qsl(parts.query)).get("request_uri", "")
    return session_uri if session_uri.startswith(SESSION_PREFIX) else None


class ReturnListener:
    """An HTTP server on 127.0.0.1 at the return URL's port. A redirect for one of `sessions` goes to `inbox`;
    any other is refused with a page saying whose it is not, and never reaches the inbox: whoever holds the port
    (another wizard, this project's older session) must not answer "Approved" for a session that is not its own,
    nor end its own wait with someone else's approval or denial. `sessions=None`: the link named no session
    (an authorization URL without request_uri), so every redirect with a session_id is taken, as before."""

    def __init__(self, return_url: str, inbox: queue.Queue[str], *, sessions: Collection[str] | None) -> None:
        parts = urllib.parse.urlsplit(check_return_url(return_url))
        self.return_url = return_url
        self.path = parts.path.rstrip("/") or "/"
        self.port = int(parts.port or 0)
        self.inbox = inbox
        self.sessions = frozenset(sessions) if sessions is not None else None
        self._server: ThreadingHTTPServer | None = None

    def waits_for(self, redirect: Redirect) -> bool:
        return self.sessions is None or redirect.session_uri in self.sessions

    def start(self) -> None:
        # Imported here: http.server is only needed while a consent is awaited, not to paint the first screen.
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                parts = urllib.parse.urlsplit(self.path)
                if (parts.path.rstrip("/") or "/") != listener.path:
                    self._page(404, "Not found", "This is agentcore-wizard's return URL listener.")
                    return
                landed = f"http://127.0.0.1:{listener.port}{self.path}"
                try:
                    redirect = parse_redirect(landed)
                except WizardError as error:
                    self._page(400, "Nothing to complete", f"{error.message} {error.fix}")
                    return
                if not listener.waits_for(redirect):
                    # 409: a real approval (or denial), only not for the session that waits on this port.
                    self._page(409, "Not the session waiting here", foreign_session_text(listener.port))
                    return
                listener.inbox.put(landed)
                if redirect.denied:
                    self._page(200, "Access denied", "You denied access. Go back to the terminal to start again.")
                else:
                    self._page(
                        200,
                        "Approved: you can close this tab",
                        "agentcore-wizard received your approval, completes the session and asks the agent "
                        "again. Go back to the terminal.",
                    )

            def _page(self, status: int, title: str, text: str) -> None:
                body = _DONE_PAGE.format(title=html.escape(title), text=html.escape(text)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return  # the query holds the session id; nothing goes to stderr

        try:
            self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        except OSError as exc:
            raise WizardError(
                f"Cannot listen on 127.0.0.1:{self.port} for the return URL: {exc.strerror or exc}.",
                fix="Another program (or another wizard) uses the port. Paste the URL the browser ends on instead, "
                "or free the port and run the stage again.",
                code="return_port_busy",
            ) from exc
        self._server.daemon_threads = True
        # Polled often so stopping (once the browser came back) never keeps the stage waiting.
        serve = functools.partial(self._server.serve_forever, poll_interval=0.05)
        threading.Thread(target=serve, name="return-url-listener", daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def can_open_browser() -> bool:
    """False over SSH and on Linux without a display: the user opens the link on their own machine."""
    if os.environ.get("SSH_CONNECTION") or os.environ.get("SSH_TTY"):
        return False
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def open_browser(url: str) -> bool:
    import webbrowser

    try:
        return bool(webbrowser.open(url, new=2))
    except webbrowser.Error:
        return False


# --- the sandbox's consent pages, signed in over HTTP (CI and --auto-consent) ----------------------


def _post_form(host: str, port: int, path: str, form: dict[str, str]) -> tuple[http.client.HTTPResponse, str]:
    """The response and the page's title (what a person would read there)."""
    connection = http.client.HTTPConnection(host, port, timeout=30)
    connection.request(
        "POST", path, body=urllib.parse.urlencode(form), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    response = connection.getresponse()
    page = response.read().decode("utf-8", errors="replace")
    connection.close()
    title = page.split("<title>", 1)[-1].split("</title>", 1)[0] if "<title>" in page else ""
    return response, html.unescape(title)


def sandbox_consent(authorization_url: str, username: str, password: str, approve: bool = True) -> str:
    """Sign in and approve on the sandbox's consent pages; returns the URL the browser would land on.

    Only ever talks to this machine: the sandbox's authorization URLs are on 127.0.0.1.
    """
    parts, port_given = _split(authorization_url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK:
        raise UsageError(
            "Automatic consent works only with the sandbox's consent pages on this machine.",
            fix="Against AWS, open the link and approve in the browser yourself.",
        )
    request_uri = dict(urllib.parse.parse_qsl(parts.query)).get("request_uri", "")
    host, port = "127.0.0.1", int(port_given or 80)
    login, title = _post_form(
        host,
        port,
        "/identities/oauth2/login",
        {"request_uri": request_uri, "username": username, "password": password},
    )
    if login.status != 200:
        raise WizardError(
            f"The sandbox's sign-in page refused the identity pool's test user ({login.status} {title}).",
            fix=render_stage_refs("Run {cognito} again to reset the test user, then this stage."),
        )
    decision, title = _post_form(
        host,
        port,
        "/identities/oauth2/consent",
        {"request_uri": request_uri, "decision": "approve" if approve else "deny"},
    )
    location = decision.getheader("Location", "")
    if decision.status != 302 or not location:
        raise WizardError(
            f"The sandbox's consent page did not redirect ({decision.status} {title}).",
            fix="Run the stage again for a fresh session.",
        )
    return location


def follow_to_listener(location: str) -> bool:
    """What the browser does next: GET the return URL on this machine. False if nothing listens there."""
    parts, port = _split(location)
    if parts.hostname not in LOOPBACK:
        return False
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port or 80, timeout=10)
        connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        ok = connection.getresponse().status == 200
        connection.close()
        return ok
    except OSError:
        return False
