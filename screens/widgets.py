"""Widgets shared by the screens: the stage sidebar and the masked values table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Footer, Label, ListItem, ListView, Static

if TYPE_CHECKING:
    from textual.screen import Screen

    from wizard.session import Session

STATUS_MARKS = {
    "pending": ("○", "dim"),
    "running": ("◐", "bold yellow"),
    "done": ("✓", "bold green"),
    "failed": ("✗", "bold red"),
    "drifted": ("≠", "bold magenta"),
    "needs_action": ("!", "bold yellow"),
}

SECRET_MASK = "••••••••"
LOG_STYLES = {"error": "red", "warning": "yellow", "success": "green", "info": ""}


def status_text(status: str) -> Text:
    mark, style = STATUS_MARKS.get(status, ("?", ""))
    return Text.assemble((mark, style), " ", (status.replace("_", " "), style))


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


class ValuesTable(Static):
    """Label/value rows; secrets stay masked until revealed."""

    def __init__(self, rows: list[tuple[str, str, bool]] | None = None, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.rows = rows or []
        self.revealed = False

    def on_mount(self) -> None:
        self._render_rows()

    def set_rows(self, rows: list[tuple[str, str, bool]]) -> None:
        self.rows = rows
        self._render_rows()

    def set_revealed(self, revealed: bool) -> None:
        self.revealed = revealed
        self._render_rows()

    def _render_rows(self) -> None:
        if not self.rows:
            self.update(Text("Nothing recorded yet: run this stage.", style="dim"))
            self.display = True
            return
        width = max(len(label) for label, _, _ in self.rows)
        text = Text()
        for index, (label, value, secret) in enumerate(self.rows):
            if index:
                text.append("\n")
            text.append(f"{label:<{width}}  ", style="bold")
            if secret and not self.revealed:
                text.append(SECRET_MASK, style="dim")
            else:
                text.append(value)
        self.update(text)


class QuietFooter(Footer):
    """Textual's footer, recomposed only when what it shows changes. The stock one recomposes on every bindings
    update (each focus change, each stage switch) even when the keys it shows are the same."""

    def __init__(self) -> None:
        super().__init__()
        self._shown: tuple[object, ...] | None = None

    def bindings_changed(self, screen: Screen[object]) -> None:
        shown = tuple(
            (binding.key, binding.action, binding.description, enabled, tooltip)
            for (_, binding, enabled, tooltip) in screen.active_bindings.values()
            if binding.show
        )
        if shown == self._shown and self._bindings_ready:
            return
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self._shown = shown  # what the recompose below shows
        super().bindings_changed(screen)
