"""SQL for the append-only audit table. Only this module writes it."""

from __future__ import annotations

import json
from typing import Iterator

from ..errors import AuditChainBroken
from . import merkle_nodes, meta
from .connection import Conn

BATCH = 20_000
#: a row of the checkpoints table: (size, head_hash, created_at, public_key, signature, note)
CheckpointRow = tuple[int, str, str, str, str, str | None]


def append(conn: Conn, seq: int, workflow_id: str | None, body: bytes, digest: bytes) -> None:
    """Entry `seq`, the head beside the chain, and the Merkle tree nodes it completes (about
    one row per eight entries), all in the caller's transaction."""
    conn.execute(
        "INSERT INTO audit_log (seq, workflow_id, body, hash) VALUES (?, ?, ?, ?)",
        (seq, workflow_id, body, digest),
    )
    meta.set_audit_head(conn, seq, digest)
    merkle_nodes.on_append(conn, seq, body, digest, merkle_nodes.prev_hash_of(body))


def checked_head(conn: Conn) -> tuple[int, bytes]:
    """The head to append after, refusing to extend a chain whose tail disagrees with the head
    recorded beside it (truncated or extended behind our back): new entries would vouch for it."""
    # one round trip: this runs in every write transaction
    row = conn.execute(
        "SELECT (SELECT value FROM meta WHERE key = 'audit_size'), (SELECT value FROM meta WHERE key = 'audit_head'), "
        "l.seq, CAST(l.hash AS BLOB) FROM (SELECT 1) LEFT JOIN (SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1) l"
    ).fetchone()
    size = int(row[0] or 0)
    head = bytes.fromhex(row[1]) if row[1] else bytes(32)
    last_seq, last_hash = (row[2], bytes(row[3])) if row[2] is not None else (0, bytes(32))
    if last_seq != size or last_hash != head:
        raise AuditChainBroken(
            f"The audit log does not end where the database says it should (entry {size} expected, "
            f"{last_seq} found); nothing was written. Run `hitl-tui verify-audit` and tell your auditor."
        )
    return size, head


def iter_rows(conn: Conn, start: int = 1,
              stop: int | None = None) -> Iterator[list[tuple[int, bytes, bytes, str | None]]]:
    """Batches of (seq, body, hash, workflow_id) in sequence order, so a million entries never
    sit in memory."""
    last = start - 1
    while True:
        if stop is not None and last >= stop:
            return
        upper = "" if stop is None else f" AND seq <= {int(stop)}"
        rows = conn.execute(
            f"SELECT seq, CAST(body AS BLOB), CAST(hash AS BLOB), workflow_id FROM audit_log WHERE seq > ?{upper} ORDER BY seq LIMIT ?",
            (last, BATCH),
        ).fetchall()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def iter_rows_filtered(conn: Conn, *, start: int = 1, stop: int | None = None, since: str | None = None,
                       until: str | None = None, workflow_ids: tuple[str, ...] = (), actors: tuple[str, ...] = (),
                       workflow_types: tuple[str, ...] = (), batch: int = BATCH) -> Iterator[list[tuple[int, bytes, bytes]]]:
    """Like iter_rows, restricted to the export filters (all optional, combined with AND):
    `since` <= ts < `until` (ISO text in the stored format), the entry's workflow id, its actor, or
    its request's workflow type. Workflow filters use the index column (verify_audit checks it
    against the hashed bytes); time and actor are read from the hashed bytes themselves."""
    clauses: list[str] = []
    args: list[int | str] = []
    if stop is not None:
        clauses.append("seq <= ?")
        args.append(int(stop))
    if workflow_ids:
        clauses.append(f"workflow_id IN ({','.join('?' * len(workflow_ids))})")
        args.extend(workflow_ids)
    if workflow_types:
        clauses.append(f"workflow_id IN (SELECT id FROM requests WHERE workflow_type IN "
                       f"({','.join('?' * len(workflow_types))}))")
        args.extend(workflow_types)
    extra = "".join(f" AND {c}" for c in clauses)
    wanted_actors = set(actors)
    last = start - 1
    while True:
        rows = conn.execute(
            f"SELECT seq, CAST(body AS BLOB), CAST(hash AS BLOB) FROM audit_log WHERE seq > ?{extra} ORDER BY seq LIMIT ?", (last, *args, batch)
        ).fetchall()
        if not rows:
            return
        last = rows[-1][0]
        if since is not None or until is not None or wanted_actors:
            rows = [r for r in rows if _body_matches(r[1], since, until, wanted_actors)]
        if rows:
            yield rows


