"""Reassignment (issue 14): an administrator, a Director or an Executive names the person who
should decide a request's current stage, with a reason; naming someone else later, or clearing
it, is allowed, each a signed `reassigned` entry under the request.

The assignee is someone who may decide that stage now (its role, or a senior one: the same
rbac.eligible_deciders as the notifications), never the requester, the owner of a segregated
integration, nor anyone who decided a stage of this revision. An assignment is a pointer, not a
lock: the stage's other deciders still may decide it (the policy says who may; this says who
should), and it lapses by itself once the stage is decided. The assignee hears of it
(waiting_for_you) and finds it first in Awaiting me.

The assignments table (one row per entry, store/assignments.py) is a replay of the trail
(AssignmentReplay, run by verify-audit with the other tables), which also checks the rule of
who may reassign and whom, as far as the trail says it: the actor an active administrator or of
a reassigning role, the stage the one then awaited, the assignee neither its requester nor one
of its deciders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import draws, rbac
from .audit import iso
from .errors import InvalidTransition, PermissionDenied, UnknownUser
from .models import Role, User, WorkflowRequest, WorkflowStatus
from .store import assignments as sql
from .store import users as user_sql
from .store.connection import Conn
from .text import check_inputs, check_text

if TYPE_CHECKING:
    from .service import WorkflowService

REASSIGNED = "reassigned"
ACTIONS = frozenset({REASSIGNED})
#: besides the directory's administrators, who may name a stage's decider
REASSIGNERS = frozenset({Role.DIRECTOR, Role.EXECUTIVE})
REASON_MAX = 500


@dataclass(frozen=True)
class Assignment:
    workflow_id: str
    stage: int
    stage_role: str
    #: None: cleared
    assignee: str | None
    #: who it was assigned to before this change (None: nobody)
    before: str | None
    reason: str
    by: str


def check_reassigner(actor: User | None, name: str) -> None:
    if actor is None:
        raise UnknownUser(name)
    if not actor.active:
        raise PermissionDenied(f"{name} is deactivated and cannot act; an administrator can reactivate them.")
    if not (actor.admin or (actor.role in REASSIGNERS and not actor.integration)):
        roles = " or ".join(sorted(r.label for r in REASSIGNERS))
        raise PermissionDenied(f"Reassigning a stage is for a directory administrator, a {roles}; {name} is "
                               f"{actor.role.label}.")


def check_assignee(policy: Any, req: WorkflowRequest, person: User | None, name: str) -> None:
    """Could `person` decide `req`'s current stage now? Each refusal says why."""
    if person is None:
        raise UnknownUser(name, "an assignee is a person of the directory.")
    if person.integration or not person.active:
        raise PermissionDenied(f"{name} is {'an integration' if person.integration else 'deactivated'}; only an "
                               f"active person decides a stage.")
    if name == req.requester:
        raise PermissionDenied(f"{name} requested {req.id}, so cannot decide it (segregation of duties).")
    decided = {n for a in req.approvals if a.revision == req.revision for n in (a.approver, a.on_behalf_of) if n}
    if name in decided:
        raise PermissionDenied(f"{name} already decided a stage of this revision of {req.id}; another person must "
                               f"decide this one (segregation of duties).")
    stage_role = req.current_role
    assert stage_role is not None
    if not rbac.eligible_deciders(policy, [person], req, stage_role, decided) and not (
            req.escalated_to is not None and rbac.eligible_deciders(policy, [person], req, req.escalated_to, decided)):
        raise PermissionDenied(f"{req.id} is waiting for its {stage_role.label} stage; {name} is "
                               f"{person.role.label}, who may not decide that stage.")


