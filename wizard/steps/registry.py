"""The stages in the quickstart's order, and everything derived from what each stage declares about itself:
numbers, the run order, the gate, the teardown order and the stages that may be adopted."""

from __future__ import annotations

from collections.abc import Sequence

from wizard.contents import StageList
from wizard.errors import UsageError
from wizard.steps.base import Stage


class Registry(StageList[Stage]):
    """Fresh stage objects in order (a stage may keep per-session state, such as a bearer token)."""

    def __init__(self, classes: Sequence[type[Stage]]) -> None:
        super().__init__([cls() for cls in classes])
        for index, stage in enumerate(self.stages):
            for required in stage.requires:
                position = next((i for i, s in enumerate(self.stages) if s.key == required), None)
                if position is None or position >= index:
                    # The order of the registry must be an order the stages can run in.
                    raise ValueError(f"stage {stage.key} requires {required!r}, which does not come before it")

    def run_target(self, ref: str | None) -> Stage:
        """The last stage `run --through REF` performs (None: the last of all); a bad REF is a usage error."""
        if ref is None:
            return self.run_order[-1]
        try:
            stage = self.get(ref)
        except KeyError as exc:
            raise UsageError(
                str(exc.args[0]), fix="Use a stage key or number from `agentcore-wizard status`."
            ) from None
        if not stage.in_run:
            raise UsageError(
                f"{stage.title} is not part of `run`.",
                fix="Use its own command: agentcore-wizard cleanup [--dry-run] [--yes].",
            )
        return stage

    @property
    def teardown_order(self) -> list[Stage]:
        """What cleanup undoes, dependents before what they depend on: the registry's order reversed."""
        return [stage for stage in reversed(self.stages) if stage.in_run and stage.has_teardown]

    @property
    def adoptable(self) -> list[Stage]:
        return [stage for stage in self.stages if stage.adoptable]

    def requirements(self, key: str) -> list[Stage]:
        """Every stage that must be done before this one, directly or through another, in order."""
        needed: set[str] = set()
        pending = list(self._by_key[key].requires)
        while pending:
            current = pending.pop()
            if current not in needed:
                needed.add(current)
                pending.extend(self._by_key[current].requires)
        return [stage for stage in self.stages if stage.key in needed]

    def dependents(self, key: str) -> list[Stage]:
        """Every stage that needs this one, directly or through another, in order."""
        return [stage for stage in self.stages if key in {s.key for s in self.requirements(stage.key)}]

    def users_of(self, setting: str) -> list[Stage]:
        return [stage for stage in self.stages if setting in stage.uses]
