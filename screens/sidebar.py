"""The stage list beside every stage: each stage with its live status; selecting one opens it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Label, ListItem, ListView

from screens.widgets import STATUS_MARKS

if TYPE_CHECKING:
    from wizard.session import Session


class StageItem(ListItem):
    def __init__(self, key: str, label: str) -> None:
        super().__init__(id=f"nav-{key}")
        self.stage_key = key
        self._label = label
        self._shown: Text | None = None

    def compose(self) -> ComposeResult:
        yield Label(self._label)

    def show(self, label: Text) -> None:
        # Unchanged rows are left alone: an update is a layout refresh, and every stage switch asks for them all.
        if label != self._shown:
            self._shown = label
            self.query_one(Label).update(label)


class Sidebar(ListView):
    """Every stage at once, with its live status; selecting one opens its screen."""

    class StageChosen(Message):
        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def __init__(self, session: Session, current: str) -> None:
        self.session = session
        self.current = current
        items = [StageItem(stage.key, "") for stage in session.stages]
        keys = [stage.key for stage in session.stages]
        super().__init__(*items, id="sidebar", initial_index=keys.index(current) if current in keys else 0)

    def on_mount(self) -> None:
        self.refresh_statuses()

    def show_current(self, key: str) -> None:
        """Another stage is on screen: its row is the underlined (and highlighted) one."""
        self.current = key
        keys = [stage.key for stage in self.session.stages]
        if key in keys and self.index != keys.index(key):
            self.index = keys.index(key)

    def refresh_statuses(self) -> None:
        for item in self.query(StageItem):
            stage = self.session.stage(item.stage_key)
            status = self.session.status_of(stage)
            mark, style = STATUS_MARKS.get(status, ("?", ""))
            label = Text.assemble((f"{mark} ", style), (f"{stage.label:>1} ", "bold"), stage.title)
            if item.stage_key == self.current:
                label.stylize("underline", 2)
            item.show(label)

    def on_list_view_selected(self, event: ListView.Selected) -> None:
        event.stop()
        if isinstance(event.item, StageItem):
            self.post_message(self.StageChosen(event.item.stage_key))
