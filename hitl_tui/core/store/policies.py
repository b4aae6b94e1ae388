"""SQL for the stored policy versions (migration 4): append-only, the newest version in force."""

from __future__ import annotations

from typing import NamedTuple
from .connection import Conn

_COLS = "version, body, sha256, applied_by, applied_at, source, audit_seq"


class PolicyRow(NamedTuple):
    version: int
    body: str
    sha256: str
    applied_by: str
    applied_at: str
    source: str
    audit_seq: int


def newest(conn: Conn) -> tuple[int, str | None]:
    """(version, sha256) of the newest version; (0, None) when none was ever applied. Cheap: the
    primary key's last entry."""
    row = conn.execute("SELECT version, sha256 FROM policies ORDER BY version DESC LIMIT 1").fetchone()
    return (row[0], row[1]) if row else (0, None)


def get(conn: Conn, version: int) -> PolicyRow | None:
    row = conn.execute(f"SELECT {_COLS} FROM policies WHERE version = ?", (version,)).fetchone()
    return PolicyRow(*row) if row else None


def insert(conn: Conn, row: PolicyRow) -> None:
    conn.execute(f"INSERT INTO policies ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)", tuple(row))


def audit_body(conn: Conn, seq: int) -> bytes | None:
    """The canonical bytes of the audit entry that recorded a version, to check them against."""
    row = conn.execute("SELECT body FROM audit_log WHERE seq = ?", (seq,)).fetchone()
    return bytes(row[0]) if row else None
