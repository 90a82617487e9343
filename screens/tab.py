"""The process of one browser tab of `agentcore-wizard serve` (run as `python -m screens.tab` by textual-serve,
with Textual's web driver). It is the terminal UI with one step before it: in a workshop the participant's name
(screens/join.py), and in either case opening the project, whose refusal (another tab holds the folder) is shown
in the tab with what to do; a process that failed before its first screen would leave the tab blank."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events, on
from textual.app import App

from screens.app import WizardApp
from screens.join import JoinScreen
from screens.problem import ProblemScreen
from wizard.errors import WizardError
from wizard.state import PROJECT_BUSY

if TYPE_CHECKING:
    from wizard.session import Session
    from wizard.settings import Options


class TabApp(WizardApp):
    """The wizard in a browser tab: the terminal UI, but in a workshop it asks for the participant first (and
    opens the project only then), and a refusal speaks of tabs."""

    PROBLEM_TITLE = "The wizard cannot start in this tab"

    def __init__(self, options: Options, join_root: Path | None) -> None:
        super().__init__(opening=None if join_root is not None else options)
        self.options = options
        self.join_root = join_root

    # A handler of its own name: Textual calls it and WizardApp's on_mount (which, without a project to open yet,
    # does nothing).
    @on(events.Mount)
    def _ask_for_the_participant(self) -> None:
        if self.join_root is not None:
            self.push_screen(JoinScreen(self.join_root))

    def join(self, participant: str) -> WizardError | None:
        """The participant's own project, ROOT/<name>, opened (made if new); a refusal is returned to show."""
        assert self.join_root is not None
        folder = self.join_root / participant
        return self.open_project(dataclasses.replace(self.options, participant=participant, project=folder))

    def explained(self, error: WizardError, session: Session) -> WizardError:
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


class ProblemApp(App[int]):
    """The tab's options could not be read: say so in the tab (there is no project to open)."""

    TITLE = "agentcore-wizard"

    def __init__(self, error: WizardError) -> None:
        super().__init__()
        self.error = error

    def on_mount(self) -> None:
        self.push_screen(ProblemScreen(self.error, can_retry=False, title=TabApp.PROBLEM_TITLE))


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
        app.close_session()
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
