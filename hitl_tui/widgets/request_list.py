"""The inbox table: one page of requests at a time, more loaded when the cursor nears the end.

Only a page (PAGE_SIZE rows) is asked of the database at once; scrolling to the last rows posts
`NeedMore` and the screen appends the next page. Columns are laid out for the width at hand: at
80 columns the id and type give way to the title; nothing is cut without an ellipsis.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from ..core.models import RequestSummary
from ..core.policy import Policy
from ..render.text import fit, format_value, relative_age, risk_badge, status_words

PAGE_SIZE = 150
#: ask for the next page when the cursor is this close to the last loaded row
PREFETCH_ROWS = 20
#: rows added before the first paint; the rest of the page follows right after it
FIRST_ROWS = 40


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int
    align: str = "left"


def layout_columns(width: int) -> list[Column]:
    """Columns for a table `width` cells wide. The title gets what is left (at least 16 cells);
    the id and type columns join only when there is room for them beside a readable title."""
    pad = 2  # DataTable puts one cell of padding on each side of every column
    roomy = width >= 90
    fixed = [Column("requester", "Requester" if roomy else "From", 13 if roomy else 10),
             Column("value", "Amount / impact" if width >= 120 else "Value", 15 if width >= 120 else 10, "right"),
             Column("risk", "Risk", 10 if roomy else 8), Column("stage", "Stage", 13 if roomy else 8),
             Column("age", "Age", 10 if roomy else 8)]
    if width >= 104:
        fixed.insert(0, Column("type", "Type", 12))
    if width >= 124:
        fixed.insert(0, Column("id", "ID", 18))
    used = sum(c.width + pad for c in fixed) + pad + 1  # + the title's padding and a scrollbar cell
    title = Column("title", "Title", max(16, width - used))
    at = sum(1 for c in fixed if c.key in ("id", "type"))
    return [*fixed[:at], title, *fixed[at:]]


class InboxTable(DataTable):
    """The DataTable itself, with vi keys; the container around it handles layout."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="inbox.down"),
        Binding("k", "cursor_up", "Up", show=False, id="inbox.up"),
        Binding("g", "scroll_top", "First request", show=False, id="inbox.first"),
        Binding("G", "scroll_bottom", "Last loaded request", show=False, id="inbox.last"),
    ]


