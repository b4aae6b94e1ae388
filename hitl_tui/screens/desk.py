"""The approval desk: one screen, four panes (inbox, detail, audit timeline, agent chat).

At 80x24 the inbox keeps the top half and the bottom half shows one of detail / timeline / chat
(`v` switches, tab visits them in turn); from 140 columns all four panes are shown. Every action
is a key, greyed out in the footer when the engine's rules would refuse it; pressing a greyed
key says why, in the engine's own words.

The widgets own their state and their database work (the inbox its pages, the view bar its
counts, the ChangeWatcher polling and verification, the chat its assistant); this screen sets
what they show (attributes down) and acts on what they report (messages up). Its own workers load
the selected request. Its collaborators: DeskWrites (desk_writes.py) opens the dialogs and writes
what a person confirmed in them, and claims; DeskOrder (desk_order.py) sorts and filters the
inbox; desk_keys.py says which keys the request allows, and desk_palette.py applies the user's
keymap and lists the command palette.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.screen import Screen
from textual.widgets import Footer, Input
from textual.worker import Worker, get_current_worker

from ..core.decisions import TERMS, AuditAction
from ..core.errors import PermissionDenied, UnknownWorkflow
from ..core.models import Decision, InboxView, RequestSummary, User, WorkflowRequest
from ..messages import (AuditProgress, AuditVerified, DecisionRecorded, ExternalChange, FlagsLoaded, PageLoaded,
                        RequestLoaded, RequestSaved, RequestVanished, ServiceLink, forward_failure)
from ..widgets.agent_chat import AgentChat
from ..render.text import TickClock, plain
from ..widgets.change_watcher import ChangeWatcher
from ..widgets.filter_bar import FilterBar
from ..widgets.request_list import InboxQuery, RequestList
from ..widgets.status_header import StatusHeader
from ..widgets.view_bar import LABELS, ViewBar
from ..widgets.desk_panes import LOWER, PANES, DeskPanes
from .desk_keys import DESK_BINDINGS, REQUEST_KEYS, key_state, refusal
from . import desk_outputs, desk_palette
from .desk_order import DeskOrder
from .desk_writes import DeskWrites

if TYPE_CHECKING:
    from ..core.service import WorkflowService

# The modals, the detail and the timeline are imported where they are first needed, not here:
# the form alone pulls in Select and TextArea, tens of milliseconds the first paint should not wait for.

EMPTY = {
    InboxView.AWAITING_ME: "Nothing awaits your decision. 2 shows your requests, 3 all you may see, n files a new one.",
    InboxView.MINE: "You have filed no requests yet; n files a new one.",
    InboxView.VISIBLE: "There are no requests you may see yet.",
    InboxView.DECIDED: "You have not decided any request yet.",
}
#: the requester's other requests looked at for split-purchase checks

WIDE_AT = 140


class DeskScreen(Screen[None]):
    #: never the (hidden) filter field, which comes first in the focus chain
    AUTO_FOCUS = "#inbox-table"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE_AT, "-wide")]
    BINDINGS = DESK_BINDINGS

    def __init__(self, service: "WorkflowService", user: User, people: list[User], db_path: Path,
                 first_page: PageLoaded | None = None) -> None:
        super().__init__()
        self._first_page = first_page
        self.service = service
        self.policy = service.policy
        self.user = user
        self.people = people
        #: the delegations running to this user (core/delegation.py), read with each request's detail
        self.covering: list = []
        #: who the selected request's current stage is assigned to (core/assignment.py), with its detail
        self.assigned: str | None = None
        self.db_path = db_path
        self.view = InboxView.AWAITING_ME
        self.sort = "oldest"
        self.search = ""
        self.highlighted: RequestSummary | None = None
        self.request: WorkflowRequest | None = None
        self.trail: list = []
        self.flags: list | None = None
        self._started = False
        #: one reading of the time for every relative age on screen, ticked by tick_ages
        self.clock: TickClock | None = None
        self._keys_state: tuple | None = None
        self._counts_due = False
        #: the inbox's sort and filter (desk_order.py)
        self.order = DeskOrder(self)

    # --- layout --------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        app = self.app
        self.clock = TickClock(app.clock)
        yield StatusHeader(self.db_path, id="status-header")
        yield ViewBar(self.service, self.user.username, id="view-bar")
        bar = FilterBar(id="filter", placeholder="words, or risk:high type:expense requester:NAME age:>2d …")
        bar.display = False  # until / opens it
        yield bar
        with DeskPanes(self.policy, self.clock, self.service, self.user.username,
                       chat_factory=app.assistant_factory, id="panes"):
            yield RequestList(self.policy, self.clock, self.service, self.user.username, id="inbox", classes="pane")
        yield ChangeWatcher(self.service, self.user, poll_interval=app.poll_interval)
        yield DeskWrites(self.service, self.user, self.people)
        if getattr(app, "tour", None):
            yield app.tour()
        yield Footer(compact=True)

    @property
    def inbox(self) -> RequestList:
        return self.query_one(RequestList)

    @property
    def panes(self) -> DeskPanes:
        return self.query_one(DeskPanes)

    @property
    def detail(self):
        return self.panes.detail

    @property
    def timeline(self):
        return self.panes.timeline

    @property
    def chat(self) -> AgentChat:
        return self.panes.chat

    @property
    def header(self) -> StatusHeader:
        return self.query_one(StatusHeader)

    @property
    def filter_bar(self) -> FilterBar:
        return self.query_one(FilterBar)

    @property
    def view_bar(self) -> ViewBar:
        return self.query_one(ViewBar)

    @property
    def watcher(self) -> ChangeWatcher:
        return self.query_one(ChangeWatcher)

    @property
    def writes(self) -> DeskWrites:
        return self.query_one(DeskWrites)

    @property
    def wide(self) -> bool:
        # from the size, not the "-wide" class: on a resize the class is set after on_resize runs
        return self.size.width >= WIDE_AT

    @property
    def lower(self) -> str:
        return self.panes.lower

    def on_mount(self) -> None:
        self.header.who = f"{self.user.username} ({self.user.role.label})"
        if not self.filter_bar.display:  # a / typed during start-up keeps the filter's focus
            self.inbox.focus()
        self.inbox.ask(self._query(), EMPTY[self.view], first_page=self._first_page)
        self._first_page = None
        self.set_interval(10, self.tick_ages)  # ages show seconds under a minute
        self._title_panes()

    def on_resize(self) -> None:
        self._title_panes()
        self.refresh_bindings()

    def _title_panes(self) -> None:
        self.inbox.border_title = f"Inbox · {LABELS[self.view][0]}"
        self.panes.title(wide=self.wide)

    def tick_ages(self) -> None:
        """One clock for every relative age on screen, so the inbox and the detail agree."""
        now = self.clock.tick()
        self.inbox.refresh_ages(now)
        self.inbox.refresh_claims()  # others' claims (and their ages): no change notice brings them
        if self.panes.mounted_lower:
            self.detail.refresh_ages(now)

    # --- the inbox -----------------------------------------------------------------------------

    def _query(self) -> InboxQuery:
        return InboxQuery(self.view, self.sort, self.search)

    def new_query(self) -> None:
        empty = EMPTY[self.view] if not self.search else f"Nothing matches “{self.search}” here; esc clears the filter."
        self.inbox.ask(self._query(), empty)

    @on(PageLoaded)
    def _page_shown(self, msg: PageLoaded) -> None:
        if not self._started:
            self._started = True
            # the other panes, counts, polling and verification compete for the CPU (verification
            # hashes the whole chain): they start once the first page is on screen, not before
            self.call_after_refresh(self._after_first_paint)

    def _after_first_paint(self) -> None:
        self.panes.mount_lower()
        delay = self.app.background_delay
        if delay:
            self.set_timer(delay, self._start_background)
        else:
            self._start_background()

    def _start_background(self) -> None:
        self.count_later()
        verify = self.app.verify_on_start
        self.watcher.start(verify=verify)
        if not verify:
            self.header.audit = Text("audit: not verified", style="dim")
            self.panes.chain_state(Text("chain: not verified", style="dim"))

    @on(DeskPanes.LowerMounted)
    def _lower_mounted(self) -> None:
        self._title_panes()
        self._show_selected()

    @on(RequestList.Highlighted)
    def _highlighted(self, event: RequestList.Highlighted) -> None:
        self.highlighted = event.summary
        if event.summary is None:
            self.request, self.trail, self.flags = None, [], None
            self._show_selected(note=self.inbox.empty_text)
        elif self.request is None or self.request.id != event.summary.id:
            self._load_request(event.summary.id)
        self._refresh_keys()
        self._count_if_quiet()

    def count_later(self) -> None:
        """The view bar's counts, once the page and the selected request are on screen: they
        share the engine's connection, and four counts over a large database must not hold up
        what the person is looking at."""
        self._counts_due = True
        self.view_bar.stop_counting()
        self._count_if_quiet()

    def _count_if_quiet(self) -> None:
        if not self._counts_due or not self._started or not self.inbox.settled:
            return
        if self.highlighted is not None and self.current_request() is None:
            return  # the detail is loading: it goes first
        self._counts_due = False
        self.view_bar.recount(self.search)

    @on(RequestList.Opened)
    def _opened(self) -> None:
        self.action_open_detail()

    def reload(self, *, detail: bool = True) -> None:
        """Refresh what may have changed: the page (cursor kept), the counts, and the selected
        request when it may have changed too."""
        self.inbox.reload()
        self.count_later()
        if self.analytics_shown:  # its figures follow the same changes
            self.query_one("AnalyticsView").load()
        if detail and self.highlighted is not None:
            self._load_request(self.highlighted.id)

    # --- the selected request ------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="detail", exit_on_error=False, description="request detail")
    def _load_request(self, workflow_id: str) -> None:
        svc, me = self.service, self.user.username
        try:
            req = svc.get_workflow_for(me, workflow_id)
            trail = svc.get_audit_trail_for(me, workflow_id)
            self.covering = svc.covering_for(me)  # one list swapped whole: the UI thread reads it after the post
            self.assigned = svc.assigned_to(me, workflow_id)
        except (PermissionDenied, UnknownWorkflow) as exc:  # it left this user's sight meanwhile
            self.post_message(RequestVanished(workflow_id, str(exc)))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(RequestLoaded(req, trail))

    @on(RequestVanished)
    def _vanished(self, msg: RequestVanished) -> None:
        if self.highlighted and self.highlighted.id == msg.workflow_id:
            self.request, self.trail, self.flags = None, [], None
            self._show_selected(note=msg.reason)
            self._refresh_keys()
            self._count_if_quiet()

    @on(RequestLoaded)
    def _loaded(self, msg: RequestLoaded) -> None:
        if self.highlighted is None or msg.request.id != self.highlighted.id:
            return  # the cursor moved on meanwhile
        self.request, self.trail, self.flags = msg.request, msg.trail, None
        self._show_selected()
        self._refresh_keys()
        self._count_if_quiet()
        self._load_flags(msg.request)

    @work(thread=True, exclusive=True, group="flags", exit_on_error=False, description="compliance flags")
    def _load_flags(self, req: WorkflowRequest) -> None:
        """Compliance flags come second: the split-purchase check searches the requester's other
        requests, which should not hold up the detail (or, at start-up, the first paint)."""
        from ..core.reports.flags import gather_flags  # only once a request is opened, not at start-up

        flags = gather_flags(self.service, self.user.username, req).flags  # the agents' and exports' list
        if not get_current_worker().is_cancelled:
            self.post_message(FlagsLoaded(req.id, req.revision, flags))

    @on(FlagsLoaded)
    def _flags_loaded(self, msg: FlagsLoaded) -> None:
        req = self.current_request()
        if req is not None and (req.id, req.revision) == (msg.workflow_id, msg.revision):
            self.flags = msg.flags
            self._show_selected(timeline=False)

    def _show_selected(self, note: str = "", *, timeline: bool = True) -> None:
        """Hand the selected request to the detail and timeline (once they are mounted)."""
        if not self.panes.mounted_lower:
            return
        self.detail.show(self.request, self.user, self.people, note=note, flags=self.flags, covering=self.covering,
                         assigned=self.assigned)
        if timeline:
            from ..core.signatures import display_names

            self.timeline.names, self.timeline.zone = display_names(self.people), self.service.settings.zone
            self.timeline.show(self.request.id if self.request else None, self.trail, note=note)

    def current_request(self) -> WorkflowRequest | None:
        """The loaded request, only if it is the one under the cursor (never a stale one)."""
        if self.request is not None and self.highlighted is not None and self.request.id == self.highlighted.id:
            return self.request
        return None

    # --- the audit chain and changes by others -------------------------------------------------

    def verify_chain(self) -> None:
        self.watcher.verify()

    @on(AuditProgress)
    def _audit_progress(self, msg: AuditProgress) -> None:
        if msg.total:
            self.header.audit = Text(f"audit: verifying… {100 * msg.done // msg.total}%", style="italic")

    @on(AuditVerified)
    def _audit_verified(self, msg: AuditVerified) -> None:
        result = msg.result
        if result.ok:
            self._audit_badge()
            self.panes.chain_state(Text(f"chain ✔ verified ({result.entries:,} entries)", style="green"))
        elif result.problem is None and result.tables_problem:  # the chain holds; the tables do not
            self.header.audit = Text(" TABLES OUT OF STEP WITH THE TRAIL ", style="bold white on red")
            self.panes.chain_state(plain(f"chain ✔ verified; tables ✘ {result.tables_problem}", "bold red"))
            self.app.say(result.summary(), "error", timeout=30)
        else:
            self.header.audit = Text(f" AUDIT CHAIN BROKEN at entry {result.first_bad_seq} ",
                                     style="bold white on red")
            self.panes.chain_state(
                Text(f"chain ✘ BROKEN at entry {result.first_bad_seq}: {result.problem}", style="bold red"),
                result.first_bad_seq)
            self.app.say(result.summary(), "error", timeout=30)

    def _audit_badge(self) -> None:
        """'verified, N entries'; while newer entries wait for the next check, say how many."""
        watcher = self.watcher
        verified, size = watcher.verified_size, watcher.audit_size
        if verified is None:
            return
        if size > verified:
            self.header.audit = Text(f"audit ✔ verified {verified:,} of {size:,} entries", style="bold green")
        else:
            self.header.audit = Text(f"audit ✔ verified, {verified:,} entries", style="bold green")

    @on(ExternalChange)
    def _external_change(self, change: ExternalChange) -> None:
        # the page and counts are one query each; the detail only if its request was touched
        self.reload(detail=self.highlighted is not None and self.highlighted.id in change.touched)
        self._audit_badge()
        for notice in change.news[:3]:
            hint = " (e edits and resubmits it)" if notice.action == AuditAction.CHANGES_REQUESTED else ""
            self.app.say(notice.text + hint, notice.severity, timeout=10)
        if len(change.news) > 3:
            self.app.say(f"…and {len(change.news) - 3} more updates for you.", timeout=10)
        if change.news:
            self.app.alert(change.news)

    @on(ServiceLink)
    def _service_link(self, msg: ServiceLink) -> None:
        """Team mode: the service went away, or came back (the watcher reconnects by itself)."""
        self.app.service_down = msg.problem is not None
        if msg.problem is None:
            self.header.link = ""
            self.app.say("Reconnected to the hitl-tui service; the inbox is up to date.", timeout=6)
            self.reload()
        elif msg.final:
            self.header.link = "service changed: restart hitl-tui"
            self.app.say(msg.problem, "error", timeout=30)
        else:
            self.header.link = "service unreachable: reconnecting…"
            self.app.say(f"{msg.problem.rstrip('.')}. Reconnecting by itself; an open dialog keeps what you typed.",
                         "error", timeout=12)

    def _written(self) -> None:
        """After this desk's own write: the chain is one entry longer than the last check saw."""
        self.watcher.own_write()
        self._audit_badge()
        self.reload()

    # --- greying out ---------------------------------------------------------------------------

    def _refresh_keys(self) -> None:
        """Redraw the footer only when a key's state changed: Textual's Footer recomposes and
        relayouts the screen on every refresh_bindings (tens of ms, measured per j/k), and while
        the next request loads the keys keep the state they had (pressing one says it is loading)."""
        if self.highlighted is not None and self.current_request() is None:
            return
        state = tuple(self.check_action(action, ()) for action in REQUEST_KEYS)
        if state != self._keys_state:
            self._keys_state = state
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next_lower":
            return not self.wide and not self.analytics_shown
        if self.analytics_shown and action in (*REQUEST_KEYS, "open_detail", "claim"):
            return False  # no request is in view behind the analytics
        return key_state(action, self.policy, self.user, self.current_request(), self.covering)

    def why_not(self, action: str) -> str | None:
        """The engine's own words for why a greyed-out key does nothing."""
        req = self.current_request()
        if req is None:
            return "Select a request first." if self.highlighted is None else "Still loading that request…"
        return refusal(action, self.policy, self.user, req, self.covering)

    def on_key(self, event) -> None:
        if not isinstance(self.focused, Input):
            desk_palette.explain_refused(self, event.key)  # a greyed-out key still answers, with its reason

    # --- deciding, filing, editing, withdrawing: DeskWrites opens the dialogs and writes ---------

    def action_approve(self) -> None:
        self.open_decision(Decision.APPROVE)

    def action_reject(self) -> None:
        self.open_decision(Decision.REJECT)

    def action_request_changes(self) -> None:
        self.open_decision(Decision.REQUEST_CHANGES)

    def open_decision(self, decision: Decision, request: WorkflowRequest | None = None, proposal=None) -> None:
        req = request or self.current_request()
        if req is None:
            return
        self.writes.open_decision(decision, req, proposal=proposal)

    @on(DecisionRecorded)
    def _recorded(self, msg: DecisionRecorded) -> None:
        from ..core.models import WorkflowStatus

        req = msg.request
        if msg.decision is Decision.APPROVE:
            after = (f"now awaiting {req.current_role.label}" if req.status is WorkflowStatus.AWAITING_APPROVAL
                     and req.current_role else "the request is approved")
            self.app.say(f"Approved {req.id}: {after}.")
        elif msg.decision is Decision.REJECT:
            self.app.say(f"Rejected {req.id}; {req.requester} will see your reason.")
        else:
            self.app.say(f"Sent {req.id} back to {req.requester} for changes.")
        if self.chat is not None and self.chat.assistant is not None:
            self.chat.add_note(f"You {TERMS[msg.decision].past_verb} {req.id}.")
        self._written()

    @on(AgentChat.ProposalMade)
    def _proposal_made(self, event: AgentChat.ProposalMade) -> None:
        self.writes.review_proposal(event.proposal)

    def action_new_request(self, seed=None) -> None:
        self.writes.new_request(seed)

    @on(AgentChat.Drafted)
    def _drafted(self, event: AgentChat.Drafted) -> None:
        self.writes.new_draft(event.draft)

    def action_resubmit(self) -> None:
        req = self.current_request()
        if req is not None:
            self.writes.resubmit(req)

    def action_withdraw(self) -> None:
        req = self.current_request()
        if req is not None:
            self.writes.withdraw(req)

    @on(RequestSaved)
    def _saved(self, msg: RequestSaved) -> None:
        hint = " (2 shows your requests)" if msg.what == "filed" and self.view is not InboxView.MINE else ""
        self.app.say(f"{msg.what.capitalize()} {msg.workflow_id}.{hint}")
        self._written()

    # --- claims (core/claims.py): "I am looking at this", advisory and expiring ---------------

    def action_claim(self) -> None:
        req = self.current_request()
        if req is None:
            self.app.say(self.why_not("claim") or "Select a request first.", "warning")
            return
        self.writes.claim(req.id, mine=self.inbox.claims.get(req.id, "").startswith("claimed by you"))

    @on(DeskWrites.ClaimSaid)
    def _claim_said(self, msg: "DeskWrites.ClaimSaid") -> None:
        self.app.say(msg.text, "information" if msg.done else "warning")
        if msg.done:
            self.reload(detail=False)

    # --- views, sort, filter -------------------------------------------------------------------

    def action_view(self, name: str) -> None:
        view = InboxView(name)
        if self.analytics_shown:
            self._leave_analytics()
        if view is self.view:
            return
        self.view = view
        self.view_bar.view = view
        self.new_query()
        self._title_panes()

    # --- view 5: analytics (widgets/analytics_view.py) in place of the panes -------------------

    @property
    def analytics_shown(self) -> bool:
        found = self.query("AnalyticsView")
        return bool(found) and found.first().display

    def action_analytics(self) -> None:
        """Open the analytics in place of the panes, mounted on first use (not at start-up)."""
        from ..widgets.analytics_view import AnalyticsView

        found = self.query(AnalyticsView)
        view = found.first() if found else AnalyticsView(self.service, self.user.username, id="analytics")
        if found:
            view.load()  # anew: it may have been hours since it was last open
        else:
            self.mount(view, after=self.panes)  # loads once mounted
        view.display, self.panes.display = True, False
        self.view_bar.analytics = True
        view.focus()
        self.refresh_bindings()

    def _leave_analytics(self) -> None:
        self.query_one("AnalyticsView").display = False
        self.panes.display = True
        self.view_bar.analytics = False
        self.inbox.focus()
        self.refresh_bindings()

    @on(ViewBar.Chosen)
    def _view_clicked(self, event: ViewBar.Chosen) -> None:
        self.action_view(event.view.value)

    def action_cycle_sort(self) -> None:
        self.order.cycle()

    def action_reverse_sort(self) -> None:
        self.order.reverse()

    @on(RequestList.SortChosen)
    def _header_clicked(self, event: RequestList.SortChosen) -> None:
        self.order.header_clicked(event.key)

    def action_filter(self) -> None:
        self.filter_bar.display = True
        self.filter_bar.focus()

    @on(FilterBar.Changed)
    def _filter_typed(self, event: FilterBar.Changed) -> None:
        event.stop()
        self.order.apply_filter(event.text)

    @on(FilterBar.Submitted)
    def _filter_submitted(self, event: FilterBar.Submitted) -> None:
        event.stop()
        if self.order.apply_filter(event.text):
            self.order.leave_filter()

    @on(FilterBar.Left)
    def _filter_left(self, event: FilterBar.Left) -> None:
        event.stop()
        self.order.leave_filter()

    # --- panes ---------------------------------------------------------------------------------

    def action_next_lower(self) -> None:
        self.action_show_lower(LOWER[(LOWER.index(self.lower) + 1) % len(LOWER)])

    def action_show_lower(self, name: str) -> None:
        inside = self.focused_pane() in LOWER
        self.panes.show_lower(name, wide=self.wide)
        self.refresh_bindings()
        if inside or name == "chat":
            self.query_one(f"#{name}").focus()

    def action_next_pane(self, step: int = 1) -> None:
        current = self.focused_pane() or "inbox"
        target = PANES[(PANES.index(current) + step) % len(PANES)]
        if target != "inbox" and not self.wide:
            self.panes.show_lower(target, wide=False)
        self.query_one(f"#{target}").focus()

    def action_previous_pane(self) -> None:
        self.action_next_pane(-1)

    def focused_pane(self) -> str | None:
        node = self.focused
        while node is not None and node is not self:
            if node.id in PANES:
                return node.id
            node = node.parent
        return None

    def action_open_detail(self) -> None:
        if self.focused_pane() not in (None, "inbox") or not self.panes.mounted_lower:
            return
        if not self.wide:
            self.panes.show_lower("detail", wide=False)
        self.detail.focus()

    def action_back(self) -> None:
        bar = self.filter_bar
        if self.analytics_shown:
            self._leave_analytics()
            return
        if self.focused_pane() not in (None, "inbox"):
            self.inbox.focus()
        elif self.search or bar.error:
            bar.set_value("")
            self.order.apply_filter("")
            bar.display = False

    def action_reload(self) -> None:
        self.reload()

    def action_verify(self) -> None:
        self.verify_chain()

    # --- copy, pager, export: desk_outputs hands the selected request out of the desk -----------

    def action_copy_id(self) -> None:
        desk_outputs.copy_id(self)

    def action_copy_link(self) -> None:
        desk_outputs.copy_link(self)

    def action_page_description(self) -> None:
        desk_outputs.page_description(self)

    def action_page_detail(self) -> None:
        desk_outputs.page_detail(self)

    def action_export(self) -> None:
        desk_outputs.export(self)

    # --- the command palette: desk_palette lists it, with the keys in force ---------------------

    def palette_commands(self) -> Iterable[SystemCommand]:
        return desk_palette.palette_commands(self)

    def open_saved_view(self, text: str, sort: str | None) -> None:
        """A named view from the config file: its filter (and sort) on the current view."""
        if sort:
            from ..core.filter_query import parse_sort

            self.sort = parse_sort(sort).spec
            self.view_bar.sort = self.sort
        self.filter_bar.set_value(text)
        self.order.apply_filter(text, again=True)  # again: the same text with a new sort still asks anew

    # --- failures ------------------------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        forward_failure(self, event)
