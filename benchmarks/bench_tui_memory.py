"""Resident memory of hitl-tui with a million requests in the database (goal: < 200 MB).

    .venv/bin/python benchmarks/bench_tui_memory.py [--requests 1000000]

Runs the real app in an 80x24 tmux session and reads VmRSS / VmHWM from /proc at each step:
first painted inbox, after the background counts and the full audit verification (a million
entries streamed in batches), after opening "all I may see" and paging to the end of several
pages, and after a filter. A minimal Textual app measured the same way is the baseline.
The database comes from bulkdata.py (2% of requests pending; the OS login is a manager there).
"""

from __future__ import annotations

import argparse
import sys
import time

from tui_harness import HITL, MINIMAL_APP, PYTHON, Terminal, TmuxServer, cached_db, memory, precompile, script

GOAL_MB = 200


def mb(kib: int) -> str:
    return f"{kib / 1024:6.1f} MB"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1_000_000)
    args = parser.parse_args()
    db, _, env = cached_db(args.requests)
    precompile()
    minimal = script(MINIMAL_APP)
    rows = []
    with TmuxServer(env):
        base = Terminal([PYTHON, str(minimal)], env)
        base.start()
        try:
            base.wait_for("minimal app ready")
            time.sleep(0.5)
            base_mem = memory(base.pid())
        finally:
            base.stop()
        term = Terminal([HITL, "--db", str(db)], env)
        term.start()
        try:
            term.wait_for(" ago", timeout=120)
            pid = term.pid()
            rows.append(("first painted inbox", memory(pid)))
            term.wait_for("verified", timeout=600)
            rows.append(("after counts + verifying the whole chain", memory(pid)))
            term.keys("3")
            time.sleep(1.5)
            for _ in range(5):  # page through: each G loads the next page at the end
                term.keys("G")
                time.sleep(1.0)
            rows.append(("'all I may see' + 5 more pages", memory(pid)))
            term.keys("/")
            for ch in "travel":
                term.keys(ch)
            term.keys("Enter")
            time.sleep(3)
            rows.append(("after a filter", memory(pid)))
            screen = term.screen()
        finally:
            term.stop()
    minimal.unlink()
    print(f"resident memory, {args.requests:,} requests in the database:")
    print(f"  {'minimal Textual app (baseline)':<44} VmRSS {mb(base_mem['VmRSS'])}  VmHWM {mb(base_mem['VmHWM'])}")
    for label, m in rows:
        print(f"  {label:<44} VmRSS {mb(m['VmRSS'])}  VmHWM {mb(m['VmHWM'])}   "
              f"{m['VmRSS'] / base_mem['VmRSS']:.2f}x baseline")
    peak = max(m["VmHWM"] for _, m in rows) / 1024
    print(f"peak (VmHWM) {peak:.1f} MB: {'within' if peak < GOAL_MB else 'OVER'} the {GOAL_MB} MB goal")
    if "ago" not in screen:
        print("warning: the last screen showed no rows:\n" + screen, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
