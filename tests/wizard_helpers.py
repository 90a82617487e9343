"""Plain helpers the wizard's tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

BEFORE_DEPLOY = ("preflight", "cognito", "env", "agent", "configure", "provider", "workload")
# The account quotas of a sandbox a whole test session shares (by Service Quotas code): far above what a run makes.
SHARED_SANDBOX_LIMITS = {"L-431051DC": 100_000, "L-B04D9A86": 100_000, "L-F4575653": 100_000}


def make_wheel(wheelhouse: Path, name: str = "tinydep", version: str = "1.0") -> Path:
    """A stand-in wheel: installs offline, holds one module."""
    wheelhouse.mkdir(parents=True, exist_ok=True)
    path = wheelhouse / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(f"{name}.py", f"VALUE = {version!r}\n")
        wheel.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        wheel.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        wheel.writestr(f"{info}/RECORD", f"{name}.py,,\n{info}/METADATA,,\n{info}/WHEEL,,\n{info}/RECORD,,\n")
    return path


def stand_in_wheelhouse(folder: Path) -> Path:
    """The quickstart's requirements as stand-in wheels: a deploy that installs nothing from the network."""
    for name, version in (("bedrock_agentcore", "1.0.0"), ("strands_agents", "1.0.0"), ("boto3", "1.40.0")):
        make_wheel(folder, name, version)
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def client(service: str, endpoint: str) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="sandbox",
        aws_secret_access_key="sandbox",
    )


def unique_names(wheelhouse: Path | None = None) -> dict[str, Any]:
    """The test session's sandbox is shared: provider, workload and runtime names are unique per account."""
    suffix = uuid.uuid4().hex[:8]
    names: dict[str, Any] = {
        "provider_name": f"Provider-{suffix}",
        "workload_name": f"workload-{suffix}",
        "agent_name": f"agent_{suffix}",
    }
    if wheelhouse is not None:
        names["wheelhouse"] = wheelhouse
    return names


def make_unique(session: Any, wheelhouse: Path) -> Any:
    """The same session reopened with names of its own (as a person would run again with these flags)."""
    return reopen(session, **unique_names(wheelhouse))


class RecordingPort:
    """A front end for tests: keeps every event, and answers questions as a headless run would (each takes
    its default; one that needs a yes gets it only with assume_yes), unless `decide` answers instead."""

    def __init__(self, assume_yes: bool = False) -> None:
        self.events: list[Any] = []
        self.questions: list[Any] = []
        self.assume_yes = assume_yes
        self.decide: Callable[[Any], Any] | None = None

    def emit(self, event: Any) -> None:
        self.events.append(event)

    def ask(self, question: Any, answer: Callable[[Any], None]) -> None:
        from wizard.events import Confirm
        from wizard.session import NOBODY

        self.questions.append(question)
        if self.decide is not None:
            answer(self.decide(question))
        elif isinstance(question, Confirm) and question.needs_yes:
            answer(True if self.assume_yes else NOBODY)
        elif isinstance(question, Confirm):
            answer(question.default)
        else:
            answer(NOBODY)


def answer_confirms(session: Any, value: bool, asked: list[str] | None = None) -> None:
    """Every yes/no from now on gets this answer; the questions (text and detail) are kept in `asked`."""

    def decide(question: Any) -> Any:
        if asked is not None:
            asked.append(f"{question.text}\n\n{question.detail}".strip())
        return value

    session.port.decide = decide


def open_session(options: Any, port: RecordingPort | None = None) -> Any:
    from wizard.session import Session

    port = port or RecordingPort()
    session = Session(options, port)
    session.events = port.events  # type: ignore[attr-defined]
    _OPENED.append(session)
    return session.open()


def reopen(session: Any, **changes: Any) -> Any:
    """Close the session and open the folder again with other options, keeping the same recording port."""
    session.close()
    return open_session(dataclasses.replace(session.options, **changes), session.port)


def close_all() -> None:
    while _OPENED:
        _OPENED.pop().close()


_OPENED: list[Any] = []


def cli_env() -> dict[str, str]:
    """The test's environment without any AWS setting, so a CLI under test cannot reach a real account."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true")
    return env


def run_cli(folder: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m wizard ARGS` in the folder, as a user would run it (no AWS settings, nothing on stdin)."""
    return subprocess.run(
        [sys.executable, "-m", "wizard", *args],
        cwd=folder,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def stop_folder_sandbox(folder: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "wizard", "sandbox", "stop", "--dir", str(folder)],
        env=cli_env(),
        capture_output=True,
        timeout=60,
    )


