"""The status transition table: which action moves a request from which status to which.

Pure functions, no I/O and no knowledge of who is acting (that is rbac.py's job). The service
calls `transition()` inside its write transaction, after rbac has said yes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .errors import InvalidTransition
from .models import WorkflowStatus

S = WorkflowStatus


class Action(StrEnum):
    CREATE = "create"
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_CHANGES = "request_changes"
    WITHDRAW = "withdraw"
    RESUBMIT = "resubmit"

    @property
    def verb(self) -> str:
        """"Cannot <verb> WF-...": a decision's verb from the vocabulary (decisions.py), else the name."""
        from .decisions import BY_ACTION, TERMS  # decisions.py imports this module

        decision = BY_ACTION.get(self)
        return TERMS[decision].verb if decision is not None else self.value


#: action -> statuses it may start from
ALLOWED_FROM: dict[Action, frozenset[WorkflowStatus]] = {
    Action.APPROVE: frozenset({S.AWAITING_APPROVAL}),
    Action.REJECT: frozenset({S.AWAITING_APPROVAL}),
    Action.REQUEST_CHANGES: frozenset({S.AWAITING_APPROVAL}),
    Action.WITHDRAW: frozenset({S.AWAITING_APPROVAL, S.CHANGES_REQUESTED}),
    Action.RESUBMIT: frozenset({S.CHANGES_REQUESTED}),
}


@dataclass(frozen=True)
class Outcome:
    status: WorkflowStatus
    stage: int

    @property
    def finished(self) -> bool:
        return self.status.is_final


def check_allowed(action: Action, status: WorkflowStatus, workflow_id: str) -> None:
    if status not in ALLOWED_FROM[action]:
        if action in (Action.APPROVE, Action.REJECT, Action.REQUEST_CHANGES):
            raise InvalidTransition(
                f"{workflow_id} is {status.label}, no longer awaiting approval, so it cannot be decided."
            )
        allowed = " or ".join(s.label for s in sorted(ALLOWED_FROM[action], key=lambda s: s.value))
        raise InvalidTransition(
            f"Cannot {action.verb} {workflow_id}: it is {status.label} (only possible when {allowed})."
        )


def transition(action: Action, status: WorkflowStatus, stage: int, stage_count: int,
               workflow_id: str = "this request", *, completes: bool = True) -> Outcome:
    """Where `action` takes a request that is at `status`, stage index `stage` of `stage_count`.
    `completes`: False for an approval that a quorum or parallel stage counts as one vote of
    several (stage_rules.completes): it stays awaiting approval at the same stage."""
    check_allowed(action, status, workflow_id)
    if action is Action.APPROVE and not completes:
        return Outcome(S.AWAITING_APPROVAL, stage)
    if action is Action.APPROVE:
        nxt = stage + 1
        return Outcome(S.APPROVED if nxt >= stage_count else S.AWAITING_APPROVAL, nxt)
    if action is Action.REJECT:
        return Outcome(S.REJECTED, stage)
    if action is Action.REQUEST_CHANGES:
        return Outcome(S.CHANGES_REQUESTED, stage)
    if action is Action.WITHDRAW:
        return Outcome(S.WITHDRAWN, stage)
    if action is Action.RESUBMIT:
        return Outcome(S.AWAITING_APPROVAL, 0)  # the chain restarts from its first stage
    raise InvalidTransition(f"Unknown action {action!r}.")
