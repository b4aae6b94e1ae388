"""The approval desk: one screen, four panes (inbox, detail, audit timeline, agent chat).

At 80x24 the inbox keeps the top half and the bottom half shows one of detail / timeline / chat
(`v` switches, tab visits them in turn); from 140 columns all four panes are shown. Every action
is a key, greyed out in the footer when the engine's rules would refuse it; pressing a greyed
key says why, in the engine's own words.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from rich.text import Text
from textual import on
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Grid
from textual.screen import Screen
from textual.widgets import Footer, Input

from ..core import rbac
from ..core.models import InboxView, RequestSummary, User, WorkflowRequest
from ..core.workflow import Action
from ..messages import CountsLoaded, PageLoaded, RequestLoaded, RequestVanished
from ..widgets.agent_chat import AgentChat
from ..widgets.audit_timeline import AuditTimeline
from ..widgets.request_detail import RequestDetail
from ..widgets.request_list import RequestList
from ..widgets.status_header import StatusHeader
from ..widgets.view_bar import LABELS, ViewBar
from .desk_actions import DeskActions
from .desk_data import DeskData

LOWER = ("detail", "timeline", "chat")
LOWER_TITLES = {"detail": "Detail", "timeline": "Audit timeline", "chat": "Assistant"}
SORTS = ("oldest", "newest", "risk")
DECISION_ACTIONS = {"approve": Action.APPROVE, "reject": Action.REJECT, "request_changes": Action.REQUEST_CHANGES}
EMPTY = {
    InboxView.AWAITING_ME: "Nothing awaits your decision. 2 shows your requests, 3 all you may see, n files a new one.",
    InboxView.MINE: "You have filed no requests yet; n files a new one.",
    InboxView.VISIBLE: "There are no requests you may see yet.",
    InboxView.DECIDED: "You have not decided any request yet.",
}


WIDE_AT = 140


class DeskScreen(DeskActions, DeskData, Screen[None]):
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE_AT, "-wide")]
    BINDINGS = [
        Binding("a", "approve", "Approve", id="desk.approve", tooltip="Approve the selected request's current stage"),
        Binding("r", "reject", "Reject", id="desk.reject", tooltip="Reject the selected request (reason required)"),
        Binding("c", "request_changes", "Changes", id="desk.changes",
                tooltip="Send it back to the requester for changes (comment required)"),
        Binding("n", "new_request", "New", id="desk.new", tooltip="File a new request (form with live risk preview)"),
        Binding("e", "resubmit", "Edit", id="desk.resubmit",
                tooltip="Edit and resubmit your request after changes were requested"),
        Binding("w", "withdraw", "Withdraw", id="desk.withdraw", tooltip="Withdraw your request (asks first)"),
        Binding("slash", "filter", "Filter", id="desk.filter",
                tooltip="Filter as you type: title, id, requester, type, risk; esc leaves the field"),
        Binding("v", "next_lower", "Pane", id="desk.lower",
                tooltip="Narrow terminals: show detail → audit timeline → assistant in the lower half"),
        Binding("1", "view('awaiting_me')", "Awaiting me", show=False, id="desk.view1",
                tooltip="Requests whose current stage you may decide"),
        Binding("2", "view('mine')", "My requests", show=False, id="desk.view2", tooltip="Requests you filed"),
        Binding("3", "view('visible')", "All I may see", show=False, id="desk.view3",
                tooltip="Everything your role lets you see"),
        Binding("4", "view('decided')", "Decided", show=False, id="desk.view4",
                tooltip="Requests you decided a stage of"),
        Binding("s", "cycle_sort", "Sort", show=False, id="desk.sort", tooltip="Oldest first → newest → highest risk"),
        Binding("tab", "next_pane", "Next pane", show=False, id="desk.next_pane",
                tooltip="Inbox → detail → timeline → assistant"),
        Binding("shift+tab", "previous_pane", "Previous pane", show=False, id="desk.previous_pane"),
        Binding("enter", "open_detail", "Open detail", show=False, id="desk.open",
                tooltip="Show the selected request's detail"),
        Binding("escape", "back", "Back", show=False, id="desk.back",
                tooltip="Leave the filter / go back to the inbox / clear the filter"),
        Binding("ctrl+r,f5", "reload", "Reload", show=False, id="desk.reload",
                tooltip="Reload now (changes by others also appear by themselves within a second)"),
    ]

    def __init__(self, service: Any, user: User, people: list[User], db_path: Path,
                 first_page: PageLoaded | None = None) -> None:
        super().__init__()
        self._first_page = first_page
        self.service = service
        self.policy = service.policy
        self.user = user
        self.people = people
        self.db_path = db_path
        self.view = InboxView.AWAITING_ME
        self.sort = "oldest"
        self.search = ""
        self.token = 0
        self.lower = "detail"
        self.highlighted: RequestSummary | None = None
        self.request: WorkflowRequest | None = None
        self._started = False
        self._polling = False
        self._data_version: int | None = None
        self._audit_seq = 0
        self._verify_started: float | None = None
        self._verified_at: float | None = None
        self._reverify_timer = None
        self._filter_timer = None
        self._assistant: Any = None

    # --- layout --------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        clock = self.app.clock
        yield StatusHeader(self.db_path, id="status-header")
        yield ViewBar(id="view-bar")
        yield Input(id="filter", compact=True, placeholder="filter: title, id, requester, type, risk… "
                    "(enter keeps it, esc leaves)")
        with Grid(id="panes"):
            yield RequestList(self.policy, clock, id="inbox", classes="pane")
            yield RequestDetail(self.policy, clock, id="detail", classes="pane lower")
            yield AuditTimeline(id="timeline", classes="pane lower")
            yield AgentChat(id="chat", classes="pane lower")
        if getattr(self.app, "tour", None):
            yield self.app.tour()
        yield Footer(compact=True)

    @property
    def inbox(self) -> RequestList:
        return self.query_one(RequestList)

    @property
    def detail(self) -> RequestDetail:
        return self.query_one(RequestDetail)

    @property
    def timeline(self) -> AuditTimeline:
        return self.query_one(AuditTimeline)

    @property
    def chat(self) -> AgentChat:
        return self.query_one(AgentChat)

    @property
    def header(self) -> StatusHeader:
        return self.query_one(StatusHeader)

    @property
    def wide(self) -> bool:
        # from the size, not the "-wide" class: on a resize the class is set after on_resize runs
        return self.size.width >= WIDE_AT

    def on_mount(self) -> None:
        self.header.who = f"{self.user.username} ({self.user.role.label})"
        self.query_one("#filter", Input).display = False
        self.inbox.empty_text = "Loading…"
        self._show_lower("detail")
        self.inbox.focus()
        if self._first_page is not None:  # read before the app started (app.Preload)
            self.page_loaded(self._first_page)
            self._first_page = None
        else:
            self.load_page()
        self.set_interval(60, self.inbox.refresh_ages)

    def on_resize(self) -> None:
        self._title_panes()
        self.refresh_bindings()

    def _title_panes(self) -> None:
        self.inbox.border_title = f"Inbox · {LABELS[self.view][0]}"
        if self.wide:
            for name in LOWER:
                self.query_one(f"#{name}").border_title = LOWER_TITLES[name]
            self.query_one("#timeline").border_subtitle = ""
            return
        pane = self.query_one(f"#{self.lower}")
        pane.border_title = " ".join(f"[reverse] {LOWER_TITLES[n]} [/]" if n == self.lower else f" {LOWER_TITLES[n]} "
                                     for n in LOWER)
        pane.border_subtitle = "v switches"

    def _show_lower(self, name: str) -> None:
        self.lower = name
        for other in LOWER:
            self.set_class(other == name, f"-lower-{other}")
        self._title_panes()
        self.refresh_bindings()

    # --- answers from the workers --------------------------------------------------------------

    def page_loaded(self, msg: PageLoaded) -> None:
        if msg.token != self.token:
            return  # the view, sort or filter changed since this was asked
        append = msg.offset > 0
        if append and msg.offset != len(self.inbox.rows):
            return
        empty = EMPTY[self.view] if not self.search else f"Nothing matches “{self.search}” here; esc clears the filter."
        self.inbox.show(msg.rows, has_more=msg.has_more, append=append, empty_text=empty)
        if not self._started:
            self._started = True
            # counts, polling and verification compete for the CPU (verification hashes the
            # whole chain): they start once the first page is on screen, not before
            self.call_after_refresh(self._after_first_paint)

    def _after_first_paint(self) -> None:
        delay = self.app.background_delay
        if delay:
            self.set_timer(delay, self._start_background)
        else:
            self._start_background()

    def _start_background(self) -> None:
        self.load_counts()
        self.start_polling()
        if self.app.verify_on_start:
            self.verify_chain()
        else:
            self.header.audit = Text("audit: not verified", style="dim")
            self.timeline.set_chain_state(Text("chain: not verified", style="dim"))

    def counts_loaded(self, msg: CountsLoaded) -> None:
        if msg.token == self.token:
            self.query_one(ViewBar).counts = msg.counts

    @on(RequestList.Highlighted)
    def _highlighted(self, event: RequestList.Highlighted) -> None:
        self.highlighted = event.summary
        if event.summary is None:
            self.request = None
            self.detail.show(None, self.user, self.people, note=self.inbox.empty_text)
            self.timeline.show(None, [])
        elif self.request is None or self.request.id != event.summary.id:
            self.load_request(event.summary.id)
        self.refresh_bindings()

    @on(RequestList.NeedMore)
    def _more(self) -> None:
        self.load_page(append=True)

    @on(RequestList.Opened)
    def _opened(self) -> None:
        self.action_open_detail()

    def request_loaded(self, msg: RequestLoaded | RequestVanished) -> None:
        if isinstance(msg, RequestVanished):
            if self.highlighted and self.highlighted.id == msg.workflow_id:
                self.request = None
                self.detail.show(None, self.user, self.people, note=msg.reason)
                self.timeline.show(None, [], note=msg.reason)
            return
        if self.highlighted is None or msg.request.id != self.highlighted.id:
            return
        self.request = msg.request
        self.detail.show(msg.request, self.user, self.people, flags=None)
        self.timeline.show(msg.request.id, msg.trail)
        self.refresh_bindings()
        self.load_flags(msg.request)

    def flags_loaded(self, found: tuple[str, int, list]) -> None:
        wid, revision, flags = found
        req = self.current_request()
        if req is not None and (req.id, req.revision) == (wid, revision):
            self.detail.show(req, self.user, self.people, flags=flags)

    def reload(self, *, detail: bool = True) -> None:
        """Refresh what may have changed: the page (cursor kept), the counts, and the selected
        request when it may have changed too."""
        self.load_page()
        self.load_counts()
        if detail and self.highlighted is not None:
            self.load_request(self.highlighted.id)

    # --- greying out ---------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next_lower":
            return not self.wide
        req = self.current_request()
        if action in DECISION_ACTIONS:
            if req is not None and req.requester == self.user.username:
                return False  # never yours to decide (segregation of duties): it leaves the footer,
                # which keeps e/w in view at 80 columns; pressing the key still says why
            return True if req is not None and rbac.may_decide(self.policy, self.user, req) else None
        if action in ("withdraw", "resubmit"):
            if req is None or req.requester != self.user.username:
                return False  # not yours: the key does not apply here, so it leaves the footer
            ok = rbac.may_withdraw(self.user, req) if action == "withdraw" else rbac.may_resubmit(self.user, req)
            return True if ok else None
        if action == "new_request":
            return True if self.user.active else None
        return True

    def current_request(self) -> WorkflowRequest | None:
        """The loaded request, only if it is the one under the cursor (never a stale one)."""
        if self.request is not None and self.highlighted is not None and self.request.id == self.highlighted.id:
            return self.request
        return None

    def why_not(self, action: str) -> str | None:
        """The engine's own words for why a greyed-out key does nothing."""
        req = self.current_request()
        if req is None:
            return "Select a request first." if self.highlighted is None else "Still loading that request…"
        try:
            if action in DECISION_ACTIONS:
                rbac.check_decide(self.policy, self.user, req, DECISION_ACTIONS[action])
            elif action == "withdraw":
                rbac.check_requester_action(self.user, req, Action.WITHDRAW)
            elif action == "resubmit":
                rbac.check_requester_action(self.user, req, Action.RESUBMIT)
                if not rbac.may_resubmit(self.user, req):
                    return f"{req.id} is {req.status.label}; you can edit and resubmit only after changes were requested."
        except Exception as exc:  # HitlError: its message is the explanation
            return str(exc)
        return None

    def on_key(self, event) -> None:
        """A greyed-out key still answers: with the rule that stops it."""
        if isinstance(self.focused, Input):
            return
        for binding in self.BINDINGS:
            if event.key in binding.key.split(",") and binding.action in (*DECISION_ACTIONS, "withdraw", "resubmit"):
                if not self.check_action(binding.action, ()):
                    reason = self.why_not(binding.action)
                    if reason:
                        self.app.say(reason, "warning", timeout=6)
                        self.app.bell()

    # --- the command palette -------------------------------------------------------------------

    def palette_commands(self) -> Iterable[SystemCommand]:
        entries = [
            ("Approve the selected request", "approve", "a"), ("Reject the selected request", "reject", "r"),
            ("Request changes on the selected request", "request_changes", "c"), ("New request", "new_request", "n"),
            ("Edit and resubmit my request", "resubmit", "e"), ("Withdraw my request", "withdraw", "w"),
            ("Filter the inbox", "filter", "/"), ("Cycle the sort order", "cycle_sort", "s"),
            ("Reload now", "reload", "ctrl+r"), ("Verify the audit chain again", "verify", ""),
            ("Show the detail pane", "show_lower('detail')", ""),
            ("Show the audit timeline", "show_lower('timeline')", ""),
            ("Ask the assistant", "show_lower('chat')", ""),
        ] + [(f"View: {LABELS[v][0]}", f"view('{v.value}')", str(i + 1)) for i, v in enumerate(InboxView)]
        for title, action, key in entries:
            name = action.split("(")[0]
            if self.check_action(name, ()):
                yield SystemCommand(title, f"key: {key}" if key else "", self._runner(action))

    def _runner(self, action: str):
        async def run() -> None:
            await self.run_action(action)
        return run
