"""Where the desk's cold start goes: a timeline from process start to the first painted inbox.

    .venv/bin/python benchmarks/trace_tui_startup.py [--requests 100000] [--runs 3]

bench_tui_startup.py says how long the cold start takes against a minimal Textual app; this says
where that time goes, so that one knows what to defer. Each run starts `hitl-tui --db DB` (and,
for the floor, the minimal Textual app of tui_harness) in a pty of 80x24 that this process reads
itself, under `python -X importtime`, through a small launcher (`--child`, this same file) that
times the steps from the outside, wrapping without changing them:

  - interpreter start-up: from the spawn to the launcher's first line;
  - imports: -X importtime writes one line per module to stderr, which is the pty, so the lines
    arrive here, timestamped, between the frames; they are summed by top-level package, and
    split into those before the first frame and those after (deferred: not on the critical path);
  - the engine: Settings.load, WorkflowService.open, the preloaded first page (every
    list_requests call is timed, with the thread it ran in);
  - the app: App.run called, the desk's compose, the mount of each pane and widget (first time
    each class mounts), and every frame Textual writes (App._display, start and end), up to the
    first frame whose inbox has rows, which is what bench_tui_startup waits for on screen.

To hook them, the launcher imports textual.app and the hooked modules (settings, service, app,
the desk screen) before it calls the CLI's main: the real start imports them a little later, so
"hooks installed" holds imports that would otherwise fall between the milestones after it; the
import sums do not change. -X importtime itself slows imports by some percent, in both programs.
Times are perf_counter, one monotonic clock for both processes. The child exits (os._exit, no
seal: nothing was written) a moment after that frame. The table gives the median of the runs.
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import re
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import fcntl
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMPORT_LINE = re.compile(rb"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)")
SETTLE_S = 0.3  # after the first inbox frame, before the child writes its trace and exits


# --- the child: runs the program with hooks that only record times ------------------------------

def child(program: str, out: str) -> None:
    t_first_line = time.perf_counter()
    events: list[tuple[float, str]] = [(t_first_line, "launcher: first line")]
    frames: list[tuple[float, float, bool]] = []
    mounted: dict[str, float] = {}
    done = {"at": None}

    def mark(what: str) -> None:
        events.append((time.perf_counter(), what))

    def timed(owner, name: str, label: str):
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                import threading
                where = "" if threading.current_thread() is threading.main_thread() else " (worker thread)"
                events.append((started, f"{label} start{where}"))
                events.append((time.perf_counter(), f"{label} end{where}"))
        setattr(owner, name, wrapper)

    def finish() -> None:
        Path(out).write_text(json.dumps({"events": events, "frames": frames, "mounted": mounted}))
        os._exit(0)

    from textual.app import App
    from textual.dom import DOMNode

    original_display = App._display

    def display(self, screen, renderable):
        started = time.perf_counter()
        original_display(self, screen, renderable)
        rows = _inbox_has_rows(screen) if program == "hitl-tui" else True
        frames.append((started, time.perf_counter(), rows))
        if rows and done["at"] is None:
            done["at"] = time.perf_counter()
            self.set_timer(SETTLE_S, finish)
    App._display = display

    original_post_mount = DOMNode._post_mount

    def post_mount(self):
        original_post_mount(self)
        name = type(self).__name__ + (f"#{self.id}" if getattr(self, "id", None) else "")
        mounted.setdefault(name, time.perf_counter())
    DOMNode._post_mount = post_mount

    original_run = App.run

    def run(self, *args, **kwargs):
        mark("App.run called")
        return original_run(self, *args, **kwargs)
    App.run = run

    if program == "minimal":
        mark("imports done")
        from textual.widgets import Static

        class Minimal(App):
            def compose(self):
                yield Static("minimal app ready")
        Minimal().run()
        return

    mark("textual imported (hooks installed)")
    import hitl_tui.cli as cli
    mark("hitl_tui.cli imported")
    from hitl_tui.core import service as service_mod
    from hitl_tui.core import settings as settings_mod
    timed(settings_mod.Settings, "load", "Settings.load")
    timed(service_mod.WorkflowService, "open", "WorkflowService.open")
    timed(service_mod.WorkflowService, "list_requests", "list_requests")
    timed(service_mod.WorkflowService, "count_requests", "count_requests")
    from hitl_tui import app as app_mod
    timed(app_mod.Preload, "read", "Preload.read (first page before the app)")
    from hitl_tui.screens.desk import DeskScreen
    original_compose = DeskScreen.compose

    def compose(self):
        mark("DeskScreen.compose start")
        yield from original_compose(self)
        mark("DeskScreen.compose end")
    DeskScreen.compose = compose
    mark("hooks installed")
    sys.argv = ["hitl-tui", *sys.argv[sys.argv.index("--") + 1:]]
    cli.main()


def _inbox_has_rows(screen) -> bool:
    try:
        from hitl_tui.widgets.request_list import RequestList

        return any(getattr(w, "rows", None) for w in screen.query(RequestList))
    except Exception:  # noqa: BLE001 - not the desk (yet): no rows
        return False


# --- the parent: a pty it reads, and the table ----------------------------------------------------

def run_once(program: str, db: Path, env: dict[str, str]) -> dict:
    fd, out = tempfile.mkstemp(suffix=".json", prefix="hitl-trace-")
    os.close(fd)
    argv = [sys.executable, "-X", "importtime", str(Path(__file__).resolve()), "--child", program, out, "--",
            "--db", str(db)]
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    spawned = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
                            cwd=str(ROOT))
    os.close(slave)
    imports: list[tuple[float, int, int, int, str]] = []  # arrival, self us, cumulative us, depth, module
    buf, tail = b"", b""
    deadline = spawned + 120
    while proc.poll() is None and time.perf_counter() < deadline:
        ready, _, _ = select.select([master], [], [], 0.05)
        if not ready:
            continue
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:  # EIO: the child has closed the terminal (it is exiting)
            break
        now = time.perf_counter()
        tail = (tail + chunk)[-4000:]
        buf += chunk
        for m in IMPORT_LINE.finditer(buf):
            imports.append((now, int(m[1]), int(m[2]), len(m[3]) // 2, m[4].decode()))
        cut = buf.rfind(b"\n")
        if cut >= 0:
            buf = buf[cut + 1:]
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    os.close(master)
    trace = json.loads(Path(out).read_text() or "{}")
    Path(out).unlink()
    if not trace:
        said = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", tail).decode("utf-8", "replace").strip()[-600:]
        raise RuntimeError(f"{program} (exit {proc.returncode}) wrote no trace: no frame with inbox rows "
                           f"in 120 s; its last output: {said}")
    trace["spawned"], trace["imports"] = spawned, imports
    return trace


FAMILIES = {  # who pulls a package in, for the summary: what could be deferred together
    "textual + rich (the floor: the minimal app has them too)": ("textual", "rich", "markdown_it", "mdurl",
                                                                  "linkify_it", "pygments", "uc_micro"),
    "pydantic + pydantic-settings (core/settings.py)": ("pydantic", "pydantic_core", "pydantic_settings",
                                                        "annotated_types", "typing_inspection", "dotenv"),
    "click (cli.py)": ("click",),
    "sqlcipher3": ("sqlcipher3",),
    "cryptography": ("cryptography", "_cffi_backend"),
    "keyring + jaraco": ("keyring", "jaraco", "secretstorage", "jeepney"),
}


def family(module: str) -> str:
    top = module.split(".")[0]
    if top == "hitl_tui":
        return "hitl_tui (" + ".".join(module.split(".")[:2]) + ")"
    for name, tops in FAMILIES.items():
        if top in tops:
            return name
    return "standard library and the rest"


def package(module: str) -> str:
    top = module.split(".")[0]
    if top == "hitl_tui":
        return ".".join(module.split(".")[:3 if module.startswith("hitl_tui.core.") else 2])
    return top


def summarize(trace: dict) -> dict[str, float]:
    """Milestones (ms from the spawn) and import sums (ms) of one run."""
    t0 = trace["spawned"]
    ms = lambda t: (t - t0) * 1000  # noqa: E731
    row: dict[str, float] = {}
    for t, what in trace["events"]:
        row.setdefault(what, ms(t))  # the first occurrence (the first page, not later pages)
    frames = trace["frames"]
    if frames:
        row["first frame (start)"] = ms(frames[0][0])
        row["first frame (end)"] = ms(frames[0][1])
        inbox = next((f for f in frames if f[2]), None)
        if inbox:
            row["first frame with inbox rows (end)"] = ms(inbox[1])
            row["frames before it"] = sum(1 for f in frames if f[1] < inbox[0])
            row["ms painting those frames"] = sum((f[1] - f[0]) * 1000 for f in frames if f[1] <= inbox[1])
    for name, t in trace["mounted"].items():
        row[f"mounted {name}"] = ms(t)
    first_paint = frames[0][0] if frames else float("inf")
    for arrival, own, _cum, _depth, module in trace["imports"]:
        when = "before first frame" if arrival < first_paint else "after first frame"
        key = f"import {package(module)} ({when})"
        row[key] = row.get(key, 0.0) + own / 1000
        if when == "before first frame":
            key = f"family {family(module)}"
            row[key] = row.get(key, 0.0) + own / 1000
        row[f"imports total ({when})"] = row.get(f"imports total ({when})", 0.0) + own / 1000
    return row


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from tui_harness import cached_db, precompile

    db, _, env = cached_db(args.requests)
    precompile()
    env = {**env, "PYTHONPATH": str(ROOT)}
    results: dict[str, list[dict[str, float]]] = defaultdict(list)
    for program in ("minimal", "hitl-tui"):
        run_once(program, db, env)  # warm the page cache and .pyc files
    for _ in range(args.runs):
        for program in ("minimal", "hitl-tui"):
            results[program].append(summarize(run_once(program, db, env)))
    for program, runs in results.items():
        print(f"\n{program}: median of {args.runs} runs, ms from the spawn (imports: ms spent in them)")
        keys = list(dict.fromkeys(k for r in runs for k in r))
        milestones = [k for k in keys if not k.startswith(("import", "family"))]
        milestones.sort(key=lambda k: statistics.median(r.get(k, 0) for r in runs) if "frames" not in k else 1e9)
        for k in milestones:
            print(f"  {statistics.median(r.get(k, 0.0) for r in runs):8.1f}  {k}")
        print("  imports before the first frame, by family (ms of their own import time):")
        for prefix, limit in (("family ", 0.0), ("imports total", 0.0), ("import ", 3.0)):
            sums = [k for k in keys if k.startswith(prefix)]
            sums.sort(key=lambda k: -statistics.median(r.get(k, 0.0) for r in runs))
            for k in sums:
                value = statistics.median(r.get(k, 0.0) for r in runs)
                if value >= limit:
                    print(f"  {value:8.1f}  {k[len('family '):] if prefix == 'family ' else k}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as exc:
        print(f"trace_tui_startup: {exc}", file=sys.stderr)
        sys.exit(1)
