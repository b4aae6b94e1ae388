"""The pending-approvals query for one user over 1M requests (goal: < 5 ms), against the bare
indexed SQL lookup for the same ids measured in the same run.

2% of the generated requests still await a decision (a desk decides most of what arrives), so a
manager's queue holds a few thousand requests: the call is measured both for the whole queue and
for the first page of 100 that an inbox shows.

    .venv/bin/python benchmarks/bench_pending.py [N_REQUESTS]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datagen import build, key_for  # noqa: E402

from hitl_tui.core.models import InboxView  # noqa: E402
from hitl_tui.core.service import WorkflowService  # noqa: E402
from hitl_tui.core.store import requests as req_sql  # noqa: E402


def timed(fn, repeat: int = 30) -> float:
    fn()  # warm the page cache, as a running desk has it
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    path = build(n)
    svc = WorkflowService.open(path, key=key_for(path))
    user = "director0"
    queue = len(svc.get_pending_approvals(user))
    decidable = svc.policy.decidable_roles(svc.get_user(user).role)
    rows = {
        "get_pending_approvals(limit=100)": timed(lambda: svc.get_pending_approvals(user, limit=100)),
        "list_requests(awaiting_me, page of 100)": timed(lambda: svc.list_requests(user, InboxView.AWAITING_ME, limit=100)),
        "count_requests(awaiting_me)": timed(lambda: svc.count_requests(user, InboxView.AWAITING_ME)),
        f"get_pending_approvals (all {queue:,})": timed(lambda: svc.get_pending_approvals(user), repeat=5),
    }
    # the bare baseline: the same indexed SQL selecting the ids, no rows or models built
    bare = timed(lambda: req_sql.pending_ids(svc._conn, user, decidable, 100))
    svc.close(checkpoint=False)
    print(f"{n:,} requests; {user} may decide {queue:,} of them (median ms):")
    print(f"  {'bare SQL: the first 100 ids':42s} {bare:8.2f} ms")
    for name, ms in rows.items():
        print(f"  {name:42s} {ms:8.2f} ms  ({ms / bare:.1f}x bare SQL)")
    print(f"goal: first page < 5 ms -> {rows['get_pending_approvals(limit=100)']:.2f} ms")


if __name__ == "__main__":
    main()
