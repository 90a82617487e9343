"""The Textual app: a thin front end over one core session. It shows the session's events, puts its questions
in dialogs, and calls its operations from worker threads; the policy of the journey lives in the session."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen

# What the first screen needs, and nothing more: the session and the stage controllers (boto3 behind them) are
# imported in the worker that opens the project, after the first paint; the stage screen (Rich's Markdown, the log,
# the progress bar) and the dialogs (Syntax, Pygments) in a thread (_preload), or when first used.
from screens.welcome import WelcomeScreen
from screens.widgets import LOG_STYLES
from wizard.errors import Busy, UsageError, WizardError

if TYPE_CHECKING:
    from screens.problem import ProblemScreen
    from screens.stage import StageScreen
    from wizard.events import ConsentRequested, Event, Question
    from wizard.outline import Outline, Standing
    from wizard.session import Outcome, Session
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

    PROBLEM_TITLE = "The wizard cannot open this project"

    session: Session

    def __init__(
        self, session: Session | None = None, detect_on_start: bool = True, opening: Options | None = None
    ) -> None:
        """An open session; or `opening`, the options of a project to open once the first screen has painted
        (the terminal UI: the stage list is painted from the state file while the stage controllers load); or
        neither, and a project is opened later (a served tab asks for the participant first: screens/tab.py)."""
        super().__init__()
        self.detect_on_start = detect_on_start
        self.opening = opening
        self.outline: Outline | None = None  # what the welcome screen shows until the session is open
        self.refusal: WizardError | None = None  # why the project could not be opened (shown, then said on exit)
        self.logs: dict[str, list[Text]] = {}
        self.checks: dict[str, list[Check]] = {}
        self.answers: dict[str, str] = {}  # the agent's answers as they streamed in, per stage
        self.consent: dict[str, ConsentRequested] = {}  # the consent a stage is waiting for
        self._starting: str | None = None  # asked for, its worker not yet inside the session
        self._quit_when_idle = False
        self._start_when_open = False  # Enter on the welcome screen before the session was open
        self._stage_view: StageScreen | None = None  # the one screen every stage is shown on, once made
        self._opening_done = threading.Event()  # the opening worker has finished (or there was none)
        self._opening_done.set()
        self._unclaimed: Session | None = None  # opened by the worker, not yet taken by the UI thread
        if session is not None:
            self.adopt(session)
        elif opening is not None:
            from wizard.outline import Outline

            self.outline = Outline(opening)
            self.sub_title = SANDBOX_TITLE if self.outline.is_sandbox else "AWS"

    def adopt(self, session: Session) -> None:
        self.session = session
        self.sub_title = SANDBOX_TITLE if session.is_sandbox else "AWS"
        port = session.port if isinstance(session.port, TuiPort) else TuiPort()
        session.attach(port)
        self._port = port

    @property
    def opened(self) -> bool:
        return getattr(self, "session", None) is not None

    @property
    def standing(self) -> Standing[Any]:
        """Where the project stands, for the welcome screen: the session, or the outline until it is open."""
        if self.opened:
            return self.session
        assert self.outline is not None, "the welcome screen is shown only with a session or an outline"
        return self.outline

    @property
    def stopping(self) -> bool:
        """Asked to stop and quit: the operation ends at the next safe point."""
        return self._quit_when_idle

    @property
    def busy(self) -> str | None:
        return (self.session.busy or self._starting) if self.opened else None

    # --- start-up ---------------------------------------------------------------------------------

    def get_default_screen(self) -> Screen[Any]:
        # The welcome screen is the first on the stack, not pushed over an empty default one: one screen to
        # compose, style and lay out before the first paint. A served tab without its session yet (it asks for
        # the participant first) starts on a blank one, and begin() pushes the welcome once it has one.
        if not self.opened and self.outline is None:
            return Screen()
        return WelcomeScreen()

    def on_mount(self) -> None:
        if self.opened:
            self.begin(welcome_shown=True)
        elif self.opening is not None:
            # After the first paint: opening imports every stage controller, which would hold the paint back.
            self.call_after_refresh(self._open_in_worker, self.opening)

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
        import screens.stage

        self.from_worker(self._load_styles, screens.stage.StageScreen, screens.modals.ConfirmModal)

    def _load_styles(self, *screens: type[Screen[Any]]) -> None:
        """The stage screen's and the dialogs' stylesheets, parsed and applied while the person reads the welcome
        screen: otherwise Textual does it when each is first shown (the first Enter)."""
        import inspect
        from pathlib import Path

        added = False
        for screen in screens:
            for name in _css_paths(screen):
                # Resolved as Textual resolves a screen's CSS_PATH (symlinks too), so it finds it already read.
                path = str((Path(inspect.getfile(screen)).parent / name).resolve())
                if not self.stylesheet.has_source(path):
                    self.stylesheet.read(path)
                    added = True
        if added:
            self.stylesheet.reparse()
            self.stylesheet.update(self)

    # --- opening the project ----------------------------------------------------------------------

    def open_project(self, options: Options) -> WizardError | None:
        """Open the project now (on this thread); a refusal is returned to show."""
        return self._took(self._open(options))

    def _open_in_worker(self, options: Options) -> None:
        self._opening_done.clear()
        self._opening_worker(options)

    @work(thread=True, group="open", description="Opening the project")
    def _opening_worker(self, options: Options) -> None:
        try:
            self.from_worker(self._took, self._open(options))
        finally:
            self._opening_done.set()

    def _open(self, options: Options) -> Session | WizardError:
        """Any thread: the session, open (the folder locked, the state loaded, the flags settled), or why not."""
        from wizard.cli import DEBUG_ENV
        from wizard.errors import explain
        from wizard.session import Session

        session = Session(options, TuiPort())
        try:
            session.open()
        except WizardError as error:
            return self.explained(error, session)
        except Exception as exc:  # a failure nothing explained yet: its message and fix, never a traceback
            if os.environ.get(DEBUG_ENV):
                raise
            return explain(exc)
        self._unclaimed = session  # closed by close_session if the app stops before it takes it
        return session

    def explained(self, error: WizardError, session: Session) -> WizardError:
        """The core's refusal, as this front end says it (a browser tab speaks of tabs, not flags)."""
        return error

    def _took(self, result: Session | WizardError) -> WizardError | None:
        """The UI thread: the opened session replaces the outline (or the problem screen), or the refusal is
        shown in place of the wizard."""
        if isinstance(result, WizardError):
            from screens.problem import ProblemScreen

            self.refusal = result
            self._start_when_open = False
            if not isinstance(self.screen, ProblemScreen) and self.opening is not None:
                # A refused flag stays refused; another wizard may quit, a folder may become writable.
                can_retry = not isinstance(result, UsageError)
                self.push_screen(ProblemScreen(result, can_retry=can_retry, title=self.PROBLEM_TITLE))
            return result
        from screens.join import JoinScreen
        from screens.problem import ProblemScreen

        self._unclaimed = None
        self.refusal = None
        welcome_shown = self.outline is not None
        # The join or problem screen gives way to the wizard (a palette the person opened meanwhile stays).
        while isinstance(self.screen, (JoinScreen, ProblemScreen)):
            self.pop_screen()
        self.adopt(result)
        self.outline = None
        self.begin(welcome_shown=welcome_shown)
        self._refresh_active()
        self.refresh_bindings()  # the doctor's key, which had nothing to examine, joins the footer
        if self._start_when_open and isinstance(self.screen, WelcomeScreen):
            self._start_when_open = False
            self.screen.action_start()
        return None

    def retry_opening(self, screen: ProblemScreen) -> None:
        if self.opening is None:
            return
        refused = self.open_project(self.opening)
        if refused is not None:
            screen.show(refused)

    def start_when_open(self) -> None:
        """Enter before the session was open (a fraction of a second): it is acted on as soon as it is."""
        self._start_when_open = True

    def close_session(self) -> None:
        """After the app has stopped: the session closed (its lock released), also one opened too late for it."""
        self._opening_done.wait(timeout=30)
        for session in (getattr(self, "session", None), self._unclaimed):
            if session is not None:
                session.close()

    def on_unmount(self) -> None:
        # The app is gone (a crash, a test that ended): a worker still waiting on a dialog's answer would wait
        # forever and keep the process from exiting. Stopping the operation makes the session give up asking.
        if self.opened and self.session.busy is not None:
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
        # Imported here, not with the app: the first screen paints before the session's modules are loaded (by
        # the first event they are, and this costs a dictionary lookup).
        from wizard.events import (
            AnswerChunk,
            AwsCall,
            ConsentClosed,
            ConsentRequested,
            LogLine,
            OperationChanged,
            Progress,
            StatusChanged,
        )

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
        from wizard.events import Choose, ChooseRegion, Confirm, OfferSandbox
        from wizard.session import NOBODY

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
        if not self.opened:
            return  # nothing to go to or examine until the project is open
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

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The doctor examines the open project (False also takes its key out of the footer until there is one).
        return self.opened if action == "doctor" else super().check_action(action, parameters)

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


def _css_paths(screen: type[Screen[Any]]) -> list[str]:
    paths = screen.CSS_PATH
    if paths is None:
        return []
    return [str(path) for path in (paths if isinstance(paths, list) else [paths])]


def run_tui(options: Options) -> int:
    """The `tui` front end (entry point agentcore_wizard.front_ends). The stage list paints first, from the state
    file; the session opens behind it. A refusal (another wizard holds the folder, a flag the project refuses) is
    shown in the app, and said again on the terminal once it has stopped, with the command's exit code."""
    app = WizardApp(opening=options)
    try:
        result = app.run()
    finally:
        app.close_session()
    if app.refusal is not None and not app.opened:
        from wizard.cli import exit_code, print_error

        print_error(app.refusal)
        return exit_code(app.refusal)
    return int(result or 0)
