"""The terminal UI paints its stage list before the session opens: from the table of contents and the state file
(wizard.outline), while the session, the stage controllers and boto3 load behind it. What it shows then is what the
open session shows; a key pressed meanwhile is not lost; a refusal (another wizard holds the folder) is shown in
the app with a way to try again, and said on the terminal once it stops; and nothing is left locked."""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.widgets import Button, Static
from textual.widgets._footer import FooterKey

from screens.app import WizardApp
from screens.problem import ProblemScreen
from screens.stage import StageScreen
from screens.welcome import WelcomeScreen
from wizard import cli
from wizard.contents import CONTENTS, StageList, table_of_contents
from wizard.outline import Outline
from wizard.session import Session
from wizard.settings import Options
from wizard.state import PROJECT_BUSY, StateFile
from wizard.steps import REGISTRY, STAGES, _controller

SIZE = (120, 40)


def plain(widget: Static) -> str:
    visual = widget.visual
    return str(getattr(visual, "plain", visual))


async def until(pilot: Any, predicate: Any, what: str) -> None:
    for _ in range(400):
        if predicate():
            return
        await pilot.pause(0.025)
    pytest.fail(f"gave up waiting for {what}")


def footer_keys(app: WizardApp) -> set[str]:
    return {key.key for key in app.screen.query(FooterKey)}


async def until_shown(pilot: Any, screen_type: type, what: str) -> None:
    """The screen is on top and composed (pushed is not enough to query it)."""
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, screen_type) and app.screen.is_mounted, what)
    await pilot.pause()


@pytest.fixture
def held_open() -> Iterator[threading.Event]:
    """Session.open waits until the test sets the event: the moments before the project is open, made long."""
    release = threading.Event()
    original = Session.open

    def slow_open(self: Session, lock: bool = True) -> Session:
        if lock:
            release.wait(timeout=30)
        return original(self, lock)

    Session.open = slow_open  # type: ignore[method-assign]
    try:
        yield release
    finally:
        release.set()
        Session.open = original  # type: ignore[method-assign]


@pytest.fixture
def opening_app(options: Options) -> Iterator[Callable[[], WizardApp]]:
    """The terminal UI as run_tui makes it (the project opened after the first paint), made once the test has
    written the state it wants; its session is closed after the test."""
    made: list[WizardApp] = []

    def make() -> WizardApp:
        made.append(WizardApp(opening=options, detect_on_start=False))
        return made[-1]

    yield make
    for app in made:
        app.close_session()


def write_statuses(project: Path, statuses: dict[str, str], **data: Any) -> None:
    state = StateFile(project).load()
    for key, status in statuses.items():
        state.stage(key)["status"] = status
    state.data.update(data)
    state.save()


# --- the table of contents and the stage controllers --------------------------------------------------


def test_the_controllers_are_the_table_of_contents_in_order() -> None:
    assert [cls.key for cls in STAGES] == [entry.key for entry in CONTENTS]
    contents = table_of_contents()
    for stage, entry in zip(REGISTRY, contents, strict=True):
        assert (stage.title, stage.quickstart_step, stage.in_run, stage.label, stage.number) == (
            entry.title,
            entry.quickstart_step,
            entry.in_run,
            entry.label,
            entry.number,
        )
        assert REGISTRY.name(stage.key) == contents.name(entry.key)
    assert [entry.label for entry in contents] == ["0", "1", "2", "3", "4", "5", "6", "7", "8", "–"]


def test_an_entry_naming_another_stage_is_refused() -> None:
    wrong = type(CONTENTS[0])("cognito", "Create Cognito pools", "Step 1", "wizard.steps.env:EnvStage")
    with pytest.raises(TypeError, match="not the Stage of 'cognito'"):
        _controller(wrong)
    with pytest.raises(ValueError, match="share a key"):
        StageList([CONTENTS[0], CONTENTS[0]])


# --- the outline answers as the session does --------------------------------------------------------


STATES = {
    "new": {},
    "part way": {"preflight": "done", "cognito": "done", "env": "failed"},
    "all done": {entry.key: "done" for entry in CONTENTS if entry.in_run},
    "cleanup interrupted": {**{entry.key: "done" for entry in CONTENTS if entry.in_run}, "cleanup": "running"},
    "drifted": {"preflight": "done", "cognito": "drifted"},
}


