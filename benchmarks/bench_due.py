"""The overdue sweep over 1M requests with 20k open (goal: < 50 ms to find what to remind,
escalate or expire), against a full scan of the same rows measured in the same run.

The database comes from bulkdata.py (2% of its requests still await a decision: 20k of 1M). A
copy gets due dates on every open request, a tenth of them already past, through a second
connection (the sweep reads the rows and the index, not the trail), and a policy whose HIGH
requests expire once overdue. Measured: the sweep's own question (store/requests.past_due, as
overdue.sweep asks it before taking any write lock, then the whole batch), next_due (what the
service's clock sleeps until), and the same question with the index not used.

    .venv/bin/python benchmarks/bench_due.py [N_REQUESTS]
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bulkdata  # noqa: E402

from hitl_tui.core.audit import iso  # noqa: E402
from hitl_tui.core.store import requests as req_sql  # noqa: E402
from hitl_tui.core.store.connection import open_connection  # noqa: E402

GOAL_MS = 50.0


def timed(fn, repeat: int = 20) -> float:
    """The median of `repeat` runs, in milliseconds."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs)


def main(argv: list[str]) -> int:
    n = int(argv[1]) if len(argv) > 1 else 1_000_000
    db, keyfile = bulkdata.cached(n)
    key = bulkdata.read_key(keyfile)
    work = Path(tempfile.mkdtemp(prefix="hitl-bench-due-"))
    try:
        copy = work / "hitl.db"
        shutil.copyfile(db, copy)
        conn = open_connection(copy, key)
        from hitl_tui.core.store import migrations

        migrations.migrate(conn)
        now = datetime.now(timezone.utc)
        rows = conn.execute("SELECT rowid FROM requests WHERE status = 'awaiting_approval'").fetchall()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("UPDATE requests SET due_at = ? WHERE rowid = ?", [
            (iso(now + timedelta(hours=(-1 if i % 10 == 0 else 1 + i % 48))), r[0]) for i, r in enumerate(rows)])
        conn.execute("COMMIT")
        total = conn.execute("SELECT count(*) FROM requests").fetchone()[0]
        kinds = sorted({(t, "HIGH") for (t,) in conn.execute("SELECT DISTINCT workflow_type FROM requests")})
        at = iso(now)
        overdue = len(req_sql.past_due(conn, at, kinds, 1_000_000))
        ask = timed(lambda: req_sql.past_due(conn, at, kinds, 1))          # "anything to do?"
        batch = timed(lambda: req_sql.past_due(conn, at, kinds))           # the batch the sweep takes
        nxt = timed(lambda: req_sql.next_due(conn))
        pairs = ", ".join("(?, ?)" for _ in kinds)
        scan_sql = ("SELECT id FROM requests NOT INDEXED WHERE due_at IS NOT NULL AND due_at <= ? AND status = "
                    f"'awaiting_approval' AND escalated_to IS NULL AND (workflow_type, risk_level) IN (VALUES {pairs}) ORDER BY due_at, id "
                    "LIMIT 500")
        args = (at, *(v for p in kinds for v in p))
        scan = timed(lambda: conn.execute(scan_sql, args).fetchall(), repeat=3)
        plan = " / ".join(r[-1] for r in conn.execute("EXPLAIN QUERY PLAN SELECT id FROM requests WHERE due_at IS "
                                                       "NOT NULL AND due_at <= ? AND status = 'awaiting_approval'",
                                                       (at,)))
        conn.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"requests: {total:,}, open with a due date: {len(rows):,}, overdue HIGH (expire): {overdue:,}")
    print(f"plan: {plan}")
    print(f"sweep question (anything due?): {ask:.3f} ms   batch of 500: {batch:.3f} ms   next_due: {nxt:.3f} ms")
    print(f"full scan of the same question: {scan:.1f} ms")
    print(f"ratio batch / full scan: {batch / scan:.4f}x   batch / goal ({GOAL_MS:g} ms): {batch / GOAL_MS:.3f}x "
          f"({'met' if batch < GOAL_MS else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
