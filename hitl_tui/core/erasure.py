"""Erasing personal data: `hitl-tui erase` (two administrators) and retention rules (the policy).

An erasure destroys data keys (privacy.py): every value sealed under them reads `erased on
DATE` from then on, in the trail's readers and in the tables, while the entries, their hashes,
the Merkle tree, the checkpoints and the signatures stay exactly as they were. It is recorded
like everything else: `erasure_requested` by one administrator, `personal_data_erased` by a
second one, naming the request and the keys (the tombstone); `personal_data_expired` when a
type's `retain_personal` rule runs out. The tables' personal columns are then rewritten from a
replay of the affected requests, so verify-audit finds them in step with the trail.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterator

from . import draws, rbac
from .audit import iso, utc_now
from .decisions import AuditAction
from .errors import PermissionDenied, UnknownUser, UnknownWorkflow, ValidationFailed
from .models import WorkflowStatus
from .privacy import Opener
from .replay import R, UNKNOWN, replay_one, user_step
from .store import notify as notify_sql
from .store import audit_log, meta
from .store import privacy as sql
from .store import requests as req_sql
from .store import users as user_sql
from .store.connection import Conn, DbError
from .text import check_inputs, check_text

if TYPE_CHECKING:
    from .service import WorkflowService

REASON_MAX = 500
FINAL = tuple(s.value for s in WorkflowStatus if s.is_final)
_FLOW = frozenset({AuditAction.ERASURE_REQUESTED, AuditAction.ERASURE_CANCELLED, AuditAction.PERSONAL_DATA_ERASED})


@dataclass(frozen=True)
class ErasureRequest:
    """An erasure one administrator asked for, waiting for a second one."""

    seq: int
    target: str
    requested_by: str
    requested_at: str
    reason: str


@dataclass(frozen=True)
class Erased:
    """What an erasure or a retention run destroyed."""

    seq: int
    target: str
    keys: int
    values: int
    requests: tuple[str, ...]
    erased_on: str


@dataclass(frozen=True)
class DueForRetention:
    workflow_id: str
    workflow_type: str
    retain: str


class Erasure:
    """The service's collaborator for erasure and retention (service.erasure)."""

    def __init__(self, service: "WorkflowService") -> None:
        self.service = service

    # --- two-person erasure --------------------------------------------------------------------

    def request(self, target: str, reason: str, *, actor: str | None = None) -> ErasureRequest:
        """Ask for `target`'s personal data (a username, or a request id WF-...) to be erased."""
        target, reason = _checked(target, reason, 'say why, e.g. "GDPR Art. 17 request of 2026-11-30"')
        with self._as_administrator(actor) as (conn, actor_name):
            keys = self._live_keys(conn, target)
            waiting = pending_in(conn).get(target)
            if waiting is not None:
                raise PermissionDenied(f"An erasure of {target} is already waiting (asked by {waiting.requested_by} "
                                       f"in entry {waiting.seq}); a second administrator confirms it with "
                                       f"`hitl-tui erase {target} --confirm`.")
            if not keys:
                raise PermissionDenied(f"{target} has no personal data left to erase." if sql.ever_sealed(conn, target)
                                       else f"{target} has no sealed personal data: what was recorded before sealing "
                                            f"existed stays in the trail as written and cannot be erased.")
            when = draws.now()
            seq = self.service._audit(conn, actor_name, AuditAction.ERASURE_REQUESTED, None,
                                      {"target": target, "reason": reason}, ts=when)
        return ErasureRequest(seq, target, actor_name, iso(when), reason)

    def cancel(self, target: str, reason: str, *, actor: str | None = None) -> ErasureRequest:
        target, reason = _checked(target, reason, "say why the erasure is not to be carried out")
        with self._as_administrator(actor) as (conn, actor_name):
            waiting = self._waiting(conn, target)
            self.service._audit(conn, actor_name, AuditAction.ERASURE_CANCELLED, None,
                                {"target": target, "request_seq": waiting.seq, "reason": reason})
        return waiting

    @contextmanager
    def _as_administrator(self, actor: str | None) -> Iterator[tuple[Conn, str]]:
        """The service's write transaction, refused unless `actor` is an active administrator."""
        with self.service._write() as conn:
            actor_name, actor_user = self.service._actor(conn, actor)
            rbac.check_erasure(actor_user)
            yield conn, actor_name

    def confirm(self, target: str, *, actor: str | None = None) -> Erased:
        """Carry out the waiting erasure of `target`, as a second administrator."""
        check_inputs(target=target)
        target = str(target).strip()
        svc = self.service
        with self._as_administrator(actor) as (conn, actor_name):
            waiting = self._waiting(conn, target)
            rbac.check_second_person(actor_name, waiting.requested_by)
            keys = self._live_keys(conn, target)
            when = draws.now()
            values = sql.count_boxes(conn, [k for k, _ in keys])
            seq = svc._audit(conn, actor_name, AuditAction.PERSONAL_DATA_ERASED, None, {
                "target": target, "keys": sorted(k for k, _ in keys), "request_seq": waiting.seq,
                "requested_by": waiting.requested_by, "rule": None,
            }, ts=when)
            requests = self._destroy(conn, keys, seq, iso(when), person=None if _is_request(target) else target)
        self._fold_log()
        return Erased(seq, target, len(keys), values, requests, iso(when))

    def pending(self) -> list[ErasureRequest]:
        return list(self.service._read(pending_in).values())

    # --- retention -----------------------------------------------------------------------------

    def due(self, now: datetime | None = None) -> list[DueForRetention]:
        """Requests whose type's retain_personal has run out since they reached a final status."""
        return self.service._read(lambda conn: self._due(conn, now or utc_now()))

    def apply_retention(self, *, actor: str | None = None, now: datetime | None = None) -> list[Erased]:
        """Erase the personal data of every request `due()` lists: one entry per workflow type."""
        svc = self.service
        done: list[Erased] = []
        with self._as_administrator(actor) as (conn, actor_name):
            due = self._due(conn, now or draws.now())
            by_type: dict[str, list[DueForRetention]] = {}
            for item in due:
                by_type.setdefault(item.workflow_type, []).append(item)
            for wtype, items in sorted(by_type.items()):
                ids = [i.workflow_id for i in items]
                keys = sql.live_keys_of_requests(conn, ids)
                when = draws.now()
                values = sql.count_boxes(conn, [k for k, _ in keys])
                seq = svc._audit(conn, actor_name, AuditAction.PERSONAL_DATA_EXPIRED, None, {
                    "keys": sorted(k for k, _ in keys), "workflow_ids": ids,
                    "rule": {"type": wtype, "retain": items[0].retain},
                }, ts=when)
                requests = self._destroy(conn, keys, seq, iso(when), person=None)
                done.append(Erased(seq, wtype, len(keys), values, requests, iso(when)))
        if done:
            self._fold_log()
        return done

    # --- the work ------------------------------------------------------------------------------

    def _fold_log(self) -> None:
        """Fold the write-ahead log into the database at once, so the pages an erasure freed do
        not linger there (secure_delete has overwritten them in the database itself)."""
        svc = self.service
        with svc._lock:
            try:
                sql.fold_log(svc._conn)
            except DbError:
                pass  # a reader holds the log open: SQLite folds it in at its next checkpoint

    def _due(self, conn: Conn, now: datetime) -> list[DueForRetention]:
        policy = self.service._policies.current(conn).policy
        found: list[DueForRetention] = []
        for key, wtype in sorted(policy.types.items()):
            if wtype.retain_personal is None:
                continue
            cutoff = iso(now - wtype.retain_personal)
            found += [DueForRetention(wid, key, wtype.retain_text or "")
                      for wid in sql.expired_requests(conn, key, FINAL, cutoff)]
        return found

    def _live_keys(self, conn: Conn, target: str) -> list[tuple[str, str | None]]:
        if _is_request(target):
            row = req_sql.get_row(conn, target)
            if row is None:
                raise UnknownWorkflow(target)
            if row["status"] not in FINAL:
                raise PermissionDenied(f"{target} is still open; its personal data can be erased once it is approved, "
                                       f"rejected or withdrawn.")
            return sql.live_keys_of_requests(conn, [target])
        user = user_sql.get(conn, target)
        if user is None:
            raise UnknownUser(target, "`hitl-tui users list` shows who is in it; a request is named by its id, WF-...")
        if user.active:
            raise PermissionDenied(f"{target} is still active; deactivate them first (`hitl-tui users deactivate "
                                   f"{target}`): an erasure ends what the desk knows of a person.")
        return sql.live_keys_of_person(conn, target)

    def _waiting(self, conn: Conn, target: str) -> ErasureRequest:
        waiting = pending_in(conn).get(target)
        if waiting is None:
            raise ValidationFailed(f"No erasure of {target} is waiting; an administrator asks for one with "
                                   f"`hitl-tui erase {target} --reason \"...\"`.", "target")
        return waiting

    def _destroy(self, conn: Conn, keys: list[tuple[str, str | None]], seq: int, erased_on: str,
                 person: str | None) -> tuple[str, ...]:
        """Destroy the keys, then rewrite the personal columns from a replay of what they touched."""
        sql.destroy(conn, [k for k, _ in keys], seq, erased_on)
        touched = tuple(sorted({w for _, w in keys if w is not None}))
        for wid in touched:
            _rewrite_request(conn, wid)
        for name in {person} if person else set():
            _rewrite_user(conn, name)
            notify_sql.delete_prefs(conn, name)  # their own address for notifications, too (no entry holds it)
        sql.optimise_search_index(conn)
        return touched