def _body_matches(body: bytes, since: str | None, until: str | None, actors: set[str]) -> bool:
    try:
        rec = json.loads(body)
        ts = str(rec.get("ts", ""))
    except (ValueError, TypeError, AttributeError):
        return True  # an overwritten entry cannot be placed in time: keep it, so the damage shows
    return ((since is None or ts >= since) and (until is None or ts < until)
            and (not actors or rec.get("actor") in actors))


def rows_for_workflow(conn: Conn, workflow_id: str) -> list[tuple[int, bytes, bytes]]:
    return conn.execute(
        "SELECT seq, CAST(body AS BLOB), CAST(hash AS BLOB) FROM audit_log WHERE workflow_id = ? ORDER BY seq", (workflow_id,)
    ).fetchall()



def insert_checkpoint(conn: Conn, size: int, head_hash: str, created_at: str, public_key: str, signature: str,
                      note: str | None = None, edge: str | None = None) -> None:
    conn.execute(
        "INSERT INTO checkpoints (size, head_hash, created_at, public_key, signature, note, edge) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (size, head_hash, created_at, public_key, signature, note, edge),
    )


def checkpoints(conn: Conn) -> list[CheckpointRow]:
    """(size, head_hash, created_at, public_key, signature, note) in the order they were signed;
    note is the C2SP signed note (None for the older format)."""
    return conn.execute(
        "SELECT size, head_hash, created_at, public_key, signature, note FROM checkpoints ORDER BY id"
    ).fetchall()


def last_checkpoint_size(conn: Conn) -> int:
    row = conn.execute("SELECT max(size) FROM checkpoints").fetchone()
    return row[0] or 0


# --- single entries and signed checkpoints, for proofs and sealing (issue 10: the SQL lives here) --

def hashes_at(conn: Conn, seqs: tuple[int, ...]) -> dict[int, bytes]:
    """The stored chain hashes of the entries `seqs` (those that exist)."""
    if not seqs:
        return {}
    marks = ",".join("?" * len(seqs))
    return {seq: bytes(h) for seq, h in conn.execute(
        f"SELECT seq, CAST(hash AS BLOB) FROM audit_log WHERE seq IN ({marks})", seqs).fetchall()}


def unfiled_entries(conn: Conn, upto: int) -> list[tuple[int, bytes]]:
    """(seq, canonical bytes) of the entries up to `upto` filed under no request (the directory,
    policy and key entries), from the audit_unfiled index (migration 11)."""
    return [(seq, bytes(body)) for seq, body in conn.execute(
        "SELECT seq, CAST(body AS BLOB) FROM audit_log INDEXED BY audit_unfiled "
        "WHERE workflow_id IS NULL AND seq <= ? ORDER BY seq", (upto,)).fetchall()]


def entry_at(conn: Conn, seq: int) -> tuple[bytes, str | None] | None:
    """(canonical bytes, workflow id) of entry `seq`, or None when there is no such entry."""
    row = conn.execute("SELECT CAST(body AS BLOB), workflow_id FROM audit_log WHERE seq = ?", (seq,)).fetchone()
    return None if row is None else (bytes(row[0]), row[1])


def signed_checkpoints(conn: Conn, public_key: str) -> list[tuple[int, str, str, str, str, str, str | None]]:
    """(size, head_hash, created_at, public_key, signature, note, edge) of the signed-note
    checkpoints made with `public_key`, newest first."""
    return conn.execute(
        "SELECT size, head_hash, created_at, public_key, signature, note, edge FROM checkpoints "
        "WHERE public_key = ? AND note IS NOT NULL ORDER BY id DESC", (public_key,)).fetchall()
