"""Approve / reject / request changes: what is decided, what happens next, and why.

The modal returns a typed result and never calls the engine; the desk does that in a worker.
A decision proposed by an agent opens this same modal, marked as the agent's proposal with its
rationale shown as the agent's words: only the human's keystroke decides.

Asking for changes on a request filed for approval (an agent's, a system's) also shows its payload
in an editor: a reviewer who edits it proposes that revision, signed with the decision; the caller
must accept it explicitly before anyone may approve it (core/approvals.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static, TextArea

from ..agents.events import DecisionProposal
from ..core.decisions import TERMS
from ..core.models import AgentProposal, Decision, User, WorkflowRequest
from ..core.policy import Policy
from ..core.consequences import consequence
from ..core.errors import ValidationFailed
from ..core.payloads import checked
from ..render.text import format_value, plain, risk_badge



@dataclass(frozen=True)
class DecisionResult:
    workflow_id: str
    decision: Decision
    comments: str
    proposal: AgentProposal | None = None
    #: with a request for changes on a request filed for approval: the revision the reviewer proposes
    payload: dict[str, Any] | None = None


def summary_line(req: WorkflowRequest, policy: Policy) -> Text:
    wtype = policy.types.get(req.workflow_type)
    kind = ""
    if wtype is not None:
        try:
            kind = wtype.field(req.risk_field).kind
        except KeyError:
            kind = ""
    line = Text(end="")
    line.append_text(risk_badge(req.risk_level))
    line.append(" ")
    line.append_text(plain(req.title, "bold"))
    line.append("\n")
    value = format_value(req.headline_value, kind, policy.currency if kind == "money" else "")
    stage = (f"stage {req.current_stage + 1} of {len(req.required_approvers)} ({req.current_role.label})"
             if req.current_role else req.status.label)
    line.append_text(plain(f"{req.id} · {wtype.name if wtype else req.workflow_type} · {value} · "
                           f"from {req.requester} · {stage}", "dim"))
    return line


class DecisionModal(ModalScreen[DecisionResult | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="modal.cancel"),
                Binding("ctrl+s", "send", "Send", id="modal.send", priority=True)]

    def __init__(self, request: WorkflowRequest, decision: Decision, policy: Policy, people: list[User],
                 *, proposal: DecisionProposal | None = None, comments: str | None = None,
                 payload: dict[str, Any] | None = None) -> None:
        super().__init__(classes="dialog-screen")
        #: the revision typed before, when the dialog comes back after a write that did not go through
        self.payload = payload
        #: the comment typed before, when the dialog comes back after a write that did not go through
        self.comments = comments
        self.request = request
        self.decision = decision
        self.policy = policy
        self.people = people
        self.proposal = proposal

    def compose(self) -> ComposeResult:
        verb = TERMS[self.decision].title
        with Vertical(id="decision-dialog", classes=f"dialog decision-{self.decision.value}") as box:
            box.border_title = f"{verb} {self.request.id}" + (" — agent proposal" if self.proposal else "")
            yield Static(summary_line(self.request, self.policy), id="decision-summary")
            yield Static(plain(consequence(self.request, self.decision, self.policy, self.people), "bold",
                               single_line=False), id="decision-consequence")
            if self.proposal is not None:
                yield Static(self._proposal_text(), id="decision-proposal")
            yield Static(TERMS[self.decision].comment_prompt, id="decision-prompt", markup=False)
            typed = self.comments if self.comments is not None else self.proposal.comments if self.proposal else ""
            yield Input(value=typed, id="decision-comment",
                        placeholder="type here", compact=True)
            if self.editable_payload is not None:
                yield Static("Revised payload (optional): your edit is a proposal the caller must accept "
                             "before anyone approves it.", id="decision-payload-prompt", markup=False)
                yield TextArea(self.editable_payload, id="decision-payload", soft_wrap=False, show_line_numbers=False,
                               tab_behavior="focus")
            yield Static("", id="decision-error", markup=False)
            keys = Text.assemble(("enter", "bold"), f" {verb.lower()}  ·  ")
            if self.editable_payload is not None:
                keys = Text.assemble(("enter", "bold"), " or ", ("ctrl+s", "bold"), f" {verb.lower()}  ·  ",
                                     ("tab", "bold"), " edit the payload  ·  ")
            yield Static(Text.assemble(keys, ("escape", "bold"), " cancel"), id="decision-keys")

    def _proposal_text(self) -> Text:
        p = self.proposal
        assert p is not None
        text = Text(end="")
        text.append("Proposed by agent ", style="bold magenta")
        text.append_text(plain(p.agent, "bold magenta"))
        text.append(" — the agent's words, not a decision:\n", style="magenta")
        text.append("“")
        text.append_text(plain(p.rationale or "(no rationale given)", "italic", single_line=False))
        text.append("”")
        return text

    @property
    def editable_payload(self) -> str | None:
        """The payload as the editor shows it (pretty JSON), when a revision may be proposed."""
        filing = self.request.filing
        if self.decision is not Decision.REQUEST_CHANGES or filing is None or filing.payload is None:
            return None
        return json.dumps(self.payload or filing.payload, indent=2, ensure_ascii=False, sort_keys=True)

    def on_mount(self) -> None:
        self.query_one("#decision-comment", Input).focus()

    @on(Input.Submitted, "#decision-comment")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_send()

    def action_send(self) -> None:
        comments = self.query_one("#decision-comment", Input).value.strip()
        words = TERMS[self.decision]
        if words.comment_required and not comments:
            self._refuse(f"{words.comment_missing} is required, so {self.request.requester} knows what to do.")
            return
        try:
            revised = self._revised_payload()
        except ValueError as exc:
            self._refuse(str(exc))
            return
        proposal = None
        if self.proposal is not None:
            proposal = AgentProposal(agent=self.proposal.agent, decision=self.proposal.decision,
                                     rationale=self.proposal.rationale)
        self.dismiss(DecisionResult(self.request.id, self.decision, comments, proposal, revised))

    def _revised_payload(self) -> dict[str, Any] | None:
        """The edited payload when it differs from what was filed; ValueError naming what is wrong."""
        if self.editable_payload is None:
            return None
        text = self.query_one("#decision-payload", TextArea).text
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"The revised payload is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.")
        try:
            digest = checked(value).sha256
        except ValidationFailed as exc:
            raise ValueError(f"The revised payload cannot be filed: {exc}") from None
        filing = self.request.filing
        return None if filing is None or digest == filing.payload_sha256 else value

    def _refuse(self, why: str) -> None:
        self.query_one("#decision-error", Static).update(Text(why, style="bold red"))

    def action_cancel(self) -> None:
        self.dismiss(None)
