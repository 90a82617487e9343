"""Pilot tests for the Textual front end, against the in-process sandbox on 127.0.0.1 only.

Stages really run (stages 0-3); nothing leaves this machine. Text is read from the widgets' own
visuals, never from wall-clock timing.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.widgets import Button, Input, Label, RadioButton, RichLog, Static

from screens.app import TuiPort, WizardApp
from screens.modals import ConfirmModal, RegionModal
from screens.stage import StageScreen
from screens.welcome import WelcomeScreen
from screens.widgets import SECRET_MASK
from wizard.files.identity import JSON_NAME
from wizard.session import Session
from wizard.settings import Options
from wizard.state import StateFile

SIZE = (120, 40)
WORKERS_LIMIT = 120  # seconds: only a bound against a hang, never a measure of speed
ALL_KEYS = ["preflight", "cognito", "env", "agent", "configure", "provider", "workload", "deploy", "invoke", "cleanup"]


# --- helpers ----------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _instant_buttons(monkeypatch: pytest.MonkeyPatch) -> None:
    """No 'active' effect, so quick successive presses are never swallowed (it is set per instance)."""
    original_init = Button.__init__

    def init(self: Button, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.active_effect_duration = 0

    monkeypatch.setattr(Button, "__init__", init)


@pytest.fixture(autouse=True)
def system_clipboard(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """pyperclip never touches the real clipboard in tests; what it would have received is recorded."""
    import pyperclip

    copied: list[str] = []
    monkeypatch.setattr(pyperclip, "copy", copied.append)
    return copied


@pytest.fixture(autouse=True)
def _no_detached_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the in-process sandbox of conftest may be used: starting a folder sandbox fails the test."""
    import wizard.sandbox.manager as manager

    def refuse(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("a test tried to start a detached folder sandbox")

    monkeypatch.setattr(manager, "ensure_folder_sandbox", refuse)


@pytest.fixture
def make_app(options: Options) -> Iterator[Callable[..., WizardApp]]:
    sessions: list[Session] = []

    def factory(opts: Options | None = None) -> WizardApp:
        session = Session(opts or options, TuiPort()).open()
        sessions.append(session)
        return WizardApp(session, detect_on_start=False)

    yield factory
    for session in sessions:
        session.close()


def prepare(options: Options, *keys: str) -> None:
    """Stages a test needs done but is not about, run by a plain session before the app starts (running them
    through the screens is what test_run_preflight_and_cognito_then_reveal_and_hide_secrets checks)."""
    with Session(options) as session:
        for key in keys:
            outcome = session.run_stage(key)
            assert outcome.ok, (key, outcome.error and outcome.error.message)


def plain(widget: Static) -> str:
    """The text a Static (or Label) currently displays."""
    visual = widget.visual
    return str(getattr(visual, "plain", visual))


def button_label(button: Button) -> str:
    return str(getattr(button.label, "plain", button.label))


def status(app: WizardApp, key: str) -> str:
    return app.session.status_of(app.session.stage(key))


async def wait_idle(pilot: Any, app: WizardApp, key: str | None = None) -> None:
    """Wait until the app's workers (the session's operations) have finished, then let the app handle what they
    sent; insist that nothing is busy and that the stage is no longer 'running'. Bounded, so a worker left
    waiting on an unanswered question fails the test with what is on screen instead of hanging it."""
    finished = asyncio.ensure_future(app.workers.wait_for_complete())
    done, _ = await asyncio.wait({finished}, timeout=WORKERS_LIMIT)
    if not done:
        finished.cancel()
        pytest.fail(f"workers still running: busy={app.busy!r}, screen={type(app.screen).__name__}")
    finished.result()  # a worker that raised fails the test here
    await pilot.pause()
    assert app.busy is None, f"still busy after the workers finished: {app.busy!r}"
    if key is not None:
        assert status(app, key) != "running", f"stage {key} still running after the workers finished"


async def wait_for(pilot: Any, predicate: Callable[[], bool], what: str, limit: int = 1200) -> None:
    for _ in range(limit):
        if predicate():
            return
        await pilot.pause(0.05)
    pytest.fail(f"gave up waiting for {what}")


async def run_stage(pilot: Any, app: WizardApp, key: str) -> None:
    """Go to the stage's screen, press r, wait, and insist it ended done."""
    app.goto(key)
    await pilot.pause()
    assert isinstance(app.screen, StageScreen) and app.screen.stage_key == key
    assert not app.screen.query_one("#run", Button).disabled, f"{key}: Run is disabled"
    await pilot.press("r")
    await wait_idle(pilot, app, key)
    assert status(app, key) == "done", (key, app.session.error_of(app.session.stage(key)))


async def show_stage(pilot: Any, app: WizardApp, key: str) -> StageScreen:
    app.goto(key)
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, StageScreen) and screen.stage_key == key
    return screen


def identity_json(project: Path) -> dict[str, Any]:
    return json.loads((project / JSON_NAME).read_text(encoding="utf-8"))


def secrets_of(project: Path) -> list[str]:
    data = identity_json(project)
    found = [data["runtime"]["password"], data["identity"]["password"], data["identity"]["client_secret"]]
    assert all(found), "the identity file lacks a secret"
    return found


