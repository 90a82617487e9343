"""The Textual app: routes controller events to screens and runs every stage in a worker thread."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen

from screens.modals import ConfirmModal, RegionModal
from screens.stage import LOG_STYLES, StageScreen
from screens.welcome import WelcomeScreen
from wizard.context import Event, Options

if TYPE_CHECKING:
    from wizard.engine import Outcome, Wizard
    from wizard.steps import Check


# Stages whose work may already exist, made by the quickstart's CLI or by hand. The others are
# left for the user to run: marking them done behind their back would skip the lesson.
ADOPTABLE = ("cognito", "agent", "configure", "provider", "workload")

NO_CREDENTIALS = ("NoCredentialsError", "PartialCredentialsError")


class WizardEvent(Message):
    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class WizardApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "agentcore-wizard"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Quit (asks first while a stage runs)"),
        Binding("d", "doctor", "Doctor", id="app.doctor", tooltip="Say what is wrong and how to fix it"),
    ]

    def __init__(self, wizard: Wizard, detect_on_start: bool = True) -> None:
        super().__init__()
        self.wizard = wizard
        self.detect_on_start = detect_on_start
        self.logs: dict[str, list[Text]] = {}
        self.checks: dict[str, list[Check]] = {}
        self.answers: dict[str, str] = {}  # the agent's answers as they streamed in, per stage
        self.consent: dict[str, dict[str, object]] = {}  # the consent a stage is waiting for
        self.busy: str | None = None
        self._quit_when_idle = False
        self.sub_title = "SANDBOX · nothing is created in AWS" if wizard.ctx.is_sandbox else "AWS"
        wizard.ctx.sink = self._post_event
        wizard.ctx.confirm = self._confirm_from_thread

    # --- start-up ---------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.push_screen(WelcomeScreen())
        if self.detect_on_start:
            self.detect_existing()

    @work(thread=True, group="stage", description="Looking at what already exists")
    def detect_existing(self) -> None:
        """After the first paint: adopt what the folder and AWS already hold (resume, hand-made steps)."""
        self.call_from_thread(self._set_busy, "looking at what already exists")
        wizard = self.wizard
        try:
            preflight_done = wizard.status_of(wizard.stage("preflight")) == "done"
            for stage in wizard.runnable():
                if stage.key not in ADOPTABLE or wizard.status_of(stage) == "done":
                    continue
                if stage.needs_aws and not preflight_done:
                    continue
                try:
                    wizard.detect_stage(stage.key)
                except Exception as exc:  # detection is best effort; the stage's own Run reports properly
                    self._post_event(Event("log", stage.key, f"Could not check existing resources: {exc}", "warning"))
        finally:
            self.call_from_thread(self._set_busy, None)

    # --- events from the controllers (any thread) -------------------------------------------------

    def _post_event(self, event: Event) -> None:
        self.post_message(WizardEvent(event))

    def on_wizard_event(self, message: WizardEvent) -> None:
        event = message.event
        screen = self._stage_screen(event.stage)
        if event.kind in ("log", "aws"):
            line = (
                Text.assemble(("AWS ", "cyan"), event.message)
                if event.kind == "aws"
                else Text(event.message, style=LOG_STYLES.get(event.level, ""))
            )
            self.logs.setdefault(event.stage, []).append(line)
            if screen is not None:
                screen.write_log(line)
        elif event.kind == "progress" and screen is not None:
            screen.show_progress(event.fraction, event.message)
        elif event.kind == "answer":
            start = event.detail.get("start")
            text = self.answers.get(event.stage, "")
            if start:
                text = f"{text}\n\n" if text else ""
                text += f"── {start} call ──\n"
            self.answers[event.stage] = text + event.message
            if screen is not None:
                screen.show_answer()
        elif event.kind == "consent":
            self.consent[event.stage] = {} if event.detail.get("done") else dict(event.detail)
            if screen is not None:
                screen.show_consent()
        elif event.kind == "status":
            self._refresh_active()

    def _stage_screen(self, key: str) -> StageScreen | None:
        screen = self.screen
        if isinstance(screen, StageScreen) and screen.stage_key == key:
            return screen
        return None

    def _refresh_active(self) -> None:
        if isinstance(self.screen, (StageScreen, WelcomeScreen)):
            self.screen.refresh_view()

    def _set_busy(self, what: str | None) -> None:
        self.busy = what
        self._refresh_active()
        if what is None and self._quit_when_idle:
            self.exit(0)

    # --- navigation -------------------------------------------------------------------------------

    def goto(self, key: str) -> None:
        name = f"stage-{key}"
        if not self.is_screen_installed(name):
            self.install_screen(StageScreen(key), name=name)
        if isinstance(self.screen, WelcomeScreen) or self.screen is not self.get_screen(name):
            self.switch_screen(name)

    def goto_relative(self, key: str, step: int) -> None:
        keys = [stage.key for stage in self.wizard.stages]
        index = keys.index(key) + step
        if 0 <= index < len(keys):
            self.goto(keys[index])

    # --- running and verifying --------------------------------------------------------------------

    def start_stage(self, key: str) -> None:
        if self.busy is not None:
            self.notify(f"Busy: {self.busy}.", severity="warning")
            return
        # Cleared here, not in the worker, so a stop confirmed before the worker starts is not lost.
        self.wizard.ctx.cancel_event.clear()
        self._set_busy(f"running stage {self.wizard.stage(key).label}")
        self.answers.pop(key, None)
        self.consent.pop(key, None)
        screen = self._stage_screen(key)
        if screen is not None:
            screen.show_progress(None, "starting…")
            screen.query_one("#log").scroll_visible()
        self._run_stage(key)

    @work(thread=True, group="stage", description="Running a stage")
    def _run_stage(self, key: str) -> None:
        outcome = self.wizard.run_stage(key)
        self.call_from_thread(self._stage_finished, key, outcome)

    def _stage_finished(self, key: str, outcome: Outcome) -> None:
        if outcome.checks:
            self.checks[key] = outcome.checks
        screen = self._stage_screen(key)
        if screen is not None:
            screen.hide_progress()
        stage = self.wizard.stage(key)
        self._set_busy(None)
        if outcome.ok:
            self.notify(f"{stage.name}: done and verified.", title=stage.title)
        elif outcome.error is not None and outcome.error.code == "region_missing":
            self.push_screen(RegionModal(), partial(self._region_chosen, key))
        elif (
            outcome.error is not None
            and outcome.error.code in NO_CREDENTIALS
            and not self.wizard.state.data.get("mode")
        ):
            question = (
                "No AWS credentials were found.\n\nContinue in the offline sandbox instead? Every stage runs the same "
                "way on this machine and nothing is created in AWS. (Or quit, run `aws configure`, and start again.)"
            )
            self.push_screen(
                ConfirmModal(question, yes="Use the sandbox", no="Not now"), partial(self._sandbox_chosen, key)
            )
        elif outcome.error is not None:
            self.notify(
                f"{outcome.error.message}\n→ {outcome.error.fix}",
                title=stage.name,
                severity="error",
                timeout=12,
            )

    def _sandbox_chosen(self, key: str, use_sandbox: bool | None) -> None:
        if use_sandbox:
            self.wizard.ctx.switch_to_sandbox()
            self.sub_title = "SANDBOX · nothing is created in AWS"
            self.start_stage(key)

    def _region_chosen(self, key: str, region: str | None) -> None:
        if region:
            self.wizard.ctx.region_choice = region
            self.start_stage(key)

    def start_verify(self, key: str) -> None:
        if self.busy is not None:
            self.notify(f"Busy: {self.busy}.", severity="warning")
            return
        self._set_busy(f"verifying stage {self.wizard.stage(key).label}")
        self._verify_stage(key)

    @work(thread=True, group="stage", description="Verifying a stage")
    def _verify_stage(self, key: str) -> None:
        outcome = self.wizard.verify_stage(key)
        self.call_from_thread(self._verify_finished, key, outcome)

    def _verify_finished(self, key: str, outcome: Outcome) -> None:
        if outcome.checks:
            self.checks[key] = outcome.checks
        self._set_busy(None)
        stage = self.wizard.stage(key)
        if outcome.ok:
            self.notify(f"All {len(outcome.checks)} checks pass.", title=stage.name)
        elif outcome.error is not None:
            self.notify(outcome.error.message, title=stage.name, severity="error", timeout=12)

    def _confirm_from_thread(self, question: str, default: bool, yes: str = "Yes", no: str = "No") -> bool:
        """A yes/no asked by a controller from its worker thread; blocks that thread, not the UI."""
        answer: dict[str, bool] = {}
        answered = threading.Event()

        def record(value: bool | None) -> None:
            answer["value"] = bool(value)
            answered.set()

        self.call_from_thread(self.push_screen, ConfirmModal(question, yes=yes, no=no), record)
        answered.wait()
        return answer.get("value", default)

    @work(thread=True, group="browser", description="Opening the browser")
    def open_in_browser(self, url: str) -> None:
        from wizard.consent import open_browser

        if not open_browser(url):
            self.call_from_thread(
                self.notify, "No browser could be opened here: copy the link instead.", severity="warning"
            )

    # --- clipboard --------------------------------------------------------------------------------

    def copy_text(self, text: str, what: str) -> None:
        # OSC 52 always goes out; pyperclip tells us whether the system clipboard also has it.
        self.copy_to_clipboard(text)
        try:
            import pyperclip

            pyperclip.copy(text)
        except Exception:  # pyperclip raises its own exception types, or fails to find a backend
            self.notify(
                f"Sent {what} to your terminal's clipboard (OSC 52): no system clipboard tool was found. "
                "If pasting gives nothing, your terminal does not support OSC 52; select the text on screen.",
                title="Copied (terminal)",
                timeout=8,
            )
            return
        self.notify(f"Copied {what} to the system clipboard.", title="Copied")

    # --- command palette --------------------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for stage in self.wizard.stages:
            yield SystemCommand(
                f"Go to stage {stage.label}: {stage.title}",
                f"{stage.quickstart_step} · {self.wizard.status_of(stage)}",
                partial(self.goto, stage.key),
            )
        yield SystemCommand("Doctor", "Check credentials, regions and every finished stage", self.action_doctor)
        if isinstance(screen, StageScreen):
            yield SystemCommand("Run this stage", "Perform it, then verify it", screen.action_run)
            yield SystemCommand("Verify this stage", "Check it against AWS and the folder", screen.action_verify)
            yield SystemCommand("Copy the quickstart command", "Copy it to the clipboard", screen.action_copy_command)
            yield SystemCommand("Reveal or hide secrets", "Toggle masking", screen.action_toggle_secrets)

    def action_doctor(self) -> None:
        from screens.doctor import DoctorModal

        if not isinstance(self.screen, DoctorModal):
            self.push_screen(DoctorModal())

    # --- quitting ---------------------------------------------------------------------------------

    async def action_quit(self) -> None:
        if self.busy is None:
            self.exit(0)
            return

        def answered(stop: bool | None) -> None:
            if stop:
                self._quit_when_idle = True
                self.wizard.ctx.cancel_event.set()
                self.notify("Stopping after the current AWS call; everything created so far is recorded.")

        self.push_screen(
            ConfirmModal(
                f"Still {self.busy}. Stop after the current AWS call and quit?\n"
                "Everything created so far is recorded; running the stage again finishes it.",
                yes="Stop and quit",
                no="Keep going",
            ),
            answered,
        )


def run_tui(options: Options) -> int:
    from wizard.engine import Wizard

    # Opened before the UI starts, so a second wizard in this folder is refused on the plain terminal.
    wizard = Wizard(options).open()
    try:
        result = WizardApp(wizard).run()
    finally:
        wizard.close()
    return int(result or 0)
