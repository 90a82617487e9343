"""Dialogs: yes/no questions, the region prompt."""

from __future__ import annotations

import json
import re

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.validation import Regex
from textual.widgets import Button, Input, Label, Static

COMMON_REGIONS = "us-east-1, us-west-2, eu-central-1, eu-west-1, ap-southeast-2, ap-northeast-1"
REGION_RULE = r"^[a-z]{2}(-[a-z]+)+-\d+$"


# Left/Right (and Up/Down in a column of choices) move between a dialog's buttons, as Tab does.
ARROWS = [
    Binding("left,up", "app.focus_previous", "Previous button", show=False),
    Binding("right,down", "app.focus_next", "Next button", show=False),
]


def as_code(detail: str) -> Syntax | Text:
    """A diff in colour, JSON (a policy) highlighted, anything else as plain lines: never wrapped prose."""
    stripped = detail.lstrip()
    if stripped.startswith(("--- ", "+++ ", "@@ ")):
        return Syntax(detail, "diff", background_color="default", word_wrap=True)
    if stripped.startswith(("{", "[")):
        try:
            return Syntax(json.dumps(json.loads(detail), indent=2), "json", background_color="default")
        except ValueError:
            pass
    return Text(detail)


class ConfirmModal(ModalScreen[bool]):
    CSS_PATH = "dialogs.tcss"
    BINDINGS = [
        Binding("escape", "answer(False)", "No", id="confirm.no"),
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n", "answer(False)", "No", show=False),
        *ARROWS,
    ]

    def __init__(
        self, question: str, yes: str = "Yes", no: str = "No", default: bool = False, detail: str = ""
    ) -> None:
        """`default`: what Enter does at once. True for the action the person came for (write the YAML, create
        the role); False where saying yes deletes or overwrites something (the safe button is focused).
        `detail`: what the question is about (a diff, a policy), shown as code."""
        super().__init__()
        self.question = question
        self.detail = detail
        self.yes, self.no = yes, no
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            # Long questions (a YAML diff) scroll inside the dialog; the buttons stay visible.
            with VerticalScroll(classes="dialog-body"):
                yield Static(Text(self.question), classes="dialog-question")
                if self.detail:
                    yield Static(as_code(self.detail), classes="dialog-detail")
            with Horizontal(classes="dialog-buttons"):
                # The focused default looks primary; a yes that destroys looks like a warning.
                yield Button(self.yes, id="yes", variant="primary" if self.default else "warning")
                yield Button(self.no, id="no", variant="default" if self.default else "primary")

    def on_mount(self) -> None:
        self.query_one("#yes" if self.default else "#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class ChoiceModal(ModalScreen[str | None]):
    """One of several ways forward, each a button; Escape takes the safe default."""

    CSS_PATH = "dialogs.tcss"

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="choice.cancel"), *ARROWS]

    def __init__(self, question: str, choices: tuple[tuple[str, str], ...], default: str) -> None:
        super().__init__()
        self.question = question
        self.choices = choices
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            with VerticalScroll(classes="dialog-body"):
                yield Static(Text(self.question), classes="dialog-question")
            with Vertical(classes="dialog-choices"):
                for key, label in self.choices:
                    yield Button(label, id=f"choice-{key}", variant="primary" if key == self.default else "default")

    def on_mount(self) -> None:
        self.query_one(f"#choice-{self.default}", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss((event.button.id or "").removeprefix("choice-") or self.default)

    def action_cancel(self) -> None:
        self.dismiss(self.default)


class RegionModal(ModalScreen[str | None]):
    """Asked when no region comes from a flag, the state file or the profile: never guessed."""

    CSS_PATH = "dialogs.tcss"

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="region.cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(
                "No AWS region is set (no --region, none in the state file, your profile or AWS_REGION).\n"
                "Which region should this project use? Every resource goes there.",
                classes="dialog-question",
            )
            yield Input(
                placeholder="e.g. us-east-1",
                id="region-input",
                validators=[Regex(REGION_RULE, failure_description="Not a region name like us-east-1.")],
            )
            yield Static(f"Common: {COMMON_REGIONS}", classes="dim")
            yield Label("", id="region-error", classes="error-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Use this region", id="ok", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def _submit(self) -> None:
        value = self.query_one(Input).value.strip()
        if not re.match(REGION_RULE, value):
            self.query_one("#region-error", Label).update(f"{value!r} is not a region name like us-east-1.")
            return
        self.dismiss(value)

    def on_input_submitted(self) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
