"""What someone holding the database key can do to the audit log, through their own connection:
the tampering the tests must see caught."""

from __future__ import annotations

import json

from hitl_tui.core.audit import GENESIS, canonical_bytes, chain_hash


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
