"""`agentcore-wizard serve`: the wizard in browser tabs (textual-serve), one wizard process per tab.

The flags are checked in-process; the server runs as a real subprocess on a free port of 127.0.0.1, against the
session's sandbox, and is spoken to as textual-serve's page speaks to it (GET /, then a websocket to /ws whose
binary messages are the tab's terminal output and whose ["stdin", keys] messages are its keyboard). One test
drives a real headless Chromium, and skips where there is none (CI)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from wizard_helpers import cli_env, free_port, headless_chromium

from wizard import served
from wizard.cli import EXIT_USAGE, dispatch
from wizard.errors import UsageError

pytestmark = pytest.mark.cli

JOIN_CODE = "joincode7f3a"  # in the workshop URL: must reach the tabs, never on a command line
STARTUP_TIMEOUT = 60.0
SCREEN_TIMEOUT = 60.0


# --- the flags --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--port", "70000"], "--port 70000 is not a TCP port"),
        (["--host", "0.0.0.0"], "--public-url"),
        (["--public-url", "ftp://example.org"], "--public-url 'ftp://example.org' is not an http(s) URL"),
        (["--root", "a", "--dir", "b"], "two folders"),
        (["--workshop", "http://127.0.0.1:9/w/?code=x", "--participant", "alice"], "each browser tab asks"),
        (["--workshop", "http://127.0.0.1:9/w/?code=x", "--agent-name", "shared"], "--agent-name would give"),
        (["--workshop", "not a url"], "--workshop: Workshop URL 'not a url' is not an http(s) URL"),
        (["--region", "moon"], "'moon' is not an AWS region name"),
    ],
)
def test_serve_refuses_a_bad_flag_before_it_starts(
    flags: list[str], said: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert dispatch(["serve", *flags]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert said in err
    assert "fix:" in err


def test_the_plan_passes_every_other_flag_to_the_tabs(tmp_path: Path) -> None:
    from wizard.cli import build_parser

    args = build_parser().parse_args(
        ["serve", "--sandbox", "--region", "eu-west-1", "--root", str(tmp_path), "--public-url", "https://w.example/"]
    )
    plan = served.plan(vars(args))
    assert plan.host == "127.0.0.1"
    assert 0 < plan.port < 65536  # a free one, chosen now: the page must name the websocket's URL
    assert plan.url == "https://w.example/"  # textual-serve appends /ws to it: no double slash
    assert plan.tab.arguments == {"sandbox": True, "region": "eu-west-1", "dir": str(tmp_path)}
    assert plan.tab.join_root is None
    assert served.tab_from_environment(plan.tab.to_environment()) == plan.tab


def test_a_workshop_plan_gives_each_tab_the_root_to_join_under(tmp_path: Path) -> None:
    from wizard.cli import build_parser

    url = f"http://127.0.0.1:9/workshop/?code={JOIN_CODE}"
    args = build_parser().parse_args(["serve", "--workshop", url, "--dir", str(tmp_path), "--port", "8123"])
    plan = served.plan(vars(args))
    assert (plan.port, plan.url) == (8123, "http://127.0.0.1:8123/")
    assert plan.workshop and plan.tab.join_root == tmp_path
    assert plan.tab.arguments["workshop"] == url  # to the tab's process, in its environment only
    assert served.tab_from_environment(plan.tab.to_environment()) == plan.tab


def test_a_tab_started_by_hand_says_how_to_start_one() -> None:
    with pytest.raises(UsageError) as caught:
        served.tab_from_environment({})
    assert "agentcore-wizard serve" in caught.value.fix


def test_the_served_command_line_carries_no_option() -> None:
    from screens.serve import TAB_COMMAND

    assert TAB_COMMAND.split()[-2:] == ["-m", "screens.tab"]


# --- a real server, spoken to as its page does ------------------------------------------------

_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def screen_text(raw: bytes) -> str:
    """What a tab's terminal output says, its escape sequences (colours, cursor moves) taken out."""
    return _ESCAPES.sub("", raw.decode("utf-8", "replace"))


class Server:
    def __init__(self, process: subprocess.Popen[str], url: str, output: list[str]) -> None:
        self.process = process
        self.url = url
        self.output = output


