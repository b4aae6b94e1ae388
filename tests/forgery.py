"""Forged entries, as an insider with the database key would append them: correctly hashed and
chained, the head updated to match; only a signature can tell them from the real ones."""

from __future__ import annotations

import json
from typing import Any

from hitl_tui.core.audit import canonical_bytes, chain_hash
from hitl_tui.core.signatures import sign


def forge_entry(conn, *, actor: str, action: str, workflow_id: str | None, details: dict[str, Any],
                signer: Any = None, sig: dict | None = None, database_id: str | None = None) -> int:
    """Append one entry through a raw connection. `signer` (an Ed25519PrivateKey) signs it as
    hitl-tui would; `sig` puts any "sig" member in; neither: unsigned. Returns its seq."""
    size = int(conn.execute("SELECT value FROM meta WHERE key = 'audit_size'").fetchone()[0])
    head = bytes.fromhex(conn.execute("SELECT value FROM meta WHERE key = 'audit_head'").fetchone()[0])
    last = json.loads(bytes(conn.execute("SELECT body FROM audit_log WHERE seq = ?", (size,)).fetchone()[0]))
    rec = {"seq": size + 1, "ts": last["ts"], "actor": actor, "action": action, "workflow_id": workflow_id,
           "details": details, "session_id": last["session_id"], "os_login": last["os_login"], "tty": None,
           "remote_addr": None, "prev_hash": head.hex()}
    if signer is not None:
        db_id = database_id or conn.execute("SELECT value FROM meta WHERE key = 'database_id'").fetchone()[0]
        rec["sig"] = sign(signer, rec, db_id)
    elif sig is not None:
        rec["sig"] = sig
    body = canonical_bytes(rec)
    digest = chain_hash(head, body)
    conn.execute("INSERT INTO audit_log (seq, workflow_id, body, hash) VALUES (?, ?, ?, ?)",
                 (size + 1, workflow_id, body, digest))
    conn.execute("UPDATE meta SET value = ? WHERE key = 'audit_size'", (str(size + 1),))
    conn.execute("UPDATE meta SET value = ? WHERE key = 'audit_head'", (digest.hex(),))
    return size + 1


def approval_details(stage: int = 0, role: str = "manager", decider_role: str = "manager") -> dict[str, Any]:
    return {"decision": "approve", "stage": stage, "stage_role": role, "decider_role": decider_role,
            "comments": "", "revision": 1, "status_before": "awaiting_approval", "status_after": "approved",
            "stage_after": stage, "stages": stage + 1}
