"""SQL of the delegations table (migration 18, core/delegation.py). Only this module names it.
Every timestamp is audit.iso() text (UTC), so text order is time order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .connection import Conn

#: the columns after `id`, in the order DelegationRow and the replay (core/delegation.py) keep them
COLS = ("delegator", "delegate", "until", "ends_at", "types", "reason", "granted_at", "granted_by", "granted_seq",
        "ended_at", "ended_by", "end_reason", "ended_seq")
_SELECT = f"SELECT id, {', '.join(COLS)} FROM delegations"


@dataclass(frozen=True)
class DelegationRow:
    id: str
    delegator: str
    delegate: str
    until: str
    ends_at: str
    types: str | None
    reason: str
    granted_at: str
    granted_by: str
    granted_seq: int
    ended_at: str | None = None
    ended_by: str | None = None
    end_reason: str | None = None
    ended_seq: int | None = None

    def values(self) -> tuple[Any, ...]:
        """The columns after `id`, in COLS order."""
        return tuple(getattr(self, c) for c in COLS)


def insert(conn: Conn, row: DelegationRow) -> None:
    conn.execute(f"INSERT INTO delegations (id, {', '.join(COLS)}) VALUES ({', '.join('?' * (len(COLS) + 1))})",
                 (row.id, *row.values()))


def end(conn: Conn, delegation_id: str, at: str, by: str, reason: str, seq: int) -> None:
    conn.execute("UPDATE delegations SET ended_at = ?, ended_by = ?, end_reason = ?, ended_seq = ? "
                 "WHERE id = ? AND ended_seq IS NULL", (at, by, reason, seq, delegation_id))


def open_from(conn: Conn, delegator: str, now: str) -> DelegationRow | None:
    """The delegation `delegator` has running at `now` (one at most: core/delegation.py)."""
    row = conn.execute(f"{_SELECT} WHERE delegator = ? AND ended_seq IS NULL AND ends_at > ? "
                       "ORDER BY granted_seq DESC LIMIT 1", (delegator, now)).fetchone()
    return DelegationRow(*row) if row else None


def open_to(conn: Conn, delegate: str, now: str) -> list[DelegationRow]:
    """The delegations running at `now` whose delegate is `delegate`, oldest first."""
    return [DelegationRow(*r) for r in conn.execute(
        f"{_SELECT} WHERE delegate = ? AND ended_seq IS NULL AND ends_at > ? ORDER BY granted_seq", (delegate, now))]


def list_open(conn: Conn, now: str) -> list[DelegationRow]:
    """Every delegation running at `now` (a handful: people away), oldest first."""
    return [DelegationRow(*r) for r in conn.execute(
        f"{_SELECT} WHERE ended_seq IS NULL AND ends_at > ? ORDER BY granted_seq", (now,))]


def get(conn: Conn, delegation_id: str) -> DelegationRow | None:
    row = conn.execute(f"{_SELECT} WHERE id = ?", (delegation_id,)).fetchone()
    return DelegationRow(*row) if row else None


def concerning(conn: Conn, username: str) -> list[DelegationRow]:
    """Every delegation `username` gave or holds, newest first."""
    return [DelegationRow(*r) for r in conn.execute(
        f"{_SELECT} WHERE delegator = ? OR delegate = ? ORDER BY granted_seq DESC", (username, username))]


def list_all(conn: Conn) -> list[DelegationRow]:
    """Every delegation, oldest first."""
    return [DelegationRow(*r) for r in conn.execute(f"{_SELECT} ORDER BY granted_seq")]