# --- 1. start-up ------------------------------------------------------------------------------------


async def test_welcome_lists_every_stage_and_enter_starts_at_preflight(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, WelcomeScreen)
        lines = plain(app.screen.query_one("#overview", Static)).splitlines()
        header = next(
            index for index, line in enumerate(lines) if line.split()[:4] == ["#", "Stage", "Quickstart", "Status"]
        )
        # Columns are two spaces or more apart (a title has single spaces).
        rows = [re.split(r"\s{2,}", line.strip()) for line in lines[header + 1 :]]
        assert [row[0] for row in rows] == ["0", "1", "2", "3", "4", "5", "6", "7", "8", "–"]
        assert {row[3] for row in rows} == {"○ pending"}
        titles = [row[1] for row in rows]
        assert [row[2] for row in rows] == [stage.quickstart_step for stage in app.session.stages]
        assert titles == [stage.title for stage in app.session.stages]
        assert "Cleanup" in titles and "Invoke the agent" in titles
        assert "Start at stage 0" in button_label(app.screen.query_one("#start", Button))

        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, StageScreen)
        assert app.screen.stage_key == "preflight"
        assert "Stage 0 · Prerequisites" in plain(app.screen.query_one("#stage-title", Static))


# --- 2. run stages 0 and 1, the log and secret masking -----------------------------------------------


async def test_run_preflight_and_cognito_then_reveal_and_hide_secrets(make_app, project: Path) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.stage_key == "preflight"
        await pilot.press("r")
        await wait_idle(pilot, app, "preflight")
        assert status(app, "preflight") == "done"

        await pilot.press("n")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, StageScreen) and screen.stage_key == "cognito"
        assert not screen.query_one("#run", Button).disabled
        await pilot.press("r")
        await wait_idle(pilot, app, "cognito")
        assert status(app, "cognito") == "done", app.session.error_of(app.session.stage("cognito"))
        assert status(app, "preflight") == "done"
        # The checks the run ended with are on screen at once, not only after pressing Verify.
        checks = plain(screen.query_one("#checks", Static))
        assert "Not checked yet" not in checks and "✓ runtime pool exists" in checks, checks

        # Every AWS call is named in the log, both in the app's record and on the screen.
        recorded = [line.plain for line in app.logs["cognito"]]
        assert any("CreateUserPool" in line for line in recorded), recorded
        shown = [strip.text for strip in screen.query_one("#log", RichLog).lines]
        assert any("CreateUserPool" in line for line in shown), shown

        secrets = secrets_of(project)
        values = screen.query_one("#values", Static)
        masked = plain(values)
        assert masked.count(SECRET_MASK) == 3
        assert "Runtime pool" in masked and identity_json(project)["runtime"]["pool_id"] in masked
        for secret in secrets:
            assert secret not in masked
        assert button_label(screen.query_one("#reveal", Button)) == "Reveal"

        await pilot.press("s")
        await pilot.pause()
        revealed = plain(values)
        for secret in secrets:
            assert secret in revealed
        assert SECRET_MASK not in revealed
        assert button_label(screen.query_one("#reveal", Button)) == "Hide"

        await pilot.press("s")
        await pilot.pause()
        hidden = plain(values)
        assert hidden.count(SECRET_MASK) == 3
        for secret in secrets:
            assert secret not in hidden


# --- 3. resume in a new app ----------------------------------------------------------------------------


async def test_resume_offers_stage_4_which_is_runnable(make_app, options: Options) -> None:
    first = make_app()
    async with first.run_test(size=SIZE) as pilot:
        await run_stage(pilot, first, "agent")  # one stage through the screens; the rest as a session would
    first.session.close()
    prepare(options, "preflight", "cognito", "env")

    on_disk = StateFile(options.project).load()
    assert all(on_disk.stage(key)["status"] == "done" for key in ("preflight", "cognito", "env", "agent"))

    second = make_app()
    assert second.session is not first.session
    async with second.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(second.screen, WelcomeScreen)
        label = button_label(second.screen.query_one("#start", Button))
        assert "stage 4" in label and label.startswith("Continue"), label
        assert "Welcome back" in plain(second.screen.query_one("#overview", Static))

        await pilot.press("enter")
        await pilot.pause()
        screen = second.screen
        assert isinstance(screen, StageScreen) and screen.stage_key == "configure"
        assert not screen.query_one("#run", Button).disabled
        assert not screen.query_one("#verify", Button).disabled
        title = plain(screen.query_one("#stage-title", Static))
        assert "pending" in title and "unavailable" not in title, title
        assert not screen.query("#unavailable-banner")
        assert status(second, "configure") == "pending"


# Stages 4-6 run now; their screens still show the quickstart's command with real values, never the secret.
RUNNABLE_COMMANDS = {
    "configure": "agentcore configure",
    "provider": "create-credential-provider",
    "workload": "create-workload-identity",
    "deploy": "agentcore deploy",
    "invoke": "agentcore invoke",
    "cleanup": "agentcore identity cleanup",
}


