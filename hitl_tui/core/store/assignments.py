"""SQL of the assignments table (migration 18, core/assignment.py). Only this module names it."""

from __future__ import annotations

from typing import Any

from .connection import Conn

#: the columns, in the order the replay (core/assignment.py) keeps them
COLS = ("seq", "workflow_id", "revision", "stage", "assignee", "reason", "assigned_at", "assigned_by")


def insert(conn: Conn, row: tuple[Any, ...]) -> None:
    conn.execute(f"INSERT INTO assignments ({', '.join(COLS)}) VALUES ({', '.join('?' * len(COLS))})", row)


def current(conn: Conn, workflow_id: str, revision: int, stage: int) -> tuple[Any, ...] | None:
    """The newest row of this stage (its assignee NULL once cleared), or None: never assigned."""
    row = conn.execute(f"SELECT {', '.join(COLS)} FROM assignments WHERE workflow_id = ? AND revision = ? AND "
                       "stage = ? ORDER BY seq DESC LIMIT 1", (workflow_id, revision, stage)).fetchone()
    return None if row is None else tuple(row)


def has_any(conn: Conn, assignee: str) -> bool:
    """Was `assignee` ever named (Awaiting me then sorts what is assigned to them first)?"""
    return conn.execute("SELECT 1 FROM assignments WHERE assignee = ? LIMIT 1", (assignee,)).fetchone() is not None


#: an ORDER BY term for requests r: 1 when r's current stage is assigned to the bound user now
ASSIGNED_FIRST = ("(SELECT a.assignee = ? FROM assignments a WHERE a.workflow_id = r.id AND a.revision = r.revision "
                  "AND a.stage = r.current_stage ORDER BY a.seq DESC LIMIT 1) IS 1 DESC")


def list_all(conn: Conn) -> list[tuple[Any, ...]]:
    return list(conn.execute(f"SELECT {', '.join(COLS)} FROM assignments ORDER BY seq"))
