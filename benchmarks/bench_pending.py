"""The pending-approvals query for a user over 1M requests (goal: < 5 ms), against the bare
indexed SQL lookup for the same ids measured in the same run.

2% of the generated requests still await a decision (a desk decides most of what arrives), so a
director's queue holds ten thousand or so: the call is measured both for the whole queue and for
the first page of 100 that an inbox shows. The database comes from bulkdata.py. Two users: a
director with a year of decisions behind them (which 'awaiting me' leaves out), and the OS login,
a manager who has decided nothing yet. A slow call gets fewer repeats (at least 3).

    .venv/bin/python benchmarks/bench_pending.py [N_REQUESTS]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bulkdata  # noqa: E402

from hitl_tui.core.audit import os_login  # noqa: E402
from hitl_tui.core.models import InboxView  # noqa: E402
from hitl_tui.core.service import WorkflowService  # noqa: E402
from hitl_tui.core.store import requests as req_sql  # noqa: E402


def timed(fn, repeat: int = 30, budget: float = 10.0) -> float:
    """Median ms of up to `repeat` calls, fewer (at least 3) once `budget` seconds are spent."""
    fn()  # warm the page cache, as a running desk has it
    samples: list[float] = []
    spent = time.perf_counter()
    while len(samples) < repeat and (len(samples) < 3 or time.perf_counter() - spent < budget):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000


def measure(svc, n: int, user: str) -> float:
    """Prints one user's figures; returns the first page's median ms."""
    queue = len(svc.get_pending_approvals(user))
    decided = svc._conn.execute("SELECT count(*) FROM approvals WHERE approver = ?", (user,)).fetchone()[0]
    decidable = svc.policy.decidable_roles(svc.get_user(user).role)
    rows = {
        "get_pending_approvals(limit=100)": timed(lambda: svc.get_pending_approvals(user, limit=100)),
        "list_requests(awaiting_me, page of 100)": timed(lambda: svc.list_requests(user, InboxView.AWAITING_ME,
                                                                                   limit=100)),
        "count_requests(awaiting_me)": timed(lambda: svc.count_requests(user, InboxView.AWAITING_ME)),
        f"get_pending_approvals (all {queue:,})": timed(lambda: svc.get_pending_approvals(user), repeat=5),
    }
    # the bare baseline: the same indexed SQL selecting the ids, no rows or models built
    bare = timed(lambda: req_sql.pending_ids(svc._conn, user, decidable, 100))
    print(f"{n:,} requests; {user} ({svc.get_user(user).role.value}, {decided:,} past decisions) may decide "
          f"{queue:,} of them (median ms):")
    print(f"  {'bare SQL: the first 100 ids':42s} {bare:8.2f} ms")
    for name, ms in rows.items():
        print(f"  {name:42s} {ms:8.2f} ms  ({ms / bare:.1f}x bare SQL)")
    return rows["get_pending_approvals(limit=100)"]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    path, keyfile = bulkdata.cached(n)  # 2% pending, the default share
    svc = WorkflowService.open(path, key=bulkdata.read_key(keyfile))
    # a director (decides manager and director stages: most of the queue) with a year of
    # decisions behind them, which 'awaiting me' must leave out; and the OS login, a manager
    # with none, as a newcomer to the desk
    users = [bulkdata.people(n)["director"][0], os_login()]
    first_pages = {user: measure(svc, n, user) for user in users}
    svc.close(checkpoint=False)
    for user, ms in first_pages.items():
        print(f"goal: first page < 5 ms -> {user}: {ms:.2f} ms")


if __name__ == "__main__":
    main()