def start_server(folder: Path, *flags: str) -> Server:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "wizard", "serve", "--port", str(port), *flags],
        cwd=folder,
        env={**cli_env(), "PYTHONUNBUFFERED": "1"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its tabs' processes are stopped with it, as a group
    )
    output: list[str] = []
    assert process.stdout is not None
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        output.append(line)
        if re.fullmatch(r"https?://\S+/\n", line):
            url = line.strip()
            assert url == f"http://127.0.0.1:{port}/"
            _wait_listening(url, deadline)
            return Server(process, url, output)
    stop_server(process)
    raise AssertionError("serve printed no URL:\n" + "".join(output))


def _wait_listening(url: str, deadline: float) -> None:
    import urllib.request

    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def stop_server(process: subprocess.Popen[str]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=20)


@pytest.fixture
def workshop_room() -> Iterator[str]:
    """A --no-sandbox workshop in this process (its join code is JOIN_CODE): the tabs check the code with it, and
    work in the test's sandbox (sandbox_flags)."""
    from wizard.workshop.room import Room
    from wizard.workshop.server import make_workshop_server

    server = make_workshop_server("127.0.0.1", 0, Room("Serve tests", JOIN_CODE, sandbox=False), ready_delay=0.2)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/workshop/?code={JOIN_CODE}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def sandbox_flags(sandbox_endpoint: str) -> list[str]:
    return [
        "--sandbox-endpoint",
        sandbox_endpoint,
        "--region",
        "us-east-1",
        "--no-browser",
        "--return-url",
        f"http://localhost:{free_port()}/oauth2/callback",
    ]


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    try:
        yield started
    finally:
        for server in started:
            stop_server(server.process)


class Tab:
    """One browser tab's websocket: what its terminal shows so far, and its keyboard."""

    def __init__(self, websocket: Any) -> None:
        self.websocket = websocket
        self.raw = b""

    async def wait_for(self, *texts: str, timeout: float = SCREEN_TIMEOUT) -> str:
        deadline = asyncio.get_running_loop().time() + timeout
        while not all(text in (shown := screen_text(self.raw)) for text in texts):
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"the tab never showed {texts}; it shows:\n{shown[-3000:]}")
            try:
                message = await self.websocket.receive(timeout=left)
            except asyncio.TimeoutError:
                continue
            if isinstance(message.data, bytes):
                self.raw += message.data
            elif message.data is None:
                raise AssertionError(f"the tab closed before showing {texts}; it showed:\n{shown[-3000:]}")
        return shown

    async def type(self, keys: str) -> None:
        self.raw = b""  # from here on, only what the keys brought
        await self.websocket.send_str(json.dumps(["stdin", keys]))


async def open_tab(session: Any, url: str) -> Tab:
    websocket = await session.ws_connect(url.replace("http://", "ws://") + "ws?width=120&height=40")
    return Tab(websocket)


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def command_lines(pids: list[int]) -> list[str]:
    lines = []
    for pid in pids:
        with contextlib.suppress(OSError):
            lines.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
    return lines


def test_a_tab_runs_the_wizard_and_a_second_tab_on_the_folder_is_told_why_not(
    tmp_path: Path, sandbox_flags: list[str], servers: list[Server]
) -> None:
    import aiohttp

    project = tmp_path / "project"
    server = start_server(tmp_path, "--root", str(project), *sandbox_flags)
    servers.append(server)
    assert "each tab runs the wizard in" in "".join(server.output)

    async def scenario() -> None:
        async with aiohttp.ClientSession() as http:
            async with http.get(server.url) as page:
                assert page.status == 200
                html = await page.text()
            # The page tells the browser where its tab's websocket is.
            assert f'data-session-websocket-url="{server.url.replace("http://", "ws://")}ws"' in html
            first = await open_tab(http, server.url)
            await first.wait_for("AgentCore Identity, step by step", "Start at stage")
            # The stage list paints first; the project is opened (its folder locked) right after.
            lock = project / ".agentcore-wizard" / "lock"
            for _ in range(200):
                if lock.exists():
                    break
                await asyncio.sleep(0.05)
            assert lock.exists()
            second = await open_tab(http, server.url)
            shown = await second.wait_for("The wizard cannot start in this tab", "Try again")
            assert "Another agentcore-wizard" in shown
            assert "one wizard at a time" in shown
            await first.websocket.close()  # the first tab's wizard quits and lets the folder go
            await asyncio.sleep(0)
            for _ in range(100):
                await second.type("r")
                try:
                    await second.wait_for("Start at stage", timeout=1)
                    break
                except AssertionError:
                    continue
            else:
                raise AssertionError("Try again never opened the folder after the first tab closed")
            await second.websocket.close()

    asyncio.run(scenario())