async def test_stages_4_to_6_show_their_command_with_real_values(make_app, options: Options, project: Path) -> None:
    prepare(options, "preflight", "cognito")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        data = identity_json(project)
        secret = data["identity"]["client_secret"]
        assert secret

        for key, expected in RUNNABLE_COMMANDS.items():
            app.goto(key)
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, StageScreen) and screen.stage_key == key
            assert not screen.query("#unavailable-banner"), key
            assert status(app, key) == "pending"
            command = plain(screen.query_one("#command", Static))
            assert expected in command, (key, command)
            assert secret not in command
            if key == "provider":
                assert SECRET_MASK in command
                assert data["identity"]["client_id"] in command  # real values are filled in
            if key == "configure":
                assert data["runtime"]["client_id"] in command
                assert data["runtime"]["pool_id"] in command


# --- 5. copying the command ------------------------------------------------------------------------------


@pytest.mark.parametrize("system_clipboard_works", [True, False], ids=["pyperclip", "osc52-only"])
async def test_copy_command(make_app, monkeypatch, system_clipboard, system_clipboard_works: bool) -> None:
    import pyperclip

    if not system_clipboard_works:

        def broken(text: str) -> None:
            raise pyperclip.PyperclipException("no clipboard mechanism")

        monkeypatch.setattr(pyperclip, "copy", broken)

    app = make_app()
    notes: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    original_notify = app.notify

    def record(*args: Any, **kwargs: Any) -> None:
        notes.append((args, kwargs))
        original_notify(*args, **kwargs)

    monkeypatch.setattr(app, "notify", record)
    async with app.run_test(size=SIZE) as pilot:
        app.goto("cognito")
        await pilot.pause()
        assert app.clipboard == ""
        await pilot.press("c")
        await pilot.pause()
        expected = "agentcore identity setup-cognito --region us-east-1"
        assert app.clipboard == expected
        assert len(notes) == 1
        args, kwargs = notes[0]
        if system_clipboard_works:
            assert system_clipboard == [expected]
            assert kwargs.get("title") == "Copied"
        else:
            assert kwargs.get("title") == "Copied (terminal)"
            assert "OSC 52" in args[0]
        assert "quickstart command" in args[0]
        # Textual really shows it.
        assert len(app._notifications) == 1


# --- 6. env screen exports ----------------------------------------------------------------------------


async def test_env_exports_masked_shell_choice_and_copy(
    make_app, options: Options, project: Path, system_clipboard
) -> None:
    prepare(options, "preflight", "cognito")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        secrets = secrets_of(project)
        password = identity_json(project)["runtime"]["password"]

        app.goto("env")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, StageScreen) and screen.stage_key == "env"
        exports = screen.query_one("#exports", Static)
        text = plain(exports)
        assert "export RUNTIME_POOL_ID=" in text
        assert f"export RUNTIME_PASSWORD='{SECRET_MASK}'" in text
        for secret in secrets:
            assert secret not in text
        assert "set -gx" not in text

        fish = next(button for button in screen.query(RadioButton) if button.name == "fish")
        fish.scroll_visible(animate=False)
        await pilot.pause()
        await pilot.click(fish)
        await pilot.pause()
        assert fish.value and screen.shell == "fish"
        text = plain(exports)
        assert "set -gx RUNTIME_POOL_ID " in text
        assert "export " not in text
        for secret in secrets:
            assert secret not in text

        copy = screen.query_one("#copy-exports", Button)
        assert not copy.disabled
        copy.scroll_visible(animate=False)
        await pilot.pause()
        await pilot.click(copy)
        await pilot.pause()
        assert password in app.clipboard
        assert f"set -gx RUNTIME_PASSWORD '{password}'" in app.clipboard
        assert all(secret in app.clipboard for secret in secrets)
        assert system_clipboard == [app.clipboard]
        # The screen itself stays masked after copying.
        assert password not in plain(exports)


# --- 7. blocked stages -----------------------------------------------------------------------------------


async def test_cognito_blocked_until_preflight_done(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.goto("cognito")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, StageScreen) and screen.stage_key == "cognito"
        assert screen.query_one("#run", Button).disabled
        blocked = plain(screen.query_one("#blocked", Label))
        assert "stage 0" in blocked and "Prerequisites" in blocked
        await pilot.press("r")
        await pilot.pause()
        assert app.busy is None
        assert status(app, "cognito") == "pending"


# --- 8. quitting while a stage runs ---------------------------------------------------------------------


