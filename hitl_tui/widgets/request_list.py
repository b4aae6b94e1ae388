"""The inbox table: one page of requests at a time, more loaded when the cursor nears the end.

Only a page (PAGE_SIZE rows) is asked of the database at once; scrolling to the last rows posts
`NeedMore` and the screen appends the next page. Columns are laid out for the width at hand: at
80 columns the id and type give way to the title; nothing is cut without an ellipsis.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static
from textual.widgets.data_table import CellDoesNotExist
from textual.worker import Worker, WorkerState, get_current_worker

from ..core.due import short_span
from ..core.models import InboxView, RequestSummary, WorkflowStatus
from ..messages import PageLoaded, forward_failure
from ..core.policy import Policy
from ..render.text import (AGE_WIDTH, RISK_WIDTH_FULL, RISK_WIDTH_SHORT, STAGE_WIDTH_FULL, STAGE_WIDTH_ROLES,
                           STAGE_WIDTH_SHORT, fit, format_value, relative_age, risk_badge, status_words)

if TYPE_CHECKING:
    from ..core.service import WorkflowService

PAGE_SIZE = 150
#: ask for the next page when the cursor is this close to the last loaded row
PREFETCH_ROWS = 20
#: rows added before the first paint; the rest of the page follows right after it
FIRST_ROWS = 40


#: which sort (core.filter_query.SORT_KEYS) a click on each column's header asks for
COLUMN_SORTS = {"id": "id", "type": "type", "title": "title", "requester": "requester", "value": "value",
                "risk": "risk", "stage": "stage", "age": "created", "due": "due"}
#: after this long without the new page, say "Loading…" instead of showing the old view's rows
SLOW_PAGE_S = 0.15


@dataclass(frozen=True)
class InboxQuery:
    """What the inbox shows: a view, its sort order and the filter text (core's filter language)."""

    view: InboxView = InboxView.AWAITING_ME
    sort: str = "oldest"
    search: str = ""


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int
    align: str = "left"


#: what a wider table buys, in this order, and the title width each one must leave: the title
#: comes first; the risk badge and the stage are never cut at any width, they only move from
#: their short forms (CRIT, '1/3 Mgr', 'changes') to full words.
UPGRADES = (
    ("risk", RISK_WIDTH_FULL, 32),
    ("requester", 12, 32),
    ("value", 12, 36),
    ("stage", STAGE_WIDTH_ROLES, 40),
    ("stage", STAGE_WIDTH_FULL, 44),
    ("type", 12, 48),
    ("id", 18, 56),  # WF-1796146664-7137
    ("requester", 16, 60),
)
TITLE_MIN = 16
#: "late 12h", "in 3d": the due column's cells
DUE_WIDTH = 8


def layout_columns(width: int, *, due: bool = False) -> list[Column]:
    """Columns for a table `width` cells wide: every column at its narrowest, then the upgrades
    above while the title keeps its share, then the title takes everything that is left. `due`:
    the policy gives due dates, so a Due column stands before the age."""
    pad = 2  # DataTable puts one cell of padding on each side of every column
    widths = {"requester": 9, "value": 9, "risk": RISK_WIDTH_SHORT, "stage": STAGE_WIDTH_SHORT,
              **({"due": DUE_WIDTH} if due else {}), "age": AGE_WIDTH}

    def title_room(w: dict[str, int]) -> int:
        return width - sum(v + pad for v in w.values()) - pad - 1  # the title's padding, a scrollbar cell

    for key, cells, keep in UPGRADES:
        trial = {**widths, key: cells}
        if title_room(trial) < keep:
            break  # in order: a wider table never loses a column a narrower one had
        widths = trial
    labels = {"id": "ID", "type": "Type", "requester": "Requester" if widths["requester"] >= 12 else "From",
              "value": "Value", "risk": "Risk", "stage": "Stage", "due": "Due", "age": "Age"}
    title = Column("title", "Title", max(TITLE_MIN, title_room(widths)))
    lead = [Column(k, labels[k], widths[k]) for k in ("id", "type") if k in widths]
    rest = [Column(k, labels[k], widths[k], "right" if k == "value" else "left")
            for k in ("requester", "value", "risk", "stage", "due", "age") if k in widths]
    return [*lead, title, *rest]


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

    @dataclass
    class SortChosen(Message):
        """A column header was clicked: sort by `key` (a core.filter_query.SORT_KEYS key)."""

        key: str

    def __init__(self, policy: Policy, clock: Callable[[], datetime], service: "WorkflowService | None" = None, username: str = "",
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.policy = policy
        self.clock = clock
        self.service, self.username = service, username
        self.query = InboxQuery()
        #: bumped by every ask/reload: an answer for an older one is stale and dropped
        self.token = 0
        #: the token of the page on screen (== token once the latest ask has been answered)
        self.shown_token = -1
        self._slow_timer = None
        self.rows: list[RequestSummary] = []
        self.has_more = False
        self.empty_text = "Loading…"
        self._columns: list[Column] = []
        self._waiting_for_more = False
        self._generation = 0
        #: request id -> "claimed by mike.manager · 12m" (core/claims.py), read with each page
        self.claims: dict[str, str] = {}

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
        columns = layout_columns(self.table.size.width or self.size.width, due=self.shows_due)
        if columns != self._columns:
            self._render_rows(keep=self.current.id if self.current else None)

    # --- asking the database -------------------------------------------------------------------

    @property
    def settled(self) -> bool:
        """The page on screen answers the latest query."""
        return self.shown_token == self.token

    def ask(self, query: InboxQuery, empty_text: str, *, first_page: PageLoaded | None = None) -> None:
        """Show `query` from its first page (`first_page` when it was read before the app ran)."""
        self.query, self.empty_text = query, empty_text
        self.token += 1
        if first_page is not None:
            first_page.token = self.token
            self.post_message(first_page)  # handled here first, then the desk hears of it
            self.call_after_refresh(self.refresh_claims)  # read before the app ran, without its claims
            return
        self._fetch(query, self.token, 0)
        if self._slow_timer is not None:
            self._slow_timer.stop()
        self._slow_timer = self.set_timer(SLOW_PAGE_S, lambda token=self.token: self._still_loading(token))

    def reload(self) -> None:
        """The same query again (something changed); the cursor stays on its request."""
        self.token += 1
        self._fetch(self.query, self.token, 0)

    def _still_loading(self, token: int) -> None:
        """A slow answer: never leave the previous view's rows (and the detail of one of them)
        looking like the answer to the new question."""
        if token == self.token and not self.settled:
            self.rows = []
            self.table.clear()
            empty = self.query_one("#inbox-empty", Static)
            empty.update(Text("Loading…"))
            empty.display = True
            self.post_message(self.Highlighted(None))

    @work(thread=True, exclusive=True, group="page", exit_on_error=False, description="inbox page")
    def _fetch(self, query: InboxQuery, token: int, offset: int) -> None:
        rows = self.service.list_requests(self.username, query.view, search=query.search or None, sort=query.sort,
                                          limit=PAGE_SIZE + 1, offset=offset)
        self.claims = self._claims(rows)
        if not get_current_worker().is_cancelled:
            self.post_message(PageLoaded(token, rows[:PAGE_SIZE], offset, len(rows) > PAGE_SIZE))

    @work(thread=True, group="page-more", exit_on_error=False, description="next inbox page")
    def _fetch_more(self, query: InboxQuery, token: int, offset: int) -> None:
        rows = self.service.list_requests(self.username, query.view, search=query.search or None, sort=query.sort,
                                          limit=PAGE_SIZE + 1, offset=offset)
        self.claims = {**self.claims, **self._claims(rows)}
        self.post_message(PageLoaded(token, rows[:PAGE_SIZE], offset, len(rows) > PAGE_SIZE))

    @work(thread=True, exclusive=True, group="claims", exit_on_error=False, description="claims")
    def refresh_claims(self) -> None:
        """Claims are no audit entries, so no change notice brings them: the desk asks on its tick."""
        rows = list(self.rows)
        found = self._claims(rows)
        if found != self.claims and not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_claims, found)

    def _show_claims(self, found: dict[str, str]) -> None:
        changed = set(found) ^ set(self.claims) | {k for k in found if found[k] != self.claims.get(k)}
        self.claims = found
        title = next((c for c in self._columns if c.key == "title"), None)
        for summary in self.rows:
            if title is not None and summary.id in changed:
                try:
                    self.table.update_cell(summary.id, "title", self._cell(title, summary, self.clock()))
                except CellDoesNotExist:  # the row went away meanwhile
                    continue

    def _claims(self, rows: list[RequestSummary]) -> dict[str, str]:
        """Who is looking at which of these (their words), in the worker that read the page."""
        from ..remote import desk_client  # the engine's call, or the service's in team mode

        now = self.clock()
        waiting = [r.id for r in rows if r.status is WorkflowStatus.AWAITING_APPROVAL]
        found = desk_client.shown(self.service, self.username, waiting)
        return {wid: c.words(self.username, now) for wid, c in found.items()}

    @on(PageLoaded)
    def _page_loaded(self, msg: PageLoaded) -> None:
        if msg.token != self.token or (msg.offset and msg.offset != len(self.rows)):
            msg.stop()  # the view, sort or filter changed since this was asked: nobody needs it
            return
        self._page(msg)  # and the message goes on up: the desk starts its background work on it

    def _page(self, msg: PageLoaded) -> None:
        self.shown_token = msg.token
        self.show(msg.rows, has_more=msg.has_more, append=msg.offset > 0)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.group == "page" and not self.rows:
            # not "Loading…" for ever: say why there is nothing (the next reload replaces it)
            if self._slow_timer is not None:
                self._slow_timer.stop()
            empty = self.query_one("#inbox-empty", Static)
            empty.update(Text(f"This view could not be loaded: {event.worker.error}"))
            empty.display = True
        forward_failure(self, event)

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

    def refresh_ages(self, now: datetime) -> None:
        """Relative ages (and due times) drift; the desk re-renders them from its one clock, reloading nothing."""
        due = any(c.key == "due" for c in self._columns)
        if self.rows and any(c.key == "age" for c in self._columns):
            for summary in self.rows:
                try:
                    self.table.update_cell(summary.id, "age", self._age(summary, now))
                    if due:
                        self.table.update_cell(summary.id, "due", self._due(summary, now))
                except Exception:  # the row went away between the timer and this call
                    continue

    def _render_rows(self, keep: str | None, fallback: int = 0) -> None:
        table = self.table
        self._generation += 1
        columns = layout_columns(table.size.width or self.size.width or 80, due=self.shows_due)
        if columns == self._columns and table.columns:
            table.clear()  # same columns (a new page, not a new width): keep them
        else:
            self._columns = columns
            table.clear(columns=True)
            for col in columns:
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
            claim = self.claims.get(s.id, "")
            short = "⚑ " + claim.split(" · ")[0].removeprefix("claimed by ")  # "⚑ mike.manager" when narrow
            for said, room in ((f" · {claim}", 24), (f" {short}", 10)) if claim else ():
                if width >= len(said) + room:  # the title keeps its room: the short form before a cut title
                    return Text.assemble(fit(s.title, width - len(said)), (said, "italic #e0b84c"), end="")
            return fit(s.title, width)
        if key == "requester":
            return fit(s.requester, width)
        if key == "value":
            return fit(self._value(s), width, align="right")
        if key == "risk":
            return risk_badge(s.risk_level, width)
        if key == "stage":
            words = status_words(s.status, s.current_role, s.current_stage, s.stage_count, width)
            return fit(words.plain, width, str(words.style))  # cut only past nine stages
        if key == "due":
            return self._due(s, now)
        return self._age(s, now)

    @property
    def shows_due(self) -> bool:
        """The policy gives some type a due date: the Due column is worth its width."""
        return any(t.due.spans for t in self.policy.types.values())

    def _due(self, s: RequestSummary, now: datetime) -> Text:
        if s.due_at is None or s.status is not WorkflowStatus.AWAITING_APPROVAL:
            return Text("—" if s.due_at is None else "", style="dim", end="")
        seconds = (s.due_at - now).total_seconds()
        if seconds < 0:
            return Text(f"late {short_span(-seconds)}", style="bold red", end="")
        return Text(f"in {short_span(seconds)}", style="yellow" if seconds < 3600 else "", end="")

    def _age(self, s: RequestSummary, now: datetime) -> Text:
        return Text(relative_age(s.created_at, now), style="dim", end="")

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
            self._fetch_more(self.query, self.token, len(self.rows))

    @on(DataTable.HeaderSelected)
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        key = COLUMN_SORTS.get(str(event.column_key.value))
        if key:
            self.post_message(self.SortChosen(key))

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if self.current is not None:
            self.post_message(self.Opened(self.current))