def test_a_workshop_tab_asks_for_a_name_and_gets_its_own_folder(
    tmp_path: Path, workshop_room: str, sandbox_flags: list[str], servers: list[Server]
) -> None:
    import aiohttp

    root = tmp_path / "room"
    workshop = workshop_room
    server = start_server(tmp_path, "--root", str(root), "--workshop", workshop, *sandbox_flags)
    servers.append(server)

    async def scenario() -> None:
        async with aiohttp.ClientSession() as http:
            tab = await open_tab(http, server.url)
            await tab.wait_for("Join the workshop", "Your participant name")
            await tab.type("Bob-1\r")
            await tab.wait_for("Participant name 'Bob-1' is not allowed", "1-20 letters and digits")
            await tab.type("\x7f\x7f\r")  # the name is still there: only the "-1" goes
            await tab.wait_for("AgentCore Identity, step by step", "Start at stage")
            # Its process was given the workshop (join code and all) in its environment, not its arguments.
            lines = command_lines(descendants(server.process.pid))
            assert any("screens.tab" in line for line in lines), lines
            assert not any(JOIN_CODE in line for line in lines), lines
            other = await open_tab(http, server.url)
            await other.wait_for("Join the workshop")
            await other.type("bob\r")
            shown = await other.wait_for("bob is already open in another browser tab")
            assert "pick another name" in shown
            await tab.websocket.close()
            await other.websocket.close()

    asyncio.run(scenario())
    state = json.loads((root / "bob" / ".agentcore-wizard" / "state.json").read_text())
    assert state["settings"]["participant"] == "bob"


# --- a real browser ---------------------------------------------------------------------------

RECORD_SCREEN = """
window.__tabOutput = "";
const Native = window.WebSocket;
window.WebSocket = function (...args) {
  const socket = new Native(...args);
  const decoder = new TextDecoder();
  socket.addEventListener("message", (event) => {
    if (event.data instanceof ArrayBuffer) window.__tabOutput += decoder.decode(event.data, {stream: true});
    else if (event.data instanceof Blob) event.data.text().then((text) => { window.__tabOutput += text; });
  });
  return socket;
};
window.WebSocket.prototype = Native.prototype;
Object.assign(window.WebSocket, Native);
// What the tab puts on the browser's clipboard (xterm.js turns the app's OSC 52 into this call).
window.__copied = [];
if (navigator.clipboard) navigator.clipboard.writeText = async (text) => { window.__copied.push(text); };
"""


def _wait_in_browser(browser: Any, *texts: str, timeout: float = SCREEN_TIMEOUT) -> str:
    deadline = time.monotonic() + timeout
    shown = ""
    while time.monotonic() < deadline:
        shown = screen_text(browser.execute_script("return window.__tabOutput || ''").encode())
        if all(text in shown for text in texts):
            return shown
        time.sleep(0.2)
    raise AssertionError(f"the browser never showed {texts}; it shows:\n{shown[-3000:]}")


