"""Agents waiting for a human (issue 12): 100 waiters at once on one `hitl-tui serve`, each on its
own connection (hitl_tui.client.Desk.get_decision), in a few processes.

  1. cost of waiting   the service's and the waiter processes' CPU time and resident memory over
                       the same span, first with every connection open and subscribed but nobody
                       waiting (the baseline), then with all 100 waiting: printed as ratios
                       (goal: waiting costs nothing measurable, ratios about 1)
  2. wake-up           a person decides the 100 requests one after another through the service;
                       the time from their decision's answer to the waiting agent's return (its
                       outcome read, receipt signed and sent): p50 / p99 (goal p99 < 100 ms)

    .venv/bin/python benchmarks/bench_waiting.py                  # some 60 s
    .venv/bin/python benchmarks/bench_waiting.py --waiters 100 --span 10

Every connection is this OS account (the service names a connection by its account, and one
account cannot both file and decide): the requests are filed beforehand, in embedded mode, by
100 integration accounts (one each, as agents would), and each waiter waits on one of them with
the client's own wait, exactly as its agent would; the person who decides is this account (a
manager). The decider paces its decisions under the service's 20 requests a second per
connection. Everything runs in a throwaway home and database; nothing real is touched.
"""

from __future__ import annotations

import argparse
import atexit
import multiprocessing
import os
import pwd
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".venv" / "bin" / "hitl-tui"
_HOME = Path(tempfile.mkdtemp(prefix="bench-waiting-home-"))
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
for _name in [n for n in os.environ if n.startswith("HITL_")]:
    del os.environ[_name]
