"""The decision vocabulary, spelled once: what each human decision is called everywhere.

A Decision (models.py) is what a decider chose. Everything else that names it (the workflow
Action that moves the request, the audit action written to the trail, the verb in a refusal, the
past tense in a timeline, whether a comment is required and what the comment is called) comes
from `TERMS` here, so the desk, the accessible mode, the CLI, the agents and the reports cannot
drift apart. The audit trail's action names are `AuditAction`: an entry's `action` is one of them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Callable

from .errors import ValidationFailed
from .models import AgentProposal, Decision, WorkflowRequest
from .workflow import Action


class AuditAction(StrEnum):
    """Every `action` the engine writes to the audit trail (the stored strings never change:
    entries already written carry them, and their hashes commit to them)."""

    CREATED = "created"
    APPROVED = "approved"
    REJECTED = "rejected"
    CHANGES_REQUESTED = "changes_requested"
    RESUBMITTED = "resubmitted"
    WITHDRAWN = "withdrawn"
    USER_ADDED = "user_added"
    USER_ROLE_CHANGED = "user_role_changed"
    USER_DEACTIVATED = "user_deactivated"
    USER_REACTIVATED = "user_reactivated"
    USER_ADMIN_CHANGED = "user_admin_changed"
    POLICY_APPLIED = "policy_applied"
    KEY_ROTATED = "key_rotated"
    SIGNING_KEY_REGISTERED = "signing_key_registered"
    ERASURE_REQUESTED = "erasure_requested"
    ERASURE_CANCELLED = "erasure_cancelled"
    PERSONAL_DATA_ERASED = "personal_data_erased"
    PERSONAL_DATA_EXPIRED = "personal_data_expired"
    #: a request's deadline passed before it was decided (the engine's own entry, not signed)
    EXPIRED = "expired"
    #: an overdue stage may now be decided by a more senior role too (the engine's own entry)
    ESCALATED = "escalated"
    #: a stage's approvers were told it is due soon, or overdue (the engine's own entry)
    REMINDED = "reminded"


#: the actor of the engine's own entries (VERIFY.md section 2: never a person; no username may be it)
SYSTEM_ACTOR = "system"
#: the audit actions that record a human decision on a stage, in chain order of the vocabulary
DECISION_ACTIONS: tuple[AuditAction, ...] = (AuditAction.APPROVED, AuditAction.REJECTED,
                                             AuditAction.CHANGES_REQUESTED)
#: a request's final outcomes as audit actions (nothing follows them)
FINAL_ACTIONS: tuple[AuditAction, ...] = (AuditAction.APPROVED, AuditAction.REJECTED, AuditAction.WITHDRAWN,
                                          AuditAction.EXPIRED)
#: the audit actions that touch a request's row (created, decided, resubmitted, withdrawn, expired)
REQUEST_ACTIONS: tuple[AuditAction, ...] = (AuditAction.CREATED, *DECISION_ACTIONS, AuditAction.WITHDRAWN,
                                            AuditAction.RESUBMITTED, AuditAction.EXPIRED, AuditAction.ESCALATED,
                                            AuditAction.REMINDED)
# Signed actions (issue 10, contract A) are the signatures helper's: their set lives once, in
# core/signatures.py (SIGNED_ACTIONS), built from these names.


@dataclass(frozen=True)
class DecisionTerms:
    decision: Decision
    #: the workflow action that moves the request (workflow.transition)
    action: Action
    #: what the audit trail calls it
    audit_action: AuditAction
    #: "you cannot <verb> it": approve, reject, request changes on
    verb: str
    #: "<past_tense> by sarah.manager": approved, rejected, requested changes
    past_tense: str
    #: the past tense before its object, "<name> <past_verb> WF-... / stage 2": approved, rejected,
    #: requested changes on
    past_verb: str
    #: the dialog's title and the key's label
    title: str
    #: what a chain line says of the decider: "approved by", "sent back for changes by"
    by: str
    #: a comment is required (a rejection must say why, a request for changes what to change)
    comment_required: bool
    #: what the comment is called, for error lines and field names: "reason" or "comments"
    comment_name: str
    #: the prompt for the comment
    comment_prompt: str
    #: the refusal when the comment is missing: "A reason is required ..."
    comment_missing: str

    @property
    def done(self) -> str:
        """A confirmation's opening words: "Approved WF-...", "Requested changes on WF-..."."""
        return self.past_verb[:1].upper() + self.past_verb[1:]


