"""Merkle proofs on a ~1M-entry log: inclusion proof time (p50/p95 over 1,000 random entries, and
their hash count), consistency proof time, and `verify-audit --since` with 1,000 new entries
against a full verification, all in the same run.

    .venv/bin/python benchmarks/bench_proofs.py [ENTRIES]   # default: 1,000,000 entries

The log is bench_verify.py's (real signed entries written by the service, built once and cached:
bulkdata.py's entries carry no signatures, so a full verification of those stops at the first
"forgery"); this run copies it with its people's keys, signs a checkpoint, appends 1,000 entries
through the service, then measures. Goals (issue 10): proof < 5 ms with ~20 hashes; --since on 1k new entries < 1 s.
"""

from __future__ import annotations

import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_verify  # noqa: E402  (first: it gives this process a throwaway home)

from hitl_tui.core.service import WorkflowService  # noqa: E402


def main(argv: list[str]) -> int:
    entries = int(argv[0]) if argv else 1_000_000
    db, key = bench_verify.cached(entries, bench_verify.SEED)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "proofs.db"
        shutil.copy(db, work)
        shutil.copytree(bench_verify.people_dir(db), Path(tmp) / "people")  # the new users' keys go there
        svc = WorkflowService.open(work, key=key, create=False, operator=bench_verify.ADMIN)
        svc.use_personal_keys_in(Path(tmp) / "people")
        try:
            base = svc.checkpoint()
            for i in range(1000):
                svc.add_user(f"bench.user{i}", "employee", actor=svc.operator)
            now = svc.checkpoint()
            size = now.size
            rng = random.Random(1)
            times, hashes = [], []
            for seq in (rng.randint(1, size) for _ in range(1000)):
                t = time.perf_counter()
                (proof,) = svc.prove_entries([seq], now)
                times.append(time.perf_counter() - t)
                hashes.append(len(proof.path))
            times.sort()
            t = time.perf_counter()
            cons = svc.prove_consistency(base.size, size)
            t_cons = time.perf_counter() - t
            t = time.perf_counter()
            since = svc.verify_audit_since(base)
            t_since = time.perf_counter() - t
            t = time.perf_counter()
            full = svc.verify_audit()
            t_full = time.perf_counter() - t
        finally:
            svc.close(checkpoint=False)
    print(f"log: {size:,} entries")
    print(f"inclusion proof: p50 {statistics.median(times) * 1e3:.2f} ms, p95 {times[949] * 1e3:.2f} ms, "
          f"{min(hashes)}-{max(hashes)} hashes (goal < 5 ms, ~20)")
    print(f"consistency proof {base.size:,} -> {size:,}: {t_cons * 1e3:.2f} ms, {len(cons)} hashes")
    print(f"verify-audit --since (1,000 new entries): {t_since:.3f} s, ok={since.ok} (goal < 1 s)")
    print(f"full verify-audit: {t_full:.2f} s, ok={full.ok}; --since / full = {t_since / t_full:.4f}")
    return 0 if since.ok and full.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
