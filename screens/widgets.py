"""What the screens share: status marks, the masked values table and the footer. The stage list is in
screens/sidebar.py, with the stage screen: the welcome screen paints before ListView is imported."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Footer, Static

if TYPE_CHECKING:
    from textual.screen import Screen


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
