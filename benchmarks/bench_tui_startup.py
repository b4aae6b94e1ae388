"""Cold start to the first painted inbox, in a real terminal, against a minimal Textual app.

    .venv/bin/python benchmarks/bench_tui_startup.py [--requests 100000] [--runs 7]

Each run starts a fresh process in a detached 80x24 tmux session and polls `tmux capture-pane`
until a marker is on screen: for hitl-tui the relative age of an inbox row (" ago" appears only
once the first page of requests is painted), for the baseline its one label. Runs alternate
between the programs so that machine noise hits both alike; the figure is the ratio of medians.
A third program, the same minimal app after importing hitl_tui.cli (click and the engine,
which the CLI imports before it opens the TUI), shows how much of the gap is that import.

The database comes from bulkdata.py, with the OS login as a manager (the TUI opens on its inbox).
All programs start from bytecode, as installed ones do: the harness compiles hitl_tui once and
keeps PYTHONDONTWRITEBYTECODE out of the children's environment (see tui_harness.clean_env).
"""

from __future__ import annotations

import argparse
import statistics
import sys

from tui_harness import (HITL, IMPORTS_THEN_MINIMAL, MINIMAL_APP, PYTHON, Terminal, TmuxServer, cached_db,
                         precompile, script)

GOAL = 1.5


def time_to(command: list[str], env: dict[str, str], marker: str) -> float:
    term = Terminal(command, env)
    try:
        started = term.start()
        return term.wait_for(marker) - started
    finally:
        term.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    db, _, env = cached_db(args.requests)
    precompile()
    minimal, imports_then_minimal = script(MINIMAL_APP), script(IMPORTS_THEN_MINIMAL)
    programs = {
        "minimal Textual app": ([PYTHON, str(minimal)], "minimal app ready"),
        "minimal app + `import hitl_tui.cli`": ([PYTHON, str(imports_then_minimal)], "minimal app ready"),
        f"hitl-tui, {args.requests:,} requests": ([HITL, "--db", str(db)], " ago"),
    }
    times: dict[str, list[float]] = {name: [] for name in programs}
    with TmuxServer(env):
        for command, marker in programs.values():  # warm the page cache and .pyc files once
            time_to(command, env, marker)
        for _ in range(args.runs):
            for name, (command, marker) in programs.items():
                times[name].append(time_to(command, env, marker))
    base = statistics.median(times["minimal Textual app"])
    print(f"cold start to first paint, median of {args.runs} runs (80x24 tmux):")
    for name, samples in times.items():
        med = statistics.median(samples)
        print(f"  {name:<40} {med * 1000:7.0f} ms   {med / base:4.2f}x   "
              f"(min {min(samples) * 1000:.0f}, max {max(samples) * 1000:.0f})")
    ours = statistics.median(times[f"hitl-tui, {args.requests:,} requests"])
    floor = statistics.median(times["minimal app + `import hitl_tui.cli`"])
    print(f"ratio hitl-tui / minimal app: {ours / base:.2f}x (goal <= {GOAL}x)")
    print(f"ratio hitl-tui / (minimal app after the CLI's imports): {ours / floor:.2f}x")
    minimal.unlink()
    imports_then_minimal.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
