"""Drives the stage controllers for both front ends (TUI and headless); neither has logic of its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wizard.context import Context, EventSink, Options
from wizard.errors import WAITING_ON_USER, Cancelled, WizardError, explain
from wizard.files.agent_code import AGENT_FILE, REQUIREMENTS_FILE
from wizard.files.identity import SECRET_FILES
from wizard.sandbox.manager import sandbox_file
from wizard.state import ProjectLock, StateFile, remove_stale_temps
from wizard.steps import Check, Detection, Stage, all_stages, stage_by_ref

# What must be done before a stage can run (beyond what the stage checks itself).
REQUIRES: dict[str, tuple[str, ...]] = {
    "cognito": ("preflight",),
    "env": ("preflight", "cognito"),
    "agent": (),
    "configure": ("preflight", "cognito", "agent"),
    "provider": ("preflight", "cognito", "configure"),
    "workload": ("preflight", "configure"),
    "deploy": ("preflight", "cognito", "agent", "configure", "provider", "workload"),
    "invoke": ("preflight", "cognito", "deploy"),
}


# Errors that wait on the person rather than report a fault: the stage shows as needing action.
NEEDS_ACTION_CODES = ("needs_action", "region_missing", *WAITING_ON_USER)


@dataclass
class Outcome:
    ok: bool
    status: str
    error: WizardError | None = None
    checks: list[Check] = field(default_factory=list)


class Wizard:
    def __init__(self, options: Options, sink: EventSink | None = None) -> None:
        self.options = options
        self.stages: list[Stage] = all_stages()
        self.state = StateFile(options.project)
        self.lock = ProjectLock(options.project)
        self.ctx = Context(options, self.state, sink)
        self._locked = False

    # --- lifecycle --------------------------------------------------------------------------------

    def open(self, lock: bool = True) -> Wizard:
        project = self.options.project
        if not project.exists():
            project.mkdir(parents=True)
        if not project.is_dir():
            raise WizardError(f"{project} is not a folder.", fix="Pass a folder with --dir.")
        if lock:
            self.lock.acquire()
            self._locked = True
            remove_stale_temps(project, (*SECRET_FILES, ".gitignore", AGENT_FILE, REQUIREMENTS_FILE))
            remove_stale_temps(self.state.path.parent, (self.state.path.name,))
        self.state.load()
        recorded_mode = self.state.data.get("mode")
        if not lock:
            # Read-only use (status): report whatever mode the folder was set up in.
            if recorded_mode == "sandbox" and not self.options.is_sandbox:
                self.options.sandbox = True
            return self
        if recorded_mode is None and self.state.recovered_from and sandbox_file(project).exists():
            # The state was lost, but this folder has its own sandbox: that is where its work lives.
            recorded_mode = "sandbox"
        if recorded_mode == "sandbox" and not self.options.is_sandbox:
            # Nothing in the sandbox can touch AWS, so carrying on there is always safe.
            self.options.sandbox = True
            self.ctx.log("This folder was set up in the sandbox; continuing there (nothing is created in AWS).")
        if recorded_mode and recorded_mode != self.ctx.mode:
            self.close()
            where = "the sandbox" if recorded_mode == "sandbox" else "a real AWS account"
            flag = "add --sandbox" if recorded_mode == "sandbox" else "drop --sandbox/--sandbox-endpoint"
            raise WizardError(
                f"This folder's progress was made against {where}.",
                fix=f"To continue it, {flag}. To start over in the other mode, use another folder with --dir.",
            )
        return self

    def close(self) -> None:
        if self._locked:
            self.lock.release()
            self._locked = False

    def __enter__(self) -> Wizard:
        return self.open()

    def __exit__(self, *_: Any) -> None:
        self.close()

    # --- queries ----------------------------------------------------------------------------------

    def stage(self, ref: str) -> Stage:
        return stage_by_ref(self.stages, ref)

    def status_of(self, stage: Stage) -> str:
        if not stage.available:
            return "unavailable"
        return str(self.state.stage(stage.key).get("status", "pending"))

    def error_of(self, stage: Stage) -> dict[str, str] | None:
        if not stage.available:
            return None
        error = self.state.stage(stage.key).get("error")
        return dict(error) if error else None

    def runnable(self) -> list[Stage]:
        return [stage for stage in self.stages if stage.available]

    def first_unfinished(self) -> Stage | None:
        for stage in self.stages:
            if stage.number is None:
                continue
            if self.status_of(stage) != "done":
                return stage
        return None

    def blocked_by(self, stage: Stage) -> Stage | None:
        """The first stage that must be done before this one can run."""
        for key in REQUIRES.get(stage.key, ()):
            if self.status_of(self.stage(key)) != "done":
                return self.stage(key)
        return None

    def rows(self) -> list[dict[str, Any]]:
        rows = []
        for stage in self.stages:
            rows.append(
                {
                    "number": stage.number,
                    "key": stage.key,
                    "title": stage.title,
                    "quickstart_step": stage.quickstart_step,
                    "status": self.status_of(stage),
                    "error": self.error_of(stage),
                    "resources": self.state.resources(stage.key) if stage.available else {},
                }
            )
        return rows

    def summary(self) -> dict[str, Any]:
        data = self.state.data
        return {
            "project": str(self.options.project),
            "mode": self.ctx.mode,
            "region": data.get("region"),
            "account": data.get("account"),
            "state_file": str(self.state.path),
            "state_problem": self.state.load_problem,
            "stages": self.rows(),
        }

    # --- actions ----------------------------------------------------------------------------------

    def _set(self, stage: Stage, status: str, error: WizardError | None = None) -> None:
        self.state.set_status(stage.key, status, error.as_dict() if error else None)
        self.ctx.current_stage = stage.key
        self.ctx.emit("status", status, "error" if error else "info")

    def run_stage(self, ref: str) -> Outcome:
        stage = self.stage(ref)
        self.ctx.current_stage = stage.key
        if not stage.available:
            error = explain(_not_available(stage))
            return Outcome(False, "unavailable", error)
        blocker = self.blocked_by(stage)
        if blocker is not None:
            error = WizardError(
                f"Stage {stage.label} needs stage {blocker.label} ({blocker.title}) done first.",
                fix=f"Run stage {blocker.label} first.",
            )
            self.ctx.log(error.message, "error")
            return Outcome(False, self.status_of(stage), error)
        self._set(stage, "running")
        if stage.key != "cleanup" and self.state.stage("cleanup").get("status") != "pending":
            # Building again after a cleanup: the old cleanup no longer describes the project.
            self.state.set_status("cleanup", "pending")
        try:
            checks = stage.run(self.ctx)
            if checks is None:
                checks = stage.verify(self.ctx)
        except Cancelled:
            error = WizardError(
                "Stopped at your request between two AWS calls.",
                fix="Run the stage again: it picks up what already exists and creates no duplicates.",
            )
            self._set(stage, "failed", error)
            return Outcome(False, "failed", error)
        except Exception as exc:  # every failure is shown with a way forward, never swallowed
            error = explain(exc)
            status = "needs_action" if error.code in NEEDS_ACTION_CODES else "failed"
            self._set(stage, status, error)
            self.ctx.log(error.message, "error")
            return Outcome(False, status, error)
        failed = [check for check in checks if not check.ok]
        if failed:
            error = WizardError(
                "The stage ran, but verification failed: " + "; ".join(f"{c.name} ({c.detail})" for c in failed),
                fix="Run the stage again; if it keeps failing, the message says what to fix.",
            )
            self._set(stage, "failed", error)
            return Outcome(False, "failed", error, checks)
        self._set(stage, "done")
        self.ctx.log(f"{stage.name} is done and verified.", "success")
        return Outcome(True, "done", None, checks)

    def verify_stage(self, ref: str) -> Outcome:
        """Check a stage against reality; a done stage that no longer checks out becomes drifted."""
        stage = self.stage(ref)
        self.ctx.current_stage = stage.key
        if not stage.available:
            return Outcome(False, "unavailable", explain(_not_available(stage)))
        try:
            checks = stage.verify(self.ctx)
        except Exception as exc:
            error = explain(exc)
            return Outcome(False, self.status_of(stage), error)
        failed = [check for check in checks if not check.ok]
        current = self.status_of(stage)
        if failed:
            error = WizardError(
                "Drifted: " + "; ".join(f"{c.name} ({c.detail})" for c in failed),
                fix=f"Run stage {stage.label} again to repair it.",
            )
            if current in ("done", "drifted"):
                self._set(stage, "drifted", error)
            return Outcome(False, self.status_of(stage), error, checks)
        if current == "drifted":
            self._set(stage, "done")
        return Outcome(True, self.status_of(stage), None, checks)

    def detect_stage(self, ref: str) -> Detection:
        """Look at the folder and AWS; adopt what already checks out (made by hand or by the toolkit)."""
        stage = self.stage(ref)
        self.ctx.current_stage = stage.key
        if not stage.available:
            return Detection("unavailable")
        detection = stage.detect(self.ctx)
        current = self.status_of(stage)
        if detection.status == "done" and current != "done":
            self._set(stage, "done")
        elif detection.status in ("drifted", "needs_action") and current != detection.status:
            self._set(stage, detection.status, WizardError("; ".join(detection.evidence)))
        return detection


def _not_available(stage: Stage) -> WizardError:
    return WizardError(
        f"Stage {stage.label} ({stage.key}) is not available in this version of agentcore-wizard.",
        fix="Its screen shows the quickstart command to run by hand for now.",
    )
