"""A served workshop tab's first screen: the attendee's participant name, which picks their project folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Label, Static

from screens.problem import error_text
from wizard import names
from wizard.errors import WizardError

if TYPE_CHECKING:
    from screens.tab import TabApp


class JoinScreen(Screen[None]):
    DEFAULT_CSS = """
    JoinScreen #join { padding: 1 2; max-width: 100; }
    JoinScreen #join-title { text-style: bold; margin-bottom: 1; }
    JoinScreen #participant-label { margin-top: 1; }
    JoinScreen #participant { width: 40; }
    JoinScreen #join-error { color: $text-error; margin: 1 0; height: auto; }
    JoinScreen #join-error.-empty { display: none; }
    JoinScreen #join-actions { height: auto; margin-top: 1; }
    """

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    @property
    def tab_app(self) -> TabApp:
        return cast("TabApp", self.app)

    def compose(self) -> ComposeResult:
        yield Header()
        # A click beside the field (a browser tab gets clicked to focus it) leaves the focus in the field.
        with VerticalScroll(id="join", can_focus=False):
            yield Static("Join the workshop", id="join-title")
            yield Static(
                "Your name goes into every name the wizard makes for you (your agent, credential provider, "
                "workload identity, user pool), so the room can share one sandbox or account without "
                f"collisions. Your progress is kept on the server, in {self.root}/<your name>: join with the "
                "same name later to pick up where you left off.\n\n"
                "1-20 letters and digits, starting with a letter, e.g. alice or p07."
            )
            yield Label("Your participant name:", id="participant-label")
            yield Input(placeholder="e.g. alice", id="participant", max_length=40)
            yield Static("", id="join-error", classes="-empty")
            with Horizontal(id="join-actions"):
                yield Button("Join", id="join-button", variant="primary")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#participant", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.join()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "join-button":
            event.stop()
            self.join()

    def join(self) -> None:
        """Check the name and open its project; any refusal is shown here, with the name still typed."""
        field = self.query_one("#participant", Input)
        try:
            name = names.check_participant(field.value.strip())
        except WizardError as error:
            self.show_error(error)
            return
        refused = self.tab_app.join(name)
        if refused is not None:
            self.show_error(refused)

    def show_error(self, error: WizardError) -> None:
        shown = self.query_one("#join-error", Static)
        shown.update(error_text(error))
        shown.remove_class("-empty")
        self.query_one("#participant", Input).focus()
