"""SQL for the append-only audit table. Only this module writes it."""

from __future__ import annotations

from typing import Iterator

from ..errors import AuditChainBroken
from . import meta

BATCH = 20_000


def append(conn, seq: int, ts: str, actor: str, action: str, workflow_id: str | None,
           body: bytes, digest: bytes) -> None:
    conn.execute(
        "INSERT INTO audit_log (seq, ts, actor, action, workflow_id, body, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (seq, ts, actor, action, workflow_id, body, digest),
    )
    meta.set_audit_head(conn, seq, digest)


def checked_head(conn) -> tuple[int, bytes]:
    """The head to append after, refusing to extend a chain whose tail disagrees with the head
    recorded beside it (truncated or extended behind our back): new entries would vouch for it."""
    size, head = meta.audit_head(conn)
    last = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    last_seq, last_hash = (last[0], bytes(last[1])) if last else (0, bytes(32))
    if last_seq != size or last_hash != head:
        raise AuditChainBroken(
            f"The audit log does not end where the database says it should (entry {size} expected, "
            f"{last_seq} found); nothing was written. Run `hitl-tui verify-audit` and tell your auditor."
        )
    return size, head


def iter_rows(conn, start: int = 1, stop: int | None = None) -> Iterator[list[tuple[int, bytes, bytes]]]:
    """Batches of (seq, body, hash) in sequence order, so a million entries never sit in memory."""
    last = start - 1
    while True:
        if stop is not None and last >= stop:
            return
        upper = "" if stop is None else f" AND seq <= {int(stop)}"
        rows = conn.execute(
            f"SELECT seq, body, hash FROM audit_log WHERE seq > ?{upper} ORDER BY seq LIMIT ?", (last, BATCH)
        ).fetchall()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def rows_for_workflow(conn, workflow_id: str) -> list[tuple[int, bytes, bytes]]:
    return conn.execute(
        "SELECT seq, body, hash FROM audit_log WHERE workflow_id = ? ORDER BY seq", (workflow_id,)
    ).fetchall()


def first_index_mismatch(conn) -> int | None:
    """The first entry whose index columns disagree with its hashed bytes (someone edited the
    columns to hide an entry from a request's timeline). Runs in SQLite's JSON code, not Python."""
    # body is a BLOB (the exact bytes hashed); SQLite would read a BLOB as JSONB, so cast it
    row = conn.execute(
        "SELECT seq FROM (SELECT seq, ts, actor, action, workflow_id, CAST(body AS TEXT) AS b FROM audit_log) "
        "WHERE json_valid(b) = 0 "
        "OR json_extract(b, '$.seq') IS NOT seq "
        "OR json_extract(b, '$.actor') IS NOT actor "
        "OR json_extract(b, '$.action') IS NOT action "
        "OR json_extract(b, '$.ts') IS NOT ts "
        "OR json_extract(b, '$.workflow_id') IS NOT workflow_id "
        "ORDER BY seq LIMIT 1"
    ).fetchone()
    return row[0] if row else None


def count(conn) -> int:
    return conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]


def insert_checkpoint(conn, size: int, head_hash: str, created_at: str, public_key: str, signature: str) -> None:
    conn.execute(
        "INSERT INTO checkpoints (size, head_hash, created_at, public_key, signature) VALUES (?, ?, ?, ?, ?)",
        (size, head_hash, created_at, public_key, signature),
    )


def checkpoints(conn) -> list[tuple[int, str, str, str, str]]:
    return conn.execute(
        "SELECT size, head_hash, created_at, public_key, signature FROM checkpoints ORDER BY id"
    ).fetchall()


def last_checkpoint_size(conn) -> int:
    row = conn.execute("SELECT max(size) FROM checkpoints").fetchone()
    return row[0] or 0