class RequestList(Vertical):
    """The inbox pane: the table, or a line saying why it is empty."""

    class Highlighted(Message):
        def __init__(self, summary: RequestSummary | None) -> None:
            super().__init__()
            self.summary = summary

    class Opened(Message):
        """enter on a row: show its detail."""

        def __init__(self, summary: RequestSummary) -> None:
            super().__init__()
            self.summary = summary

    class NeedMore(Message):
        pass

    def __init__(self, policy: Policy, clock: Callable[[], datetime], **kwargs) -> None:
        super().__init__(**kwargs)
        self.policy = policy
        self.clock = clock
        self.rows: list[RequestSummary] = []
        self.has_more = False
        self.empty_text = "Loading…"
        self._columns: list[Column] = []
        self._waiting_for_more = False
        self._generation = 0

    def compose(self) -> ComposeResult:
        yield InboxTable(cursor_type="row", zebra_stripes=True, id="inbox-table")
        yield Static(self.empty_text, id="inbox-empty", markup=False)

    @property
    def table(self) -> InboxTable:
        return self.query_one(InboxTable)

    @property
    def current(self) -> RequestSummary | None:
        row = self.table.cursor_row
        return self.rows[row] if self.rows and 0 <= row < len(self.rows) else None

    def focus(self, scroll_visible: bool = True):  # the pane's focus belongs to its table
        self.table.focus(scroll_visible)
        return self

    def on_resize(self) -> None:
        columns = layout_columns(self.table.size.width or self.size.width)
        if columns != self._columns:
            self._render_rows(keep=self.current.id if self.current else None)

    # --- filling -------------------------------------------------------------------------------

    def show(self, rows: list[RequestSummary], *, has_more: bool, append: bool = False, keep: str | None = None,
             empty_text: str = "") -> None:
        """Replace (or extend) the rows; keep the cursor on `keep` (a request id) if it is still here."""
        self._waiting_for_more = False
        self.has_more = has_more
        if empty_text:
            self.empty_text = empty_text
        if append:
            self._flush()
            known = {r.id for r in self.rows}
            fresh = [r for r in rows if r.id not in known]
            self.rows.extend(fresh)
            for summary in fresh:
                self.table.add_row(*self._cells(summary), key=summary.id)
            return
        if keep is None and self.current is not None:
            keep = self.current.id
        # when the kept row has gone (just decided, say), stay at the same position: the next
        # request slides under the cursor, which is what working down a queue wants
        fallback = self.table.cursor_row if self.rows else 0
        self.rows = list(rows)
        self._render_rows(keep, fallback)

    def refresh_ages(self) -> None:
        """Relative ages drift; re-render them once a minute without reloading anything."""
        if self.rows and any(c.key == "age" for c in self._columns):
            now = self.clock()
            for summary in self.rows:
                try:
                    self.table.update_cell(summary.id, "age", self._age(summary, now))
                except Exception:  # the row went away between the timer and this call
                    continue

    def _render_rows(self, keep: str | None, fallback: int = 0) -> None:
        table = self.table
        self._generation += 1
        self._columns = layout_columns(table.size.width or self.size.width or 80)
        table.clear(columns=True)
        for col in self._columns:
            table.add_column(Text(col.label, justify="right" if col.align == "right" else "left"),
                             width=col.width, key=col.key)
        index = next((i for i, r in enumerate(self.rows) if r.id == keep), fallback) if keep else fallback
        # a screenful first, the rest of the page right after it has painted: the first paint of
        # the inbox should not wait for rows nobody can see yet
        first = max(FIRST_ROWS, index + 1)
        now = self.clock()
        for summary in self.rows[:first]:
            table.add_row(*self._cells(summary, now), key=summary.id)
        if len(self.rows) > first:
            self.call_after_refresh(self._add_rest, self._generation)
        empty = self.query_one("#inbox-empty", Static)
        empty.update(Text(self.empty_text))
        empty.display = not self.rows
        if self.rows:
            table.move_cursor(row=min(index, len(self.rows) - 1), animate=False)
        self.post_message(self.Highlighted(self.current))

    def _add_rest(self, generation: int) -> None:
        if generation == self._generation:
            self._flush()

    def _flush(self) -> None:
        """Add the rows not yet in the table (after a partial first render)."""
        table = self.table
        if table.row_count < len(self.rows):
            now = self.clock()
            for summary in self.rows[table.row_count:]:
                table.add_row(*self._cells(summary, now), key=summary.id)

    def _cells(self, s: RequestSummary, now: datetime | None = None) -> list[Text]:
        now = now or self.clock()
        out = []
        for col in self._columns:
            out.append(self._cell(col, s, now))
        return out

    def _cell(self, col: Column, s: RequestSummary, now: datetime) -> Text:
        key, width = col.key, col.width
        if key == "id":
            return fit(s.id, width)
        if key == "type":
            wtype = self.policy.types.get(s.workflow_type)
            return fit(wtype.name.replace(" approval", "") if wtype else s.workflow_type, width, "dim")
        if key == "title":
            return fit(s.title, width)
        if key == "requester":
            return fit(s.requester, width)
        if key == "value":
            return fit(self._value(s), width, align="right")
        if key == "risk":
            return risk_badge(s.risk_level, width)
        if key == "stage":
            words = status_words(s.status, s.current_role, s.current_stage, s.stage_count, short=width < 12)
            return fit(words.plain, width, str(words.style))
        return self._age(s, now)

    def _age(self, s: RequestSummary, now: datetime) -> Text:
        compact = any(c.key == "age" and c.width < 10 for c in self._columns)
        return Text(relative_age(s.created_at, now, compact=compact), style="dim", end="")

    def _value(self, s: RequestSummary) -> str:
        wtype = self.policy.types.get(s.workflow_type)
        kind = ""
        if wtype is not None:
            try:
                kind = wtype.field(wtype.risk.field).kind
            except KeyError:
                kind = ""
        return format_value(s.headline, kind)

    # --- events --------------------------------------------------------------------------------

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.post_message(self.Highlighted(self.current))
        if self.has_more and not self._waiting_for_more and event.cursor_row >= len(self.rows) - PREFETCH_ROWS:
            self._waiting_for_more = True
            self.post_message(self.NeedMore())

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if self.current is not None:
            self.post_message(self.Opened(self.current))
