"""The project could not be opened (another wizard holds the folder, a flag the project refuses): why, what to do,
and, when it may pass, a way to try again. The terminal UI and a browser tab both show it in place of the wizard."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Static

if TYPE_CHECKING:
    from wizard.errors import WizardError


def error_text(error: WizardError) -> Text:
    """An error as the wizard shows it everywhere: what went wrong, then what to do."""
    text = Text(error.message, style="bold")
    if error.fix:
        text.append("\n→ ", style="bold").append(error.fix)
    return text


class ProblemScreen(Screen[None]):
    DEFAULT_CSS = """
    ProblemScreen #problem { padding: 1 2; max-width: 100; }
    ProblemScreen #problem-title { text-style: bold; color: $text-error; margin-bottom: 1; }
    ProblemScreen #problem-actions { height: auto; margin-top: 1; }
    ProblemScreen Button { margin-right: 2; }
    """
    BINDINGS = [
        Binding("r", "retry", "Try again", id="problem.retry"),
        Binding("q", "quit", "Quit", id="problem.quit"),
    ]

    def __init__(self, error: WizardError, can_retry: bool, title: str = "The wizard cannot open this project") -> None:
        super().__init__()
        self.error = error
        self.can_retry = can_retry
        self.title_text = title

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="problem"):
            yield Static(self.title_text, id="problem-title")
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
            self.action_quit()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.can_retry if action == "retry" else True

    def action_quit(self) -> None:
        self.app.exit(1)

    def action_retry(self) -> None:
        from screens.app import WizardApp

        app = self.app
        if isinstance(app, WizardApp):
            app.retry_opening(self)

    def show(self, error: WizardError) -> None:
        """Tried again and still refused: the new reason."""
        self.error = error
        self.query_one("#problem-text", Static).update(error_text(error))
        self.app.notify("Still refused: see what to do.", severity="warning")
