"""Claims (issue 14): "I am looking at this", so two people of one role do not both spend time on
the same request. A claim is advisory: it never stops anyone deciding, it is not a decision, and
it expires (the `claim_minutes` setting, default 30) or ends when the stage it was made on is
decided, the request withdrawn or resubmitted.

Claims are kept out of the audit trail on purpose: every entry kind must be replayed and
verified (replay.py, VERIFY.md, the standalone verifier), and a note that someone glanced at a
request, which lapses by itself, is not a fact the trail needs to prove. They live in their own
table (migration 20), which no replay compares.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Mapping

from . import rbac
from .audit import iso, utc_now
from .due import short_span
from .errors import InvalidTransition, PermissionDenied
from .models import Role, WorkflowStatus
from .store import claims as sql
from .text import check_inputs

if TYPE_CHECKING:
    from .service import WorkflowService

DEFAULT_MINUTES = 30


@dataclass(frozen=True)
class Claim:
    workflow_id: str
    username: str
    role: Role
    claimed_at: datetime
    expires_at: datetime

    def words(self, viewer: str, now: datetime) -> str:
        """"claimed by mike.manager · 12m", "claimed by you · 3m" (how long ago it was claimed)."""
        who = "you" if viewer == self.username else self.username
        return f"claimed by {who} · {short_span(max(0.0, (now - self.claimed_at).total_seconds()))}"


def _claim(row: Mapping[str, Any]) -> Claim:
    return Claim(str(row["workflow_id"]), str(row["username"]), Role(str(row["role"])),
                 datetime.fromisoformat(str(row["claimed_at"])), datetime.fromisoformat(str(row["expires_at"])))


def minutes(service: "WorkflowService") -> int:
    return int(getattr(service.settings, "claim_minutes", DEFAULT_MINUTES))


def claim(service: "WorkflowService", username: str, workflow_id: str, now: datetime | None = None) -> Claim:
    """Claim the request's current stage for `minutes(service)`: only someone who may decide it,
    and not while another person's claim on it holds (one's own is renewed)."""
    check_inputs(username=username, workflow_id=workflow_id)
    user = service.get_user(username)
    when = now or utc_now()
    with service._write() as conn:
        req = service._load(conn, workflow_id)
        if req.status is not WorkflowStatus.AWAITING_APPROVAL or req.current_role is None:
            raise InvalidTransition(f"{req.id} is {req.status.label}; only a request awaiting approval can be claimed.")
        rbac.check_decide(service.policy, user, req)  # the engine's own words when this person may not decide it
        held = sql.live(conn, [req.id], iso(when))
        if held and held[0]["username"] != user.username:
            other = _claim(held[0])
            left = short_span((other.expires_at - when).total_seconds())
            raise PermissionDenied(f"{req.id} is {other.words(user.username, when)} ago (for {left} more); they "
                                   f"may be deciding it now. Pick another, or decide it anyway: a claim stops nobody.")
        row = {"workflow_id": req.id, "username": user.username, "role": req.current_role.value,
               "revision": req.revision, "stage": req.current_stage, "claimed_at": iso(when),
               "expires_at": iso(when + timedelta(minutes=minutes(service)))}
        sql.put(conn, row, iso(when))
    return _claim(row)


def release(service: "WorkflowService", username: str, workflow_id: str, now: datetime | None = None) -> None:
    """Drop one's own claim (another person's claim is theirs to drop, or lapses by itself)."""
    check_inputs(username=username, workflow_id=workflow_id)
    user = service.get_user(username)
    when = now or utc_now()
    with service._write() as conn:
        held = sql.live(conn, [str(workflow_id).strip()], iso(when))
        if not held:
            raise InvalidTransition(f"{workflow_id} is not claimed by anyone.")
        if held[0]["username"] != user.username:
            raise PermissionDenied(f"{workflow_id} is claimed by {held[0]['username']}, not you; it lapses by itself.")
        sql.drop(conn, str(held[0]["workflow_id"]))


def shown(service: "WorkflowService", viewer: str, workflow_ids: list[str],
          now: datetime | None = None) -> dict[str, Claim]:
    """The claims `viewer` is shown on these requests: their own, and those of the roles they
    decide for (the people who would otherwise pick the same request up)."""
    if not workflow_ids:
        return {}
    user = service.get_user(viewer)
    roles = rbac.decidable_by(service.policy, user)
    rows = service._read(sql.live, sorted(set(workflow_ids)), iso(now or utc_now()))
    return {c.workflow_id: c for c in map(_claim, rows) if c.username == user.username or c.role in roles}


__all__ = ["Claim", "DEFAULT_MINUTES", "claim", "release", "shown"]
