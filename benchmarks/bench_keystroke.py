"""Keystroke to painted screen on a million-request database, in a real terminal (tmux), against
a minimal Textual app's response to a key measured the same way in the same run.

    .venv/bin/python benchmarks/bench_keystroke.py [--requests 1000000] [--rounds 30] [--letter a]

What is timed (goal: p95 < 50 ms each). One keystroke often paints in steps, each timed from the
same key:
  j / k               cursor: the highlight is on the next (previous) row;
                      detail: the detail pane shows that row's request
  2, 3, 1             rows: the view's first rows (as the engine lists them) are painted;
                      + detail: and the detail shows one of that view's requests, not the last view's
  / (filter field)    the filter field appears
  letter              echo: the letter is on screen; filtered rows: the filtered first rows are
                      painted; + detail: and the detail shows one of them
  a (approve dialog)  the dialog is painted ("Approving ..."); escape: it is gone
A step the desk never paints (the screen settles for 2 s without it) is counted and reported as
NEVER PAINTED, with how often, instead of hanging the run. The default letter is the most frequent
English letter whose filter changes the first rows on screen (else its paint could not be seen).
The baseline is a minimal Textual app whose one label shows how many keys it received: pressing
a key there is timed until the label shows the new count. It runs beside the desk in its own tmux
session and gets the same keys, interleaved with the desk's, so machine noise hits both alike.

How "painted" is measured. Each program runs in a detached tmux session; the benchmark talks to
tmux through a control-mode client (`tmux -C attach`), one per session, over a pipe. That client
sends the keys (`send-keys`, no process started per key) and tmux streams back, as `%output`
lines, every byte the program writes to its terminal, the moment tmux reads it from the pty. The
clock starts just before the send-keys command is written. After each burst of output the
benchmark asks tmux for the screen as tmux has drawn it (`capture-pane`, on the same pipe, so the
reply reflects all output that came before it) and checks the action's condition on that text.
The keystroke's time is the arrival of the last output before the first screen that satisfies
it: the moment the terminal had received everything that painted the change. (Textual wraps each
frame in synchronized-update markers, \\x1b[?2026h ... \\x1b[?2026l, only when the terminal
answers its DECRQM query; tmux 3.3 does not, so frames are found by reading the screen itself,
which also proves that the right content, not just some frame, arrived.)

Conditions are read from the screen and from the engine (the first rows of a view or a filter
are asked of WorkflowService.list_requests, the same call the desk's inbox makes), never from the
desk's internals, so the benchmark survives refactors of the UI layer. The cursor row is the one
inbox row drawn in colours no other row has (`capture-pane -e`). A required condition never met
within 15 s ends the run with what was measured so far, then one line naming the action and the
screen it saw.

The database comes from bulkdata.py (built once, then cached), with the OS login as a manager.
The desk is measured only after its start-up work is done (the header says "verified": the whole
chain has been re-hashed) and the screen has been quiet for a second, as a person would use it.
"""

from __future__ import annotations

import argparse
import os
import re
import select
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tui_harness import HITL, PYTHON, SOCKET, Terminal, TmuxServer, cached_db, precompile, script

GOAL_MS = 50.0
TIMEOUT_S = 15.0
SIZE = (80, 24)

KEY_COUNTER_APP = """
from textual.app import App
from textual.widgets import Static
class KeyCounter(App):
    count = 0
    def compose(self):
        yield Static("keys: 0", id="count")
    def on_key(self, event):
        self.count += 1
        self.query_one("#count", Static).update(f"keys: {self.count}")
KeyCounter().run()
"""

WF_ID = re.compile(r"\bWF-\d+-\d+\b")
SGR = re.compile(r"\x1b\[[0-9;:]*m")


