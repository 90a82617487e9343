"""`agentcore-wizard serve`: the wizard in browser tabs, each tab its own wizard process (textual-serve).

The core checks the flags and says what each tab runs; the front end (screens/serve.py, found through the
`serve` entry point) runs the web server, since textual-serve imports Rich and Textual. A tab's options travel
to its process in an environment variable, never on its command line: a workshop URL carries the room's join
code, and a process's arguments are readable by every user of the machine."""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wizard.errors import UsageError, WizardError
from wizard.settings import ENDPOINT_PATTERN

TAB_ENV = "AGENTCORE_WIZARD_TAB"  # a served tab's options, as JSON (set by `serve` for the processes it starts)
WILDCARD = ("0.0.0.0", "::", "")  # every address of the machine: no URL a browser can open
# The flags of `serve` itself; every other one (--sandbox, --region, ...) is passed to each tab.
SERVE_ONLY = ("command", "host", "port", "root", "public_url", "served_tab")
# Names the room would share: with them every participant's wizard would make (and fight over) one resource.
ONE_PER_ROOM = ("agent_name", "provider_name", "workload_name", "session_id")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Tab:
    """What one browser tab runs: the wizard's command-line options (as parsed), and in a workshop the folder
    under which each participant gets a project of their own (the tab asks for the name first)."""

    arguments: dict[str, Any]
    join_root: Path | None = None

    def to_environment(self) -> dict[str, str]:
        root = None if self.join_root is None else str(self.join_root)
        return {TAB_ENV: json.dumps({"arguments": self.arguments, "join_root": root})}


@dataclass(frozen=True)
class ServePlan:
    host: str
    port: int
    public_url: str  # where browsers reach the server (its page tells them where the websocket is)
    root: Path
    tab: Tab

    @property
    def url(self) -> str:
        return f"{self.public_url}/"

    @property
    def workshop(self) -> bool:
        return self.tab.join_root is not None


def plan(arguments: Mapping[str, Any]) -> ServePlan:
    """`serve`'s flags, checked: a bad one stops the server before it starts, not every tab after."""
    host = _check_host(arguments.get("host", "127.0.0.1"))
    port = _check_port(arguments.get("port", 0))
    public_url = arguments.get("public_url")
    if public_url is not None:
        public_url = _check_public_url(public_url)
    elif host in WILDCARD:
        raise UsageError(
            f"--host {host or '(empty)'} listens on every address of this machine, and the page cannot tell a "
            "browser which one to come back to.",
            fix="Add --public-url with the address the attendees' browsers use, e.g. --public-url "
            "http://192.168.1.20:8000 (and --port 8000).",
        )
    root = _root(arguments)
    workshop = arguments.get("workshop") is not None
    if workshop:
        _check_workshop(arguments)
    if port == 0:
        port = free_port(host)
    tab_arguments = {key: value for key, value in arguments.items() if key not in SERVE_ONLY}
    tab_arguments["dir"] = str(root)
    tab = Tab(tab_arguments, join_root=root if workshop else None)
    return ServePlan(host, port, public_url or _url_of(host, port), root, tab)


def tab_from_environment(environ: Mapping[str, str] | None = None) -> Tab:
    """The options `serve` gave this tab's process."""
    raw = (os.environ if environ is None else environ).get(TAB_ENV)
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        data = {}
    arguments = data.get("arguments") if isinstance(data, dict) else None
    if not isinstance(arguments, dict):
        raise UsageError(
            f"This is the process of one browser tab of `agentcore-wizard serve`, and {TAB_ENV} does not hold "
            "its options.",
            fix="Start it through the server: agentcore-wizard serve (then open the URL it prints).",
        )
    root = data.get("join_root")
    return Tab(arguments, join_root=Path(root) if root else None)


def free_port(host: str) -> int:
    """A port free on the host now. textual-serve needs the number before it starts: its page names the URL of
    the websocket, so "any free port" cannot be left to the server to pick."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _url_of(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _check_host(host: Any) -> str:
    if not isinstance(host, str) or _CONTROL.search(host) or host != host.strip() or "/" in host:
        raise UsageError(
            f"--host {host!r} is not an address to listen on.",
            fix="Leave --host out (127.0.0.1: this machine only), or pass an address of this machine, e.g. "
            "--host 0.0.0.0 with --public-url for a room.",
        )
    return host


def _check_port(port: Any) -> int:
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise UsageError(f"--port {port} is not a TCP port.", fix="Pass 1-65535, or leave --port out for a free one.")
    return port


def _check_public_url(url: str) -> str:
    match = ENDPOINT_PATTERN.fullmatch(url) if isinstance(url, str) else None
    port = match.group("port") if match else None
    if match is None or (port is not None and not 0 < int(port) < 65536):
        raise UsageError(
            f"--public-url {url!r} is not an http(s) URL.",
            fix="Pass the address the browsers open, e.g. http://192.168.1.20:8000 or https://wizard.example.org "
            "(no user, query or fragment).",
        )
    return url.rstrip("/")  # textual-serve appends "/ws" and "/static/..." to it


def _root(arguments: Mapping[str, Any]) -> Path:
    root, folder = arguments.get("root"), arguments.get("dir")
    for flag, value in (("--root", root), ("--dir", folder)):
        if value is not None and (not value or _CONTROL.search(value)):
            raise UsageError(
                f"{flag} {value!r} is empty or has a control character (a newline?) in it.",
                fix=f"Pass a folder, e.g. {flag} ~/agentcore-workshop.",
            )
    if root is not None and folder is not None and Path(root).expanduser().resolve() != _resolved(folder):
        raise UsageError(
            f"--root {root} and --dir {folder} name two folders for one server.",
            fix="Pass one of them: the folder the tabs work in (in a workshop, the one holding a folder per "
            "participant).",
        )
    path = _resolved(root if root is not None else folder if folder is not None else ".")
    if path.exists() and not path.is_dir():
        raise UsageError(f"{path} is a file, not a folder.", fix="Pass a folder with --root.")
    return path


def _resolved(value: str) -> Path:
    return Path(value).expanduser().resolve()


def _check_workshop(arguments: Mapping[str, Any]) -> None:
    if arguments.get("participant") is not None:
        raise UsageError(
            "--participant names one person, and in a workshop each browser tab asks for its own.",
            fix="Drop --participant: every attendee types their name in their tab.",
        )
    shared = [name for name in ONE_PER_ROOM if arguments.get(name) is not None]
    if shared:
        flags = ", ".join("--" + name.replace("_", "-") for name in shared)
        raise UsageError(
            f"{flags} would give every participant the same name, and the room would fight over one resource.",
            fix=f"Drop {flags}: each participant's names are made from their own name.",
        )
    from wizard.workshop.link import parse_link

    try:
        parse_link(arguments["workshop"])
    except WizardError as error:
        raise UsageError(f"--workshop: {error.message}", fix=error.fix) from None
