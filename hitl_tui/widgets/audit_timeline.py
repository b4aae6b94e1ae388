"""The selected request's audit entries, oldest first: local time to the microsecond, actor,
action and what changed, under a badge saying whether the whole chain verifies."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from rich.console import Group
from rich.padding import Padding
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from ..core.decisions import DECISION_ACTIONS, AuditAction
from ..core.models import AuditEntry, Role
from ..core.signatures import entry_manifestation
from ..render.text import clean, local_time, plain

ACTION_STYLES = {AuditAction.CREATED: "cyan", AuditAction.APPROVED: "green", AuditAction.REJECTED: "red",
                 AuditAction.CHANGES_REQUESTED: "yellow", AuditAction.WITHDRAWN: "dim", AuditAction.RESUBMITTED: "cyan",
                 AuditAction.ESCALATED: "magenta"}


def _role(value: Any) -> str:
    try:
        return Role(value).label
    except ValueError:
        return clean(value, single_line=True)


def describe(entry: AuditEntry) -> list[Text]:
    """The lines under an entry's heading: what it changed, in words."""
    d = entry.details
    lines: list[Text] = []
    if entry.action in (AuditAction.CREATED, AuditAction.RESUBMITTED):
        chain = " → ".join(_role(r) for r in d.get("chain", []))
        risk = d.get("risk_level", "")
        if entry.action == AuditAction.RESUBMITTED and d.get("risk_before") and d.get("risk_before") != risk:
            risk = f"{d['risk_before']} → {risk}"
        lines.append(plain(f"{risk} · {chain}" if chain else risk))
        if d.get("risk_reason"):
            lines.append(plain(f"rule: {d['risk_reason']}", "dim"))
    elif entry.action in DECISION_ACTIONS:
        stage = d.get("stage")
        where = f"stage {stage + 1} ({_role(d.get('stage_role'))})" if isinstance(stage, int) else ""
        moved = f"{clean(d.get('status_before', ''))} → {clean(d.get('status_after', ''))}".replace("_", " ")
        lines.append(plain(f"{where} · {moved}" if where else moved, "dim"))
        proposal = d.get("agent_proposal")
        if isinstance(proposal, dict):
            line = Text("proposed by agent ", style="magenta", end="")
            line.append_text(plain(proposal.get("agent", "?"), "bold magenta"))
            line.append(": ", style="magenta")
            line.append_text(plain(proposal.get("rationale", ""), "italic"))
            lines.append(line)
    elif entry.action == AuditAction.ESCALATED:  # the engine's own: an overdue stage given to a senior role too
        stage = d.get("stage")
        where = f"stage {stage + 1} ({_role(d.get('stage_role'))})" if isinstance(stage, int) else "a stage"
        lines.append(plain(f"{where} escalated to {_role(d.get('escalated_to'))}", "dim"))
        lines.append(plain(f"rule: {d.get('rule', '?')}", "dim"))
    if d.get("comments"):
        line = Text("“", end="")
        line.append_text(plain(d["comments"], single_line=False))
        line.append("”")
        lines.append(line)
    if entry.action not in ACTION_STYLES:
        for key, value in sorted(d.items()):
            lines.append(plain(f"{key}: {value}", "dim"))
    return lines


class AuditTimeline(VerticalScroll, can_focus=True):
    BINDINGS = [
        Binding("j", "scroll_down", "Scroll down", show=False, id="timeline.down"),
        Binding("k", "scroll_up", "Scroll up", show=False, id="timeline.up"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.entries: list[AuditEntry] = []
        self.workflow_id: str | None = None
        self.chain_state = Text("chain: verifying…", style="italic dim")
        self.first_bad_seq: int | None = None
        #: for each signature's 21 CFR Part 11 line: username -> printed name, and the time zone
        #: (None: this machine's), set by the desk
        self.names: dict[str, str | None] = {}
        self.zone: tzinfo | None = None

    def compose(self) -> ComposeResult:
        yield Static(self.chain_state, id="timeline-badge")
        yield Static(Text("Select a request to see its audit trail.", style="dim"), id="timeline-body")

    def set_chain_state(self, text: Text, first_bad_seq: int | None = None) -> None:
        self.chain_state = text
        self.first_bad_seq = first_bad_seq
        self.query_one("#timeline-badge", Static).update(text)
        if self.entries:
            self.show(self.workflow_id, self.entries)

    def show(self, workflow_id: str | None, entries: list[AuditEntry], note: str = "") -> None:
        self.workflow_id, self.entries = workflow_id, entries
        body = self.query_one("#timeline-body", Static)
        if not entries:
            body.update(Text(note or "Select a request to see its audit trail.", style="dim"))
            return
        # one renderable per line, the lines under a heading padded as a block: a long line
        # (a signature's meaning) wraps under its own first word, not at the pane's left edge
        rows: list[Text | Padding] = []
        last_date = None
        for entry in entries:
            date = entry.timestamp.astimezone().date()
            if date != last_date:
                rows.append(Text(f"── {date.isoformat()} ──", style="dim"))
                last_date = date
            suspect = self.first_bad_seq is not None and entry.seq >= self.first_bad_seq
            heading = Text()
            heading.append(local_time(entry.timestamp, date=False), style="bold red" if suspect else "")
            heading.append("  ")
            heading.append_text(plain(entry.actor, "bold"))
            heading.append("  ")
            heading.append(entry.action.replace("_", " "), style=ACTION_STYLES.get(entry.action, "white"))
            heading.append(f"  #{entry.seq}", style="dim")
            if suspect:
                heading.append("  UNVERIFIED", style="bold red")
            rows.append(heading)
            for line in describe(entry):
                rows.append(_indented(line))
            signed = entry_manifestation(entry, names=self.names, zone=self.zone)
            if signed:  # who signed, when, and what it meant (core/signatures.py)
                rows.append(_indented(plain(signed, "green")))
        body.update(Group(*rows))


def _indented(line: Text) -> Padding:
    """A line under an entry's heading, wrapping under its own first word (user text from
    plain() is single-line and unwrapped by default; here it may wrap, never be cut)."""
    line = line.copy()
    line.no_wrap, line.end = False, "\n"
    return Padding(line, (0, 0, 0, 4))