class Control:
    """A tmux control-mode client attached to one session: commands in, replies and the
    session's output (with arrival times) out, on one pipe read by this process alone."""

    def __init__(self, session: str, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(["tmux", "-L", SOCKET, "-C", "attach", "-t", session],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0, env=env)
        self.target = session
        self._buf = b""
        self._pending: list[tuple[float, bytes]] = []  # read, not yet handled (after a reply's %end)
        self.last_output = 0.0  # when the latest %output line arrived
        self.outputs = 0        # how many have arrived
        self._attached()

    def _attached(self) -> None:
        """The attach command's own %begin/%end block comes first: consume it, so that each
        later block answers the command written before it."""
        deadline = time.perf_counter() + TIMEOUT_S
        while time.perf_counter() < deadline:
            lines = self._lines(0.05)
            for i, (when, line) in enumerate(lines):
                if line.startswith(b"%error "):
                    raise RuntimeError(f"tmux could not attach to {self.target}")
                if line.startswith(b"%end "):
                    self._pending = lines[i + 1:] + self._pending
                    return
        raise TimeoutError(f"tmux did not attach to {self.target}")

    def _lines(self, timeout: float) -> list[tuple[float, bytes]]:
        """Whatever complete lines arrive within `timeout` (at least one read if data is there)."""
        out, self._pending = self._pending, []
        ready, _, _ = select.select([self.proc.stdout], [], [], 0 if out else timeout)
        while ready:
            chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
            if not chunk:
                raise RuntimeError("the tmux control client exited")
            now = time.perf_counter()
            self._buf += chunk
            *lines, self._buf = self._buf.split(b"\n")
            out.extend((now, line) for line in lines)
            ready, _, _ = select.select([self.proc.stdout], [], [], 0)
        return out

    def _note(self, when: float, line: bytes) -> None:
        if line.startswith(b"%output "):
            self.last_output = when
            self.outputs += 1

    def command(self, text: str) -> tuple[float, list[str]]:
        """Run one tmux command; returns (time of the last output before its reply, reply lines)."""
        self.proc.stdin.write(text.encode() + b"\n")
        body: list[str] | None = None
        deadline = time.perf_counter() + TIMEOUT_S
        while time.perf_counter() < deadline:
            lines = self._lines(0.05)
            for i, (when, line) in enumerate(lines):
                if body is None:
                    if line.startswith(b"%begin "):
                        body, before = [], self.last_output
                    else:
                        self._note(when, line)
                elif line.startswith((b"%end ", b"%error ")):
                    self._pending = lines[i + 1:] + self._pending
                    if line.startswith(b"%error "):
                        raise RuntimeError(f"tmux {text!r}: {' '.join(body)}")
                    return before, body
                else:
                    body.append(line.decode("utf-8", "replace"))
        raise TimeoutError(f"tmux did not answer {text!r}")

    def screen(self) -> tuple[float, str]:
        """(time of the last output before it, the screen as text); `self.styled` keeps the
        same screen with its colours (SGR sequences), for conditions that need them."""
        before, lines = self.command(f"capture-pane -p -e -t {self.target}")
        self.styled = lines
        return before, "\n".join(SGR.sub("", line) for line in lines)

    def wait_output(self, timeout: float) -> None:
        """Until some output arrives (or `timeout`)."""
        seen = self.outputs
        deadline = time.perf_counter() + timeout
        while self.outputs == seen and time.perf_counter() < deadline:
            for when, line in self._lines(max(0.0, deadline - time.perf_counter())):
                self._note(when, line)

    def quiet(self, seconds: float, timeout: float = 60.0) -> None:
        """Until no output has arrived for `seconds`."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            seen = self.outputs
            self.wait_output(seconds)
            if self.outputs == seen:
                return
        raise TimeoutError(f"the screen never went quiet for {seconds} s")

    def press(self, key: str, done: Callable[[str], bool], what: str) -> float:
        """Send `key`; seconds until the output that made `done(screen)` true had arrived."""
        return self.press_until(key, {what: done})[what]

    def press_until(self, key: str, conditions: dict[str, Callable[[str], bool]],
                    optional: tuple[str, ...] = (), grace: float = 2.0) -> dict[str, float | None]:
        """Send `key`; for each condition, seconds until the output that first made it true had
        arrived (one keystroke can paint in steps: the letter echoed, then the filtered rows).
        An `optional` condition still unmet `grace` seconds after the others is None: the
        screen settled without it (a finding, not a hang)."""
        started = time.perf_counter()
        self.command(f"send-keys -t {self.target} {key}")
        deadline, settled = started + TIMEOUT_S, None
        times: dict[str, float | None] = {}
        while True:
            painted, text = self.screen()
            for what, done in conditions.items():
                if what not in times and done(text):
                    if painted < started:
                        raise RuntimeError(f"{what}: already true before the key was sent (the condition is wrong)")
                    times[what] = painted - started
            missing = [w for w in conditions if w not in times]
            if not missing:
                return times
            now = time.perf_counter()
            if all(w in optional for w in missing):
                settled = settled or now
                if now - settled > grace:
                    return {**times, **{w: None for w in missing}}
            elif now > deadline:
                raise TimeoutError(f"{', '.join(missing)}: not on screen {TIMEOUT_S:.0f} s after the key; "
                                   f"screen:\n{text}")
            self.wait_output(0.2)

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        finally:
            self.proc.wait(timeout=5)


# --- reading the desk's screen ---------------------------------------------------------------------

def inbox_titles(text: str) -> list[str]:
    """The Title cells of the inbox rows on screen (cut cells end in an ellipsis)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("│ Title"):
            header = line
            break
    else:
        return []
    nxt = re.search(r"\S", header[len("│ Title"):])
    end = len("│ Title") + (nxt.start() if nxt else 0)
    titles = []
    for line in lines[i + 1:]:
        if not line.startswith("│") or not line[1:end].strip():
            break
        titles.append(line[2:end].rstrip())
    return titles


def detail_id(text: str) -> str | None:
    """The request id the lower (detail) pane shows: the first id below the inbox's box."""
    lines = text.splitlines()
    ends = [i for i, line in enumerate(lines) if line.startswith("╰")]
    for line in lines[ends[0] + 1:] if ends else []:
        found = WF_ID.search(line)
        if found:
            return found.group(0)
    return None


def cursor_row(styled: list[str]) -> int | None:
    """Which inbox row has the cursor: the one row drawn in a style (its first colours after
    the border) that no other row has; None while that is not so (e.g. a page of one row)."""
    plain = [SGR.sub("", line) for line in styled]
    try:
        top = next(i for i, line in enumerate(plain) if line.startswith("│ Title")) + 1
    except StopIteration:
        return None
    styles = []
    for line, text in zip(styled[top:], plain[top:]):
        if not text.startswith("│") or not text[1:].strip(" │"):
            break
        styles.append(tuple(SGR.findall(line.split("│", 1)[1])[:2]) if "│" in line else ())
    unique = [i for i, st in enumerate(styles) if styles.count(st) == 1]
    return unique[0] if len(unique) == 1 and len(styles) > 2 else None


def shows(cell: str, title: str) -> bool:
    return title.startswith(cell[:-1]) if cell.endswith("…") else cell == title


def looks_different(page, other) -> bool:
    """Whether the first rows of two pages differ on an 80-column screen (titles are cut there)."""
    return [r.title[:16] for r in page[:3]] != [r.title[:16] for r in other[:3]]


def rows_are(page, detail: bool = True) -> Callable[[str], bool]:
    """The first rows of `page` are painted and (with `detail`) the detail shows one of the
    page's requests; for an empty page: no rows, no detail, and not "Loading…" (the empty view's
    own words)."""
    if not page:
        return lambda t: not inbox_titles(t) and detail_id(t) is None and "Loading" not in t
    want = [r.title for r in page[:3]]
    ids = {r.id for r in page}

    def done(text: str) -> bool:
        got = inbox_titles(text)
        return (len(got) >= len(want) and all(shows(c, t) for c, t in zip(got, want))
                and (not detail or detail_id(text) in ids))
    return done


# --- the run ---------------------------------------------------------------------------------------

@dataclass
class Samples:
    desk: dict[str, list[float]] = field(default_factory=dict)
    base: dict[str, list[float]] = field(default_factory=dict)
    #: action -> how often the screen settled without that condition (the desk never painted it)
    never: dict[str, int] = field(default_factory=dict)

    def add(self, which: dict, action: str, seconds: float | None) -> None:
        if seconds is None:
            self.never[action] = self.never.get(action, 0) + 1
        else:
            which.setdefault(action, []).append(seconds * 1000)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--desk", default=HITL, help="the desk command to measure (default: the installed "
                        "hitl-tui; e.g. 'python my_variant.py' to compare a change), given --db DB")
    parser.add_argument("--letter", help="the filter keystroke (one lower-case letter; default: the most "
                        "frequent English letter whose filter changes the first rows on screen)")
    args = parser.parse_args()
    if args.letter is not None and not re.fullmatch(r"[a-z]", args.letter):
        parser.error(f"--letter takes one lower-case letter, not {args.letter!r}")
    db, key, env = cached_db(args.requests)
    precompile()

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bulkdata import read_key
    from hitl_tui.core.audit import os_login
    from hitl_tui.core.service import WorkflowService

    me = os_login()
    svc = WorkflowService.open(db, key=read_key(key))
    try:
        pages = {v: svc.list_requests(me, v, limit=150) for v in ("awaiting_me", "mine", "visible")}
        for letter in [args.letter] if args.letter else "etaoinshrdlcumwfgypbvkjxqz":
            filtered = svc.list_requests(me, "awaiting_me", search=letter, limit=150)
            if filtered and looks_different(filtered, pages["awaiting_me"]):
                args.letter = letter
                break
        else:
            filtered = []
    finally:
        svc.close(checkpoint=False)
    if not pages["awaiting_me"] or not pages["visible"]:
        print(f"bench_keystroke: nothing awaits {me} in {db}; rebuild it with benchmarks/bulkdata.py", file=sys.stderr)
        return 1
    if not filtered:
        print(f"bench_keystroke: filtering on {args.letter or 'any letter'!r} leaves the first rows of "
              f"{me}'s inbox as they were (or empty), so its paint cannot be seen; pick another --letter",
              file=sys.stderr)
        return 1

    counter = script(KEY_COUNTER_APP)
    samples = Samples()
    failure = None
    args.done = 0
    with TmuxServer(env):
        desk_term, base_term = Terminal([*args.desk.split(), "--db", str(db)], env, SIZE), Terminal([PYTHON, str(counter)], env, SIZE)
        desk_term.start()
        base_term.start()
        try:
            desk_term.wait_for("verified", timeout=900)
            base_term.wait_for("keys: 0")
            desk, base = Control(desk_term.name, env), Control(base_term.name, env)
            desk.quiet(1.0)
            presses = 0

            def baseline(action: str, key: str) -> None:
                nonlocal presses
                presses += 1
                want = f"keys: {presses}"
                samples.add(samples.base, action, base.press(key, lambda t: want in t, f"baseline {action}"))

            def measure(action: str, key: str, done: Callable[[str], bool], base_key: str | None = None) -> None:
                samples.add(samples.desk, action, desk.press(key, done, action))
                baseline(action, base_key or key)

            def measure_steps(action: str, key: str, steps: dict[str, Callable[[str], bool]],
                              optional: tuple[str, ...] = ()) -> None:
                """One keystroke that paints in steps: each step timed from the same key."""
                names = {step: f"{action}: {step}" for step in steps}
                times = desk.press_until(key, {names[k]: f for k, f in steps.items()}, tuple(names[k] for k in optional))
                for what, seconds in times.items():
                    samples.add(samples.desk, what, seconds)
                baseline(action, key)

            def moved(before: str | None, ids: set[str]) -> Callable[[str], bool]:
                return lambda t: (now := detail_id(t)) is not None and now != before and now in ids

            awaiting = {r.id for r in pages["awaiting_me"]}
            for n in range(args.rounds):
                try:
                    for _ in range(2):
                        for key, step in (("j", 1), ("k", -1)):
                            _, text = desk.screen()
                            row = cursor_row(desk.styled)
                            steps = {"detail": moved(detail_id(text), awaiting)}
                            if row is not None:
                                steps = {"cursor": lambda t, r=row + step: cursor_row(desk.styled) == r, **steps}
                            measure_steps(key, key, steps)
                    for key, view, label in (("2", "mine", "mine"), ("3", "visible", "all I may see"),
                                             ("1", "awaiting_me", "awaiting me")):
                        measure_steps(f"view {key} ({label})", key, {"rows": rows_are(pages[view], detail=False),
                                                                     "+ detail": rows_are(pages[view])}, ("+ detail",))
                    _, before = desk.screen()
                    old = set(before.splitlines())
                    measure("/ (filter field)", "/",
                            lambda t: any("filter" in line.lower() and line not in old for line in t.splitlines()))
                    _, before = desk.screen()
                    measure_steps(f"'{args.letter}'", args.letter, {
                        "echo": lambda t, b=before: t != b, "filtered rows": rows_are(filtered, detail=False),
                        "+ detail": rows_are(filtered)}, ("+ detail",))
                    for key in ("Escape", "Escape"):  # leave the field, then clear the filter
                        desk.command(f"send-keys -t {desk.target} {key}")
                        desk.quiet(0.3)
                    wait_until(desk, rows_are(pages["awaiting_me"], detail=False), "unfiltered rows after escape")
                    if not rows_are(pages["awaiting_me"])(desk.screen()[1]):
                        samples.add(samples.desk, "escape clears the filter: detail", None)
                        desk.command(f"send-keys -t {desk.target} j")  # the detail follows the cursor again
                        wait_until(desk, lambda t: detail_id(t) in awaiting, "the detail after j")
                    measure("a (approve dialog)", "a", lambda t: "Approving" in t)
                    measure("escape (dialog closes)", "Escape", lambda t: "Approving" not in t)
                    desk.quiet(0.2)
                except (TimeoutError, RuntimeError) as exc:  # what was measured so far is still worth seeing
                    failure = f"round {n + 1}: {exc}"
                    break
                args.done = n + 1
                print(f"  round {n + 1}/{args.rounds}", file=sys.stderr, end="\r")
            desk.close()
            base.close()
        finally:
            desk_term.stop()
            base_term.stop()
            counter.unlink()
    if samples.desk:
        report(samples, args)
    if failure:
        print(f"bench_keystroke: stopped at {failure}", file=sys.stderr)
        return 1
    return 0


def wait_until(term: Control, done: Callable[[str], bool], what: str) -> None:
    """Untimed: until the screen satisfies `done` (between measured keystrokes)."""
    deadline = time.perf_counter() + TIMEOUT_S
    while not done(text := term.screen()[1]):
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{what}: not on screen after {TIMEOUT_S:.0f} s; screen:\n{text}")
        term.wait_output(0.5)


def report(samples: Samples, args) -> None:
    base_all = [v for values in samples.base.values() for v in values]
    base_p50, base_p95 = statistics.median(base_all), p95(base_all)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"keystroke to painted screen, {args.requests:,} requests, {args.done} rounds, "
          f"{SIZE[0]}x{SIZE[1]} tmux (ms); load average {load} on {os.cpu_count()} cores:")
    print(f"  {'action':<34} {'p50':>7} {'p95':>7} {'max':>7}   {'baseline p50/p95':>17}   p95 ratio   goal")
    for action, values in samples.desk.items():
        base = samples.base.get(action.split(": ")[0], base_all)  # a step's baseline is its key's
        b50, b95 = statistics.median(base), p95(base)
        ok = "ok" if p95(values) < GOAL_MS else "OVER"
        print(f"  {action:<34} {statistics.median(values):7.1f} {p95(values):7.1f} {max(values):7.1f}   "
              f"{b50:7.1f} / {b95:7.1f}   {p95(values) / b95:8.2f}x   {ok}")
    print(f"  minimal Textual app, all keys: p50 {base_p50:.1f} ms, p95 {base_p95:.1f} ms")
    for action, count in samples.never.items():
        print(f"  NEVER PAINTED: {action}: {count} times in {args.done} rounds the screen settled without it")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (TimeoutError, RuntimeError) as exc:  # a condition never met, tmux gone: one line and the screen
        print(f"bench_keystroke: {exc}", file=sys.stderr)
        sys.exit(1)