def test_a_browser_tab_joins_the_workshop_and_runs_stages_0_to_3(
    tmp_path: Path, workshop_room: str, sandbox_flags: list[str], servers: list[Server]
) -> None:
    browser = headless_chromium()
    try:
        root = tmp_path / "room"
        workshop = workshop_room
        server = start_server(tmp_path, "--root", str(root), "--workshop", workshop, *sandbox_flags)
        servers.append(server)
        browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_SCREEN})
        browser.get(server.url)
        _wait_in_browser(browser, "Join the workshop")
        browser.save_screenshot(str(tmp_path / "join.png"))
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        browser.find_element(By.ID, "terminal").click()  # as a person does, to type into the tab
        keyboard = ActionChains(browser)
        keyboard.send_keys("carol" + Keys.ENTER).perform()
        _wait_in_browser(browser, "AgentCore Identity, step by step", "Start at stage")
        time.sleep(1)  # the canvas paints on the next frames: the screenshots are for people to look at
        browser.save_screenshot(str(tmp_path / "welcome.png"))
        state = root / "carol" / ".agentcore-wizard" / "state.json"
        keyboard.send_keys(Keys.ENTER).perform()  # to stage 0
        for key in ("preflight", "cognito", "env", "agent"):  # stages 0-3, run with the keys the footer shows
            keyboard.send_keys("r").perform()
            _wait_for_status(state, key, "done")
            if key != "agent":
                keyboard.send_keys("n").perform()
        # Copy goes to the attendee's browser, not to the server's clipboard.
        keyboard.send_keys("c").perform()
        _wait_in_browser(browser, "Copied the quickstart command to", "clipboard")  # the toast wraps
        copied = browser.execute_script("return window.__copied")
        assert len(copied) == 1 and "agentcore" in copied[0], copied
        time.sleep(1)
        browser.save_screenshot(str(tmp_path / "stage3.png"))
        assert json.loads(state.read_text())["settings"]["participant"] == "carol"
    finally:
        browser.quit()


def _wait_for_status(state: Path, key: str, status: str, timeout: float = SCREEN_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    found = None
    while time.monotonic() < deadline:
        try:
            found = json.loads(state.read_text())["stages"].get(key, {}).get("status")
        except (OSError, ValueError, KeyError):
            found = None
        if found == status:
            return
        time.sleep(0.2)
    raise AssertionError(f"stage {key} is {found}, never {status}")


# --- the join screen, in-process --------------------------------------------------------------


async def test_the_join_screen_keeps_the_name_and_says_whose_folder_it_is(options: Any, tmp_path: Path) -> None:
    import dataclasses

    from textual.widgets import Input, Static

    from screens.join import JoinScreen
    from screens.tab import TabApp
    from wizard.session import Session

    root = tmp_path / "room"
    # A folder named bob, made by a wizard for carol (by hand: the server never makes one so).
    Session(dataclasses.replace(options, project=root / "bob", participant="carol")).open().close()
    app = TabApp(dataclasses.replace(options, project=root), join_root=root)
    async with app.run_test(size=(110, 36)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, JoinScreen)
        await pilot.press(*"bob_1", "enter")
        error = str(app.screen.query_one("#join-error", Static).render())
        assert "Participant name 'bob_1' is not allowed" in error
        assert app.screen.query_one("#participant", Input).value == "bob_1"  # nothing lost
        await pilot.press("backspace", "backspace", "enter")
        await pilot.pause()
        error = str(app.screen.query_one("#join-error", Static).render())
        assert f"The folder {root / 'bob'} was made for participant 'carol', not 'bob'" in error
        assert "join as carol" in error
        assert not app.opened
        await pilot.press(*["backspace"] * 3, *"dave", "enter")  # another name: its own new folder
        await pilot.pause()
        assert app.opened and app.session.options.project == root / "dave"
        assert app.session.options.participant == "dave"
    app.session.close()
    assert (root / "dave" / ".agentcore-wizard" / "state.json").exists()


def test_ctrl_c_stops_the_server_and_every_tab_s_wizard(
    tmp_path: Path, sandbox_flags: list[str], servers: list[Server]
) -> None:
    import aiohttp

    project = tmp_path / "project"
    server = start_server(tmp_path, "--root", str(project), *sandbox_flags)
    servers.append(server)

    async def scenario() -> list[int]:
        async with aiohttp.ClientSession() as http:
            tab = await open_tab(http, server.url)
            await tab.wait_for("Start at stage")
            wizards = descendants(server.process.pid)
            assert wizards
            server.process.send_signal(signal.SIGINT)
            while not tab.websocket.closed:  # the browser's side of the closing handshake
                await tab.websocket.receive()
            return wizards

    wizards = asyncio.run(scenario())
    assert server.process.wait(timeout=60) == 0
    assert not [pid for pid in wizards if Path(f"/proc/{pid}").exists()]
    from wizard.state import ProjectLock

    lock = ProjectLock(project)
    lock.acquire()  # the tab's wizard let the folder go
    lock.release()
