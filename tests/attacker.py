"""What someone holding the database key can do to the audit log, through their own connection:
the tampering the tests must see caught."""

from __future__ import annotations

import json

from hitl_tui.core.audit import GENESIS, canonical_bytes, chain_hash
from hitl_tui.core.store import merkle_nodes


def drop_audit_triggers(conn) -> None:
    """The append-only triggers stop honest mistakes, not someone with the key."""
    for name in ("audit_log_no_update", "audit_log_no_delete", "checkpoints_no_update", "checkpoints_no_delete"):
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")


def rewrite_whole_chain(conn, old: bytes, new: bytes, *, drop_checkpoints: bool = True) -> None:
    """Change every entry's bytes `old` -> `new`, re-hash the whole chain and fix the recorded
    head: a consistent new history, which every check inside the database accepts. Only a
    signed checkpoint (stored, unless dropped here, or kept elsewhere) can expose it."""
    drop_audit_triggers(conn)
    if drop_checkpoints:
        conn.execute("DELETE FROM checkpoints")
    prev = GENESIS
    for seq, body in conn.execute("SELECT seq, body FROM audit_log ORDER BY seq").fetchall():
        rec = json.loads(bytes(body).replace(old, new))
        rec["prev_hash"] = prev.hex()
        data = canonical_bytes(rec)
        prev = chain_hash(prev, data)
        conn.execute("UPDATE audit_log SET body = ?, hash = ? WHERE seq = ?", (data, prev, seq))
    conn.execute("UPDATE meta SET value = ? WHERE key = 'audit_head'", (prev.hex(),))
    merkle_nodes.backfill(conn)  # the tree is an index anyone with the key can rebuild too


def raw_connection(db, key: bytes):
    """A connection of one's own with the database key, no triggers honoured beyond SQL's."""
    import sqlcipher3

    conn = sqlcipher3.connect(str(db), isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    return conn


def append_entry(conn, actor: str, action: str, workflow_id: str | None, details: dict, *,
                 sig: dict | None = None, ts=None) -> int:
    """A correctly chained entry appended by hand, with the recorded head moved to it: what an
    insider forging a decision writes. Returns its seq."""
    from hitl_tui.core.audit import AuditContext, build_record, iso, utc_now

    seq, last = conn.execute("SELECT seq, CAST(hash AS BLOB) FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = seq + 1, bytes(last)
    record = build_record(seq, prev, ts or utc_now(), actor, action, workflow_id, details,
                          AuditContext("forged", actor, None, None))
    if sig is not None:
        record["sig"] = sig
    body = canonical_bytes(record)
    digest = chain_hash(prev, body)
    conn.execute("INSERT INTO audit_log (seq, workflow_id, body, hash) VALUES (?, ?, ?, ?)",
                 (seq, workflow_id, body, digest))
    conn.execute("UPDATE meta SET value = ? WHERE key = 'audit_head'", (digest.hex(),))
    conn.execute("UPDATE meta SET value = ? WHERE key = 'audit_size'", (str(seq),))
    return seq