@pytest.mark.parametrize("name", list(STATES))
def test_the_outline_says_what_the_open_session_says(name: str, options: Options) -> None:
    if STATES[name]:
        write_statuses(options.project, STATES[name], mode="sandbox", account="123456789012", region="us-east-1")
    outline = Outline(options)
    with Session(options) as session:

        def answers(standing: Any) -> Any:
            following = standing.first_unfinished()
            return (
                [standing.status_of(entry.key) for entry in CONTENTS],
                [standing.error_of(entry.key) for entry in CONTENTS],
                following.key if following is not None else None,
                standing.cleanup_interrupted(),
                standing.is_sandbox,
                standing.account,
                standing.pinned_region,
                standing.load_problem,
            )

        assert answers(outline) == answers(session)


@pytest.mark.parametrize("own_sandbox", [True, False], ids=["with its own sandbox", "without"])
def test_a_lost_record_carries_on_where_the_folder_says_before_and_after_opening(
    own_sandbox: bool, options: Options
) -> None:
    """No --sandbox, a damaged state file: the folder's own sandbox (if it has one) is where its work is."""
    aws = dataclasses.replace(options, sandbox_endpoint=None)
    folder = options.project / ".agentcore-wizard"
    folder.mkdir(parents=True)
    (folder / "state.json").write_text("{not json", encoding="utf-8")
    if own_sandbox:
        (folder / "sandbox.json").write_text("{}", encoding="utf-8")
    outline = Outline(aws)
    assert outline.load_problem is not None
    with Session(aws) as session:
        assert session.load_problem is not None and "moved to" in session.load_problem
        assert outline.is_sandbox is session.is_sandbox is own_sandbox


def test_the_outline_of_a_damaged_state_file_reports_it_and_moves_nothing(options: Options) -> None:
    state = options.project / ".agentcore-wizard" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text("{not json", encoding="utf-8")
    outline = Outline(options)
    assert outline.load_problem and "could not be read" in outline.load_problem
    assert [outline.status_of(entry.key) for entry in CONTENTS] == ["pending"] * len(CONTENTS)
    assert state.read_text(encoding="utf-8") == "{not json"  # the session sets it aside, not the outline
    assert sorted(path.name for path in state.parent.iterdir()) == ["state.json"]


# --- the app before and after the session opens --------------------------------------------------------


async def test_the_stage_list_paints_from_the_state_file_then_the_session_takes_over(
    options: Options, opening_app: Callable[[], WizardApp], held_open: threading.Event
) -> None:
    write_statuses(options.project, {"preflight": "done", "cognito": "done"}, mode="sandbox")
    app = opening_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, WelcomeScreen) and not app.opened
        before = plain(app.screen.query_one("#overview", Static))
        assert "2 stages done (0, 1)" in before and "Next: stage 2 (Load environment variables)" in before
        assert "Continue at stage 2" in str(app.screen.query_one("#start", Button).label)
        assert not app.check_action("doctor", ())  # nothing to examine yet, and no key for it in the footer
        assert "d" not in footer_keys(app)
        held_open.set()
        await until(pilot, lambda: app.opened, "the session to open")
        await pilot.pause()
        assert app.screen is app.screen_stack[0] and isinstance(app.screen, WelcomeScreen)
        assert plain(app.screen.query_one("#overview", Static)) == before  # nothing jumps when it opens
        assert app.check_action("doctor", ())
        await until(pilot, lambda: "d" in footer_keys(app), "the doctor's key in the footer")


@pytest.mark.parametrize(
    ("statuses", "said", "button"),
    [
        ({}, "New project in", "Start at stage 0: Prerequisites"),
        ({"cleanup": "done"}, "It was cleaned up: nothing the wizard made is left", "Start again at stage 0"),
        ({"preflight": "done", "cleanup": "failed"}, "The cleanup was interrupted", "Finish the cleanup"),
        ({"cleanup": "failed"}, "The cleanup was interrupted", "Finish the cleanup"),
        ({"preflight": "done"}, "1 stage done (0).\nNext: stage 1 (Create Cognito pools)", "Continue at stage 1"),
    ],
    ids=["new", "cleaned up", "cleanup interrupted", "cleanup interrupted, nothing left", "part way"],
)
async def test_the_welcome_says_where_the_project_stands_before_and_after_it_opens(
    options: Options,
    opening_app: Callable[[], WizardApp],
    held_open: threading.Event,
    statuses: dict[str, str],
    said: str,
    button: str,
) -> None:
    if statuses:
        write_statuses(options.project, statuses, mode="sandbox")
    app = opening_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for _ in ("before", "after"):
            overview = plain(app.screen.query_one("#overview", Static))
            assert said in overview and "0 stages" not in overview and "()" not in overview
            assert str(app.screen.query_one("#start", Button).label).startswith(button)
            held_open.set()
            await until(pilot, lambda: app.opened, "the session to open")
            await pilot.pause()


