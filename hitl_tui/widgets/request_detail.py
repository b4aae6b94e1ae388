"""The selected request: what, who, why this risk, where in the chain, what was said."""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from ..core.due import due_line
from ..core import rbac
from ..core.decisions import TERMS
from ..core.models import User, WorkflowRequest, WorkflowStatus
from ..core.policy import Policy
from ..render.chain import chain_progress
from ..render.payload import filing_text
from ..render.text import clean, format_value, local_time, plain, relative_age, risk_badge


SEVERITY_STYLES = {"high": "bold red", "medium": "yellow", "low": "dim"}


class RequestDetail(VerticalScroll, can_focus=True):
    """Scrollable; j/k scroll when it has focus."""

    BINDINGS = [
        Binding("j", "scroll_down", "Scroll down", show=False, id="detail.down"),
        Binding("k", "scroll_up", "Scroll up", show=False, id="detail.up"),
    ]

    def __init__(self, policy: Policy, clock: Callable[[], datetime], **kwargs) -> None:
        super().__init__(**kwargs)
        self.policy = policy
        self.clock = clock
        self.request: WorkflowRequest | None = None
        self.flags: list | None = None  # None: still being checked
        #: the instant ages are counted from (the desk's clock tick); None until the first show
        self.now: datetime | None = None
        self._shown: tuple[User | None, list[User]] = (None, [])
        self.covering: list = []
        self.assigned: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("Select a request to see its detail.", style="dim"), id="detail-body")

    def show(self, req: WorkflowRequest | None, viewer: User | None, people: list[User], *, note: str = "",
             flags: list | None = None, now: datetime | None = None, covering: list | None = None,
             assigned: str | None = None) -> None:
        """Show `req`; its age is counted from `now` (the desk's clock tick, the one the inbox
        uses, so both say the same age), or from the clock when none is given. Another request
        starts at its top; the same one shown again (a refresh) keeps the scroll position."""
        other = req is not None and (self.request is None or self.request.id != req.id)
        self.request = req
        self.flags = flags
        self.covering = covering or []  # delegations to the viewer (core/delegation.py)
        self.assigned = assigned  # who its current stage is assigned to (core/assignment.py)
        self._shown = (viewer, people)
        body = self.query_one("#detail-body", Static)
        if req is None:
            body.update(Text(note or "Select a request to see its detail.", style="dim"))
            return
        self.now = now or self.clock()
        body.update(self.render_request(req, viewer, people))
        if other:
            self.scroll_home(animate=False, immediate=True)

    def refresh_ages(self, now: datetime) -> None:
        """The desk's clock ticked: count the shown request's age from `now`, as the inbox does."""
        self.now = now
        if self.request is not None:
            viewer, people = self._shown
            self.query_one("#detail-body", Static).update(self.render_request(self.request, viewer, people))

    def render_request(self, req: WorkflowRequest, viewer: User | None, people: list[User]) -> Text:
        wtype = self.policy.types.get(req.workflow_type)
        out = Text(end="")
        out.append_text(risk_badge(req.risk_level))
        out.append(" ")
        out.append_text(plain(req.title, "bold"))
        out.append("\n")
        out.append(f"{req.id} · {wtype.name if wtype else req.workflow_type} · ", style="dim")
        out.append(self._status_line(req), style="bold")
        out.append("\n")
        out.append("requested by ", style="dim")
        out.append_text(plain(req.requester))
        requester_user = next((p for p in people if p.username == req.requester), None)
        if requester_user:
            out.append(f" ({requester_user.role.label})", style="dim")
        age = relative_age(req.created_at, self.now or self.clock())
        out.append(f" · {age} · {local_time(req.created_at, micro=False)}", style="dim")
        if req.revision > 1:
            out.append(f" · revision {req.revision}", style="dim")
        out.append("\n\n")
        out.append("Risk ", style="bold")
        out.append(f"{req.risk_level.value}: ", style="bold")
        out.append_text(plain(req.risk_reason))
        out.append("\nChain ", style="bold")
        may = bool(viewer) and rbac.may_decide(self.policy, viewer, req, self.covering)
        out.append_text(chain_progress(req, viewer, self.policy, people, you_may_decide=may))
        acting = rbac.acting_for(self.policy, viewer, req, self.covering) if viewer and may else None
        if self.assigned is not None and req.current_role is not None:  # reassigned by an administrator or director
            mine = viewer is not None and viewer.username == self.assigned
            out.append(f"\nAssigned to {'you' if mine else self.assigned}", style="bold")
        if acting is not None:  # out of office: whose stage this is
            out.append(f"\nDeciding for {acting.delegator.username} (delegated until {acting.delegation.until})",
                       style="bold")
        when_due = due_line(req, self.policy, self.now or self.clock())
        if when_due is not None:  # "Due in 3h (...)", "Overdue by 2h (...)", "Due clock paused ..."
            out.append("\n")
            out.append(when_due[:1].upper() + when_due[1:], style="bold red" if when_due.startswith("overdue") else "")
        out.append("\n\n")
        for spec in (wtype.fields if wtype else ()):
            value = req.data.get(spec.name)
            out.append(f"{spec.label}: ", style="bold")
            shown = format_value(value, spec.kind, self.policy.currency if spec.kind == "money" else "") \
                if value is not None else "—"
            out.append_text(plain(shown))
            out.append("\n")
        if not wtype:
            for key, value in req.data.items():
                out.append(f"{clean(key, single_line=True)}: ", style="bold")
                out.append_text(plain(value))
                out.append("\n")
        if req.filing is not None:  # filed by an agent or a system: who, until when, its words, the exact payload
            out.append("\n")
            out.append_text(filing_text(req, self.now or self.clock(),
                                        requester_user.role.label if requester_user else None))
        out.append("\nDescription\n", style="bold")
        out.append_text(plain(req.description or "(none)", single_line=False))
        out.append("\n")
        said = [a for a in req.approvals if a.comments]
        if said:
            out.append("\nComments\n", style="bold")
            for a in said:
                out.append_text(plain(a.approver, "bold"))
                out.append(f" ({a.approver_role.label}, rev {a.revision}) {TERMS[a.decision].past_tense}: ", style="dim")
                out.append_text(plain(a.comments, single_line=False))
                out.append("\n")
        out.append("\nCompliance: ", style="bold")
        if self.flags is None:
            out.append("checking…", style="dim italic")
        elif self.flags:
            for flag in self.flags:  # core.compliance: the same list the agents and export-audit show
                style = SEVERITY_STYLES.get(str(flag.severity), "yellow")
                out.append(f"\n  ⚑ {str(flag.severity).upper()} ", style=style)
                out.append_text(plain(flag.title, "bold"))
                out.append(": ")
                out.append_text(plain(flag.explanation, single_line=False))
        else:
            out.append("no flags", style="green")
        return out

    @staticmethod
    def _status_line(req: WorkflowRequest) -> str:
        if req.status is WorkflowStatus.AWAITING_APPROVAL and req.current_role is not None:
            return f"awaiting {req.current_role.label} (stage {req.current_stage + 1} of {len(req.required_approvers)})"
        return req.status.label
