"""The process of one browser tab of `agentcore-wizard serve` (run as `python -m screens.tab` by textual-serve,
with Textual's web driver). It is the terminal UI with one step before it: in a workshop the participant's name
(screens/join.py), and in either case opening the project, whose refusal (another tab holds the folder) is shown
in the tab with what to do; a process that failed before its first screen would leave the tab blank."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual import events, on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Static

from screens.app import TuiPort, WizardApp
from screens.join import JoinScreen, error_text
from wizard.errors import WizardError, explain
from wizard.session import Session
from wizard.settings import Options
from wizard.state import PROJECT_BUSY


class ProblemScreen(Screen[None]):
    """The project could not be opened: why, what to do, and (when it may pass) a way to try again."""

    DEFAULT_CSS = """
    ProblemScreen #problem { padding: 1 2; max-width: 100; }
    ProblemScreen #problem-title { text-style: bold; color: $text-error; margin-bottom: 1; }
    ProblemScreen #problem-actions { height: auto; margin-top: 1; }
    ProblemScreen Button { margin-right: 2; }
    """
    BINDINGS = [
        Binding("r", "retry", "Try again", id="problem.retry"),
        Binding("q", "app.quit", "Quit", id="problem.quit"),
    ]

    def __init__(self, error: WizardError, can_retry: bool) -> None:
        super().__init__()
        self.error = error
        self.can_retry = can_retry

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="problem"):
            yield Static("The wizard cannot start in this tab", id="problem-title")
            yield Static(error_text(self.error), id="problem-text")
            with Horizontal(id="problem-actions"):
                if self.can_retry:
                    yield Button("Try again", id="retry", variant="primary")
                yield Button("Quit", id="quit")
        yield Footer()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "retry":
            self.action_retry()
        else:
            self.app.exit(1)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.can_retry if action == "retry" else True

    def action_retry(self) -> None:
        app = self.app
        if isinstance(app, TabApp):
            refused = app.open_project(app.options)
            if refused is not None:
                self.error = refused
                self.query_one("#problem-text", Static).update(error_text(refused))
                app.notify("Still refused: see what to do.", severity="warning")


class TabApp(WizardApp):
    """The wizard in a browser tab: no session until its project is opened (after the join screen in a
    workshop), then exactly the terminal UI."""

    def __init__(self, options: Options, join_root: Path | None) -> None:
        super().__init__(None)
        self.options = options
        self.join_root = join_root
        self.opened = False

    # Textual calls the handlers of every class, base classes after: preventing the default keeps WizardApp's
    # (begin with the session; stop its operation) from running while there is no session.
    @on(events.Mount)
    def _ask_or_open(self, event: events.Mount) -> None:
        event.prevent_default()
        if self.join_root is not None:
            self.push_screen(JoinScreen(self.join_root))
            return
        refused = self.open_project(self.options)
        if refused is not None:
            self.push_screen(ProblemScreen(refused, can_retry=True))

    def join(self, participant: str) -> WizardError | None:
        """The participant's own project, ROOT/<name>, opened (made if new); a refusal is returned to show."""
        assert self.join_root is not None
        folder = self.join_root / participant
        return self.open_project(dataclasses.replace(self.options, participant=participant, project=folder))

    def open_project(self, options: Options) -> WizardError | None:
        session = Session(options, TuiPort())
        try:
            session.open()
        except WizardError as error:
            return self._explained(error, session)
        except Exception as exc:  # a failure nothing explained yet: its message and fix, never a traceback
            return explain(exc)
        while len(self.screen_stack) > 1:  # the join or problem screen: the wizard takes the tab from here
            self.pop_screen()
        self.adopt(session)
        self.opened = True
        self.begin()
        return None

    def _explained(self, error: WizardError, session: Session) -> WizardError:
        """The core's refusal, said for a browser tab (the core's fixes speak of command-line flags)."""
        folder = session.options.project
        participant = session.options.participant
        recorded = session.settings.recorded().get("participant") if session.state.exists else None
        if participant and recorded and recorded != participant:
            return WizardError(
                f"The folder {folder} was made for participant {recorded!r}, not {participant!r}.",
                fix=f"Pick another name: each participant's work is kept in a folder named after them. If you are "
                f"{recorded}, join as {recorded}.",
                code=error.code,
            )
        if error.code == PROJECT_BUSY and participant:
            return WizardError(
                f"{participant} is already open in another browser tab (or wizard): {error.message}",
                fix=f"If that is you, carry on in that tab, or close it and join here again. If someone else is "
                f"{participant}, pick another name.",
                code=error.code,
            )
        if error.code == PROJECT_BUSY:
            return WizardError(
                error.message,
                fix="This folder takes one wizard at a time: carry on in the other tab, or quit it there (q) or "
                "close it, then press Try again here. For a wizard per person, the server's host can run "
                "`agentcore-wizard serve --workshop URL`, which gives each tab its own folder.",
                code=error.code,
            )
        return error

    # --- before the project is open there is no session: the app's commands wait for it ---------

    @property
    def busy(self) -> str | None:
        return super().busy if self.opened else None

    @on(events.Unmount)
    def _unmounted(self, event: events.Unmount) -> None:
        if not self.opened:
            event.prevent_default()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        if self.opened:
            yield from super().get_system_commands(screen)
        else:
            yield from App.get_system_commands(self, screen)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The doctor examines a project: none is open yet (False also takes its key out of the footer).
        return self.opened if action == "doctor" else super().check_action(action, parameters)


class ProblemApp(App[int]):
    """The tab's options could not be read: say so in the tab (there is no project to open)."""

    TITLE = "agentcore-wizard"

    def __init__(self, error: WizardError) -> None:
        super().__init__()
        self.error = error

    def on_mount(self) -> None:
        self.push_screen(ProblemScreen(self.error, can_retry=False))


def main() -> int:
    from wizard import served
    from wizard.cli import options_from

    try:
        tab = served.tab_from_environment()
        options = options_from(argparse.Namespace(**tab.arguments), participant_later=tab.join_root is not None)
    except WizardError as error:
        return int(ProblemApp(error).run() or 1)
    app = TabApp(options, tab.join_root)
    try:
        result = app.run()
    finally:
        if app.opened:
            app.session.close()
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
