"""The meta table: database id, creation time and the audit head the database expects."""

from __future__ import annotations
from .connection import Conn


def get(conn: Conn, key: str, default: str | None = None) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else default


def put(conn: Conn, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def audit_head(conn: Conn) -> tuple[int, bytes]:
    """(size, head hash) as recorded beside the chain; (0, zeros) for a new database."""
    rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('audit_size', 'audit_head')").fetchall())
    size = int(rows.get("audit_size", 0))
    head = bytes.fromhex(rows.get("audit_head", "00" * 32))
    return size, head


def set_audit_head(conn: Conn, size: int, head: bytes) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('audit_size', ?), ('audit_head', ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (str(size), head.hex()),
    )


def signing_keys(conn: Conn) -> set[str]:
    """The checkpoint signing keys this database has registered (meta 'signing_key:<hex>')."""
    return {str(k).split(":", 1)[1] for (k,) in conn.execute("SELECT key FROM meta WHERE key LIKE 'signing_key:%'")}
