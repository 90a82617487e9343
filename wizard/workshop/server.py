"""The facilitator's server (`agentcore-wizard workshop serve`): the room's dashboard and reporting API under
/workshop/, in front of the shared sandbox (wizard/sandbox/server.py's app, unchanged behind it) or alone with
--no-sandbox. A request under /workshop/ is answered here and never reaches moto."""

from __future__ import annotations

import errno
import hmac
import json
import logging
import os
import shlex
import socket
import sys
import urllib.parse
from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from wizard import __version__
from wizard.errors import WizardError
from wizard.workshop.link import DASHBOARD_PATH, JOIN_PATH, PREFIX, REPORT_PATH, STATUS_PATH, WorkshopLink
from wizard.workshop.room import Loaded, ReportRefused, Room, RoomStore, load_room, parse_report

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
LONG_POLL = 10.0  # seconds a dashboard's request waits for a change before it is answered anyway
MAX_REPORT_BYTES = 64 * 1024  # a report is a few hundred bytes; anything this big is not one
REASONS = {
    200: "OK",
    302: "Found",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    429: "Too Many Requests",
}
# The page loads nothing from anywhere: its script and style are inline, and it talks only to this server.
PAGE_HEADERS = [
    ("Content-Type", "text/html; charset=utf-8"),
    ("Cache-Control", "no-store"),
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
        "img-src data:; base-uri 'none'; form-action 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),  # the page's URL carries the join code
]
WRONG_CODE = {
    "message": "The join code is missing or wrong.",
    "fix": "Use the whole URL `agentcore-wizard workshop serve` printed, ?code=… included.",
}


def dashboard_page() -> bytes:
    return resources.files("wizard.workshop").joinpath("dashboard.html").read_bytes()


