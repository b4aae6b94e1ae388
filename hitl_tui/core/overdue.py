"""What happens once a request is overdue (issue 14): the type's `on_overdue` in the policy.

"expire" closes it undecided (fail closed: nothing is ever approved for being late), with an
`expired` entry of the engine's own (actor `system`) naming the rule that fired, exactly as a
caller's deadline does (approvals.py). "escalate" gives the overdue stage to the next senior role
too (escalation_role: the next role of [access] management_line, or its top for a stage role
outside the line), with an `escalated` entry naming the rule; the escalation ends when that
stage is decided, and a later overdue stage escalates again. Nobody is ever added who could not
see the request: the line's seniors already see what their juniors decide, and its top role is an
oversight role by default. "remind" leaves the request where it is and tells the stage's approvers, once a stage,
with a `reminded` entry (kind "overdue") that the outbox turns into their messages; a type's
`remind_before` tells them "due soon" (kind "due_soon") that long before the due date. The sweep runs where the deadline sweep runs:
the team-mode service's clock, and every engine session on the way to reading an inbox.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import draws
from .audit import iso
from .decisions import SYSTEM_ACTOR, AuditAction
from .errors import PolicyError
from .models import RiskLevel, Role, WorkflowStatus
from .store import requests as req_sql

if TYPE_CHECKING:
    from .policy import Policy
    from .store.connection import Conn
    from .service import WorkflowService


def rule_words(workflow_type: str, risk: str, span_text: str, action: str) -> str:
    """The rule as the trail and the desk name it: "expense_approval HIGH: due P2D, then expire"."""
    return f"{workflow_type} {risk}: due {span_text}, then {action}"


def acting(policy: "Policy") -> list[tuple[str, str]]:
    """The (type, risk level) pairs whose overdue requests the sweep acts on (expire, escalate)."""
    return [(key, level.value) for key, wtype in policy.types.items() for level in RiskLevel
            if (rule := wtype.due.for_level(level)) is not None and rule[1] in ("expire", "escalate")]


def escalation_role(policy: "Policy", stage_role: Role) -> Role | None:
    """Who an overdue stage escalates to: the next senior role of the management line, its top
    role for a stage outside it; None at the top (nobody is more senior)."""
    line = policy.access.management_line
    if not line:
        return None
    if stage_role not in line:
        return line[-1]
    at = line.index(stage_role)
    return line[at + 1] if at + 1 < len(line) else None


def reminder(policy: "Policy", row: dict[str, Any], when: datetime) -> str | None:
    """The reminder a stage's approvers are owed now: "due_soon" once within the type's
    remind_before, "overdue" once past the due date under a "remind" rule; None when neither."""
    try:
        level = RiskLevel(row["risk_level"])
        wtype = policy.types.get(row["workflow_type"])
    except ValueError:
        return None
    rule = None if wtype is None else wtype.due.for_level(level)
    if wtype is None or rule is None:
        return None
    due = datetime.fromisoformat(row["due_at"])
    if due <= when:
        return "overdue" if rule[1] == "remind" and row["reminded"] != "overdue" else None
    ahead = wtype.due.remind_before
    return "due_soon" if ahead is not None and row["reminded"] is None and due - ahead.wall <= when else None


def _longest_ahead(policy: "Policy") -> timedelta:
    return max((t.due.remind_before.wall for t in policy.types.values() if t.due.remind_before is not None),
               default=timedelta(0))


def _work(conn: "Conn", policy: "Policy", when: datetime) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], str]]]:
    """(overdue requests an acting rule closes or escalates, (request, reminder) pairs), read only."""
    acts = req_sql.past_due(conn, iso(when), acting(policy))
    soon = req_sql.to_remind(conn, iso(when + _longest_ahead(policy)), iso(when))
    return acts, [(r, kind) for r in soon if (kind := reminder(policy, r, when)) is not None]


def sweep(service: "WorkflowService") -> list[str]:
    """Expire or escalate the overdue requests whose rule says so, and remind the approvers of
    those due soon or overdue, in one transaction; their ids. Takes no write lock when there is
    nothing to do."""
    acts, reminders = service._read(_work, service.policy, draws.now())
    if not acts and not reminders:
        return []
    done: list[str] = []
    with service._write() as conn:
        when = draws.now()
        policy = service._policies.current(conn).policy
        acts, reminders = _work(conn, policy, when)
        for row, kind in reminders:
            if _remind(service, conn, row, kind, policy, when):
                done.append(row["id"])
        for row in acts:
            try:
                rule = policy.due_rule(row["workflow_type"], RiskLevel(row["risk_level"]))
            except (ValueError, PolicyError):
                rule = None
            if rule is None or rule[1] == "remind":
                continue  # it stays where it is, marked overdue
            words = rule_words(row["workflow_type"], row["risk_level"], rule[0].text, rule[1])
            if rule[1] == "escalate":
                if _escalate(service, conn, row, policy, words, when):
                    done.append(row["id"])
                continue
            if expire(service, conn, row, when, {"due_at": row["due_at"], "rule": words}):
                done.append(row["id"])
    return done


def expire(service: "WorkflowService", conn: "Conn", row: dict[str, Any], when: datetime,
           why: dict[str, Any]) -> bool:
    """Close `row` undecided (fail closed), with the engine's `expired` entry saying `why` (a
    caller's deadline, or a due date and its rule): the one way a request expires. False when it
    moved meanwhile."""
    changed = req_sql.update(conn, row["id"], row["revision"], row["current_stage"], row["status"], {
        "status": WorkflowStatus.EXPIRED.value, "current_role": None, "updated_at": iso(when)})
    if changed:
        service._audit(conn, SYSTEM_ACTOR, AuditAction.EXPIRED, row["id"], {
            "status_before": row["status"], "status_after": WorkflowStatus.EXPIRED.value,
            "stage_after": row["current_stage"], "revision": row["revision"], **why}, ts=when)
    return changed


def _remind(service: "WorkflowService", conn: "Conn", row: dict[str, Any], kind: str, policy: "Policy",
            when: datetime) -> bool:
    rule = policy.due_rule(row["workflow_type"], RiskLevel(row["risk_level"]))
    assert rule is not None
    changed = req_sql.update(conn, row["id"], row["revision"], row["current_stage"], row["status"], {"reminded": kind})
    if not changed:
        return False
    service._audit(conn, SYSTEM_ACTOR, AuditAction.REMINDED, row["id"], {
        "kind": kind, "stage": row["current_stage"], "stage_role": row["current_role"], "due_at": row["due_at"],
        "revision": row["revision"], "status_before": row["status"], "status_after": row["status"],
        "stage_after": row["current_stage"],
        "rule": rule_words(row["workflow_type"], row["risk_level"], rule[0].text, rule[1]),
    }, ts=when)
    return True


def _escalate(service: "WorkflowService", conn: "Conn", row: dict[str, Any], policy: "Policy", words: str,
              when: datetime) -> bool:
    stage_role = Role(row["current_role"]) if row["current_role"] else None
    target = None if stage_role is None else escalation_role(policy, stage_role)
    if target is None:
        return False  # nobody is more senior: it stays, marked overdue
    changed = req_sql.update(conn, row["id"], row["revision"], row["current_stage"], row["status"],
                             {"escalated_to": target.value})
    if not changed:
        return False
    service._audit(conn, SYSTEM_ACTOR, AuditAction.ESCALATED, row["id"], {
        "stage": row["current_stage"], "stage_role": row["current_role"], "escalated_to": target.value,
        "revision": row["revision"], "status_before": row["status"], "status_after": row["status"],
        "stage_after": row["current_stage"], "due_at": row["due_at"], "rule": words,
    }, ts=when)
    return True


__all__ = ["acting", "escalation_role", "expire", "reminder", "rule_words", "sweep"]