async def test_quit_while_running_asks_then_stops_cleanly(make_app, project: Path, monkeypatch) -> None:
    app = make_app()
    cognito = app.session.stage("cognito")
    gate = threading.Event()
    entered = threading.Event()
    original_run = cognito.run

    def gated_run(ctx: Any) -> Any:
        entered.set()
        assert gate.wait(20), "the test never opened the gate"
        return original_run(ctx)

    # Holds the stage between "running" and its first AWS call, so "q" surely lands mid-stage.
    monkeypatch.setattr(cognito, "run", gated_run)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await run_stage(pilot, app, "preflight")
            app.goto("cognito")
            await pilot.pause()
            await pilot.press("r")
            assert app.busy is not None
            await pilot.press("q")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmModal)
            assert app.is_running

            for _ in range(400):
                if entered.is_set():
                    break
                await pilot.pause(0.05)
            assert entered.is_set()
            raw = json.loads(StateFile(project).path.read_text(encoding="utf-8"))
            assert raw["stages"]["cognito"]["status"] == "running"

            await pilot.press("y")
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmModal)
            assert app.is_running and app.return_code is None  # waits for the worker
            assert app.session.ctx.cancel_event.is_set()

            gate.set()
            for _ in range(400):
                if not app.is_running:
                    break
                await asyncio.sleep(0.05)
            assert not app.is_running, "the app did not exit after the stage stopped"
    finally:
        gate.set()
    assert app.return_code == 0

    raw = json.loads(StateFile(project).path.read_text(encoding="utf-8"))
    assert all(record["status"] != "running" for record in raw["stages"].values()), raw["stages"]
    reloaded = StateFile(project).load()
    record = reloaded.data["stages"]["cognito"]
    assert record["status"] == "failed"
    assert "Stopped at your request" in record["error"]["message"]


# --- 9. the region prompt ---------------------------------------------------------------------------------


class _Session:
    region_name = None


class _StubSTS:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def get_caller_identity(self) -> dict[str, str]:
        self.calls.append("GetCallerIdentity")
        return {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/test"}

    def __getattr__(self, name: str) -> Any:
        self.calls.append(name)
        raise AssertionError(f"unexpected AWS call {name}")


async def test_region_prompt_rejects_bad_names_and_uses_the_choice(make_app, project: Path, monkeypatch) -> None:
    opts = Options(project=project, region=None, sandbox=False, sandbox_endpoint=None)
    app = make_app(opts)
    settings = app.session.settings
    ctx = app.session.ctx
    assert not app.session.is_sandbox
    services: list[str] = []
    calls: list[str] = []

    def fake_client(service: str) -> _StubSTS:
        services.append(service)
        return _StubSTS(calls)

    monkeypatch.setattr(ctx, "session", lambda: _Session())
    monkeypatch.setattr(ctx, "client", fake_client)
    async with app.run_test(size=SIZE) as pilot:
        app.goto("preflight")
        await pilot.pause()
        await pilot.press("r")
        # The session asks while the stage waits for the answer: the same operation, still running.
        await wait_for(pilot, lambda: isinstance(app.screen, RegionModal), "the region question")
        assert app.busy is not None
        assert status(app, "preflight") == "running"
        assert services == [] and calls == []

        await pilot.press(*"not a region")
        assert app.screen.query_one(Input).value == "not a region"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, RegionModal)
        error = plain(app.screen.query_one("#region-error", Label))
        assert "'not a region' is not a region name" in error
        assert settings.chosen_region is None
        assert services == [] and calls == []

        app.screen.query_one(Input).value = ""
        await pilot.press(*"eu-west-1", "enter")
        await pilot.pause()
        assert not isinstance(app.screen, RegionModal)
        # The stage carries on by itself with the choice: no second Run press.
        await wait_idle(pilot, app, "preflight")
        assert settings.chosen_region == "eu-west-1"
        assert status(app, "preflight") == "done", app.session.error_of("preflight")
        assert app.session.state.data["region"] == "eu-west-1"
        assert app.session.state.data["account"] == "123456789012"
        # STS first; then only the preflight's provider count (against AWS), which a stub client cannot answer.
        assert services[0] == "sts" and set(services) <= {"sts", "bedrock-agentcore-control", "service-quotas"}
        assert calls == ["GetCallerIdentity"]


# --- 10. command palette ---------------------------------------------------------------------------------


