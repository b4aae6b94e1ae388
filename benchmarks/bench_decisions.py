"""Decisions per second through the engine, as a ratio to the same writes done as bare SQL.

Each engine action is one transaction with its checks, state change and audit append:
create_workflow_request + approve_workflow. The baselines write the same rows (request insert,
audit insert, head update; then request update, approval insert, audit insert, head update) with
pre-computed values and no checks, one transaction per action, measured in the same run:
  * through sqlcipher3 with the same key and pragmas (the encrypted floor; goal >= 0.5 of it)
  * through stdlib sqlite3 without encryption (reported; bare SQLCipher reaches ~0.5 of it)

    .venv/bin/python benchmarks/bench_decisions.py [N]
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hitl_tui.core.service import WorkflowService  # noqa: E402
from hitl_tui.core.store import migrations  # noqa: E402
from hitl_tui.core.store.connection import open_connection  # noqa: E402

BODY = b'{"action":"approved","actor":"sarah.manager","details":{"comments":"ok","decision":"approve"}}' * 3
HASH = os.urandom(32)


def engine(tmp: Path, n: int) -> float:
    svc = WorkflowService.open(tmp / "engine.db", key=os.urandom(32))
    svc.add_user("john.doe", "employee")
    svc.add_user("sarah.manager", "manager")
    t0 = time.perf_counter()
    for i in range(n):
        wid = svc.create_workflow_request("expense_approval", f"Item {i}", "bench", "john.doe",
                                          {"amount": "500", "category": "software"})
        svc.approve_workflow(wid, "sarah.manager", "ok")
    elapsed = time.perf_counter() - t0
    assert svc.verify_audit().ok
    svc.close(checkpoint=False)
    return 2 * n / elapsed


def bare(conn, n: int) -> float:
    """The same rows, no checks: what the disk and the cipher cost by themselves."""
    q = conn.execute
    t0 = time.perf_counter()
    seq = 0
    for i in range(n):
        wid, now = f"WF-1700000000-{i:06d}", "2026-11-26T10:00:00.000000+00:00"
        q("BEGIN IMMEDIATE")
        q("INSERT INTO requests (id, workflow_type, title, description, requester, data, risk_level, risk_rank, "
          "risk_field, risk_reason, headline, chain, current_stage, current_role, status, revision, created_at, "
          "updated_at) VALUES (?, 'expense_approval', ?, 'bench', 'john.doe', '{\"amount\":\"500.00\"}', 'LOW', 0, "
          "'amount', 'amount 500.00 < 1,000', '500.00', ',manager,', 0, 'manager', 'awaiting_approval', 1, ?, ?)",
          (wid, f"Item {i}", now, now))
        seq += 1
        q("INSERT INTO audit_log (seq, workflow_id, body, hash) VALUES (?, ?, ?, ?)", (seq, wid, BODY, HASH))
        q("UPDATE meta SET value = ? WHERE key = 'audit_size'", (str(seq),))
        q("COMMIT")
        q("BEGIN IMMEDIATE")
        q("UPDATE requests SET status = 'approved', current_stage = 1, current_role = NULL, updated_at = ? "
          "WHERE id = ?", (now, wid))
        q("INSERT INTO approvals (workflow_id, revision, stage, role, approver, approver_role, decision, "
          "decided_at, comments) VALUES (?, 1, 0, 'manager', 'sarah.manager', 'manager', 'approve', ?, 'ok')",
          (wid, now))
        seq += 1
        q("INSERT INTO audit_log (seq, workflow_id, body, hash) VALUES (?, ?, ?, ?)", (seq, wid, BODY, HASH))
        q("UPDATE meta SET value = ? WHERE key = 'audit_size'", (str(seq),))
        q("COMMIT")
    return 2 * n / (time.perf_counter() - t0)


def prepared(conn):
    migrations.migrate(conn)
    conn.execute("INSERT INTO meta (key, value) VALUES ('audit_size', '0')")
    return conn


def sqlcipher_floor(tmp: Path, n: int) -> float:
    conn = prepared(open_connection(tmp / "floor.db", os.urandom(32), create=True))
    try:
        return bare(conn, n)
    finally:
        conn.close()


def stdlib_plain(tmp: Path, n: int) -> float:
    conn = sqlite3.connect(tmp / "plain.db", isolation_level=None)
    for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "temp_store = MEMORY", "foreign_keys = ON"):
        conn.execute(f"PRAGMA {pragma}")
    try:
        return bare(prepared(conn), n)
    finally:
        conn.close()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    runs = {"engine": [], "sqlcipher": [], "sqlite3": []}
    for _ in range(3):  # interleaved, so machine noise hits all three alike
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            os.environ.setdefault("XDG_DATA_HOME", str(tmp / "data"))
            runs["engine"].append(engine(tmp, n))
            runs["sqlcipher"].append(sqlcipher_floor(tmp, n))
            runs["sqlite3"].append(stdlib_plain(tmp, n))
    med = {k: statistics.median(v) for k, v in runs.items()}
    print(f"actions per second (median of 3 runs of {2 * n:,} actions, one transaction each):")
    for k, v in med.items():
        print(f"  {k:10s} {v:10,.0f}/s")
    print(f"engine / bare SQLCipher (same key and pragmas): {med['engine'] / med['sqlcipher']:.2f}  (goal >= 0.5)")
    print(f"engine / bare stdlib sqlite3, unencrypted:      {med['engine'] / med['sqlite3']:.2f}")
    print(f"bare SQLCipher / bare stdlib sqlite3:           {med['sqlcipher'] / med['sqlite3']:.2f}")


if __name__ == "__main__":
    main()
