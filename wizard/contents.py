"""The journey's table of contents: every stage's key, title and quickstart step, in the quickstart's order, and
where its controller lives.

The first screen paints from this and the state file alone (`wizard.outline`): the stage modules, and boto3 behind
them, are imported after it has painted. So this module imports nothing of the wizard's, and the controllers take
their titles from here (`Stage.__init_subclass__`): one place says what each stage is called. Adding a stage is its
module and one line here."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Generic, Protocol, TypeVar


class Entry:
    """One line of the table of contents."""

    def __init__(self, key: str, title: str, quickstart_step: str, controller: str, in_run: bool = True) -> None:
        self.key = key
        self.title = title
        self.quickstart_step = quickstart_step
        self.controller = controller  # "module:Class" of its Stage
        self.in_run = in_run  # cleanup is its own command, not part of `run`
        self.number: int | None = None  # its place in the run order (set below)

    @property
    def label(self) -> str:
        return f"{self.number}" if self.number is not None else "–"


CONTENTS: tuple[Entry, ...] = (
    Entry("preflight", "Prerequisites", "Prerequisites", "wizard.steps.preflight:PreflightStage"),
    Entry("cognito", "Create Cognito pools", "Step 1", "wizard.steps.cognito:CognitoStage"),
    Entry("env", "Load environment variables", "Step 2", "wizard.steps.env:EnvStage"),
    Entry("agent", "Create agent code", "Step 3", "wizard.steps.agent:AgentStage"),
    Entry("configure", "Configure agent with JWT auth", "Step 4", "wizard.steps.configure:ConfigureStage"),
    Entry("provider", "Create credential provider", "Step 5", "wizard.steps.provider:ProviderStage"),
    Entry("workload", "Create workload identity", "Step 6", "wizard.steps.workload:WorkloadStage"),
    Entry("deploy", "Deploy agent", "Step 7", "wizard.steps.deploy:DeployStage"),
    Entry("invoke", "Invoke the agent", "Step 8", "wizard.steps.invoke:InvokeStage"),
    Entry("cleanup", "Cleanup", "Cleanup", "wizard.steps.cleanup:CleanupStage", in_run=False),
)
BY_KEY = {entry.key: entry for entry in CONTENTS}


class Listed(Protocol):
    """What a list of stages needs of its items: a table-of-contents entry and a stage controller both are."""

    key: str
    title: str
    in_run: bool
    number: int | None


ItemT = TypeVar("ItemT", bound=Listed)


class StageList(Generic[ItemT]):
    """Stages in order, numbered by their place in the run order; how messages name them."""

    def __init__(self, items: Sequence[ItemT]) -> None:
        self.stages: list[ItemT] = list(items)
        self._by_key = {item.key: item for item in self.stages}
        if len(self._by_key) != len(self.stages):
            raise ValueError("two stages share a key")
        number = 0
        for item in self.stages:
            item.number = number if item.in_run else None
            number += item.in_run
        self.keys = tuple(self._by_key)

    def __iter__(self) -> Iterator[ItemT]:
        return iter(self.stages)

    def __len__(self) -> int:
        return len(self.stages)

    def get(self, ref: str) -> ItemT:
        """A stage by key ("cognito") or number ("1")."""
        for item in self.stages:
            if item.key == ref or (item.number is not None and str(item.number) == ref):
                return item
        known = ", ".join(f"{s.key} ({s.number})" if s.number is not None else s.key for s in self.stages)
        raise KeyError(f"no stage {ref!r}; known: {known}")

    @property
    def run_order(self) -> list[ItemT]:
        """What `run` goes through, in order."""
        return [item for item in self.stages if item.in_run]

    def name(self, key: str, capital: bool = False) -> str:
        """How a message names a stage: "stage 5 (Create credential provider)", or "cleanup"."""
        item = self._by_key[key]
        text = item.title.lower() if item.number is None else f"stage {item.number} ({item.title})"
        return text[0].upper() + text[1:] if capital else text

    def names(self, keys: Sequence[str]) -> str:
        """ "stage 3 (…), stage 5 (…) and stage 7 (…)"."""
        parts = [self.name(key) for key in keys]
        return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def table_of_contents() -> StageList[Entry]:
    return StageList(CONTENTS)
