"""Delegation (out of office, issue 14): a person hands their decisions to a named colleague
for a period, optionally for some workflow types only.

While it runs, the delegate may decide the stages the delegator's role may decide, as the
delegator would (rbac.acting_for: never the delegator's or the delegate's own request, never a
second stage of a revision either of them decided). It never cascades: a delegate covering
someone cannot delegate, nobody delegates to someone who is away themselves, and the decide
path looks only at delegations given directly to the decider. One running delegation per
delegator; end it (`hitl-tui delegate --end`) to give another.

Granting and ending are the delegator's own, or an administrator's for them (audited as the
administrator), each a signed entry filed under no request (`delegation_granted`,
`delegation_ended`) written in the transaction that changes the delegations table, so the
table is a replay of the trail (DelegationReplay, run by verify-audit with the other tables).
A decision made under one names it in its signed details (on_behalf_of, delegation,
delegated_until), and the replay checks that it ran, for that decider, at that entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any

from . import draws, rbac
from .audit import iso
from .errors import InvalidTransition, PermissionDenied, UnknownUser, ValidationFailed
from .models import User, WorkflowRequest
from .policy import Policy
from .signatures import on_behalf_words
from .store import delegations as sql
from .store import requests as sql_requests
from .store import users as user_sql
from .store.connection import Conn
from .text import check_inputs, check_text

if TYPE_CHECKING:
    from .service import WorkflowService

GRANTED = "delegation_granted"
ENDED = "delegation_ended"
ACTIONS = frozenset({GRANTED, ENDED})
REASON_MAX = 500
#: a delegation longer than this is not "out of office" but a change of role (users set-role)
LONGEST = timedelta(days=366)


@dataclass(frozen=True)
class Delegation:
    """One delegation as the rules and the lists see it."""

    id: str
    delegator: str
    delegate: str
    #: the period's last day as given (YYYY-MM-DD), or the instant given, shown as such
    until: str
    #: the first instant after the period
    ends_at: datetime
    #: the workflow types it covers; None: all
    types: tuple[str, ...] | None
    reason: str
    granted_at: str
    granted_by: str
    ended_at: str | None = None
    ended_by: str | None = None
    end_reason: str | None = None

    def running(self, at: datetime) -> bool:
        return self.ended_at is None and at < self.ends_at

    def covers(self, workflow_type: str) -> bool:
        return self.types is None or workflow_type in self.types

    @property
    def words(self) -> str:
        """"lisa.executive -> mike.director until 2026-12-20 (expense_approval)"."""
        kinds = "" if self.types is None else f" ({', '.join(self.types)})"
        return f"{self.delegator} -> {self.delegate} until {self.until}{kinds}"


@dataclass(frozen=True)
class Covering:
    """A running delegation to the decider, with its delegator as the directory has them now."""

    delegation: Delegation
    delegator: User


def of_row(row: sql.DelegationRow) -> Delegation:
    return Delegation(id=row.id, delegator=row.delegator, delegate=row.delegate, until=row.until,
                      ends_at=datetime.fromisoformat(row.ends_at),
                      types=None if row.types is None else tuple(row.types.split(",")), reason=row.reason,
                      granted_at=row.granted_at, granted_by=row.granted_by, ended_at=row.ended_at,
                      ended_by=row.ended_by, end_reason=row.end_reason)


def parse_until(text: str, now: datetime, zone: Any = None) -> tuple[str, datetime]:
    """`--until`: a day (YYYY-MM-DD: through its end, in the deciders' zone `zone`, None for this
    machine's) or an ISO instant; (as shown, the first instant after the period, in UTC)."""
    value = str(text).strip()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        day = None
    if day is not None:
        local = datetime.combine(day + timedelta(days=1), time(0))
        ends = local.replace(tzinfo=zone) if zone is not None else local.astimezone()
        shown = day.isoformat()
    else:
        try:
            ends = datetime.fromisoformat(value)
        except ValueError:
            raise ValidationFailed(f"{value[:40]!r} is not a date: give the last day away as YYYY-MM-DD "
                                   f"(or an ISO time such as 2026-12-20T18:00+01:00).", "until") from None
        ends = ends if ends.tzinfo is not None else ends.astimezone()
        shown = value
    ends = ends.astimezone(timezone.utc)
    if ends <= now:
        raise ValidationFailed(f"--until {shown} is already past; a delegation runs from now to a later day.", "until")
    if ends - now > LONGEST:
        raise ValidationFailed(f"--until {shown} is more than a year away; a delegation covers an absence, a lasting "
                               f"change is a change of role (`hitl-tui users set-role`).", "until")
    return shown, ends


# --- the rules of granting ----------------------------------------------------------------------

def check_grant(policy: Policy, actor: str, actor_user: User | None, delegator: User | None, delegator_name: str,
                delegate: User | None, delegate_name: str, types: tuple[str, ...] | None) -> None:
    """May `actor` delegate `delegator`'s decisions to `delegate`? (the running ones: check_free)"""
    if actor != delegator_name:
        if actor_user is None or not actor_user.admin:
            raise PermissionDenied(f"Only {delegator_name}, or a directory administrator, may delegate "
                                   f"{delegator_name}'s decisions; you are {actor}.")
        rbac.check_admin(actor_user, True)
    if delegator is None:
        raise UnknownUser(delegator_name)
    if delegate is None:
        raise UnknownUser(delegate_name, "a delegate is a person of the directory.")
    for who, user in (("delegator", delegator), ("delegate", delegate)):
        if user.integration:
            raise PermissionDenied(f"{user.username} is an integration (an AI agent or a system): it never decides, "
                                   f"so it can neither delegate nor be a {who}.")
        if not user.active:
            raise PermissionDenied(f"{user.username} is deactivated; a {who} is an active person.")
    if delegate.username == delegator.username:
        raise ValidationFailed("A delegation names a colleague, not yourself.", "delegate")
    if not policy.decidable_roles(delegator.role):
        raise PermissionDenied(f"{delegator.username} is {delegator.role.label}, a role that decides no stage: there "
                               f"is nothing to delegate.")
    for kind in types or ():
        policy.workflow_type(kind)  # UnknownWorkflowType names the known ones


def check_free(conn: Conn, delegator: str, delegate: str, now: datetime) -> None:
    """No cascade, and one running delegation per delegator."""
    at = iso(now)
    mine = sql.open_from(conn, delegator, at)
    if mine is not None:
        raise InvalidTransition(f"{delegator} already delegates to {mine.delegate} until {mine.until}; end it first "
                                f"(`hitl-tui delegate --end`).")
    covering = sql.open_to(conn, delegator, at)
    if covering:
        raise PermissionDenied(f"{delegator} is covering for {covering[0].delegator} until {covering[0].until}; a "
                               f"delegate cannot re-delegate (ask {covering[0].delegator} or an administrator to "
                               f"delegate to someone else).")
    away = sql.open_from(conn, delegate, at)
    if away is not None:
        raise PermissionDenied(f"{delegate} is away, delegating to {away.delegate} until {away.until}; delegations "
                               f"never cascade, so choose someone who is in.")


def checked_types(types: list[str] | tuple[str, ...] | None, policy: Policy) -> tuple[str, ...] | None:
    if not types:
        return None
    return tuple(sorted({policy.workflow_type(t).key for t in types}))


# --- the engine's side (embedded mode, and the service in team mode) ----------------------------

def grant(service: "WorkflowService", delegator: str, delegate: str, until: str, reason: str, *,
          types: list[str] | None = None, actor: str | None = None) -> Delegation:
    """`delegator`'s decisions go to `delegate` until `until`, as `actor` (the delegator, or an
    administrator for them): a signed delegation_granted entry and the table's row."""
    check_inputs(delegator=delegator, delegate=delegate, until=until, reason=reason, actor=actor)
    why = check_text(reason or "", "reason", REASON_MAX, required=True, single_line=True,
                     hint="say why, e.g. \"annual leave\"")
    with service._write() as conn:
        actor_name, actor_user = service._actor(conn, actor)
        policy = service._policies.current(conn).policy
        kinds = checked_types(types, policy)
        check_grant(policy, actor_name, actor_user, user_sql.get(conn, delegator), delegator,
                    user_sql.get(conn, delegate), delegate, kinds)
        when = draws.now()
        shown, ends = parse_until(until, when, service.settings.zone)
        check_free(conn, delegator, delegate, when)
        did = "dg-" + draws.token_hex(8)
        seq = service._audit(conn, actor_name, GRANTED, None, {
            "delegation": did, "delegator": delegator, "delegate": delegate, "until": shown, "ends_at": iso(ends),
            "types": None if kinds is None else list(kinds), "reason": why}, ts=when)
        row = sql.DelegationRow(did, delegator, delegate, shown, iso(ends), None if kinds is None else ",".join(kinds),
                                why, iso(when), actor_name, seq)
        sql.insert(conn, row)
    return of_row(row)


def end(service: "WorkflowService", delegator: str, reason: str = "", *, actor: str | None = None) -> Delegation:
    """End `delegator`'s running delegation early, as the delegator or an administrator."""
    check_inputs(delegator=delegator, reason=reason, actor=actor)
    why = check_text(reason or "", "reason", REASON_MAX, required=False, single_line=True)
    with service._write() as conn:
        actor_name, actor_user = service._actor(conn, actor)
        if actor_name != delegator:
            rbac.check_admin(actor_user, True)
        when = draws.now()
        row = sql.open_from(conn, delegator, iso(when))
        if row is None:
            raise InvalidTransition(f"{delegator} has no delegation running; nothing was changed.")
        seq = service._audit(conn, actor_name, ENDED, None, {
            "delegation": row.id, "delegator": row.delegator, "delegate": row.delegate, "reason": why}, ts=when)
        sql.end(conn, row.id, iso(when), actor_name, why, seq)
        done = sql.get(conn, row.id)
    assert done is not None
    return of_row(done)


def listing(service: "WorkflowService", viewer: str, *, everyone: bool = False) -> list[Delegation]:
    """The delegations `viewer` gave or holds, newest first; with `everyone`, all of them (an
    administrator's or an oversight role's view)."""
    check_inputs(viewer=viewer)
    user = service.find_user(viewer)
    if everyone:
        if user is None or not (user.admin or rbac.sees_everything(service.policy, user)):
            raise PermissionDenied("Every delegation is for a directory administrator or an oversight role to list; "
                                   "`hitl-tui delegate --list` shows your own.")
        return [of_row(r) for r in reversed(service._read(sql.list_all))]
    return [of_row(r) for r in service._read(sql.concerning, viewer)]


def covering(conn: Conn, delegate: str, at: datetime) -> list[Covering]:
    """The running delegations to `delegate` at `at`, with their delegators (what check_decide takes)."""
    out = []
    for row in sql.open_to(conn, delegate, iso(at)):
        person = user_sql.get(conn, row.delegator)
        if person is not None:
            out.append(Covering(of_row(row), person))
    return out


def awaiting_for(conn: Conn, policy: Policy, delegate: str, at: datetime) -> sql_requests.Delegated:
    """What Awaiting me of `delegate` adds (store/requests.py): each running delegation to them,
    with the stage roles its (active) delegator may decide and the types it covers."""
    return tuple((c.delegator.username, tuple(sorted(r.value for r in rbac.decidable_by(policy, c.delegator))),
                  c.delegation.types) for c in covering(conn, delegate, at))


def delegated_recipients(conn: Conn, policy: Policy, req: WorkflowRequest, awaited: Any, decided: set[str],
                         at: datetime) -> list[str]:
    """The delegates who may decide the stage `req` now awaits for one of its eligible deciders
    (the notification "delegated to you"), each once."""
    out: list[str] = []
    for row in sql.list_open(conn, iso(at)):
        d = of_row(row)
        person = user_sql.get(conn, d.delegator)
        if person is None or not d.covers(req.workflow_type) or d.delegate in out or d.delegate in decided \
                or d.delegate == req.requester:
            continue
        if rbac.eligible_deciders(policy, [person], req, awaited, decided):
            out.append(d.delegate)
    return out


class Delegations:
    """The functions above on one engine (what the CLI holds)."""

    def __init__(self, service: "WorkflowService") -> None:
        self.service = service

    def grant(self, delegator: str, delegate: str, until: str, reason: str, *, types: list[str] | None = None,
              actor: str | None = None) -> Delegation:
        return grant(self.service, delegator, delegate, until, reason, types=types, actor=actor)

    def end(self, delegator: str, reason: str = "", *, actor: str | None = None) -> Delegation:
        return end(self.service, delegator, reason, actor=actor)

    def listing(self, viewer: str, *, everyone: bool = False) -> list[Delegation]:
        return listing(self.service, viewer, everyone=everyone)


# --- the table is a replay of the trail, and delegated decisions are checked against it ------------

@dataclass
class DelegationReplay:
    """The delegations rows the trail's entries make, to compare with the table, and the first
    entry that breaks a rule of delegation: (seq, problem)."""

    rows: dict[str, list[Any]] = field(default_factory=dict)
    problem: tuple[int, str] | None = None

    def _fail(self, seq: int, text: str) -> None:
        if self.problem is None:
            self.problem = (seq, text)

    def step(self, seq: int, rec: dict[str, Any], users: dict[str, list[Any]]) -> None:
        """A delegation_granted / delegation_ended entry; `users`: the replayed directory
        (replay.user_step's rows: ..., active at 3, admin at 4)."""
        d = rec.get("details") if isinstance(rec.get("details"), dict) else {}
        assert isinstance(d, dict)
        did, actor, delegator = d.get("delegation"), rec.get("actor"), d.get("delegator")
        what = f"entry {seq} ({rec.get('action')} by {actor})"
        if actor != delegator:  # an administrator's for someone else, or tampering
            held = users.get(str(actor))
            if held is None or held[3] == 0 or held[4] == 0:
                self._fail(seq, f"{what} delegates {delegator}'s decisions, but {actor} was neither {delegator} nor "
                                f"an active administrator at that point of the trail")
        if not isinstance(did, str):
            self._fail(seq, f"{what} names no delegation")
            return
        if rec.get("action") == GRANTED:
            types = d.get("types")
            self.rows[did] = [delegator, d.get("delegate"), d.get("until"), d.get("ends_at"),
                              ",".join(types) if isinstance(types, list) else None, d.get("reason"), rec.get("ts"),
                              actor, seq, None, None, None, None]
            return
        row = self.rows.get(did)
        if row is None or row[12] is not None:
            self._fail(seq, f"{what} ends delegation {did}, which the trail never granted or already ended")
            return
        row[9:] = [rec.get("ts"), actor, d.get("reason"), seq]

    def claim(self, seq: int, rec: dict[str, Any], workflow_type: Any) -> None:
        """A decision whose details say it was made for someone: did that delegation run, for
        this decider, for this type, at this entry?"""
        d = rec.get("details") if isinstance(rec.get("details"), dict) else {}
        assert isinstance(d, dict)
        if d.get("on_behalf_of") is None:
            return
        actor, wid, row = rec.get("actor"), rec.get("workflow_id"), self.rows.get(str(d.get("delegation")))
        ts = str(rec.get("ts"))
        ran = (row is not None and row[0] == d.get("on_behalf_of") and row[1] == actor
               and (row[12] is None or row[12] > seq) and isinstance(row[3], str) and _before(ts, row[3])
               and (row[4] is None or not isinstance(workflow_type, str) or workflow_type in row[4].split(",")))
        if not ran:
            self._fail(seq, f"entry {seq} ({rec.get('action')} {wid} by {actor}) claims a delegation from "
                            f"{d.get('on_behalf_of')} that did not exist for it at that point of the trail")

    def first_difference(self, conn: Conn) -> tuple[int | None, str] | None:
        if self.problem is not None:
            return self.problem
        table = {row.id: row.values() for row in sql.list_all(conn)}
        for did, expected in sorted(self.rows.items(), key=lambda item: item[1][8]):
            found = table.pop(did, None)
            if found is None:
                return expected[8], f"delegation {did} is in the trail but missing from the table"
            for col, want, got in zip(sql.COLS, expected, found):
                if want != got:
                    return expected[8], (f"delegation {did} {col.replace('_', ' ')} is {_shown(got)} in the table, "
                                         f"{_shown(want)} in the trail")
        if table:
            return None, f"delegation {sorted(table)[0]} is in the table but not in the trail"
        return None


def _before(ts: str, ends_at: str) -> bool:
    try:
        return datetime.fromisoformat(ts) < datetime.fromisoformat(ends_at)
    except ValueError:
        return False


def _shown(value: Any) -> str:
    return "empty" if value is None else repr(value)[:80]


__all__ = ["ACTIONS", "Covering", "Delegation", "DelegationReplay", "Delegations", "ENDED", "GRANTED", "awaiting_for",
           "check_free", "check_grant", "covering", "delegated_recipients", "end", "grant", "listing", "of_row",
           "on_behalf_words", "parse_until"]
