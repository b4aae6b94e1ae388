"""What confirming a decision (or a withdrawal) does, in one sentence: the words the desk's
decision dialog and the accessible desk both show before a person confirms."""

from __future__ import annotations

from .models import Decision, User, WorkflowRequest
from .policy import Policy
from .rbac import eligible_deciders


def listed(items: list[str], limit: int = 3) -> str:
    """'ann, bob, cy +2': a few names and how many more."""
    shown = ", ".join(items[:limit])
    return f"{shown} +{len(items) - limit}" if len(items) > limit else shown


def consequence(req: WorkflowRequest, decision: Decision | None, policy: Policy, people: list[User]) -> str:
    """`decision` None: withdrawing. Names who could decide the next stage, when anyone can."""
    if decision is None:
        return f"Withdrawing ends {req.id} for good; no one can decide it afterwards."
    if decision is Decision.REJECT:
        return f"Rejecting ends {req.id} for good; {req.requester} sees your reason."
    if decision is Decision.REQUEST_CHANGES:
        return (f"Requesting changes sends it back to {req.requester}, who can edit and resubmit it; "
                f"the approval chain then starts again.")
    nxt = req.current_stage + 1
    if nxt >= len(req.required_approvers):
        return "Approving completes the request: it becomes approved."
    role = req.required_approvers[nxt]
    decided = {a.approver for a in req.approvals if a.revision == req.revision}
    who = eligible_deciders(policy, people, req, role, decided)
    return f"Approving moves it to {role.label}" + (f": {listed(who)}." if who else ".")
