"""Audit verification speed: entries per second over a chain of ~1M entries, as a ratio to bare
hashlib over the same bytes (the bodies already in memory, chained the same way). Goal >= 0.5.

The engine's figure includes everything verify_audit() does: decrypting and reading every row
from its own snapshot, re-hashing, the head and index-column checks, and signed checkpoints.

    .venv/bin/python benchmarks/bench_verify.py [N_REQUESTS]   # default: ~1M entries (~3 per request)

The database comes from bulkdata.py: by default the same one bench_export_memory.py uses.
"""

from __future__ import annotations

import hashlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bulkdata  # noqa: E402

from hitl_tui.core.audit import GENESIS  # noqa: E402
from hitl_tui.core.service import WorkflowService  # noqa: E402
from hitl_tui.core.store import audit_log  # noqa: E402


def bare_hashlib(bodies: list[bytes]) -> float:
    sha, prev = hashlib.sha256, GENESIS
    t0 = time.perf_counter()
    for body in bodies:
        prev = sha(prev + body).digest()
    return time.perf_counter() - t0


def read_only(svc) -> float:
    """The I/O floor: decrypting and fetching the same rows, no hashing at all."""
    conn = svc._reader()
    t0 = time.perf_counter()
    for _ in audit_log.iter_rows(conn):
        pass
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else bulkdata.requests_for_entries(1_000_000)
    path, keyfile = bulkdata.cached(n)
    svc = WorkflowService.open(path, key=bulkdata.read_key(keyfile))
    bodies = [bytes(row[1]) for batch in audit_log.iter_rows(svc._conn) for row in batch]
    entries = len(bodies)
    engine, baseline, floor = [], [], []
    for _ in range(3):
        t0 = time.perf_counter()
        result = svc.verify_audit()
        engine.append(time.perf_counter() - t0)
        assert result.ok and result.entries == entries, result.problem
        baseline.append(bare_hashlib(bodies))
        floor.append(read_only(svc))
    svc.close(checkpoint=False)
    e, b, f = statistics.median(engine), statistics.median(baseline), statistics.median(floor)
    print(f"{entries:,} audit entries (median of 3):")
    print(f"  verify_audit()  {entries / e:12,.0f} entries/s  ({e:.2f} s)")
    print(f"  bare hashlib    {entries / b:12,.0f} entries/s  ({b:.2f} s)")
    print(f"  read rows only  {entries / f:12,.0f} entries/s  ({f:.2f} s)  SQLCipher decrypt + fetch, no hashing")
    print(f"verify_audit / bare hashlib:         {b / e:.2f}  (goal >= 0.5)")
    print(f"read-only floor / bare hashlib:      {b / f:.2f}  (the ceiling any verifier reading this file can reach)")


if __name__ == "__main__":
    main()
