"""One core session behind every front end: it owns how the journey runs, so the TUI, headless `run` and any
later front end only show what it reports and pass on what the person says.

A front end talks to a session through one small port: the session *emits* events and *asks* questions
(answered later, from any thread, with the callback it hands over or `Session.answer(id, value)`); the front end
calls the operations below, `cancel()` and `deliver_redirect()`. Operations run one at a time: a second request
while one runs gets a `Busy` error. Operations block the calling thread, so an interactive front end calls them
from a worker thread.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from wizard import names
from wizard.context import Context
from wizard.errors import (
    Busy,
    Cancelled,
    ConfirmationRequired,
    NeedsAction,
    RegionMissing,
    UsageError,
    WizardError,
    explain,
    file_error,
)
from wizard.events import (
    ChooseRegion,
    Confirm,
    Event,
    LogLine,
    OfferSandbox,
    OperationChanged,
    Question,
    StatusChanged,
    Summary,
)
from wizard.files import identity as idfiles
from wizard.outline import Standing
from wizard.ownership import LOST_RECORD
from wizard.settings import Conflict, Options, Settings
from wizard.settings import parameter as settings_parameter
from wizard.state import STATE_NAME, ProjectLock, StateFile, remove_stale_temps
from wizard.steps import STAGES, Check, Detection, Registry, Stage
from wizard.steps.base import Description, Teardown

NO_CREDENTIALS = ("NoCredentialsError", "PartialCredentialsError")
RECONFIGURED = "reconfigured"  # the recorded note on a stage that --reconfigure set back to pending


class NobodyToAsk:
    """The answer of a front end that cannot ask anyone (headless, off a terminal)."""


NOBODY = NobodyToAsk()
Answer = Callable[[Any], None]


class Port(Protocol):
    """What a front end gives the session."""

    def emit(self, event: Event) -> None: ...

    def ask(self, question: Question, answer: Answer) -> None:
        """Show the question; call `answer(value)` once, now or later from any thread (NOBODY: cannot ask)."""
        ...


class QuietPort:
    """Reports go nowhere; every question takes its default (tests and read-only commands)."""

    def emit(self, event: Event) -> None:
        return None

    def ask(self, question: Question, answer: Answer) -> None:
        answer(NOBODY)


@dataclass
class Outcome:
    ok: bool
    status: str
    error: WizardError | None = None
    checks: list[Check] = field(default_factory=list)


@dataclass
class _Waiter:
    done: threading.Event = field(default_factory=threading.Event)
    value: Any = None


class Session(Standing[Stage]):
    stages: Registry

    def __init__(self, options: Options, port: Port | None = None) -> None:
        self.options = options
        self.port: Port = port or QuietPort()
        self.stages = Registry(STAGES)
        self.state = StateFile(options.project)
        self.lock = ProjectLock(options.project)
        self.settings = Settings(options, self.state)
        self.ctx = Context(self.settings, self.state, self.stages, emit=self._emit, ask=self._ask)
        self._locked = False
        self._operation_lock = threading.Lock()
        self._busy: str | None = None
        self._waiters: dict[int, _Waiter] = {}
        self._waiters_lock = threading.Lock()
        self._account_confirmed = False
        self._looked: dict[str, Detection] = {}
        self._reporter: Any = None  # a workshop's Reporter while the session is open with --workshop

    # --- lifecycle --------------------------------------------------------------------------------

    def open(self, lock: bool = True) -> Session:
        """Take the folder (lock it), load the state, and settle mode and settings. lock=False only reads: the
        state changes in memory and nothing in the folder is written, moved or created (status, a dry run)."""
        project = self.options.project
        self.state.read_only = not lock
        try:
            if lock and not project.exists():
                project.mkdir(parents=True)
        except OSError as exc:  # a parent that is not writable, a file in the way
            raise file_error(exc, project) from None
        if not project.is_dir():
            raise UsageError(f"{project} is not a folder.", fix="Pass a folder with --dir.")
        try:
            if lock:
                self.lock.acquire()
                self._locked = True
                written = {name for stage in self.stages for name in stage.writes}
                remove_stale_temps(project, tuple(sorted(written)))
                remove_stale_temps(self.state.path.parent, (STATE_NAME,))
            existed = self.state.exists
            self.state.load()
            if not lock:
                return self  # a read-only look (status, a dry run) reports nothing to a workshop
            if self.state.recovered_from or (not existed and idfiles.read_identity_json(project) is not None):
                # Work was done here and its record is gone: what the rebuild may count as this project's
                # (ownership.lost_record) differs from a folder whose record is whole.
                self.state.data.setdefault(LOST_RECORD, time.strftime("%Y-%m-%dT%H:%M:%S"))
            self._settle_mode()
            self._settle_settings()
            # Only once the project is accepted: a refused one (another participant's folder, a conflicting flag)
            # never shows up on the dashboard under the name it was given.
            self._start_reporting()
        except BaseException as exc:
            self.close()
            if isinstance(exc, OSError):
                raise file_error(exc) from None
            raise
        return self

    def close(self) -> None:
        if self._reporter is not None:
            self._reporter.close()  # the last status reaches the dashboard before the command ends
            self._reporter = None
        if self._locked:
            self.lock.release()
            self._locked = False

    def __enter__(self) -> Session:
        return self.open()

    def __exit__(self, *_: Any) -> None:
        self.close()

    def _settle_mode(self) -> None:
        recorded = self.state.data.get("mode")
        if self.lost_record_in_a_sandbox_folder():
            self.settings.sandbox_chosen = True
            recorded = "sandbox"
        if recorded == "sandbox" and not self.options.sandbox_asked:
            # Nothing in the sandbox can touch AWS, so carrying on there is always safe.
            self._emit(
                LogLine("", "This folder was set up in the sandbox; continuing there (nothing is created in AWS).")
            )
        if recorded == "aws" and self.options.sandbox_asked:
            raise WizardError(
                "This folder's progress was made against a real AWS account.",
                fix="To continue it, drop --sandbox/--sandbox-endpoint. To start over in the sandbox, use another "
                "folder with --dir.",
            )

    def _settle_settings(self) -> None:
        """flag > recorded > default: a flag that differs from what the project recorded is refused, unless
        --reconfigure says to switch, and nothing the wizard made still carries the old value."""
        conflicts = self.settings.conflicts()
        if not conflicts:
            self._settle_participant()
            return
        said = "; ".join(
            f"{c.parameter.flag} {c.parameter.shown(c.given)} was asked for, but this project uses "
            f"{c.parameter.shown(c.recorded)}"
            for c in conflicts
        )
        flags = " and ".join(c.parameter.flag for c in conflicts)
        held = [(c, c.parameter.held_by(self.state)) for c in conflicts]
        held = [(c, reason) for c, reason in held if reason]
        if held:
            reasons = "; ".join(f"{c.parameter.flag}: {reason}" for c, reason in held)
            raise UsageError(
                f"{said}.",
                fix=f"Leave {flags} out to carry on as before. It cannot change in place ({reasons}). To start "
                "over with another value, run `agentcore-wizard cleanup` first (it deletes what the wizard made), "
                "or use another folder with --dir.",
            )
        affected = self._affected_by(conflicts)
        if not self.options.reconfigure:
            again = f": {self.stages.names([s.key for s in affected])} then run again with it" if affected else ""
            raise UsageError(
                f"{said}.",
                fix=f"Leave {flags} out to carry on as before. To change it on purpose, add --reconfigure{again}.",
            )
        finished = [stage for stage in affected if self.status_of(stage) != "pending"]
        note = {
            "message": f"{flags} changed (--reconfigure): this stage runs again with the new value.",
            "fix": "Run it (or `agentcore-wizard run`).",
            "code": RECONFIGURED,
        }
        # The stages go back and the new values are recorded in one write: a kill in between loses neither.
        for stage in finished:
            self.state.set_status(stage.key, "pending", note, save=False)
        self.settings.record(*(conflict.parameter.name for conflict in conflicts))
        for stage in finished:
            self._emit(StatusChanged(stage.key, "pending", note))
        again = f"{len(finished)} finished {'stage runs' if len(finished) == 1 else 'stages run'} again"
        self._emit(LogLine("", f"Switched {flags} (--reconfigure); {again}.", "warning"))

    def _settle_participant(self) -> None:
        """A participant given for the first time is recorded at once (every later run, headless or not, makes
        the same names), unless this project already chose names without it: then half its names would carry
        the participant and half not."""
        participant = self.options.participant
        recorded = self.settings.recorded()
        if not participant or "participant" in recorded:
            return
        chosen = [name for name in names.participant_names(participant) if name in recorded]
        if chosen:
            flags = ", ".join(f"{settings_parameter(name).flag} {recorded[name]}" for name in chosen)
            raise UsageError(
                f"This project was set up without --participant (it uses {flags}).",
                fix="Carry on without --participant, or start the participant's project in a new folder with --dir "
                "(run `agentcore-wizard cleanup` here first if what this one made should go).",
            )
        self.settings.record("participant")

    def _affected_by(self, conflicts: list[Conflict]) -> list[Stage]:
        keys: set[str] = set()
        for conflict in conflicts:
            for user in self.stages.users_of(conflict.parameter.name):
                keys.add(user.key)
                keys.update(stage.key for stage in self.stages.dependents(user.key))
        return [stage for stage in self.stages if stage.key in keys]

    # --- what the front end says ------------------------------------------------------------------

    def attach(self, port: Port) -> None:
        """The front end that shows this session's events and answers its questions from now on."""
        self.port = port

    def answer(self, question_id: int, value: Any) -> None:
        """The person's answer to a question the session asked (any thread)."""
        with self._waiters_lock:
            waiter = self._waiters.get(question_id)
        if waiter is not None and not waiter.done.is_set():
            waiter.value = value
            waiter.done.set()

    def cancel(self) -> None:
        """Stop the running operation at its next safe point between AWS calls (nothing, when none runs)."""
        if self._busy is not None:
            self.ctx.cancel_event.set()

    def deliver_redirect(self, url: str) -> None:
        """The address the browser ended on after consent, pasted by the person."""
        self.ctx.deliver_redirect(url)

    # --- reporting and asking ---------------------------------------------------------------------

    def _emit(self, event: Event) -> None:
        self.port.emit(event)
        if self._reporter is not None:
            self._reporter.see(event)

    def _start_reporting(self) -> None:
        """With --workshop: every stage's status from now on is also posted to the facilitator's server (from a
        background thread; a server that does not answer costs a line in the log, never a stage)."""
        if not self.options.workshop or self._reporter is not None:
            return
        from wizard.workshop.link import parse_link
        from wizard.workshop.reporter import Reporter

        if not self.options.participant:
            raise UsageError(
                "Reporting to a workshop needs your participant name.",
                fix="Add --participant NAME (lowercase letters and digits, e.g. --participant alice).",
            )

        def say(text: str, level: str) -> None:
            self.port.emit(LogLine("", text, level))

        self._reporter = Reporter(
            parse_link(self.options.workshop), self.options.participant, say, self._secrets_to_hide
        ).start()
        self._reporter.snapshot({stage.key: (self.status_of(stage), self.error_of(stage)) for stage in self.stages})

    def _secrets_to_hide(self) -> list[str]:
        """What must never leave this machine in a report, should an error message quote it."""
        values = [self.settings.session_id or ""]
        files = idfiles.read_identity_json(self.project)
        if files is not None:
            values += [files.runtime.password, files.identity.password, files.identity.client_secret or ""]
        return [value for value in values if value]

    def _ask(self, question: Question) -> Any:
        waiter = _Waiter()
        with self._waiters_lock:
            self._waiters[question.id] = waiter
        try:
            self.port.ask(question, lambda value: self.answer(question.id, value))
            while not waiter.done.wait(0.2):
                if self.ctx.cancel_event.is_set():
                    raise Cancelled()
        finally:
            with self._waiters_lock:
                self._waiters.pop(question.id, None)
        if waiter.value is NOBODY:
            if isinstance(question, Confirm) and question.needs_yes:
                raise ConfirmationRequired(
                    question.refused or f"{question.text} needs a yes.",
                    fix=question.refused_fix or "Pass --yes to confirm, or run it at a terminal to be asked.",
                )
            return question.default if isinstance(question, Confirm) else None
        return waiter.value

    # --- queries (no AWS calls: safe to call from a UI thread) ------------------------------------

    @property
    def busy(self) -> str | None:
        """What the running operation is doing, or None."""
        return self._busy

    @property
    def is_sandbox(self) -> bool:
        return self.settings.is_sandbox

    def blocked_by(self, ref: str | Stage) -> Stage | None:
        """The first stage that must be done before this one can run."""
        for required in self.stages.requirements(self.stage(ref).key):
            if self.status_of(required) != "done":
                return required
        return None

    def describe(self, ref: str | Stage) -> Description:
        return self.stage(ref).describe(self.ctx)

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "number": stage.number,
                "key": stage.key,
                "title": stage.title,
                "quickstart_step": stage.quickstart_step,
                "status": self.status_of(stage),
                "error": self.error_of(stage),
                "resources": self.state.resources(stage.key),
                **(
                    {"found": {"status": looked.status, "evidence": looked.evidence}}
                    if (looked := self._looked.get(stage.key))
                    else {}
                ),
            }
            for stage in self.stages
        ]

    def summary(self) -> dict[str, Any]:
        data = self.state.data
        return {
            "project": str(self.options.project),
            "mode": self.settings.mode,
            "region": data.get("region"),
            "account": data.get("account"),
            "state_file": str(self.state.path),
            "state_problem": self.state.load_problem,
            "settings": self.settings.as_dict(),
            "stages": self.rows(),
        }

    def emit_summary(self) -> None:
        self._emit(Summary("", self.summary()))

    # --- operations (one at a time) ---------------------------------------------------------------

    @contextlib.contextmanager
    def _operation(self, what: str) -> Iterator[None]:
        if not self._operation_lock.acquire(blocking=False):
            raise Busy(f"Busy: {self._busy or 'another operation'}.", fix="Wait until it is done, or stop it first.")
        self._busy = what
        self._emit(OperationChanged("", what))
        try:
            yield
        finally:
            self._busy = None
            self.ctx.cancel_event.clear()
            self.ctx.current_stage = ""
            self._operation_lock.release()
            self._emit(OperationChanged("", None))

    def run_stage(self, ref: str) -> Outcome:
        stage = self.stage(ref)
        with self._operation(f"running {self.stages.name(stage.key)}"):
            return self._run_stage(stage)

    def verify_stage(self, ref: str, deep: bool = False) -> Outcome:
        """Check a stage against reality; a done stage that no longer checks out becomes drifted. Deep also
        runs the checks that cost something (asking the deployed agent)."""
        stage = self.stage(ref)
        with self._operation(f"verifying {self.stages.name(stage.key)}"):
            return self._verify_stage(stage, deep)

    def verify_all(self, deep: bool = False) -> list[Outcome]:
        """What `status --verify` does: every recorded stage checked against reality."""
        with self._operation("verifying every finished stage"):
            return [
                self._verify_stage(stage, deep)
                for stage in self.stages.run_order
                if self.status_of(stage) in ("done", "drifted")
            ]

    def detect_stage(self, ref: str) -> Detection:
        stage = self.stage(ref)
        with self._operation(f"looking at {self.stages.name(stage.key)}"):
            return self._detect_stage(stage)

    def detect_existing(self) -> None:
        """At start-up: adopt what the folder and AWS already hold (resume, steps done by hand or the toolkit)."""
        with self._operation("looking at what already exists"):
            preflight_done = self.status_of("preflight") == "done"
            for stage in self.stages.adoptable:
                if self.status_of(stage) == "done" or (stage.needs_aws and not preflight_done):
                    continue
                try:
                    self._detect_stage(stage)
                except Exception as exc:  # detection is best effort; the stage's own Run reports properly
                    self._emit(
                        LogLine(stage.key, f"Could not check existing resources: {explain(exc).message}", "warning")
                    )

    def run_through(self, ref: str | None = None) -> Outcome:
        """Perform the stages in order up to and including `ref` (default: the last), skipping what is done or
        already in place; stops at the first that does not end done."""
        order = self.stages.run_order
        through = self.stages.run_target(ref)
        if self.options.auto_consent and not self.settings.is_sandbox:
            raise UsageError(
                "--auto-consent works only in the sandbox: against AWS you approve in the browser yourself.",
                fix="Drop --auto-consent, or add --sandbox to rehearse offline.",
            )
        with self._operation(f"running the stages through {self.stages.name(through.key)}"):
            last = Outcome(True, "done")
            for stage in order[: order.index(through) + 1]:
                self.ctx.current_stage = stage.key
                if self.status_of(stage) == "done":
                    outdated = stage.outdated(self.ctx)
                    if outdated is None:
                        self._emit(LogLine(stage.key, "Already done.", "success"))
                        continue
                    self._emit(LogLine(stage.key, f"Done before, but {outdated}: running it again.", "warning"))
                    last = self._run_stage(stage)
                    if not last.ok:
                        return last
                    continue
                # A stage reset by --reconfigure runs for real: what exists was made with the old value.
                reconfigured = (self.error_of(stage) or {}).get("code") == RECONFIGURED
                if stage.key != "preflight" and not reconfigured:
                    try:
                        detection = self._detect_stage(stage)
                    except Exception as exc:  # looking failed (a 500, a throttle): the stage itself will say more
                        self._emit(LogLine(stage.key, f"Could not look first: {explain(exc).message}", "warning"))
                        detection = Detection("pending")
                    if detection.status == "done":
                        found = "; ".join(item.rstrip(".") for item in detection.evidence)
                        outdated = stage.outdated(self.ctx)
                        if outdated is None:
                            self._emit(LogLine(stage.key, f"Already in place: {found}.", "success"))
                            continue
                        self._emit(LogLine(stage.key, f"In place ({found}), but {outdated}: running it.", "warning"))
                last = self._run_stage(stage)
                if not last.ok:
                    return last
            return last

    def look(self) -> dict[str, Detection]:
        """What exists, stage by stage, with its evidence and whose it is, changing nothing (status). With a
        read-only session (open(lock=False)) the records made while looking stay in memory."""
        found: dict[str, Detection] = {}
        with self._operation("looking at what exists"):
            for stage in self.stages.run_order:
                try:
                    found[stage.key] = self._detect_stage(stage)
                except Exception as exc:  # the rest would fail the same way (no sandbox, no region, no credentials)
                    found[stage.key] = Detection("unknown", [explain(exc).message])
                    if stage.needs_aws:
                        break
        self._looked = found
        return found

    def cleanup_plan(self) -> list[Teardown]:
        """What cleanup would delete and keep, and why, changing nothing in AWS."""
        with self._operation("listing what cleanup deletes"):
            self.ctx.current_stage = "cleanup"
            self._rebuild_records()
            cleanup: Any = self.stages.get("cleanup")  # the CleanupStage: its plan is its own
            return cleanup.plan(self.ctx)

    def doctor(self, deep: bool = False) -> list[Any]:
        from wizard.doctor import diagnose

        with self._operation("running the doctor"):
            return diagnose(self, self._verify_stage, deep)

    # --- how a stage runs -------------------------------------------------------------------------

    def _set(self, stage: Stage, status: str, error: WizardError | None = None) -> None:
        as_dict = error.as_dict() if error else None
        self.state.set_status(stage.key, status, as_dict)
        self._emit(StatusChanged(stage.key, status, as_dict))

    def _run_stage(self, stage: Stage) -> Outcome:
        self.ctx.current_stage = stage.key
        blocker = self.blocked_by(stage)
        if blocker is not None:
            error = WizardError(
                f"{stage.name} needs {self.stages.name(blocker.key)} done first.",
                fix=f"Run {self.stages.name(blocker.key)} first.",
            )
            self._emit(LogLine(stage.key, error.message, "error"))
            return Outcome(False, self.status_of(stage), error)
        try:
            self._confirm_account(stage)
        except Cancelled:
            stopped = WizardError("Stopped at your request; nothing was created.", fix="Run the stage again.")
            return Outcome(False, self.status_of(stage), stopped)
        except WizardError as refused:
            self._emit(LogLine(stage.key, refused.message, "error"))
            return Outcome(False, self.status_of(stage), refused)
        if stage.key == "cleanup":
            self._rebuild_records()
        self._set(stage, "running")
        if stage.in_run and self.status_of("cleanup") != "pending":
            # Building again after a cleanup: the old cleanup no longer describes the project.
            self.ctx.set_status("cleanup", "pending")
        checks: list[Check] = []
        for _attempt in range(3):  # again after the person chose a region or the sandbox
            try:
                ran = stage.run(self.ctx)
                checks = ran if ran is not None else stage.verify(self.ctx)
                break
            except KeyboardInterrupt:
                stopped = WizardError("Stopped with Ctrl-C.", fix="Run again: it resumes and creates no duplicates.")
                self._set(stage, "failed", stopped)
                raise
            except Cancelled:
                error = WizardError(
                    "Stopped at your request between two AWS calls.",
                    fix="Run the stage again: it picks up what already exists and creates no duplicates.",
                )
                self._set(stage, "failed", error)
                return Outcome(False, "failed", error)
            except Exception as exc:  # every failure is shown with a way forward, never swallowed
                error = explain(exc)
                try:
                    if self._answered_by_the_person(error):
                        continue
                except Cancelled:
                    pass
                status = "needs_action" if isinstance(error, NeedsAction) else "failed"
                self._set(stage, status, error)
                self._emit(LogLine(stage.key, error.message, "error"))
                return Outcome(False, status, error)
        else:  # every attempt was answered by the person and none ran: not done
            error = WizardError("The stage did not get to run.", fix="Run it again.")
            self._set(stage, "failed", error)
            return Outcome(False, "failed", error)
        failed = [check for check in checks if not check.ok]
        if failed:
            error = WizardError(
                "The stage ran, but verification failed: " + "; ".join(f"{c.name} ({c.detail})" for c in failed),
                fix="Run the stage again; if it keeps failing, the message says what to fix.",
            )
            self._set(stage, "failed", error)
            return Outcome(False, "failed", error, checks)
        self.settings.record(*stage.uses)
        self._set(stage, "done")
        self._emit(LogLine(stage.key, f"{stage.name} is done and verified.", "success"))
        return Outcome(True, "done", None, checks)

    def _answered_by_the_person(self, error: WizardError) -> bool:
        """A region to choose or the sandbox to offer: asked, and True when the answer lets the stage run again."""
        if isinstance(error, RegionMissing):
            region = self._ask(ChooseRegion(self.ctx.current_stage, text=error.message, detail=error.fix))
            if region:
                self.settings.chosen_region = str(region)
                return True
            return False
        if error.code in NO_CREDENTIALS and not self.state.data.get("mode") and not self.settings.is_sandbox:
            question = OfferSandbox(
                self.ctx.current_stage,
                text="No AWS credentials were found. Continue in the offline sandbox instead?",
                detail="Every stage runs the same way on this machine and nothing is created in AWS. (Or quit, "
                "run `aws configure`, and start again.)",
            )
            if self._ask(question) is True:
                self.settings.sandbox_chosen = True
                self.ctx.forget_clients()
                self._emit(LogLine(self.ctx.current_stage, "Continuing in the offline sandbox.", "warning"))
                return True
        return False

    def _confirm_account(self, stage: Stage) -> None:
        """Once per session, before the first stage that creates anything in a real AWS account."""
        if not stage.creates_in_aws or self.settings.is_sandbox or self.options.assume_yes:
            return
        if self._account_confirmed or self.status_of(stage) == "done":
            return
        account = self.state.data.get("account")
        region = self.state.data.get("region")
        where = f"AWS account {account}, region {region}"
        if not self._ask(
            Confirm(
                stage.key,
                text=f"Create quickstart resources in {where}?",
                yes="Create them",
                no="Not now",
                needs_yes=True,
                refused=f"This would create resources in {where}.",
                refused_fix="Pass --yes to confirm, or use --sandbox to rehearse offline.",
            )
        ):
            raise ConfirmationRequired("Nothing was created.", fix="Run it again and confirm when you are ready.")
        self._account_confirmed = True

    def _verify_stage(self, stage: Stage, deep: bool) -> Outcome:
        self.ctx.current_stage = stage.key
        try:
            checks = stage.verify(self.ctx, deep=deep)
        except Exception as exc:
            return Outcome(False, self.status_of(stage), explain(exc))
        failed = [check for check in checks if not check.ok]
        current = self.status_of(stage)
        if failed:
            error = WizardError(
                "Drifted: " + "; ".join(f"{c.name} ({c.detail})" for c in failed),
                fix=f"Run {self.stages.name(stage.key)} again to repair it.",
            )
            if current in ("done", "drifted"):
                self._set(stage, "drifted", error)
            return Outcome(False, self.status_of(stage), error, checks)
        if current == "drifted":
            self._set(stage, "done")
        return Outcome(True, self.status_of(stage), None, checks)

    def _detect_stage(self, stage: Stage) -> Detection:
        """Look at the folder and AWS; adopt what already checks out (made by hand or by the toolkit)."""
        self.ctx.current_stage = stage.key
        detection = stage.detect(self.ctx)
        current = self.status_of(stage)
        if detection.status == "done" and current != "done":
            self.settings.record(*stage.uses)
            self._set(stage, "done")
        elif detection.status in ("drifted", "needs_action") and current != detection.status:
            self._set(stage, detection.status, WizardError("; ".join(detection.evidence)))
        return detection

    def _rebuild_records(self) -> None:
        """No state to go by: find what the files name (only pools tagged with this project count as ours)."""
        if any(record.get("resources") for record in self.state.data.get("stages", {}).values()):
            return
        self.ctx.cleaning_up = True
        try:
            for stage in self.stages.adoptable:
                try:
                    self._detect_stage(stage)
                except Exception as exc:  # best effort: what cannot be proved ours is kept
                    self._emit(LogLine(stage.key, f"Could not check {stage.key}: {explain(exc).message}", "warning"))
        finally:
            self.ctx.cleaning_up = False
            self.ctx.current_stage = "cleanup"

    # --- helpers for the screens ------------------------------------------------------------------

    def command_with_secret(self, ref: str) -> str | None:
        """The stage's command with the secret filled in, for copying after the person agreed; None if none."""
        stage = self.stage(ref)
        with_secret = getattr(stage, "command_with_secret", None)
        return with_secret(self.ctx) if with_secret else None

    def exports(self, shell: str, reveal: bool) -> str:
        """The identity variables as exports for the shell, secrets masked unless revealed ("" before stage 1)."""
        from wizard.files.identity import ENV_KEYS, ENV_NAME, SECRET_KEYS, read_env_file
        from wizard.files.shell import exports

        if not (self.project / ENV_NAME).exists():
            return ""
        env = read_env_file(self.project)
        values = {key: env.get(key, "") for key in ENV_KEYS}
        if not reveal:
            values = {key: "••••••••" if key in SECRET_KEYS else value for key, value in values.items()}
        return exports(values, shell)