async def test_system_commands_go_to_stages_and_act_on_the_current_one(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Go to stage 4: Configure agent with JWT auth" in titles
        # Cleanup has no number: its command names it alone (no "stage –").
        assert "Go to Cleanup" in titles
        assert not any(title.startswith("Go to stage –") for title in titles)
        assert sum(title.startswith("Go to stage ") for title in titles) == len(ALL_KEYS) - 1
        assert sum(title.startswith("Go to ") for title in titles) == len(ALL_KEYS)
        assert "Run (r)" not in titles  # only on a stage screen

        app.goto("preflight")
        await pilot.pause()
        commands = {command.title: command for command in app.get_system_commands(app.screen)}
        # Every footer action, with its key; Reveal only where there is a secret.
        assert {"Run (r)", "Verify (v)", "Copy command (c)", "Next (n)", "Prev (p)"} <= set(commands)
        assert "Reveal (s)" not in commands and "Copy link (c)" not in commands

        go = next(command for title, command in commands.items() if title.startswith("Go to stage 2"))
        go.callback()
        await pilot.pause()
        assert isinstance(app.screen, StageScreen) and app.screen.stage_key == "env"

        # Stage 2: `c` is the exports for the chosen shell; the quickstart's line is still one command away.
        commands = {command.title: command for command in app.get_system_commands(app.screen)}
        assert "Copy exports (c)" in commands and "Copy command (c)" not in commands
        commands["Copy the quickstart command"].callback()
        await pilot.pause()
        assert app.clipboard.startswith("export $(grep -v '^#' .agentcore_identity_user.env | xargs)")

        app.goto("cleanup")
        await pilot.pause()
        commands = {command.title: command for command in app.get_system_commands(app.screen)}
        assert "Next (n)" not in commands and not app.screen.query_one("#next").display  # the last stage


# --- extra: quitting when idle, the overwrite question from a worker thread, no credentials, layout ---


async def test_quit_when_idle_exits_at_once(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.goto("cognito")
        await pilot.pause()
        await pilot.press("q")
        for _ in range(100):
            if not app.is_running:
                break
            await asyncio.sleep(0.05)
        assert not app.is_running
    assert app.return_code == 0


@pytest.mark.parametrize("overwrite", [False, True], ids=["keep-mine", "overwrite"])
async def test_agent_asks_before_overwriting_user_edits(make_app, project: Path, overwrite: bool) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await run_stage(pilot, app, "agent")
        agent_py = project / "agent.py"
        edited = agent_py.read_text(encoding="utf-8") + "\n# my own change\n"
        agent_py.write_text(edited, encoding="utf-8")

        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), "the overwrite question")
        modal = app.screen
        assert "agent.py" in plain(modal.query_one(".dialog-question", Static))
        assert button_label(modal.query_one("#yes", Button)) == "Overwrite"
        assert app.busy is not None  # the worker waits for the answer; the UI does not
        await pilot.press("y" if overwrite else "n")
        await wait_idle(pilot, app, "agent")

        assert status(app, "agent") == "done", app.session.error_of(app.session.stage("agent"))
        now = agent_py.read_text(encoding="utf-8")
        if overwrite:
            assert "# my own change" not in now
        else:
            assert now == edited
            assert any("Kept your agent.py" in line.plain for line in app.logs["agent"])


class _NoCredentialsSTS:
    def get_caller_identity(self) -> dict[str, str]:
        from botocore.exceptions import NoCredentialsError

        raise NoCredentialsError()


@pytest.mark.parametrize("use_sandbox", [False, True], ids=["not-now", "use-sandbox"])
async def test_no_credentials_offers_the_sandbox(
    make_app, project: Path, sandbox_endpoint: str, monkeypatch, use_sandbox: bool
) -> None:
    import wizard.sandbox.manager as manager

    opts = Options(project=project, region="us-east-1", sandbox=False, sandbox_endpoint=None)
    app = make_app(opts)
    session = app.session
    ctx = session.ctx
    real_client = ctx.client

    def client(service: str) -> Any:
        # Real (sandbox) clients only once the user chose the sandbox; never a real AWS client.
        return real_client(service) if session.is_sandbox else _NoCredentialsSTS()

    def running_endpoint(folder: Path) -> str | None:
        # This folder's sandbox is the in-process one, not a detached one.
        return sandbox_endpoint if folder == project else None

    monkeypatch.setattr(ctx, "client", client)
    monkeypatch.setattr(manager, "running_endpoint", running_endpoint)
    async with app.run_test(size=SIZE) as pilot:
        app.goto("preflight")
        await pilot.pause()
        assert not app.screen.query_one("#sandbox-banner").display
        await pilot.press("r")
        # The session offers the sandbox while the stage waits for the answer.
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), "the sandbox offer")
        assert "No AWS credentials" in plain(app.screen.query_one(".dialog-question", Static))
        assert button_label(app.screen.query_one("#yes", Button)) == "Use the sandbox"
        assert app.busy is not None
        assert status(app, "preflight") == "running"

        await pilot.press("y" if use_sandbox else "n")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmModal)
        # The stage carries on by itself with the answer: no second Run press.
        await wait_idle(pilot, app, "preflight")
        if use_sandbox:
            assert session.is_sandbox and "SANDBOX" in app.sub_title
            assert status(app, "preflight") == "done", session.error_of("preflight")
            assert session.state.data["mode"] == "sandbox"
            assert app.screen.query_one("#sandbox-banner").display
        else:
            assert not session.is_sandbox and app.sub_title == "AWS"
            assert status(app, "preflight") == "failed"
            assert "credentials" in (session.error_of("preflight") or {}).get("message", "").lower()
            assert session.state.data.get("mode") is None
            assert not app.screen.query_one("#sandbox-banner").display


@pytest.mark.parametrize("size", [(120, 40), (100, 30), (80, 24)])
async def test_action_buttons_fit(make_app, size) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        app.goto("cognito")
        await pilot.pause()
        main = app.screen.query_one("#main").region
        for button in app.screen.query_one("#actions").query(Button):
            assert button.region.right <= main.right, f"#{button.id} ends at {button.region.right} > {main.right}"


# --- 8. invoke: the consent loop in the TUI ----------------------------------------------------------------


async def _consent_in_browser(link: str, project: Path) -> str:
    """What the person does in the browser: sign in as the identity pool's user and approve."""
    import asyncio

    from wizard import consent

    user = identity_json(project)["identity"]
    return await asyncio.to_thread(consent.sandbox_consent, link, user["username"], user["password"])


