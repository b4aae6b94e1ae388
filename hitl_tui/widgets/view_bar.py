"""The inbox views (1-4) with their counts, the sort order and the filter, on one line."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ..core.models import InboxView
from ..render.text import clean

LABELS = {
    InboxView.AWAITING_ME: ("Awaiting me", "Awaiting"),
    InboxView.MINE: ("My requests", "Mine"),
    InboxView.VISIBLE: ("All I may see", "All"),
    InboxView.DECIDED: ("Decided by me", "Decided"),
}
VIEW_KEYS = {InboxView.AWAITING_ME: "1", InboxView.MINE: "2", InboxView.VISIBLE: "3", InboxView.DECIDED: "4"}


def count_text(n: int | None) -> str:
    if n is None:
        return "…"
    return f"{n:,}" if n < 100_000 else f"{n / 1000:,.0f}k"


class ViewBar(Widget):
    DEFAULT_CSS = "ViewBar { height: 1; }"

    view: reactive[InboxView] = reactive(InboxView.AWAITING_ME, layout=False)
    sort = reactive("oldest", layout=False)
    search = reactive("", layout=False)
    counts: reactive[dict] = reactive(dict, layout=False, always_update=True)

    def render(self) -> Text:
        width = self.size.width or 80
        tail = self._tail()
        for long in (True, False):
            tabs = self._tabs(long)
            if tabs.cell_len + tail.cell_len + 1 <= width:
                break
        line = Text(end="")
        line.append_text(tabs)
        line.append(" " * max(1, width - tabs.cell_len - tail.cell_len))
        line.append_text(tail)
        line.truncate(width, overflow="ellipsis")
        return line

    def _tabs(self, long: bool) -> Text:
        out = Text(end="")
        for view in InboxView:
            label = LABELS[view][0 if long else 1]
            active = view is self.view
            out.append(f" {VIEW_KEYS[view]} ", style="bold reverse" if active else "bold")
            out.append(f"{label} ({count_text(self.counts.get(view))})" + (" " if long else ""),
                       style="bold underline" if active else "dim")
            out.append(" ")
        return out

    def _tail(self) -> Text:
        out = Text(end="")
        if self.search:
            out.append("/", style="bold")
            out.append(clean(self.search, single_line=True)[:24], style="italic")
            out.append("  ")
        out.append("sort ", style="dim")
        out.append(self.sort, style="bold")
        out.append(" ")
        return out