TERMS: dict[Decision, DecisionTerms] = {
    Decision.APPROVE: DecisionTerms(
        Decision.APPROVE, Action.APPROVE, AuditAction.APPROVED, verb="approve", past_tense="approved",
        past_verb="approved", title="Approve", by="approved by", comment_required=False, comment_name="comments",
        comment_prompt="Comment (optional)", comment_missing=""),
    Decision.REJECT: DecisionTerms(
        Decision.REJECT, Action.REJECT, AuditAction.REJECTED, verb="reject", past_tense="rejected",
        past_verb="rejected", title="Reject", by="rejected by", comment_required=True, comment_name="reason",
        comment_prompt="Reason (required: the requester sees it)", comment_missing="A reason"),
    Decision.REQUEST_CHANGES: DecisionTerms(
        Decision.REQUEST_CHANGES, Action.REQUEST_CHANGES, AuditAction.CHANGES_REQUESTED,
        verb="request changes on", past_tense="requested changes", past_verb="requested changes on",
        title="Request changes", by="sent back for changes by", comment_required=True, comment_name="comments",
        comment_prompt="What should change? (required)", comment_missing="A comment saying what should change"),
}

#: audit action -> the decision it records
BY_AUDIT_ACTION: dict[str, Decision] = {t.audit_action.value: d for d, t in TERMS.items()}
#: workflow action -> the decision it carries out (only the three decisions have one)
BY_ACTION: dict[Action, Decision] = {t.action: d for d, t in TERMS.items()}

#: the words a person or an agent may use for a decision (the enum values, the audit names, and
#: the everyday synonyms the assistant hears)
_SYNONYMS: dict[str, Decision] = {
    **{d.value: d for d in Decision}, **BY_AUDIT_ACTION,
    "decline": Decision.REJECT, "deny": Decision.REJECT,
    "request changes": Decision.REQUEST_CHANGES, "changes": Decision.REQUEST_CHANGES,
}


def terms(decision: Decision) -> DecisionTerms:
    return TERMS[decision]


def parse_decision(text: object) -> Decision:
    """`approve`, `approved`, `Reject`, `request changes`, `changes_requested`...; anything else is
    one clear ValidationFailed naming the choices."""
    norm = " ".join(str(text or "").strip().lower().replace("-", " ").split())
    found = _SYNONYMS.get(norm) or _SYNONYMS.get(norm.replace(" ", "_"))
    if found is None:
        raise ValidationFailed(f"Unknown decision {str(text)[:40]!r}; choose approve, reject or request_changes.",
                               "decision")
    return found


class Decides(ABC):
    """The decision verbs of the client interface, each one decide() call: the embedded engine
    (service.WorkflowService) and the service's client (remote/client.RemoteService) share them."""

    @abstractmethod
    def decide(self, workflow_id: str, username: str, decision: Decision | str, comments: str = "",
               proposal: AgentProposal | None = None, *,
               unlock: Callable[[], str] | None = None, payload: Any = None) -> WorkflowRequest: ...

    def approve_workflow(self, workflow_id: str, approver: str, comments: str = "",
                         proposal: AgentProposal | None = None) -> WorkflowRequest:
        return self.decide(workflow_id, approver, Decision.APPROVE, comments, proposal)

    def reject_workflow(self, workflow_id: str, rejector: str, reason: str,
                        proposal: AgentProposal | None = None) -> WorkflowRequest:
        return self.decide(workflow_id, rejector, Decision.REJECT, reason, proposal)

    def request_changes(self, workflow_id: str, approver: str, comments: str,
                        proposal: AgentProposal | None = None, *, payload: Any = None) -> WorkflowRequest:
        """`payload`: on a request filed for approval, the revision the reviewer proposes."""
        return self.decide(workflow_id, approver, Decision.REQUEST_CHANGES, comments, proposal, payload=payload)


__all__ = ["Decides", "AuditAction", "SYSTEM_ACTOR", "BY_ACTION", "BY_AUDIT_ACTION", "DECISION_ACTIONS", "DecisionTerms", "FINAL_ACTIONS",
           "REQUEST_ACTIONS", "TERMS", "parse_decision", "terms"]
