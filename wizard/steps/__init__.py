"""The stage controllers, in the order of the table of contents (wizard.contents). Adding a stage is its module and
one line there."""

from __future__ import annotations

from importlib import import_module

from wizard.contents import CONTENTS, Entry
from wizard.steps.base import Check, Detection, Stage
from wizard.steps.registry import Registry

__all__ = ["REGISTRY", "STAGES", "Check", "Detection", "Registry", "Stage"]


def _controller(entry: Entry) -> type[Stage]:
    module, _, name = entry.controller.partition(":")
    found = getattr(import_module(module), name)
    if not (isinstance(found, type) and issubclass(found, Stage) and found.key == entry.key):
        raise TypeError(f"{entry.controller} is not the Stage of {entry.key!r}")
    return found


STAGES: tuple[type[Stage], ...] = tuple(_controller(entry) for entry in CONTENTS)

# For names and declared facts; each session makes its own stage objects with Registry(STAGES).
REGISTRY = Registry(STAGES)
