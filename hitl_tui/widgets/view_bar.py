"""The inbox views (1-4) with their counts (5 while open), the sort order and the filter, on one line.

It counts its own views (a worker per filter, the previous one cancelled) and a click on a view's
tab posts `Chosen`: the desk switches views as if its number key was pressed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.style import Style
from rich.text import Text
from textual import events, on, work
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.worker import Worker, get_current_worker

from ..core.models import InboxView
from ..messages import CountsLoaded, forward_failure
from ..render.text import clean

if TYPE_CHECKING:
    from ..core.service import WorkflowService

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
    #: view 5 (widgets/analytics_view.py) is open in place of the inbox
    analytics = reactive(False, layout=False)

    @dataclass
    class Chosen(Message):
        """A view's tab was clicked."""

        view: InboxView

    def __init__(self, service: "WorkflowService | None" = None, username: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.service, self.username = service, username
        self._counting_for: str | None = None

    def recount(self, search: str) -> None:
        self._counting_for = search
        self._count(search)

    def stop_counting(self) -> None:
        """A new question is being asked: counts for the old one would only compete with it."""
        self.workers.cancel_group(self, "counts")

    @work(thread=True, exclusive=True, group="counts", exit_on_error=False, description="inbox counts")
    def _count(self, search: str) -> None:
        worker = get_current_worker()
        counts = self.service.count_views(self.username, search=search or None, stop=lambda: worker.is_cancelled)
        if not worker.is_cancelled:
            self.post_message(CountsLoaded(search, counts))

    @on(CountsLoaded)
    def _counted(self, msg: CountsLoaded) -> None:
        msg.stop()
        if msg.search == self._counting_for:  # else the filter changed since it was counted
            self.counts = msg.counts

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        forward_failure(self, event)

    def on_click(self, event: events.Click) -> None:
        view = event.style.meta.get("view") if event.style else None
        if view:
            self.post_message(self.Chosen(InboxView(view)))

    def render(self) -> Text:
        """Long tab names and the sort in words when they fit; then short tabs; then the sort
        as its key with an arrow (↓: the key's reverse order)."""
        width = self.size.width or 80
        for long_tabs, long_sort in ((True, True), (False, True), (False, False)):
            tabs, tail = self._tabs(long_tabs), self._tail(long_sort)
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
            active = view is self.view and not self.analytics
            click = Style(meta={"view": view.value})  # on_click reads which tab was hit
            out.append(f" {VIEW_KEYS[view]} ", style=Style.parse("bold reverse" if active else "bold") + click)
            out.append(f"{label} ({count_text(self.counts.get(view))})" + (" " if long else ""),
                       style=Style.parse("bold underline" if active else "dim") + click)
            out.append(" ")
        if self.analytics:  # a tab only while open: at 80 columns the four views fill the line already
            out.append(" 5 ", style="bold reverse")
            out.append("Analytics " if long else "Stats", style="bold underline")
            out.append(" ")
        return out

    def _tail(self, long: bool) -> Text:
        from ..core.filter_query import parse_sort

        out = Text(end="")
        if self.search:
            out.append("/", style="bold")
            out.append(clean(self.search, single_line=True)[:24], style="italic")
            out.append("  ")
        order = parse_sort(self.sort)
        out.append("sort ", style="dim")
        out.append(order.label if long else order.key + (" ↓" if order.reverse else " ↑"), style="bold")
        out.append(" ")
        return out