async def test_invoke_consent_over_http_shows_the_authenticated_answer(make_app, deployed: Any) -> None:
    import asyncio

    from wizard import consent

    deployed.close()  # the app opens its own session on the folder
    project = deployed.options.project
    app = make_app(deployed.options)
    async with app.run_test(size=SIZE) as pilot:
        screen = await show_stage(pilot, app, "invoke")
        assert not screen.query_one("#consent-box").display
        await pilot.press("r")
        await wait_for(pilot, lambda: bool(screen.consent_link), "the consent link on screen")
        assert screen.query_one("#consent-box").display
        user = identity_json(project)["identity"]
        assert user["username"] in plain(screen.query_one("#consent-who", Static))
        assert "Authorization Required" in plain(screen.query_one("#answer", Static))
        assert user["password"] not in plain(screen.query_one("#values"))  # masked until revealed
        assert "left" in plain(screen.query_one("#progress-label", Label))  # the countdown

        location = await _consent_in_browser(screen.consent_link, project)
        assert await asyncio.to_thread(consent.follow_to_listener, location)
        await wait_idle(pilot, app, "invoke")
        assert status(app, "invoke") == "done", app.session.error_of(app.session.stage("invoke"))
        answer = plain(screen.query_one("#answer", Static))
        assert answer.index("first call") < answer.index("Authorization Required") < answer.index("second call")
        assert "Authenticated to external service" in answer
        assert not screen.query_one("#consent-box").display


async def test_invoke_takes_a_pasted_url_when_the_port_is_taken(make_app, deployed: Any) -> None:
    import socket

    deployed.close()
    project = deployed.options.project
    port = int(deployed.settings.return_url.split(":")[2].split("/")[0])
    app = make_app(deployed.options)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        async with app.run_test(size=SIZE) as pilot:
            screen = await show_stage(pilot, app, "invoke")
            await pilot.press("r")
            await wait_for(pilot, lambda: bool(screen.consent_link), "the consent link on screen")
            listening = plain(screen.query_one("#consent-listening", Static))
            # Why, in the box itself: who holds the port (the claims name no project for it: another program).
            assert "cannot listen" in listening and f"port {port} is in use by another program" in listening
            location = await _consent_in_browser(screen.consent_link, project)
            field = screen.query_one("#paste-url", Input)
            field.focus()
            field.value = location
            await pilot.press("enter")
            await wait_idle(pilot, app, "invoke")
            assert status(app, "invoke") == "done", app.session.error_of(app.session.stage("invoke"))
            assert "Authenticated to external service" in plain(screen.query_one("#answer", Static))


# --- the doctor dialog ----------------------------------------------------------------------------------


async def test_doctor_dialog_lists_findings(make_app) -> None:
    from screens.doctor import DoctorModal

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, DoctorModal)
        modal = app.screen
        await wait_idle(pilot, app)  # the doctor's worker
        assert "credentials" in plain(modal.query_one("#findings", Static))
        assert app.busy is None
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DoctorModal)


# --- cleanup in the TUI ----------------------------------------------------------------------------------


async def test_cleanup_screen_lists_asks_then_deletes(make_app, deployed: Any) -> None:
    deployed.close()
    project = deployed.options.project
    runtime_id = deployed.state.resources("deploy")["runtime_id"]
    app = make_app(deployed.options)
    async with app.run_test(size=SIZE) as pilot:
        screen = await show_stage(pilot, app, "cleanup")
        assert runtime_id in plain(screen.query_one("#values"))  # what will go, before anything goes
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), "the confirmation")
        question = plain(app.screen.query_one(".dialog-question", Static))
        plan = plain(app.screen.query_one(".dialog-detail", Static))  # the list, as lines under the question
        assert question == "Delete what the plan lists?"
        assert "Deletes, in this order" in plan and runtime_id in plan
        await pilot.press("y")
        await wait_idle(pilot, app, "cleanup")
        assert status(app, "cleanup") == "done", app.session.error_of(app.session.stage("cleanup"))
        assert all(status(app, key) == "pending" for key in ALL_KEYS if key != "cleanup")
        assert not (project / JSON_NAME).exists()


async def test_welcome_after_every_stage_points_at_cleanup(make_app, options: Options) -> None:
    state = StateFile(options.project).load()
    state.data.update(region="us-east-1", mode="sandbox")
    for key in ALL_KEYS[:-1]:
        state.set_status(key, "done", save=False)
    state.save()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        label = button_label(app.screen.query_one("#start", Button))
        assert label.startswith("All stages done"), label
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, StageScreen) and app.screen.stage_key == "cleanup"


# --- found identity files that no longer match AWS: the person chooses ---------------------------------------


