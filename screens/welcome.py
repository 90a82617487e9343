"""The first screen: what this is, which mode, every stage, and where to pick up."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Header, Static

from screens.widgets import QuietFooter, status_text

if TYPE_CHECKING:
    from screens.app import WizardApp

INTRO_TITLE = "AgentCore Identity, step by step"
# Rich Text, not Markdown: the first screen paints before a Markdown parser is imported.
INTRO = Text.assemble(
    "This wizard performs the ",
    ("Amazon Bedrock AgentCore Identity quickstart", "bold"),
    " with you: inbound JWT auth with Amazon Cognito, and outbound OAuth on behalf of a user. Each stage ",
    ("does", "bold"),
    " its work with the AWS APIs, then ",
    ("verifies", "bold"),
    " the result against AWS and this folder, and records progress so you can stop at any moment and pick up "
    "later, here or with the quickstart's own CLI.",
)


class WelcomeScreen(Screen[None]):
    BINDINGS = [
        Binding("enter", "start", "Continue", id="welcome.continue", priority=True),
    ]

    @property
    def wizard_app(self) -> WizardApp:
        return cast("WizardApp", self.app)

    def compose(self) -> ComposeResult:
        # Few widgets: each one costs the first paint a millisecond or so (styling, layout, its message queue).
        yield Header()
        with VerticalScroll(id="welcome"):
            yield Static(INTRO_TITLE, id="intro-title")
            yield Static(INTRO, id="intro")
            yield Static(self._overview(), id="overview")
            yield Button(self._start_label(), id="start", variant="primary")
        yield QuietFooter()

    def on_mount(self) -> None:
        self.query_one("#start", Button).focus()

    def refresh_view(self) -> None:
        """Statuses change behind this screen while existing work is detected."""
        self.query_one("#overview", Static).update(self._overview())
        self.query_one("#start", Button).label = self._start_label()

    def _overview(self) -> Text:
        """Where the project stands: the mode, a damaged record, progress and the next step, every stage."""
        problem = self.wizard_app.standing.load_problem
        parts = [
            self._mode_text(),
            *([Text("! " + problem, style="bold yellow")] if problem else []),
            self._resume_text(),
            self._stage_table(),
        ]
        return Text("\n\n").join(parts)

    def _start_label(self) -> str:
        session = self.wizard_app.standing
        target = session.first_unfinished()
        if session.cleanup_interrupted():
            return "Finish the cleanup (it was interrupted)"
        if target is None:
            return "All stages done: clean up when you are finished"
        if self._built():
            return f"Continue at stage {target.label}: {target.title}"
        again = "Start again" if session.status_of("cleanup") == "done" else "Start"
        return f"{again} at stage {target.label}: {target.title}"

    def _built(self) -> list[Any]:
        """The stages of the run that are done (cleanup is not one: it undoes them)."""
        session = self.wizard_app.standing
        return [stage for stage in session.stages.run_order if session.status_of(stage) == "done"]

    def _has_progress(self) -> bool:
        return bool(self._built()) or self.wizard_app.standing.status_of("cleanup") != "pending"

    def _mode_text(self) -> Text:
        session = self.wizard_app.standing
        if session.is_sandbox:
            return Text(
                "SANDBOX MODE: everything runs against an offline sandbox on 127.0.0.1. "
                "Nothing is created in AWS and no AWS account is needed.",
                style="bold black on yellow",
            )
        account = session.account or f"checked in {session.stages.name(session.stages.run_order[0].key)}"
        profile = session.options.profile or "default credential chain"
        return Text(f"AWS MODE: resources are created in your AWS account ({account}; {profile}).", style="bold")

    def _resume_text(self) -> Text:
        session = self.wizard_app.standing
        if not self._has_progress():
            return Text(f"New project in {session.project}.", style="dim")
        built = self._built()
        target = session.first_unfinished()
        text = Text(f"Welcome back. Project {session.project}", style="bold")
        region = session.pinned_region
        if region:
            text.append(f", region {region}")
        if built:
            count = f"{len(built)} {'stage' if len(built) == 1 else 'stages'}"
            text.append(f": {count} done (" + ", ".join(stage.label for stage in built) + ").")
        else:
            text.append(".")
        if session.cleanup_interrupted():
            text.append(
                "\nThe cleanup was interrupted: some of what the wizard made is gone, the rest is still there. "
                "Next: finish the cleanup.",
                style="yellow",
            )
        elif target is not None and not built and session.status_of("cleanup") == "done":
            text.append(
                f"\nIt was cleaned up: nothing the wizard made is left. Next: build it again from "
                f"{session.stages.name(target.key)}."
            )
        elif target is not None:
            text.append(f"\nNext: {session.stages.name(target.key)}.")
            error = session.error_of(target)
            if error:
                text.append(f"\n{error.get('message', '')} {error.get('fix', '')}".rstrip(), style="yellow")
        return text

    def _stage_table(self) -> Text:
        """Every stage and its status, in columns. Plain text laid out here, not a Rich Table: a table is measured
        and rendered several times over while the first screen is laid out, which costs its paint a tenth."""
        session = self.wizard_app.standing
        header = [Text("#"), Text("Stage"), Text("Quickstart"), Text("Status")]
        rows = [
            [Text(stage.label), Text(stage.title), Text(stage.quickstart_step), status_text(session.status_of(stage))]
            for stage in session.stages
        ]
        widths = [max(row[column].cell_len for row in (header, *rows)) for column in range(len(header))]
        lines = []
        for index, row in enumerate((header, *rows)):
            cells = [cell.copy() if index else Text.assemble((cell.plain, "bold")) for cell in row]
            # The number is right-aligned; the last column is not padded (no trailing spaces).
            cells[0].align("right", widths[0])
            for cell, width in zip(cells[1:-1], widths[1:-1], strict=True):
                cell.align("left", width)
            lines.append(Text("  ").join(cells))
        return Text("\n").join(lines)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self.action_start()

    def action_start(self) -> None:
        if not self.wizard_app.opened:
            self.wizard_app.start_when_open()  # the stage screens need the session: a moment more
            return
        session = self.wizard_app.standing
        target = session.first_unfinished() if self._has_progress() else session.stages.run_order[0]
        self.wizard_app.goto(target.key if target is not None else "cleanup")
