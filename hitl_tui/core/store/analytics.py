"""SQL for the analytics figures (core/analytics.py): the requests a person may see that the
period touches, and how many of those wait for each approver.

Visibility is the inbox's own rule ("all I may see", requests._view_clause), so a figure never
counts a request its reader could not open; what waits for an approver is the "awaiting me"
clause of that approver, within the reader's sight. Both with `parallel`: the wider form, which
also reads a parallel stage's other roles (the inbox turns it on only when one exists, to keep its
indexes; these counts use none of them).
"""

from __future__ import annotations

from typing import Any

from ..models import InboxView, Role
from .connection import Conn
from .requests import _view_clause

ROW_COLS = ("id", "workflow_type", "risk_level", "status", "created_at", "updated_at", "due_at",
            "current_role", "current_stage", "revision", "awaited")


DECISION_COLS = ("workflow_id", "revision", "stage", "role", "approver", "decision", "decided_at")


def _touched(viewer: str, decidable: frozenset[Role], oversight: bool, since: str) -> tuple[str, list[Any]]:
    """The requests `viewer` may see that were filed or changed since `since`, or are still
    open (what waits now counts, however old)."""
    where, args = _view_clause(InboxView.VISIBLE, viewer, decidable, oversight, parallel=True)
    return (f"{where} AND (r.created_at >= ? OR r.updated_at >= ? OR r.status IN ('awaiting_approval', "
            f"'changes_requested'))", [*args, since, since])


def period_rows(conn: Conn, viewer: str, decidable: frozenset[Role], oversight: bool,
                since: str) -> list[dict[str, Any]]:
    where, args = _touched(viewer, decidable, oversight, since)
    cols = ", ".join(f"r.{c}" for c in ROW_COLS)
    cur = conn.execute(f"SELECT {cols} FROM requests r WHERE {where} ORDER BY r.created_at, r.rowid", args)
    return [dict(zip(ROW_COLS, row)) for row in cur.fetchall()]


def period_decisions(conn: Conn, viewer: str, decidable: frozenset[Role], oversight: bool,
                     since: str) -> list[tuple[Any, ...]]:
    """Every stage decision on the requests of period_rows, as plain tuples (DECISION_COLS) in the
    order they were made: a year of a large desk is some 100,000 of them, too many for models."""
    where, args = _touched(viewer, decidable, oversight, since)
    cols = ", ".join(f"a.{c}" for c in DECISION_COLS)
    return conn.execute(f"SELECT {cols} FROM approvals a JOIN requests r ON r.id = a.workflow_id WHERE {where} "
                        f"ORDER BY a.id", args).fetchall()


def waiting_for(conn: Conn, viewer: str, decidable: frozenset[Role], oversight: bool,
                approver: str, approver_roles: frozenset[Role], segregated_owner: bool) -> int:
    """How many requests `viewer` may see wait for `approver` now (their Awaiting me)."""
    if not approver_roles:
        return 0
    mine, mine_args = _view_clause(InboxView.AWAITING_ME, approver, approver_roles, False,
                                   segregated_owner=segregated_owner, escalated=True, parallel=True)
    seen, seen_args = _view_clause(InboxView.VISIBLE, viewer, decidable, oversight, parallel=True)
    row = conn.execute(f"SELECT count(*) FROM requests r WHERE r.status = 'awaiting_approval' AND ({mine}) "
                       f"AND {seen}", (*mine_args, *seen_args)).fetchone()
    return int(row[0])
