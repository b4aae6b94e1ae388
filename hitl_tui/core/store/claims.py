"""SQL for claims (core/claims.py): who said "I am looking at this" about a request's stage."""

from __future__ import annotations

from typing import Any

from .connection import Conn

COLS = ("workflow_id", "username", "role", "revision", "stage", "claimed_at", "expires_at")


def live(conn: Conn, ids: list[str], now: str) -> list[dict[str, Any]]:
    """The claims on `ids` that still hold at `now`: not expired, and made on the revision and
    stage the request still waits at (a decision, a withdrawal or a resubmission ends them)."""
    out: list[dict[str, Any]] = []
    cols = ", ".join(f"c.{c}" for c in COLS)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        rows = conn.execute(
            f"SELECT {cols} FROM claims c JOIN requests r ON r.id = c.workflow_id AND r.revision = c.revision "
            f"AND r.current_stage = c.stage AND r.status = 'awaiting_approval' "
            f"WHERE c.expires_at > ? AND c.workflow_id IN ({','.join('?' * len(chunk))})", (now, *chunk))
        out.extend(dict(zip(COLS, row)) for row in rows)
    return out


def put(conn: Conn, row: dict[str, Any], now: str) -> None:
    """Make (or renew) the claim, dropping every expired one on the way."""
    conn.execute("DELETE FROM claims WHERE expires_at <= ?", (now,))
    conn.execute(f"INSERT OR REPLACE INTO claims ({', '.join(COLS)}) VALUES ({', '.join('?' * len(COLS))})",
                 tuple(row[c] for c in COLS))


def drop(conn: Conn, workflow_id: str) -> None:
    conn.execute("DELETE FROM claims WHERE workflow_id = ?", (workflow_id,))