def workshop_app(room: Room, inner: WSGIApp | None, note: Callable[[str], None] = lambda line: None) -> WSGIApp:
    """The /workshop/ routes in front of `inner` (the sandbox; None with --no-sandbox). `note` hears what the
    facilitator's terminal shows: a participant joining, a stage failing."""
    page = dashboard_page()

    def answer(
        start_response: Callable[..., Any], status: int, data: Any, headers: list[tuple[str, str]] | None = None
    ) -> Iterable[bytes]:
        body = data if isinstance(data, bytes) else json.dumps(data).encode()
        headers = headers or [("Content-Type", "application/json"), ("Cache-Control", "no-store")]
        start_response(f"{status} {REASONS.get(status, 'Status')}", [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def right_code(given: Any) -> bool:
        return isinstance(given, str) and hmac.compare_digest(given.encode(), room.code.encode())

    def report(environ: dict[str, Any]) -> tuple[int, Any]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= MAX_REPORT_BYTES:
            return 413 if length > MAX_REPORT_BYTES else 400, {"message": "A report is a JSON body of up to 64 KiB."}
        try:
            data = json.loads(environ["wsgi.input"].read(length))
        except ValueError:
            return 400, {"message": "A report is a JSON object."}
        if not isinstance(data, dict) or not right_code(data.get("code")):
            return 403, WRONG_CODE
        try:
            parsed = parse_report(data)
            known = parsed.participant in room.participants
            room.merge(parsed)
        except ReportRefused as refused:
            return refused.status, {"message": refused.message, "fix": refused.fix}
        if not known:
            note(f"{parsed.participant} joined")
        for key, update in parsed.stages.items():
            if update.status == "failed" and update.error:
                note(f"{parsed.participant}: {key} failed: {update.error.get('message', '')}")
        return 200, {"ok": True}

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            if inner is not None:
                return inner(environ, start_response)
            return answer(
                start_response,
                404,
                {
                    "message": "This workshop serves no sandbox (--no-sandbox): attendees use their own AWS accounts.",
                    "fix": f"Open {DASHBOARD_PATH}?code=… for the dashboard.",
                },
            )
        method = environ["REQUEST_METHOD"]
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        code = (query.get("code") or [None])[0]
        if path == PREFIX:
            location = DASHBOARD_PATH + (f"?{environ['QUERY_STRING']}" if environ.get("QUERY_STRING") else "")
            return answer(start_response, 302, b"", [("Location", location)])
        routes = {DASHBOARD_PATH: "GET", JOIN_PATH: "GET", STATUS_PATH: "GET", REPORT_PATH: "POST"}
        if path not in routes:
            return answer(start_response, 404, {"message": f"No workshop route {path}."})
        if method != routes[path] and not (method == "HEAD" and routes[path] == "GET"):
            return answer(start_response, 405, {"message": f"{path} takes {routes[path]}."})
        if path == DASHBOARD_PATH:
            # The page itself holds nothing of the room; it asks the status API with the code in its own URL.
            return answer(start_response, 200, page, PAGE_HEADERS)
        if path == REPORT_PATH:
            status, data = report(environ)
            return answer(start_response, status, data)
        if not right_code(code):
            return answer(start_response, 403, WRONG_CODE)
        if path == JOIN_PATH:
            return answer(start_response, 200, {"name": room.name, "sandbox": room.sandbox, "version": __version__})
        seen = (query.get("after") or [""])[0]
        if seen.isdigit():
            # The dashboard's long poll: answered the moment a report changes the room (so a new stage shows in
            # milliseconds, not after the next poll), else after LONG_POLL seconds with the same view.
            room.wait_for_change(int(seen), LONG_POLL)
        return answer(start_response, 200, room.view())

    return app


def make_workshop_server(
    host: str,
    port: int,
    room: Room,
    ready_delay: float,
    note: Callable[[str], None] = lambda line: None,
) -> Any:
    """A bound, not yet serving, threaded server: the room's routes, and behind them the sandbox when the room
    runs one."""
    if room.sandbox:
        from wizard.sandbox.server import make_sandbox_server

        return make_sandbox_server(host, port, ready_delay, in_front=lambda sandbox: workshop_app(room, sandbox, note))
    from werkzeug.serving import make_server

    return make_server(host, port, workshop_app(room, None, note), threaded=True)


def public_base(server: Any) -> str:
    """The address attendees reach: a server bound to every interface is named by this machine's host name."""
    host, port = server.server_address[:2]
    host = str(host)
    if host in ("0.0.0.0", "::"):
        host = socket.gethostname()
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def _bind(host: str, port: int | None, loaded: Loaded, ready_delay: float, note: Callable[[str], None]) -> Any:
    """--port, else the port this room used last (its URL stays valid), else any free one."""
    room = loaded.room
    wanted = port if port is not None else (room.port or 0)
    try:
        return make_workshop_server(host, wanted, room, ready_delay, note)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        if port is not None and port != 0:
            raise WizardError(
                f"Port {port} on {host} is taken.",
                fix="Stop what listens there, or pass another --port (0: any free one).",
                code="port_taken",
            ) from None
        print(
            f"warning: port {wanted}, which this room used last, is taken; serving on another (the attendees' "
            "URL changes: give them the new line).",
            file=sys.stderr,
        )
        return make_workshop_server(host, 0, room, ready_delay, note)


def serve_workshop(
    host: str,
    port: int | None,
    state_file: Path,
    name: str | None = None,
    sandbox: bool = True,
    ready_file: Path | None = None,
    ready_delay: float = 2.0,
) -> None:
    from wizard.state import atomic_write

    loaded = load_room(state_file, name, sandbox)
    if loaded.problem:
        print(f"warning: {loaded.problem}", file=sys.stderr)
    room = loaded.room

    def note(line: str) -> None:
        print(f"  {line}", flush=True)

    server = _bind(host, port, loaded, ready_delay, note)
    room.port = int(server.server_address[1])
    store = RoomStore(room, state_file).start()
    link = WorkshopLink(public_base(server), room.code)
    if ready_file is not None:
        ready = {"endpoint": link.base, "url": link.url, "code": room.code, "sandbox": sandbox, "pid": os.getpid()}
        atomic_write(ready_file, json.dumps({**ready, "state_file": str(state_file)}) + "\n")
    # A room of 30 polling every second would fill the terminal with request lines: only what matters is said.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    where = "with its sandbox (nothing here reaches AWS)" if sandbox else "without a sandbox (attendees use AWS)"
    print(f"Workshop {room.name!r} on {link.base}, {where}.", flush=True)
    kept = len(room.participants)
    print(
        f"Room kept in {state_file}"
        + (f" (restored: {kept} participant{'s' if kept != 1 else ''}, same join code)" if loaded.restored else "")
        + (". The sandbox starts empty on every start." if sandbox and loaded.restored else "."),
        flush=True,
    )
    print(f"Dashboard: {link.url}", flush=True)
    print("Attendees run this, with their own name (lowercase letters and digits) for NAME:", flush=True)
    print("", flush=True)
    print(f"agentcore-wizard --workshop {shlex.quote(link.url)} --participant NAME", flush=True)
    print("", flush=True)
    # Imported here, as the sandbox's own server is only when serving (the CLI's start-up stays light).
    from wizard.sandbox.server import serve_until_stopped

    serve_until_stopped(server, ready_file, on_close=store.close)
