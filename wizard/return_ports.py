"""A return-URL port for each project, so that two wizards on one machine never listen for each other's browser.

A project run without --return-url, and with none recorded, gets a port of its own: the first in PORTS that no
other project claims and nothing listens on right now. The claims are one folder for the whole machine, one file
per port (created with O_EXCL), each holding the project folder's path. A claim is given up only when its project
folder is gone, or its state records another return URL: a project keeps its port across runs, cleanups and
restarts, before its state records it (stage 6) as after.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from wizard.errors import WizardError
from wizard.state import machine_state_dir

REGISTRY_ENV = "AGENTCORE_WIZARD_RETURN_PORTS"  # the claims' folder (tests give each run its own)
RETURN_PATH = "/oauth2/callback"
TOOLKIT_RETURN_URL = "http://localhost:8081/oauth2/callback"  # the toolkit's, and what earlier versions recorded
# Beside the toolkit's 8081, so the URL looks familiar, and never on it: `agentcore invoke` starts the toolkit's
# own OAuth2 callback server on 8081, and projects of earlier wizard versions recorded 8081 without a claim, so
# "free right now" says nothing about the next time one of them waits for its browser there.
# Below the ephemeral range (32768+ on Linux): an outgoing connection never takes a chosen port away.
PORTS = range(8082, 9000)
_LOCK_NAME = ".lock"


def registry_dir() -> Path:
    """$AGENTCORE_WIZARD_RETURN_PORTS, else $XDG_STATE_HOME/agentcore-wizard/return-ports (~/.local/state/…)."""
    chosen = os.environ.get(REGISTRY_ENV)
    if chosen:
        return Path(chosen).expanduser()
    return machine_state_dir() / "return-ports"


def return_url(port: int) -> str:
    return f"http://localhost:{port}{RETURN_PATH}"


def port_of(url: object) -> int | None:
    """The port of a return URL; None for anything else."""
    from wizard.consent import RETURN_URL

    match = RETURN_URL.fullmatch(url) if isinstance(url, str) else None
    return int(match.group("port")) if match else None


def in_use(port: int) -> bool:
    """Something listens on 127.0.0.1:port now (or the port cannot be had at all)."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _owner(project: Path) -> str:
    return str(project.expanduser().resolve())


def _holder(claim: Path) -> str | None:
    try:
        return claim.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        return "?"  # unreadable: kept, it may be someone's


def _recorded_port(project: Path) -> int | None:
    """The return URL's port the project's state records; None when it records none (or cannot be read)."""
    from wizard.state import STATE_NAME, wizard_dir

    try:
        data = json.loads((wizard_dir(project) / STATE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    settings = data.get("settings")
    if not isinstance(settings, dict):
        settings = {}
    return port_of(settings.get("return_url", data.get("return_url")))  # earlier versions kept it at the top


def abandoned(holder: str, port: int) -> bool:
    """A claim nobody will listen on: its project folder is gone, or the project records another return URL.
    A project that records none yet (before stage 6, or after a cleanup) keeps its claim."""
    if holder in ("", "?"):
        return holder == ""  # an empty file is a claim that died while it was being written
    project = Path(holder)
    if not project.is_dir():
        return True
    recorded = _recorded_port(project)
    return recorded is not None and recorded != port


def claims(folder: Path | None = None) -> dict[int, str]:
    """Every claim on the machine: port -> project path."""
    folder = folder or registry_dir()
    found: dict[int, str] = {}
    try:
        entries = list(folder.iterdir())
    except OSError:
        return found
    for entry in entries:
        if entry.name.isdigit():
            holder = _holder(entry)
            if holder is not None:
                found[int(entry.name)] = holder
    return found


def claimed_by(port: int) -> str | None:
    """The project that claims the port, if one does."""
    return claims().get(port)


def claim(project: Path, ports: Iterable[int] = PORTS) -> int:
    """This project's port: the one it claims already, else the first free one, claimed for it now."""
    folder = registry_dir()
    owner = _owner(project)
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _locked(folder):
            held = sorted(port for port, holder in claims(folder).items() if holder == owner)
            if held:
                return held[0]
            for port in ports:
                if _take(folder / str(port), owner, port):
                    return port
    except OSError as exc:
        raise WizardError(
            f"Cannot keep the machine's list of return-URL ports in {folder}: {exc.strerror or exc}.",
            fix=f"Make that folder writable by you, or set {REGISTRY_ENV} to one that is, or pass "
            "--return-url http://localhost:PORT/oauth2/callback with a port no other wizard uses.",
            code="return_ports_unwritable",
        ) from None
    raise WizardError(
        f"Every return-URL port from {PORTS.start} to {PORTS.stop - 1} is in use or claimed by another project "
        f"(the claims are in {folder}).",
        fix="Delete project folders you no longer need (their claims are then given back), or pass "
        "--return-url http://localhost:PORT/oauth2/callback with a port no other wizard uses.",
        code="no_return_port",
    )


def _take(path: Path, owner: str, port: int) -> bool:
    holder = _holder(path)
    if holder is not None:
        if not abandoned(holder, port):
            return False
        path.unlink(missing_ok=True)  # under the registry's lock: no one else judges this claim meanwhile
    if in_use(port):
        return False
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # a wizard that does not take the lock (an earlier build, a hand edit) was first
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(owner + "\n")
    return True


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One chooser at a time on this machine: judging a claim abandoned and replacing it must not interleave
    with another chooser doing the same (both would think the port theirs). Held for milliseconds."""
    fd = os.open(folder / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_LOCK, 1)  # retries for 10 s, then OSError
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing lets go of the lock