async def test_found_files_that_do_not_match_aws_ask_and_repair_keeps_a_backup(
    make_app, options: Options, project: Path, sandbox_endpoint: str
) -> None:
    """Files this project has no record of (the toolkit's, or a lost state file) whose app client was deleted
    by hand: Run asks what to do instead of making new pools; Repair mends the same pool and keeps a backup."""
    from wizard_helpers import client

    from screens.modals import ChoiceModal

    prepare(options, "preflight", "cognito")
    before = identity_json(project)
    (project / ".agentcore-wizard" / "state.json").unlink()
    idp = client("cognito-idp", sandbox_endpoint)
    idp.delete_user_pool_client(UserPoolId=before["runtime"]["pool_id"], ClientId=before["runtime"]["client_id"])
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await run_stage(pilot, app, "preflight")
        app.goto("cognito")
        await pilot.pause()
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceModal), "the choice")
        modal = app.screen
        assert isinstance(modal, ChoiceModal)
        assert "do not check out against AWS" in modal.question
        assert [key for key, _ in modal.choices] == ["repair", "fresh", "stop"]
        assert modal.default == "stop" and modal.query_one("#choice-stop", Button).has_focus
        await pilot.click("#choice-repair")
        await wait_idle(pilot, app, "cognito")
        assert status(app, "cognito") == "done", app.session.error_of(app.session.stage("cognito"))
    after = identity_json(project)
    assert after["runtime"]["pool_id"] == before["runtime"]["pool_id"]  # the same pool, mended
    assert after["runtime"]["client_id"] != before["runtime"]["client_id"]
    assert len(list(project.glob(f"{JSON_NAME}.backup-*"))) == 1


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
async def test_the_activity_log_loses_no_character_of_a_long_id(make_app, size: tuple[int, int]) -> None:
    """Every wrapped line fits inside the log (nothing under its scrollbar): the whole id can be read back."""
    from rich.text import Text
    from textual.widgets import RichLog

    long_id = "us-east-1_" + "".join(f"{index:02d}ab" for index in range(40))
    app = make_app()
    async with app.run_test(size=size) as pilot:
        app.goto("cognito")
        await pilot.pause()
        log = app.screen.query_one("#log", RichLog)
        for _ in range(30):  # enough lines for the scrollbar to show
            log.write(Text(f"Created pool {long_id} in the sandbox."))
        await pilot.pause()
        width = log.scrollable_content_region.width
        assert width > 0 and all(strip.cell_length <= width for strip in log.lines)
        text = "".join(strip.text for strip in log.lines[-8:]).replace(" ", "")
        assert long_id in text


async def test_a_confirmation_for_what_the_person_came_for_takes_enter(make_app) -> None:
    """Enter on the YAML diff writes it (the focused default); a yes that overwrites keeps the safe default; the
    arrows move between the buttons."""
    from textual.widgets import Button

    from screens.modals import ConfirmModal

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        answers: list[bool | None] = []
        app.push_screen(ConfirmModal("Write these changes?", "Write them", "Not now", default=True), answers.append)
        await pilot.pause()
        assert isinstance(app.focused, Button) and app.focused.id == "yes"
        await pilot.press("right")
        assert app.focused.id == "no"
        await pilot.press("left", "enter")
        await pilot.pause()
        assert answers == [True]
        app.push_screen(ConfirmModal("Overwrite agent.py?", "Overwrite", "Keep mine"), answers.append)
        await pilot.pause()
        assert app.focused is not None and app.focused.id == "no"
        await pilot.press("enter")
        await pilot.pause()
        assert answers == [True, False]


async def test_an_interrupted_cleanup_is_the_one_next_step_everywhere(make_app, options: Options) -> None:
    """Welcome, the stage screens and Enter all agree: finish the cleanup (not "All stages done")."""
    state = StateFile(options.project).load()
    state.data.update(region="us-east-1", mode="sandbox")
    for key in ALL_KEYS[:-1]:
        state.set_status(key, "done" if key not in ("deploy", "invoke") else "pending", save=False)
    state.set_status("cleanup", "failed", {"message": "DeleteAgentRuntime failed", "fix": "Run cleanup again."})
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        label = button_label(app.screen.query_one("#start", Button))
        assert label == "Finish the cleanup (it was interrupted)", label
        assert "The cleanup was interrupted" in plain(app.screen.query_one("#overview", Static))
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, StageScreen) and app.screen.stage_key == "cleanup"
        app.goto("workload")
        await pilot.pause()
        assert "Finish it on the Cleanup screen" in plain(app.screen.query_one("#blocked", Label))


def test_a_diff_and_a_policy_are_shown_as_code() -> None:
    from rich.syntax import Syntax
    from rich.text import Text

    from screens.modals import as_code

    diff = as_code("--- .bedrock_agentcore.yaml (now)\n+++ .bedrock_agentcore.yaml (new)\n@@ -0,0 +1 @@\n+a: 1\n")
    assert isinstance(diff, Syntax) and diff.lexer is not None and "diff" in str(diff.lexer).lower()
    policy = as_code('{"Version": "2012-10-17", "Statement": []}')
    assert isinstance(policy, Syntax) and '"Version": "2012-10-17"' in policy.code and "\n" in policy.code
    assert isinstance(as_code("plain words"), Text)