async def test_enter_pressed_before_the_session_is_open_is_acted_on_once_it_is(
    opening_app: Callable[[], WizardApp], held_open: threading.Event
) -> None:
    app = opening_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, WelcomeScreen)  # the stage screens need the session
        held_open.set()
        await until_shown(pilot, StageScreen, "the first stage")
        assert app.screen.stage_key == "preflight"


async def test_a_palette_opened_before_the_session_is_open_stays_open(
    opening_app: Callable[[], WizardApp], held_open: threading.Event
) -> None:
    from textual.command import CommandPalette

    app = opening_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await until_shown(pilot, CommandPalette, "the command palette")
        held_open.set()
        await until(pilot, lambda: app.opened, "the session to open")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)


async def test_quitting_before_the_session_is_open_leaves_the_folder_unlocked(
    options: Options, held_open: threading.Event
) -> None:
    app = WizardApp(opening=options, detect_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
    held_open.set()  # the opening worker finishes after the app has gone
    app.close_session()  # waits for it, and closes what it opened
    with Session(options):  # the lock was let go: another wizard may open the folder
        pass


async def test_another_wizard_in_the_folder_is_shown_in_the_app_and_try_again_opens_it(
    options: Options, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = Session(options).open()
    app = WizardApp(opening=options, detect_on_start=False)
    notes: list[str] = []
    monkeypatch.setattr(app, "notify", lambda message, **_: notes.append(str(message)))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until_shown(pilot, ProblemScreen, "the refusal")
            shown = plain(app.screen.query_one("#problem-text", Static))
            assert "Another agentcore-wizard" in shown
            assert app.refusal is not None and app.refusal.code == PROJECT_BUSY
            await pilot.press("r")  # still held: still refused, said again
            await pilot.pause()
            assert isinstance(app.screen, ProblemScreen) and not app.opened
            assert notes == ["Still refused: see what to do."]
            other.close()
            await pilot.press("r")
            await until(pilot, lambda: app.opened, "the folder to open")
            await pilot.pause()
            assert isinstance(app.screen, WelcomeScreen) and app.refusal is None
    finally:
        other.close()
        app.close_session()


def test_the_terminal_ui_refused_says_why_on_the_terminal_with_the_exit_code(
    options: Options, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """run_tui as the CLI calls it, headless: the refusal is shown, q quits, and the terminal is told too."""
    from screens.app import run_tui

    async def quit_at_the_refusal(pilot: Any) -> None:
        await until_shown(pilot, ProblemScreen, "the refusal")
        await pilot.press("q")

    def headless_run(self: App[Any]) -> Any:
        return App.run(self, headless=True, size=SIZE, auto_pilot=quit_at_the_refusal)

    monkeypatch.setattr(WizardApp, "run", headless_run)
    with Session(options):
        code = run_tui(options)
    assert code == cli.EXIT_ERROR
    said = capsys.readouterr().err
    assert said.startswith("error: Another agentcore-wizard") and "\n  fix: " in said
    with Session(options):  # and nothing is left locked
        pass


# --- what is imported before the first paint (a process of its own: this one has imported everything) -------


def test_the_first_paint_imports_no_session_no_stage_and_no_aws_library(tmp_path: Path) -> None:
    """What is loaded when the first frame has been rendered (the app then starts opening the project)."""
    probe = textwrap.dedent(
        f"""
        import asyncio, json, sys
        from wizard.cli import _front_end, options_from, parse_arguments

        argv = ["--sandbox-endpoint", "http://127.0.0.1:9", "--dir", {str(tmp_path)!r}]
        options = options_from(parse_arguments(argv))
        run_tui = _front_end("tui", "The terminal UI")
        WizardApp = run_tui.__globals__["WizardApp"]
        painted = {{}}
        open_after_paint = WizardApp._open_in_worker

        def loaded(name):
            return any(module == name or module.startswith(name + ".") for module in sys.modules)

        def at_first_paint(self, options):
            painted.update({{name: loaded(name) for name in ("wizard.session", "wizard.steps", "boto3", "moto")}})
            painted["opened"] = self.opened
            open_after_paint(self, options)

        WizardApp._open_in_worker = at_first_paint
        app = WizardApp(opening=options, detect_on_start=False)

        async def main():
            async with app.run_test(size=(120, 36)) as pilot:
                for _ in range(400):
                    if app.opened:
                        break
                    await pilot.pause(0.025)
                print(json.dumps({{"painted": painted, "opened": app.opened, "later": loaded("wizard.steps")}}))
            app.close_session()

        asyncio.run(main())
        """
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["painted"] == {
        "wizard.session": False,
        "wizard.steps": False,
        "boto3": False,
        "moto": False,
        "opened": False,
    }
    assert answer["opened"] is True and answer["later"] is True


# --- the command line of the terminal UI -------------------------------------------------------------------


TUI_LINES = [
    [],
    ["--sandbox"],
    ["--sandbox", "--dir", "/tmp/x", "--region", "eu-west-1"],
    ["--dir", "run"],  # a value that is a command's name: the full parser, same answer
    ["--dir=run"],  # one word: the terminal UI's parser
    ["--dir", "status", "--no-browser", "--agent-name", "a1"],
    ["--sandbox-endpoint", "http://127.0.0.1:9", "--participant", "alice", "--reconfigure"],
    ["--sandbox-e", "http://127.0.0.1:9"],  # an abbreviation, as argparse allows
]


@pytest.mark.parametrize("argv", TUI_LINES, ids=lambda argv: " ".join(argv) or "(none)")
def test_the_terminal_ui_parser_reads_a_command_line_as_the_full_parser_does(argv: list[str]) -> None:
    assert cli.parse_arguments(argv) == cli.build_parser().parse_args(argv)


BAD_LINES = [
    ["--sand"],
    ["rnu"],
    ["--sandbx"],
    ["--sandbox", "--sandbox-endpoint", "http://127.0.0.1:9"],
    ["--dir"],
    ["-x"],
]


@pytest.mark.parametrize("argv", BAD_LINES, ids=" ".join)
def test_a_command_line_it_does_not_understand_gets_the_full_parsers_message(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as full:
        cli.build_parser().parse_args(argv)
    expected = capsys.readouterr().err
    with pytest.raises(SystemExit) as quick:
        cli.parse_arguments(argv)
    assert (quick.value.code, capsys.readouterr().err) == (full.value.code, expected)
    assert "COMMAND" in expected  # the usage of the full parser, which lists the commands


@pytest.mark.parametrize("argv", [["--help"], ["--he"], ["-h"], ["--sandbox", "--hel"]], ids=" ".join)
def test_help_is_the_full_parsers_with_every_command(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["--help"])
    expected = capsys.readouterr().out
    with pytest.raises(SystemExit) as quick:
        cli.parse_arguments(argv)
    assert quick.value.code == 0 and capsys.readouterr().out == expected
    assert "COMMAND" in expected and "cleanup" in expected


def test_the_commands_it_knows_are_the_full_parsers() -> None:
    parser = cli.build_parser()
    commands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    assert set(commands.choices) == set(cli.COMMANDS)


# --- the front end found from the package's own metadata --------------------------------------------------


def test_the_front_ends_are_read_from_the_package_metadata_as_importlib_finds_them() -> None:
    from importlib.metadata import entry_points

    for entry in entry_points(group=cli.FRONT_ENDS):
        assert cli._own_entry_point(cli.FRONT_ENDS, entry.name) == entry.value
    assert cli._own_entry_point(cli.FRONT_ENDS, "no-such-front-end") is None


def test_only_this_version_s_metadata_is_read_and_importlib_is_the_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wizard import __version__

    other = tmp_path / "other" / "agentcore_wizard-0.0.0.dist-info"
    other.mkdir(parents=True)
    (other / "entry_points.txt").write_text("[agentcore_wizard.front_ends]\ntui = elsewhere:run\n", encoding="utf-8")
    ours = tmp_path / "ours" / f"agentcore_wizard-{__version__}.dist-info"
    ours.mkdir(parents=True)
    (ours / "entry_points.txt").write_text("[agentcore_wizard.front_ends]\ntui = first:run\n", encoding="utf-8")
    with monkeypatch.context() as patched:
        patched.setattr(sys, "path", [str(tmp_path / "other"), str(tmp_path / "ours"), *sys.path])
        assert cli._own_entry_point(cli.FRONT_ENDS, "tui") == "first:run"  # another version's is passed over
    monkeypatch.setattr(cli, "_own_entry_point", lambda group, name: None)
    from screens.app import run_tui

    assert cli._front_end("tui", "The terminal UI") is run_tui  # found by importlib.metadata instead


def test_an_entry_points_file_is_read_by_group() -> None:
    lines = [
        "[console_scripts]",
        "tui = somewhere.else:main",
        "",
        "[agentcore_wizard.front_ends]",
        "serve = screens.serve:serve",
        " tui =  screens.app:run_tui ",
    ]
    assert cli._entry_point_in(lines, "agentcore_wizard.front_ends", "tui") == "screens.app:run_tui"
    assert cli._entry_point_in(lines, "console_scripts", "tui") == "somewhere.else:main"
    assert cli._entry_point_in(lines, "agentcore_wizard.front_ends", "web") is None
