"""Where a project stands, as its state file records it, and the outline the first screen paints from.

The terminal UI paints its stage list before the session opens (opening imports every stage controller, and boto3
behind them: most of the start-up time). The outline is that list: the table of contents with the statuses the
state file records, read without taking the folder and without writing anything. The session answers the same
questions the same way (it is a `Standing` too), so the screen looks the same before and after it opens."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Generic

from wizard.contents import Entry, ItemT, StageList, table_of_contents
from wizard.settings import Options
from wizard.state import StateFile, sandbox_file


class Standing(ABC, Generic[ItemT]):
    """Statuses, errors and the one next step, from the stage list and the state file."""

    options: Options
    stages: StageList[ItemT]
    state: StateFile

    @property
    def project(self) -> Path:
        return self.options.project

    @property
    @abstractmethod
    def is_sandbox(self) -> bool: ...

    @property
    def load_problem(self) -> str | None:
        return self.state.load_problem

    @property
    def account(self) -> str | None:
        return self.state.data.get("account")

    @property
    def pinned_region(self) -> str | None:
        return self.state.data.get("region")

    def stage(self, ref: str | ItemT) -> ItemT:
        return self.stages.get(ref) if isinstance(ref, str) else ref

    def status_of(self, ref: str | ItemT) -> str:
        return str(self.state.stage(self.stage(ref).key).get("status", "pending"))

    def error_of(self, ref: str | ItemT) -> dict[str, str] | None:
        error = self.state.stage(self.stage(ref).key).get("error")
        return dict(error) if error else None

    def first_unfinished(self) -> ItemT | None:
        """The one next step: finishing an interrupted cleanup comes first, else the first stage not done."""
        if self.cleanup_interrupted():
            return self.stages.get("cleanup")
        return next((stage for stage in self.stages.run_order if self.status_of(stage) != "done"), None)

    def lost_record_in_a_sandbox_folder(self) -> bool:
        """The state file was unreadable (the session sets it aside), but this folder has its own sandbox: that
        is where its work lives, so it carries on in the sandbox."""
        return (
            self.state.data.get("mode") is None
            and self.state.load_problem is not None
            and sandbox_file(self.project).exists()
        )

    def cleanup_interrupted(self) -> bool:
        """A cleanup that began and did not finish (stopped, killed, or an AWS call failed): part of the
        project is gone, and every front end says so until it is finished (or the project is built again)."""
        return self.status_of("cleanup") in ("failed", "running")


class Outline(Standing[Entry]):
    """The project as its state file says, before the session opens: read only, nothing locked or written."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.stages = table_of_contents()
        self.state = StateFile(options.project)
        self.state.read_only = True  # a damaged file is reported, and left for the session to set aside
        self.state.load()

    @property
    def is_sandbox(self) -> bool:
        # What the session settles on open, where it does not ask anything: a flag, the recorded mode, or the
        # folder's own sandbox when the record is lost.
        return (
            self.options.sandbox_asked
            or self.state.data.get("mode") == "sandbox"
            or self.lost_record_in_a_sandbox_folder()
        )