def reassign(service: "WorkflowService", workflow_id: str, assignee: str | None, reason: str, *,
             actor: str | None = None) -> Assignment:
    """Name `assignee` (None: clear it) as who should decide `workflow_id`'s current stage."""
    check_inputs(workflow_id=workflow_id, assignee=assignee, reason=reason, actor=actor)
    why = check_text(reason or "", "reason", REASON_MAX, required=True, single_line=True,
                     hint="say why, e.g. \"Lisa is away, Mike knows the supplier\"")
    with service._write() as conn:
        actor_name, actor_user = service._actor(conn, actor)
        check_reassigner(actor_user, actor_name)
        req = service._load(conn, workflow_id)
        if req.status is not WorkflowStatus.AWAITING_APPROVAL or req.current_role is None:
            raise InvalidTransition(f"{req.id} is {req.status.value.replace('_', ' ')}: no stage waits for a "
                                    f"decision, so there is nothing to assign.")
        held_row = sql.current(conn, req.id, req.revision, req.current_stage)
        held = held_row[4] if held_row else None
        if assignee is None and held is None:
            raise InvalidTransition(f"Stage {req.current_stage + 1} of {req.id} is assigned to nobody; nothing to "
                                    f"clear.")
        if assignee is not None:
            if assignee == held:
                raise InvalidTransition(f"Stage {req.current_stage + 1} of {req.id} is already assigned to "
                                        f"{assignee}; nothing was changed.")
            check_assignee(service._policies.current(conn).policy, req, user_sql.get(conn, assignee), assignee)
        when = draws.now()
        seq = service._audit(conn, actor_name, REASSIGNED, req.id, {
            "stage": req.current_stage, "stage_role": req.current_role.value, "revision": req.revision,
            "assignee": assignee, "before": held, "reason": why}, ts=when)
        sql.insert(conn, (seq, req.id, req.revision, req.current_stage, assignee, why, iso(when), actor_name))
    return Assignment(req.id, req.current_stage, req.current_role.value, assignee, held, why, actor_name)


def assigned_to(conn: Conn, req: WorkflowRequest) -> str | None:
    """Who the request's current stage is assigned to now (None: nobody, or no stage waits)."""
    if req.status is not WorkflowStatus.AWAITING_APPROVAL:
        return None
    row = sql.current(conn, req.id, req.revision, req.current_stage)
    return None if row is None else row[4]


class Assignments:
    """The functions above on one engine (what the CLI holds)."""

    def __init__(self, service: "WorkflowService") -> None:
        self.service = service

    def reassign(self, workflow_id: str, assignee: str | None, reason: str, *,
                 actor: str | None = None) -> Assignment:
        return reassign(self.service, workflow_id, assignee, reason, actor=actor)


# --- the table is a replay of the trail, and the rule is checked on it ---------------------------

@dataclass
class AssignmentReplay:
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    problem: tuple[int, str] | None = None

    def step(self, seq: int, rec: dict[str, Any], users: dict[str, list[Any]], request: dict[str, Any] | None) -> None:
        """A `reassigned` entry; `users`: the replayed directory (role at 0, active at 3, admin at
        4); `request`: its request as the trail left it (status, current_stage, revision,
        requester, deciders), None when no open request of that id."""
        d = rec.get("details") if isinstance(rec.get("details"), dict) else {}
        assert isinstance(d, dict)
        actor, wid, assignee = rec.get("actor"), rec.get("workflow_id"), d.get("assignee")
        self.rows.append((seq, wid, d.get("revision"), d.get("stage"), assignee, d.get("reason"), rec.get("ts"), actor))
        what = f"entry {seq} (reassigned {wid} by {actor})"
        held = users.get(str(actor))
        allowed = held is not None and held[3] == 1 and (held[4] == 1 or held[0] in {r.value for r in REASSIGNERS})
        if not allowed:
            self._fail(seq, f"{what}: {actor} was neither an active administrator nor a "
                            f"{' or '.join(sorted(r.label for r in REASSIGNERS))} at that point of the trail")
        elif request is None or request["status"] != WorkflowStatus.AWAITING_APPROVAL.value \
                or d.get("stage") != request["current_stage"] or d.get("revision") != request["revision"]:
            self._fail(seq, f"{what} assigns a stage that was not awaiting a decision at that point of the trail")
        elif assignee is not None and (assignee == request["requester"] or (
                isinstance(request["deciders"], str) and f",{assignee}," in request["deciders"])):
            self._fail(seq, f"{what} assigns the stage to {assignee}, its requester or a decider of this revision")

    def _fail(self, seq: int, text: str) -> None:
        if self.problem is None:
            self.problem = (seq, text)

    def first_difference(self, conn: Conn) -> tuple[int | None, str] | None:
        if self.problem is not None:
            return self.problem
        table = {row[0]: tuple(row) for row in sql.list_all(conn)}
        for expected in self.rows:
            found = table.pop(expected[0], None)
            if found is None:
                return expected[0], f"the assignment of entry {expected[0]} is in the trail but missing from the table"
            for col, want, got in zip(sql.COLS, expected, found):
                if want != got:
                    return expected[0], (f"the assignment of entry {expected[0]} {col.replace('_', ' ')} is "
                                         f"{got!r:.80} in the table, {want!r:.80} in the trail")
        if table:
            return None, f"the assignment of entry {sorted(table)[0]} is in the table but not in the trail"
        return None


__all__ = ["ACTIONS", "Assignment", "AssignmentReplay", "Assignments", "REASSIGNED", "REASSIGNERS", "assigned_to",
           "check_assignee", "check_reassigner", "reassign"]
