"""The Textual app: a thin front end over one core session. It shows the session's events, puts its questions
in dialogs, and calls its operations from worker threads; the policy of the journey lives in the session."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen

# What the first screen needs, and nothing more: the stage screen (Rich's Markdown, the log, the progress bar) and
# the dialogs (Syntax, Pygments) are imported after the first paint, in a thread (_preload), or when first used.
from screens.welcome import WelcomeScreen
from screens.widgets import LOG_STYLES
from wizard.errors import Busy, WizardError
from wizard.events import (
    AnswerChunk,
    AwsCall,
    Choose,
    ChooseRegion,
    Confirm,
    ConsentClosed,
    ConsentRequested,
    Event,
    LogLine,
    OfferSandbox,
    OperationChanged,
    Progress,
    Question,
    StatusChanged,
)
from wizard.session import NOBODY, Session

if TYPE_CHECKING:
    from screens.stage import StageScreen
    from wizard.session import Outcome
    from wizard.settings import Options
    from wizard.steps import Check

SANDBOX_TITLE = "SANDBOX · nothing is created in AWS"


class SessionEvent(Message):
    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class SessionQuestion(Message):
    def __init__(self, question: Question, answer: Callable[[Any], None]) -> None:
        super().__init__()
        self.question = question
        self.answer = answer


class TuiPort:
    """The session's port into the app: events and questions become messages (safe from any thread).
    What the session says before the app runs is kept and shown once it does."""

    def __init__(self) -> None:
        self.app: WizardApp | None = None
        self._early: list[Message] = []

    def emit(self, event: Event) -> None:
        self._post(SessionEvent(event))

    def ask(self, question: Question, answer: Callable[[Any], None]) -> None:
        self._post(SessionQuestion(question, answer))

    def _post(self, message: Message) -> None:
        if self.app is None:
            self._early.append(message)
        else:
            self.app.post_message(message)

    def attach(self, app: WizardApp) -> None:
        self.app = app
        for message in self._early:
            app.post_message(message)
        self._early.clear()


class WizardApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "agentcore-wizard"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Quit (asks first while a stage runs)"),
        Binding("d", "doctor", "Doctor", id="app.doctor", tooltip="Say what is wrong and how to fix it"),
    ]

    session: Session

    def __init__(self, session: Session | None, detect_on_start: bool = True) -> None:
        """session None: one is adopted later (a served tab asks for the participant first: screens/tab.py)."""
        super().__init__()
        self.detect_on_start = detect_on_start
        self.logs: dict[str, list[Text]] = {}
        self.checks: dict[str, list[Check]] = {}
        self.answers: dict[str, str] = {}  # the agent's answers as they streamed in, per stage
        self.consent: dict[str, ConsentRequested] = {}  # the consent a stage is waiting for
        self._starting: str | None = None  # asked for, its worker not yet inside the session
        self._quit_when_idle = False
        self._stage_view: StageScreen | None = None  # the one screen every stage is shown on, once made
        if session is not None:
            self.adopt(session)

    def adopt(self, session: Session) -> None:
        self.session = session
        self.sub_title = SANDBOX_TITLE if session.is_sandbox else "AWS"
        port = session.port if isinstance(session.port, TuiPort) else TuiPort()
        session.attach(port)
        self._port = port

    @property
    def stopping(self) -> bool:
        """Asked to stop and quit: the operation ends at the next safe point."""
        return self._quit_when_idle

    @property
    def busy(self) -> str | None:
        return self.session.busy or self._starting

    # --- start-up ---------------------------------------------------------------------------------

    def get_default_screen(self) -> Screen[Any]:
        # The welcome screen is the first on the stack, not pushed over an empty default one: one screen to
        # compose, style and lay out before the first paint. A served tab without its session yet (it asks for
        # the participant first) starts on a blank one, and begin() pushes the welcome once it has one.
        if getattr(self, "session", None) is None:
            return Screen()
        return WelcomeScreen()

    def on_mount(self) -> None:
        self.begin(welcome_shown=True)

    def begin(self, welcome_shown: bool = False) -> None:
        if not welcome_shown:
            self.push_screen(WelcomeScreen())
        self._port.attach(self)
        # Nothing else until the welcome screen has painted: a worker thread importing boto3 meanwhile takes the
        # interpreter from the first paint.
        self.call_after_refresh(self._after_first_paint)

    def _after_first_paint(self) -> None:
        if self.detect_on_start:
            self.start_operation("looking at what already exists", self._detect_existing)
        self._preload()

    @work(thread=True, group="preload", description="Importing the stage screen and the dialogs")
    def _preload(self) -> None:
        """After the first paint, off the UI thread: what the first Enter (the stage screen) and the first
        question (a dialog) need, so neither waits for an import."""
        import screens.modals
        import screens.stage  # noqa: F401

    def on_unmount(self) -> None:
        # The app is gone (a crash, a test that ended): a worker still waiting on a dialog's answer would wait
        # forever and keep the process from exiting. Stopping the operation makes the session give up asking.
        if self.session.busy is not None:
            self.session.cancel()

    def start_operation(self, what: str, worker: Callable[[], Any]) -> bool:
        if self.busy is not None:
            self.notify(f"Busy: {self.busy}.", severity="warning")
            return False
        self._starting = what
        self._refresh_active()
        worker()
        return True

    @work(thread=True, group="session", description="Looking at what already exists")
    def _detect_existing(self) -> None:
        """After the first paint: adopt what the folder and AWS already hold (resume, hand-made steps)."""
        # A new project's return URL is chosen on first read (a port claimed: a file lock, a scan of the claims,
        # socket binds): here in the worker, not on the UI thread when stage 6 or 8 is first shown.
        self.call_session(lambda: self.session.settings.return_url)
        self.call_session(self.session.detect_existing)

    def call_session(self, operation: Callable[[], Any]) -> Any:
        """Run a session operation in this worker thread; a refusal (busy) becomes a notification."""
        try:
            return operation()
        except Busy as error:
            self.from_worker(self.notify, error.message, severity="warning")
            return None
        except WizardError as error:
            self.from_worker(self.notify, f"{error.message}\n→ {error.fix}", severity="error", timeout=12)
            return None
        finally:
            self.from_worker(self._started_or_done)

    def from_worker(self, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """call_from_thread for the session's workers, unless the app has already stopped: a worker that
        finishes after the person quit has nobody left to tell."""
        if not self.is_running:
            return None
        try:
            return self.call_from_thread(callback, *args, **kwargs)
        except RuntimeError:
            return None

    def _started_or_done(self) -> None:
        self._starting = None
        self._refresh_active()

    # --- events and questions from the session (any thread, delivered as messages) ----------------

    def on_session_event(self, message: SessionEvent) -> None:
        event = message.event
        screen = self._stage_screen(event.stage)
        if isinstance(event, (LogLine, AwsCall)):
            line = (
                Text.assemble(("AWS ", "cyan"), event.message)
                if isinstance(event, AwsCall)
                else Text(event.message, style=LOG_STYLES.get(event.level, ""))
            )
            self.logs.setdefault(event.stage, []).append(line)
            if screen is not None:
                screen.write_log(line)
        elif isinstance(event, Progress):
            if screen is not None:
                screen.show_progress(event.fraction, event.message)
        elif isinstance(event, AnswerChunk):
            text = self.answers.get(event.stage, "")
            if event.starts:
                text = f"{text}\n\n" if text else ""
                # The agent's own words (its "call this tool again" is meant for the model): the wizard makes the
                # second call itself.
                text += f"── {event.call} call: the agent said ──\n"
            self.answers[event.stage] = text + event.text
            if screen is not None:
                screen.show_answer()
        elif isinstance(event, ConsentRequested):
            self.consent[event.stage] = event
            if not (event.approving_itself or self.session.options.no_browser):
                self.open_in_browser(event.url, quiet=True)
            if screen is not None:
                screen.show_consent()
        elif isinstance(event, ConsentClosed):
            self.consent.pop(event.stage, None)
            if screen is not None:
                screen.show_consent()
        elif isinstance(event, StatusChanged):
            self._refresh_active()
        elif isinstance(event, OperationChanged):
            self._refresh_active()
            if self._quit_when_idle:
                if event.what is None:
                    self.exit(0)
                else:
                    self.session.cancel()  # asked to stop before this operation had begun

    def on_session_question(self, message: SessionQuestion) -> None:
        from screens.modals import ChoiceModal, ConfirmModal, RegionModal

        question, answer = message.question, message.answer
        if isinstance(question, ChooseRegion):
            self.push_screen(RegionModal(), answer)
        elif isinstance(question, OfferSandbox):
            self.push_screen(
                ConfirmModal(f"{question.text}\n\n{question.detail}", yes="Use the sandbox", no="Not now"),
                partial(self._sandbox_answered, answer),
            )
        elif isinstance(question, Choose):
            text = f"{question.text}\n\n{question.detail}" if question.detail else question.text
            self.push_screen(ChoiceModal(text, question.choices, question.default), answer)
        elif isinstance(question, Confirm):
            modal = ConfirmModal(
                question.text, yes=question.yes, no=question.no, default=question.default, detail=question.detail
            )
            self.push_screen(modal, lambda value: answer(bool(value)))
        else:
            answer(NOBODY)

    def _sandbox_answered(self, answer: Callable[[Any], None], use_sandbox: bool | None) -> None:
        answer(bool(use_sandbox))
        if use_sandbox:
            self.sub_title = SANDBOX_TITLE

    def _stage_screen(self, key: str) -> StageScreen | None:
        """The stage screen, if it shows this stage: on top, or under a dialog (its log keeps up meanwhile)."""
        view = self._stage_view
        if view is not None and view.is_mounted and view.stage_key == key and view in self.screen_stack:
            return view
        return None

    def _refresh_active(self) -> None:
        screen = self.screen
        view = screen if isinstance(screen, WelcomeScreen) else self._stage_view
        if view is not None and view is screen and view.is_mounted:
            view.refresh_view()

    # --- navigation -------------------------------------------------------------------------------

    def goto(self, key: str) -> None:
        """Show a stage. Every stage shares one screen: a switch swaps what it shows (no screen switch, which
        would restyle a whole screen and recompose its footer)."""
        from screens.stage import StageScreen

        screen = self._stage_view
        if screen is None:
            screen = self._stage_view = StageScreen(key)
            self.install_screen(screen, name="stage")
        if screen.is_mounted:
            screen.show_stage(key)
        else:
            screen.stage_key = key  # composed for this stage when it first mounts
        if screen not in self.screen_stack:
            if len(self.screen_stack) == 1:
                self.push_screen(screen)  # over the welcome screen, the first on the stack (it cannot be switched)
            else:
                self.switch_screen(screen)

    def goto_relative(self, key: str, step: int) -> None:
        target = self.relative_key(key, step)
        if target is not None:
            self.goto(target)

    def relative_key(self, key: str, step: int) -> str | None:
        """The stage `step` away from this one; None past either end (no Next on the last)."""
        keys = [stage.key for stage in self.session.stages]
        index = keys.index(key) + step
        return keys[index] if 0 <= index < len(keys) else None

    # --- running and verifying --------------------------------------------------------------------

    def start_stage(self, key: str, then_verify_dependents: bool = False) -> None:
        """Run a stage; with then_verify_dependents (a doctor's fix), the finished stages that need it are
        checked again right after, so they do not stay "drifted" until verified by hand."""
        what = f"running {self.session.stages.name(key)}"
        if not self.start_operation(what, partial(self._run_stage, key, then_verify_dependents)):
            return
        self.answers.pop(key, None)
        self.consent.pop(key, None)
        screen = self._stage_screen(key)
        if screen is not None:
            screen.show_progress(None, "starting…")
            screen.query_one("#log").scroll_visible()

    @work(thread=True, group="session", description="Running a stage")
    def _run_stage(self, key: str, then_verify_dependents: bool = False) -> None:
        outcome = self.call_session(partial(self.session.run_stage, key))
        if outcome is None:
            return
        self.from_worker(self._stage_finished, key, outcome)
        if not (then_verify_dependents and outcome.ok):
            return
        for stage in self.session.stages.dependents(key):
            if self.session.status_of(stage) in ("done", "drifted"):
                checked = self.call_session(partial(self.session.verify_stage, stage.key))
                if checked is not None:
                    self.from_worker(self._verify_finished, stage.key, checked)

    def _stage_finished(self, key: str, outcome: Outcome) -> None:
        if outcome.checks:
            self.checks[key] = outcome.checks
        screen = self._stage_screen(key)
        if screen is not None:
            screen.hide_progress()
        stage = self.session.stage(key)
        self.sub_title = SANDBOX_TITLE if self.session.is_sandbox else "AWS"
        self._refresh_active()  # the checks just stored, shown
        if outcome.ok:
            self.notify(f"{stage.name}: done and verified.", title=stage.title)
        elif outcome.error is not None:
            self.notify(
                f"{outcome.error.message}\n→ {outcome.error.fix}",
                title=stage.name,
                severity="error",
                timeout=12,
            )

    def start_verify(self, key: str) -> None:
        self.start_operation(f"verifying {self.session.stages.name(key)}", partial(self._verify_stage, key))

    @work(thread=True, group="session", description="Verifying a stage")
    def _verify_stage(self, key: str) -> None:
        # The stage's own Verify is the deep check: on stage 8 it asks the agent again.
        outcome = self.call_session(partial(self.session.verify_stage, key, deep=True))
        if outcome is not None:
            self.from_worker(self._verify_finished, key, outcome)

    def _verify_finished(self, key: str, outcome: Outcome) -> None:
        if outcome.checks:
            self.checks[key] = outcome.checks
        stage = self.session.stage(key)
        self._refresh_active()
        if outcome.ok:
            self.notify(f"All {len(outcome.checks)} checks pass.", title=stage.name)
        elif outcome.error is not None:
            self.notify(outcome.error.message, title=stage.name, severity="error", timeout=12)

    # --- the browser and the clipboard: this front end's business ---------------------------------

    def open_in_browser(self, url: str, quiet: bool = False) -> None:
        """App.open_url opens it where the person is: this machine, or their browser when served to one."""
        from wizard.consent import can_open_browser

        if not self.is_web and not can_open_browser():
            if not quiet:
                self.notify("No browser could be opened here: copy the link instead.", severity="warning")
            return
        self.open_url(url)

    def copy_text(self, text: str, what: str) -> None:
        # The terminal's clipboard (OSC 52), or the browser's when served; the system clipboard only when local.
        self.copy_to_clipboard(text)
        if self.is_web:
            self.notify(f"Copied {what} to your browser's clipboard.", title="Copied")
            return
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

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for stage in self.session.stages:
            yield SystemCommand(
                f"Go to stage {stage.label}: {stage.title}" if stage.number is not None else f"Go to {stage.title}",
                f"{stage.quickstart_step} · {self.session.status_of(stage)}",
                partial(self.goto, stage.key),
            )
        yield SystemCommand("Doctor", "Check credentials, regions and every finished stage", self.action_doctor)
        if screen is self._stage_view and self._stage_view is not None:
            # Every footer action, with its key, as the footer shows it for the screen's state now.
            for command, help_text, action in self._stage_view.palette_commands():
                yield SystemCommand(command, help_text, action)

    def action_doctor(self) -> None:
        from screens.doctor import DoctorModal

        if not isinstance(self.screen, DoctorModal):
            self.push_screen(DoctorModal())

    # --- quitting ---------------------------------------------------------------------------------

    async def action_quit(self) -> None:
        from screens.modals import ConfirmModal

        if self.busy is None:
            self.exit(0)
            return

        def answered(stop: bool | None) -> None:
            if stop:
                self._quit_when_idle = True
                self.session.cancel()
                self.notify("Stopping after the current AWS call; everything created so far is recorded.")
                self._refresh_active()  # "Stopping …" in the stage's head at once, not only in a toast
                if self.busy is None:
                    self.exit(0)

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
    """The `tui` front end (entry point agentcore_wizard.front_ends): one session, opened before the UI starts
    so a second wizard in this folder, or a refused flag, is reported on the plain terminal."""
    port = TuiPort()
    session = Session(options, port).open()
    try:
        result = WizardApp(session).run()
    finally:
        session.close()
    return int(result or 0)