os.environ.update(HOME=str(_HOME), XDG_DATA_HOME=str(_HOME / "data"), XDG_CONFIG_HOME=str(_HOME / "config"),
                  XDG_STATE_HOME=str(_HOME / "state"), XDG_RUNTIME_DIR=str(_HOME / "run"),
                  PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
sys.path.insert(0, str(ROOT))

from hitl_tui.core.service import WorkflowService  # noqa: E402
from hitl_tui.remote.server import Limits  # noqa: E402

#: a decision is two requests (prepare, commit): paced to 90% of what one connection may send
PACE = 2 / Limits().rate / 0.9
PROCESSES = 4


def me() -> str:
    return pwd.getpwuid(os.getuid()).pw_name


def filed(db: Path, key: bytes, waiters: int) -> list[str]:
    """A database where `waiters` integration accounts each filed one request for approval."""
    svc = WorkflowService.open(db, key=key, create=True, operator=me())
    try:
        svc.add_user(me(), "manager", admin=True, actor=me())
        svc.add_user("owner", "director", actor=me())
        ids = []
        for i in range(waiters):
            agent = f"agent{i:03d}"
            svc.approvals.add_integration(agent, "employee", "owner", actor=me())
            ids.append(svc.approvals.file(agent, "tool_call", f"Refund order {i}", {
                "tool": "refund", "arguments": {"order_id": str(1000 + i), "amount": "25.00"}},
                justification="charged twice", timeout=3600, agent=f"billing-agent-{i}"))
        return ids
    finally:
        svc.close(checkpoint=False)


def start_service(db: Path, keyfile: Path, socket: Path) -> subprocess.Popen:
    log = db.with_name("serve.log")
    env = {**os.environ, "HITL_DB_KEY_FILE": str(keyfile)}
    with log.open("wb") as sink:
        proc = subprocess.Popen([str(SCRIPT), "serve", "--db", str(db), "--socket", str(socket),
                                 "--max-connections", "500"], env=env, stdin=subprocess.DEVNULL, stdout=sink,
                                stderr=sink)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None or "listening on" in log.read_text("utf-8", "replace"):
            break
        time.sleep(0.05)
    if proc.poll() is not None or "listening on" not in log.read_text("utf-8", "replace"):
        proc.kill()
        raise SystemExit(f"hitl-tui serve did not start:\n{log.read_text('utf-8', 'replace')[-2000:]}")
    return proc


# --- the waiters (their own processes) ---------------------------------------------------------------

def _waiters(socket: str, ids: list[str], opened, go, results) -> None:
    """One process: a Desk (its own connection) per request, subscribed; on `go`, all wait."""
    import asyncio

    from hitl_tui.client import Desk

    async def main() -> dict[str, tuple[float, str]]:
        desks = [Desk.open(server=socket) for _ in ids]
        for desk in desks:  # subscribed before the baseline: the span measures waiting alone
            await asyncio.to_thread(desk._engine.on_change, lambda _params: None)
        opened.set()
        await asyncio.to_thread(go.wait)
        done: dict[str, tuple[float, str]] = {}

        async def wait(desk: Desk, wid: str) -> None:
            got = await desk.get_decision(wid, wait=600)
            done[wid] = (time.monotonic(), got.outcome.value)
        await asyncio.gather(*(wait(d, w) for d, w in zip(desks, ids)))
        for desk in desks:
            desk.close()
        return done

    try:
        results.put(("ok", asyncio.run(main())))
    except BaseException as exc:  # noqa: BLE001 - said to the parent
        opened.set()
        results.put(("error", f"{type(exc).__name__}: {exc}"))


# --- measuring ---------------------------------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def span(pids: dict[str, list[int]], seconds: float) -> dict[str, tuple[float, float]]:
    """(CPU seconds over `seconds`, resident MiB at the end) of each group of processes."""
    start = {g: sum(cpu_seconds(p) for p in ps) for g, ps in pids.items()}
    time.sleep(seconds)
    return {g: (sum(cpu_seconds(p) for p in ps) - start[g], sum(rss_mib(p) for p in ps)) for g, ps in pids.items()}


TICK = 1 / os.sysconf("SC_CLK_TCK")  # the kernel counts CPU time in these (10 ms)


def ratio(a: float, b: float, *, cpu: bool = False) -> str:
    """a / b; for CPU time, only where the baseline is several of the kernel's ticks (below that
    the quotient of two roundings says nothing): else how many ticks each was."""
    if cpu and b < 5 * TICK:
        return f"{round(b / TICK)} vs {round(a / TICK)} ticks"
    return f"{a / b:.2f}x" if b > 0 else "-"


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waiters", type=int, default=100)
    parser.add_argument("--span", type=float, default=10.0, help="seconds each cost span lasts")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-waiting-"))
    atexit.register(shutil.rmtree, base, ignore_errors=True)
    db, keyfile, socket = base / "hitl.db", base / "db.key", base / "hitl.sock"
    key = os.urandom(32)
    keyfile.write_text(key.hex())
    keyfile.chmod(0o600)
    t0 = time.monotonic()
    ids = filed(db, key, args.waiters)
    print(f"filed {len(ids)} requests by {len(ids)} integration accounts in {time.monotonic() - t0:.1f} s; "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    service = start_service(db, keyfile, socket)
    ctx = multiprocessing.get_context("spawn")
    go, results = ctx.Event(), ctx.Queue()
    share = -(-len(ids) // PROCESSES)
    groups = [ids[k:k + share] for k in range(0, len(ids), share)]
    opened = [ctx.Event() for _ in groups]
    procs = [ctx.Process(target=_waiters, args=(str(socket), g, o, go, results)) for g, o in zip(groups, opened)]
    try:
        for p in procs:
            p.start()
        for o in opened:
            o.wait(120)
        pids = {"service": [service.pid], "waiters": [p.pid for p in procs if p.pid is not None]}
        time.sleep(1.0)  # connections settled
        idle = span(pids, args.span)
        go.set()
        time.sleep(2.0)  # every waiter has read its request once and sleeps on its event
        waiting = span(pids, args.span)
        print(f"\n1. cost of waiting: {len(ids)} connections, {len(procs)} waiter processes, {args.span:g} s spans")
        print(f"   {'':8} {'CPU idle':>9} {'CPU waiting':>12} {'ratio':>18}   {'RSS idle':>10} {'RSS waiting':>12} "
              f"{'ratio':>6}")
        for group in ("service", "waiters"):
            (c0, m0), (c1, m1) = idle[group], waiting[group]
            print(f"   {group:8} {c0 * 1000:6.0f} ms {c1 * 1000:9.0f} ms {ratio(c1, c0, cpu=True):>18}   "
                  f"{m0:6.1f} MiB {m1:8.1f} MiB {ratio(m1, m0):>6}")
        decided = decide_all(socket, ids)
        got: dict[str, tuple[float, str]] = {}
        for _ in procs:
            status, value = results.get(timeout=120)
            if status != "ok":
                raise SystemExit(f"a waiter process failed: {value}")
            got.update(value)
        wake = [got[w][0] - decided[w] for w in ids]
        outcomes = {o for _, o in got.values()}
        print(f"\n2. wake-up: {len(wake)} decisions, one per {PACE * 1000:.0f} ms; outcomes {sorted(outcomes)}")
        print(f"   from the decision's answer to the agent's return: p50 {pct(wake, 50) * 1000:6.1f} ms, "
              f"p99 {pct(wake, 99) * 1000:6.1f} ms, max {max(wake) * 1000:6.1f} ms  (goal p99 < 100 ms: "
              f"{'met' if pct(wake, 99) < 0.1 else 'NOT met'})")
    finally:
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.kill()
        if service.poll() is None:
            service.send_signal(signal.SIGTERM)
            service.wait(60)


def decide_all(socket: Path, ids: list[str]) -> dict[str, float]:
    """This account (a manager) approves each request in turn; when each decision's answer came."""
    from hitl_tui.remote.client import RemoteService

    remote = RemoteService.connect(socket)
    answered: dict[str, float] = {}
    try:
        started = time.perf_counter()
        for i, wid in enumerate(ids):
            delay = started + i * PACE - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            remote.approve_workflow(wid, remote.username, "refund approved")
            answered[wid] = time.monotonic()
    finally:
        remote.close()
    return answered


if __name__ == "__main__":
    main()