async def test_a_doctor_finding_is_fixed_from_the_dialog_and_its_dependents_checked(
    make_app, options: Options, project: Path
) -> None:
    """The env file deleted by hand: the doctor says stage 2 drifted and offers to run it here (the CLI form it
    also shows is refused while the TUI holds the folder); the fix runs it, then checks what depends on it."""
    from screens.doctor import DoctorModal

    prepare(options, "preflight", "cognito", "env", "agent", "configure")
    (project / ".agentcore_identity_user.env").unlink()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, DoctorModal)
        await wait_idle(pilot, app)
        offered = [button_label(button) for button in app.screen.query("#doctor-fixes Button").results(Button)]
        # Stage 1 writes the file, so its run is the fix; stage 2 only reads it and is offered too.
        assert "Fix: run stage 1 (Create Cognito pools) again" in offered, offered
        await pilot.click("#fix-cognito")
        await wait_for(pilot, lambda: app.session.status_of("cognito") == "done" and app.busy is None, "the fix")
        await wait_idle(pilot, app)
        assert isinstance(app.screen, StageScreen) and app.screen.stage_key == "cognito"
        assert (project / ".agentcore_identity_user.env").exists()
        # What needs stage 1 and was finished is checked again at once, with nothing pressed.
        checked = [stage.key for stage in app.session.stages.dependents("cognito") if stage.key in app.checks]
        assert "env" in checked and app.session.status_of("env") == "done", checked


# --- stage switching, the keyboard's way to the stage list ------------------------------------------


async def test_one_screen_shows_every_stage_and_keeps_each_stages_own_log_and_reveal(make_app) -> None:
    """n and p swap what the one stage screen shows: the title, the parts only some stages have, the log."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, StageScreen) and screen.stage_key == "preflight"
        app.logs["cognito"] = [Text("a line of stage 1's own")]
        for key in ALL_KEYS[1:]:
            await pilot.press("n")
            await pilot.pause()
            assert app.screen is screen and screen.stage_key == key
            title = plain(screen.query_one("#stage-title", Static))
            assert app.session.stage(key).title in title
            assert screen.query_one("#invoke-part").display == (key == "invoke")
            assert screen.query_one("#agent-part").display == (key == "agent")
            assert screen.query_one("#env-part").display == (key == "env")
            shown = [strip.text for strip in screen.query_one("#log", RichLog).lines]
            assert any("stage 1's own" in line for line in shown) == (key == "cognito"), (key, shown)
        assert screen.query_one("#sidebar").index == ALL_KEYS.index("cleanup")
        assert not screen.query_one("#next").display  # no Next on the last stage
        # Revealed on one stage stays revealed there only.
        app.goto("env")
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        assert screen.revealed
        await pilot.press("n")
        await pilot.pause()
        assert screen.stage_key == "agent" and not screen.revealed
        await pilot.press("p")
        await pilot.pause()
        assert screen.stage_key == "env" and screen.revealed


async def test_shift_tab_and_arrows_reach_the_stage_list_and_move_in_it(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, StageScreen)
        sidebar = screen.query_one("#sidebar")
        run = screen.query_one("#run", Button)
        run.focus()
        await pilot.pause()
        await pilot.press("shift+tab")
        assert app.focused is sidebar
        await pilot.press("right")
        assert app.focused is run
        await pilot.press("right")
        assert app.focused is screen.query_one("#verify", Button)
        await pilot.press("left", "left")
        assert app.focused is sidebar
        # Up and Down move in the list (the stage on screen stays until Enter opens another).
        await pilot.press("down", "down")
        assert sidebar.index == 2 and screen.stage_key == "preflight"
        await pilot.press("enter")
        await pilot.pause()
        assert screen.stage_key == "env" and app.focused is sidebar
        focused_edge = sidebar.styles.border_right
        # Right comes back to the first button that can be pressed (Run is blocked on env here).
        await pilot.press("right")
        await pilot.pause()
        assert isinstance(app.focused, Button) and app.focused.id == "verify"
        # The list's focus shows: its edge changes when the focus leaves it.
        assert sidebar.styles.border_right != focused_edge


async def test_focus_leaves_a_part_the_next_stage_does_not_have(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.goto("env")
        await pilot.pause()
        screen = app.screen
        radio = screen.query_one("#shell-choice")
        radio.focus()
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
        assert screen.stage_key == "agent"
        focused = app.focused
        assert focused is not None and all(node.display for node in focused.ancestors_with_self if node is not app)


async def test_a_long_progress_phase_ends_in_an_ellipsis_at_80_columns(make_app) -> None:
    """At 80 columns a long phase is cut with "…", never silently mid-word."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        app.goto("cleanup")
        await pilot.pause()
        phase = "cleaning up stage 1 (Create Cognito pools): waiting for the identity pool to go (12s)"
        app.screen.show_progress(0.86, phase)
        await pilot.pause()
        label = app.screen.query_one("#progress-label", Label)
        shown = "".join(segment.text for segment in label.render_line(0)).rstrip()
        assert shown.endswith("…") and phase.startswith(shown[:-1].rstrip()), shown


async def test_only_the_action_for_now_looks_primary(make_app, options: Options) -> None:
    """Run while the stage is to do, Next once it is done; never both."""
    state = StateFile(options.project).load()
    state.data.update(region="us-east-1", mode="sandbox")
    state.set_status("preflight", "done")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.goto("preflight")
        await pilot.pause()
        variants = {b.id: b.variant for b in app.screen.query(Button) if b.id in ("run", "next")}
        assert variants == {"run": "default", "next": "primary"}, variants
        app.goto("cognito")
        await pilot.pause()
        variants = {b.id: b.variant for b in app.screen.query(Button) if b.id in ("run", "next")}
        assert variants == {"run": "primary", "next": "default"}, variants
