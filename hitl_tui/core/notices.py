"""What a person is told when the trail shows something that concerns them: a request now waiting
for their decision, or their own request decided by someone else. One wording, used by the desk's
notifications (and by anything else that tells people, so they never disagree)."""

from __future__ import annotations

from dataclasses import dataclass

from . import rbac
from .decisions import DECISION_ACTIONS, AuditAction
from .models import AuditEntry, User, WorkflowRequest, WorkflowStatus
from .policy import Policy

#: audit actions after which a request may newly wait for someone's decision
ARRIVAL_ACTIONS = (AuditAction.CREATED, AuditAction.APPROVED, AuditAction.RESUBMITTED)
#: audit actions on a request that its requester wants to hear about
OUTCOME_ACTIONS = DECISION_ACTIONS


@dataclass(frozen=True)
class Notice:
    workflow_id: str
    #: "arrival" (now awaits you) or "outcome" (your request was decided)
    kind: str
    text: str
    #: how loud: "information" for progress, "warning" for a rejection or a request for changes
    severity: str = "information"
    #: the audit action it tells of ("created", "approved", "changes_requested"...)
    action: str = ""


def arrival(policy: Policy, user: User, entry: AuditEntry, req: WorkflowRequest) -> Notice | None:
    """`req` now waits for `user`'s decision because of `entry` (made by someone else)."""
    if entry.action not in ARRIVAL_ACTIONS or entry.actor == user.username or not rbac.may_decide(policy, user, req):
        return None
    stage = req.current_role.label if req.current_role else ""
    return Notice(req.id, "arrival", f"New in Awaiting me: {req.id} “{req.title}” from {req.requester} "
                                     f"({req.risk_level.value}, {stage} stage)", action=entry.action)


def outcome(user: User, entry: AuditEntry, req: WorkflowRequest) -> Notice | None:
    """Someone else decided a stage of `user`'s own request: what happened and what comes next."""
    if req.requester != user.username or entry.actor == user.username or entry.action not in OUTCOME_ACTIONS:
        return None
    who, comment = entry.actor, str(entry.details.get("comments") or "").strip()
    said = f": “{comment}”" if comment else ""
    if entry.action == AuditAction.APPROVED:
        after = ("fully approved" if req.status is WorkflowStatus.APPROVED
                 else f"now awaiting {req.current_role.label}" if req.current_role else "approved")
        return Notice(req.id, "outcome", f"Your request {req.id} “{req.title}” was approved by {who}; {after}.",
                      action=entry.action)
    if entry.action == AuditAction.REJECTED:
        return Notice(req.id, "outcome", f"Your request {req.id} “{req.title}” was rejected by {who}{said}",
                      "warning", entry.action)
    return Notice(req.id, "outcome", f"{who} sent your request {req.id} “{req.title}” back for changes{said}",
                  "warning", entry.action)
