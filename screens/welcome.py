"""The first screen: what this is, which mode, every stage, and where to pick up."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Markdown, Static

from screens.widgets import status_text

if TYPE_CHECKING:
    from screens.app import WizardApp

INTRO = """\
# AgentCore Identity, step by step

This wizard performs the **Amazon Bedrock AgentCore Identity quickstart** with you: inbound JWT
auth with Amazon Cognito, and outbound OAuth on behalf of a user. Each stage **does** its work
with the AWS APIs, then **verifies** the result against AWS and this folder, and records progress
so you can stop at any moment and pick up later, here or with the quickstart's own CLI.
"""


class WelcomeScreen(Screen[None]):
    BINDINGS = [
        Binding("enter", "start", "Continue", id="welcome.continue", priority=True),
    ]

    @property
    def wizard_app(self) -> WizardApp:
        return cast("WizardApp", self.app)

    def compose(self) -> ComposeResult:
        app = self.wizard_app
        wizard = app.wizard
        yield Header()
        with VerticalScroll(id="welcome"):
            yield Markdown(INTRO, id="intro")
            yield Static(self._mode_text(), id="mode")
            if wizard.state.load_problem:
                yield Static(Text("! " + wizard.state.load_problem, style="bold yellow"), id="state-problem")
            yield Static(self._resume_text(), id="resume")
            yield Static(self._stage_table(), id="overview")
            with Horizontal(id="welcome-actions"):
                yield Button(self._start_label(), id="start", variant="primary")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#start", Button).focus()

    def refresh_view(self) -> None:
        """Statuses change behind this screen while existing work is detected."""
        self.query_one("#resume", Static).update(self._resume_text())
        self.query_one("#overview", Static).update(self._stage_table())
        self.query_one("#mode", Static).update(self._mode_text())
        self.query_one("#start", Button).label = self._start_label()

    def _start_label(self) -> str:
        target = self.wizard_app.wizard.first_unfinished()
        if target is None:
            return "All stages done: clean up when you are finished"
        if self._has_progress():
            return f"Continue at stage {target.label}: {target.title}"
        return "Start at stage 0: Prerequisites"

    def _has_progress(self) -> bool:
        wizard = self.wizard_app.wizard
        return any(wizard.status_of(stage) == "done" for stage in wizard.stages)

    def _mode_text(self) -> Text:
        wizard = self.wizard_app.wizard
        if wizard.ctx.is_sandbox:
            return Text(
                "SANDBOX MODE: everything runs against an offline sandbox on 127.0.0.1. "
                "Nothing is created in AWS and no AWS account is needed.",
                style="bold black on yellow",
            )
        account = wizard.state.data.get("account") or "checked in stage 0"
        profile = wizard.options.profile or "default credential chain"
        return Text(f"AWS MODE: resources are created in your AWS account ({account}; {profile}).", style="bold")

    def _resume_text(self) -> Text:
        wizard = self.wizard_app.wizard
        if not self._has_progress():
            return Text(f"New project in {wizard.options.project}.", style="dim")
        done = [stage for stage in wizard.stages if wizard.status_of(stage) == "done"]
        target = wizard.first_unfinished()
        text = Text(f"Welcome back. Project {wizard.options.project}", style="bold")
        region = wizard.state.data.get("region")
        if region:
            text.append(f", region {region}")
        text.append(f": {len(done)} stage(s) done (" + ", ".join(stage.label for stage in done) + ").")
        if target is not None:
            text.append(f"\nNext: stage {target.label}, {target.title}.")
            error = wizard.error_of(target)
            if error:
                text.append(f"\n{error.get('message', '')} {error.get('fix', '')}".rstrip(), style="yellow")
        return text

    def _stage_table(self) -> Table:
        wizard = self.wizard_app.wizard
        table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
        table.add_column("#", justify="right")
        table.add_column("Stage")
        table.add_column("Quickstart")
        table.add_column("Status")
        for stage in wizard.stages:
            table.add_row(stage.label, stage.title, stage.quickstart_step, status_text(wizard.status_of(stage)))
        return table

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self.action_start()

    def action_start(self) -> None:
        wizard = self.wizard_app.wizard
        target = wizard.first_unfinished() if self._has_progress() else wizard.stages[0]
        self.wizard_app.goto(target.key if target is not None else "cleanup")