_REQUEST_ID = re.compile(r"WF-\d+-\d+\Z")


def _checked(target: str, reason: str, hint: str) -> tuple[str, str]:
    check_inputs(target=target, reason=reason)
    return str(target).strip(), check_text(reason or "", "reason", REASON_MAX, single_line=True, required=True,
                                           hint=hint)


def _is_request(target: str) -> bool:
    """A request id (WF-<seconds>-<digits>); anything else names a person."""
    return bool(_REQUEST_ID.match(target))


def _rewrite_request(conn: Conn, wid: str) -> None:
    state, approvals = replay_one(conn, wid)
    if state is None:
        return
    known = {col: state[R[col]] for col in sql.PERSONAL_REQUEST_COLS if state[R[col]] is not UNKNOWN}
    sql.rewrite_request(conn, wid, known)
    for (revision, stage, approver), (_, values) in approvals.items():  # a quorum stage: a row per voter
        comments = values[5]
        if isinstance(comments, str):
            sql.rewrite_approval_comment(conn, wid, revision, stage, comments, approver)


def _rewrite_user(conn: Conn, username: str) -> None:
    users: dict[str, list[Any]] = {}
    opener = Opener(conn)
    for seq, body in audit_log.unfiled_entries(conn, int(meta.get(conn, "audit_size") or 0)):
        rec = json.loads(body)
        if not str(rec.get("action", "")).startswith("user_") or (rec.get("details") or {}).get("username") != username:
            continue
        rec["details"] = opener.open_entry(seq, rec.get("details"))
        user_step(users, rec, seq, (rec.get("details") or {}).get("replay") == 1)
    replayed = users.get(username)
    if replayed is None:
        return
    email, display = replayed[1], replayed[2]
    current = user_sql.get(conn, username)
    assert current is not None
    sql.rewrite_user(conn, username, current.email if email is UNKNOWN else email,
                     current.display_name if display is UNKNOWN else display)


def pending_in(conn: Conn) -> dict[str, ErasureRequest]:
    """target -> the erasure waiting for a second administrator, read from the trail itself."""
    waiting: dict[str, ErasureRequest] = {}
    opener = Opener(conn)
    for seq, body in audit_log.unfiled_entries(conn, int(meta.get(conn, "audit_size") or 0)):
        if b'"action":"erasure_' not in body and b'"action":"personal_data_erased"' not in body:
            continue
        rec = json.loads(body)
        action, d = rec.get("action"), rec.get("details") or {}
        if action not in _FLOW:
            continue
        target = str(d.get("target"))
        if action == AuditAction.ERASURE_REQUESTED:
            reason = opener.open_entry(seq, d).get("reason", "")
            waiting[target] = ErasureRequest(seq, target, str(rec.get("actor")), str(rec.get("ts")), str(reason))
        elif target in waiting and d.get("request_seq") == waiting[target].seq:
            del waiting[target]
    return waiting

