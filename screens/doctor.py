"""The doctor as a dialog: what is wrong with this project, each finding with its fix."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, LoadingIndicator, Static

if TYPE_CHECKING:
    from screens.app import WizardApp
    from wizard.doctor import Finding

STYLES = {"ok": ("✓ ", "green"), "warning": ("! ", "yellow"), "error": ("✗ ", "red")}


class DoctorModal(ModalScreen[None]):
    CSS_PATH = "dialogs.tcss"
    BINDINGS = [Binding("escape", "close", "Close", id="doctor.close")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(id="doctor-title")
            yield LoadingIndicator(id="doctor-busy")
            with VerticalScroll(classes="dialog-body"):
                yield Static(id="findings")
            # One button per stage whose run is a finding's fix: taken here, not copied into a terminal the
            # running wizard would refuse (it holds the folder).
            yield Vertical(id="doctor-fixes", classes="dialog-choices")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Check again", id="again", disabled=True)
                yield Button("Close", id="close", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()
        self.check()

    @property
    def wizard_app(self) -> WizardApp:
        return cast("WizardApp", self.app)

    def check(self) -> None:
        app = self.wizard_app
        if app.busy is not None:
            self._show_text(Text(f"Busy: {app.busy}. Check again when it is done.", style="yellow"))
            self.query_one("#again", Button).disabled = False
            return
        self._title("Doctor: checking credentials, regions and every finished stage …")
        self.query_one("#doctor-busy").display = True
        self.query_one("#again", Button).disabled = True
        if not app.start_operation("running the doctor", self._diagnose):
            self._show_text(Text(f"Busy: {app.busy}. Check again when it is done.", style="yellow"))
            self.query_one("#again", Button).disabled = False

    @work(thread=True, group="session", description="Doctor")
    def _diagnose(self) -> None:
        from wizard.doctor import Finding

        app = self.wizard_app
        try:
            findings = app.call_session(app.session.doctor)
        except Exception as exc:  # the doctor itself must never take the app down
            findings = [Finding("error", "doctor", f"could not finish: {exc}")]
        self.wizard_app.from_worker(self._show, findings or [Finding("warning", "doctor", "did not run: busy")])

    def _title(self, text: str) -> None:
        self.query_one("#doctor-title", Static).update(Text(text, style="bold"))

    def _show(self, findings: list[Finding]) -> None:
        errors = sum(finding.level == "error" for finding in findings)
        warnings = sum(finding.level == "warning" for finding in findings)
        counted = f"{_count(errors, 'error')}, {_count(warnings, 'warning')}"
        self._title(f"Doctor: {counted}. Each comes with its fix." if errors or warnings else "Doctor: all well.")
        self.query_one("#doctor-busy").display = False
        self.query_one("#again", Button).disabled = False
        text = Text()
        for index, finding in enumerate(findings):
            if index:
                text.append("\n")
            mark, style = STYLES.get(finding.level, ("· ", ""))
            text.append(mark, style=style)
            text.append(f"{finding.topic}: ", style="bold")
            text.append(finding.message)
            if finding.fix:
                text.append(f"\n    → {finding.fix}", style="dim")
        self._show_text(text)
        fixes = self.query_one("#doctor-fixes", Vertical)
        fixes.remove_children()
        keys = list(dict.fromkeys(f.stage for f in findings if f.stage and f.level != "ok"))
        session = self.wizard_app.session
        fixes.mount_all(
            Button(f"Fix: run {session.stages.name(key)} again", id=f"fix-{key}", variant="primary") for key in keys
        )

    def _show_text(self, text: Text) -> None:
        self.query_one("#doctor-busy").display = False
        self.query_one("#findings", Static).update(text)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        button = event.button.id or ""
        if button == "again":
            self.check()
        elif button.startswith("fix-"):
            key = button.removeprefix("fix-")
            app = self.wizard_app
            self.dismiss(None)
            app.goto(key)
            # Once the stage's screen is up, so its progress and log show the fix as it runs.
            app.call_after_refresh(app.start_stage, key, then_verify_dependents=True)
        else:
            self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


def _count(number: int, what: str) -> str:
    return f"{number} {what}" if number == 1 else f"{'no' if number == 0 else number} {what}s"