# --- real wheels for the sandbox to run an agent with, offline ---------------------------------------

AGENT_REQUIREMENTS = ("bedrock-agentcore", "strands-agents", "boto3")


def _closure(names: tuple[str, ...]) -> list[Any]:
    """The installed distributions the names need, by their unconditional requirements (no extras)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    seen: dict[str, Any] = {}
    done: set[tuple[str, str]] = set()
    todo = [(name, "") for name in names]  # (requirement, the extra of the one that asked for it)
    while todo:
        text, asked_extra = todo.pop()
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": asked_extra}):
            continue
        key = re.sub(r"[-_.]+", "-", requirement.name).lower()
        wanted = [extra for extra in ("", *requirement.extras) if (key, extra) not in done]
        if not wanted:
            continue
        dist = seen.setdefault(key, metadata.distribution(requirement.name))
        for extra in wanted:
            done.add((key, extra))
            todo.extend((dependency, extra) for dependency in dist.requires or [])
    return sorted(seen.values(), key=lambda dist: dist.metadata["Name"].lower())


def _repack(dist: Any, into: Path) -> Path:
    """An installed distribution back into a wheel: its RECORD's files inside site-packages."""
    import base64
    import hashlib

    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"])
    wheel_text = dist.read_text("WHEEL") or ""
    tags = [line.split(":", 1)[1].strip() for line in wheel_text.splitlines() if line.startswith("Tag:")]
    # Several tags (py2-none-any, py3-none-any) compress into one (py2.py3-none-any), as wheel names do.
    parts = (
        [sorted({tag.split("-")[index] for tag in tags}) for index in range(3)]
        if tags
        else [["py3"], ["none"], ["any"]]
    )
    path = into / f"{name}-{dist.version}-{'-'.join('.'.join(part) for part in parts)}.whl"
    root = Path(dist.locate_file(""))
    record_lines = []
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as wheel:
        record_name = ""
        for file in dist.files or []:
            relative = file.as_posix()
            if relative.startswith("..") or "__pycache__" in relative or relative.endswith(".pyc"):
                continue
            if relative.endswith(".dist-info/RECORD"):
                record_name = relative
                continue
            if relative.rsplit("/", 1)[-1] in ("INSTALLER", "REQUESTED", "direct_url.json"):
                continue
            data = (root / relative).read_bytes()
            wheel.writestr(relative, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record_lines.append(f"{relative},sha256={digest},{len(data)}")
        record_lines.append(f"{record_name},,")
        wheel.writestr(record_name, "\n".join(record_lines) + "\n")
    return path


def agent_wheelhouse(into: Path) -> Path:
    """Wheels of the quickstart agent's requirements for this machine, made from this test environment's own
    installed packages (so the sandbox can build the agent's environment with no index), kept by version."""
    dists = _closure(AGENT_REQUIREMENTS)
    key = hashlib.sha256(repr([(d.metadata["Name"], d.version) for d in dists]).encode()).hexdigest()[:12]
    folder = into / f"agent-wheelhouse-{key}"
    if (folder / ".complete").exists():
        return folder
    building = into / f"{folder.name}.building-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    building.mkdir(parents=True)
    for dist in dists:
        _repack(dist, building)
    (building / ".complete").write_text("\n".join(sorted(p.name for p in building.iterdir())))
    try:
        os.replace(building, folder)
    except OSError:
        shutil.rmtree(building, ignore_errors=True)  # another worker published it first
    return folder


# --- a real browser ----------------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def headless_chromium(window: str = "1400,900") -> Any:
    """Debian's Chromium, headless, driven by selenium through its own chromedriver (never selenium's manager,
    which would look for one on the internet). It reaches nothing but this machine: no background networking,
    no component updates, and every host name but 127.0.0.1 and localhost resolves to nothing (a page's web font
    included). Skips the test where there is no Chromium (apt install chromium chromium-driver) or no selenium."""
    import pytest

    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip(f"no headless Chromium here ({CHROMIUM}, {CHROMEDRIVER})")
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (the test extras)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--window-size={window}",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
