"""Team mode (issue 11): decisions through a real `hitl-tui serve` process, against the same
decisions made embedded, measured in the same run.

  1. round trip   one RemoteService.approve_workflow (prepare, sign on this account, commit) vs
                  WorkflowService.approve_workflow in this process on an identical copy of the
                  database, the two interleaved: median and p95 of each (goal: remote <= 1.5x)
  2. throughput   1, 8 and 32 client processes, each with its own connection, deciding as fast
                  as they can: decisions/s and p99 latency (goal: no loss from 1 to 32 clients)
  3. push         one client decides, a second one (its own process, subscribed) sees its
                  on_change callback run: p50/p99 (goal p99 < 100 ms)

    .venv/bin/python benchmarks/bench_remote.py                   # --decisions 500, some 3 minutes
    .venv/bin/python benchmarks/bench_remote.py --decisions 200

Every client runs as this OS account, so every decision is made by one directory user (this
login, a manager), on requests filed beforehand in embedded mode by others (employees); each
request needs one manager's approval. The service's limit of 20 requests a second per
connection (a decision is 2) would make (2) measure that limit rather than the service: (1) and
(3) pace their decisions under it, and (2) starts the service with `--rate 100000` (printed
beside the figures). The database is filed once and cached
under HITL_BENCH_CACHE (default /tmp/hitl-bench), with the people's signing keys beside it;
each run decides on fresh copies. Nothing is read from or written to the real home directory
(remote_setup.py: the isolated home, the filed database, the service as a process).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import remote_setup  # noqa: F401 - first: it isolates this run's home before hitl_tui is imported
from remote_setup import Service, cached, me, pending_ids

from hitl_tui.core.personal_keys import store_dir
from hitl_tui.core.service import WorkflowService
from hitl_tui.remote.client import RemoteService
from hitl_tui.remote.server import Limits

#: a decision is two requests (prepare, commit); paced to 90% of what one connection may send
PACE = 2 / Limits().rate / 0.9
CONCURRENCY = (1, 8, 32)
#: (2) runs 1, 8, 32 clients in turn this many times, so that the machine's noise falls on all alike
ROUNDS = 3


# --- statistics -------------------------------------------------------------------------------------

def pct(values: list[float], q: int) -> float:
    """The q-th percentile (1..99), interpolated between the nearest ranks."""
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f} ms"


def load() -> str:
    return "load %.2f %.2f %.2f" % os.getloadavg()


def paced(i: int, started: float) -> None:
    """Sleep until the i-th slot of PACE seconds after `started` (under the service's rate limit)."""
    delay = started + i * PACE - time.perf_counter()
    if delay > 0:
        time.sleep(delay)


# --- 1. one decision's round trip -------------------------------------------------------------------

def round_trip(socket: Path, embedded_db: Path, key: bytes, ids: list[str]) -> tuple[list[float], list[float]]:
    """The same decisions on the same requests of two identical databases, interleaved (in turn
    first), so that the machine's noise falls on both alike."""
    user = me()
    embedded = WorkflowService.open(embedded_db, key=key, create=False)
    remote = RemoteService.connect(socket)
    try:
        # warm-up (first signing-key read, the policy fetched once by the client); not timed
        embedded.approve_workflow(ids[0], user, "warm-up")
        remote.approve_workflow(ids[0], user, "warm-up")
        timings: dict[str, list[float]] = {"remote": [], "embedded": []}
        sides = [("remote", remote), ("embedded", embedded)]
        started = time.perf_counter()
        for i, wid in enumerate(ids[1:], 1):
            paced(i, started)
            for name, svc in (sides if i % 2 else sides[::-1]):
                t0 = time.perf_counter()
                req = svc.approve_workflow(wid, user, "Renewal approved")
                timings[name].append(time.perf_counter() - t0)
                assert req.status.value == "approved", (name, wid, req.status)
    finally:
        remote.close()
        embedded.close(checkpoint=False)
    return timings["remote"], timings["embedded"]


# --- 2. throughput with concurrent clients ----------------------------------------------------------

def _client(socket: str, ids: list[str], barrier, results) -> None:
    """One client process: its own connection, deciding its own requests back to back."""
    try:
        svc = RemoteService.connect(socket)
        user = svc.username
        svc.approve_workflow(ids[0], user, "warm-up")
        barrier.wait()
        spans = []
        cpu0 = time.process_time()  # this process's, its reader thread's included
        for wid in ids[1:]:
            t0 = time.monotonic()
            svc.approve_workflow(wid, user, "Renewal approved")
            spans.append((t0, time.monotonic()))
        cpu = time.process_time() - cpu0
        svc.close()
        results.put(("ok", (spans, cpu)))
    except BaseException as exc:  # noqa: BLE001 - said to the parent, which stops the run
        barrier.abort()
        results.put(("error", f"{type(exc).__name__}: {exc}"))


def cpu_seconds(pid: int) -> float:
    """The CPU time a process has used, all its threads (utime + stime of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Level:
    clients: int
    rate: float  # decisions/s, from the first decision's start to the last one's answer
    latencies: list[float]
    service_cpu: float  # the service's CPU seconds per decision meanwhile (all its threads)
    service_busy: float  # its CPU time over the wall time: 1.0 is one core all the time
    client_cpu: float  # the client processes' CPU seconds per decision, while deciding

    @staticmethod
    def merged(rounds: list["Level"]) -> "Level":
        """The median of each figure over the rounds; the latencies of all of them."""
        med = lambda attr: statistics.median(getattr(r, attr) for r in rounds)  # noqa: E731
        return Level(rounds[0].clients, med("rate"), [x for r in rounds for x in r.latencies], med("service_cpu"),
                     med("service_busy"), med("client_cpu"))


def throughput(service: Service, ids: list[str], clients: int) -> Level:
    """`ids` split between `clients` processes, each keeping one for its warm-up."""
    ctx = multiprocessing.get_context("fork")  # no thread runs in this process now: a clean fork
    barrier, results = ctx.Barrier(clients + 1), ctx.Queue()
    share = len(ids) // clients
    procs = [ctx.Process(target=_client, args=(str(service.socket), ids[k * share:(k + 1) * share], barrier,
                                               results)) for k in range(clients)]
    for p in procs:
        p.start()
    try:
        barrier.wait(timeout=120)
    except Exception:  # noqa: BLE001 - a client failed: its reason is in the queue
        pass
    cpu0, t0 = cpu_seconds(service.proc.pid), time.monotonic()
    got = [results.get(timeout=600) for _ in procs]
    cpu, wall = cpu_seconds(service.proc.pid) - cpu0, time.monotonic() - t0
    for p in procs:
        p.join(30)
    errors = [text for status, text in got if status == "error"]
    if errors:
        raise SystemExit(f"a client failed with {clients} clients: {errors[0]}")
    spans = [span for _, (client_spans, _) in got for span in client_spans]
    first, last = min(s for s, _ in spans), max(e for _, e in spans)
    clients_cpu = sum(cpu for _, (_, cpu) in got)
    return Level(clients, len(spans) / (last - first), [e - s for s, e in spans], cpu / len(spans), cpu / wall,
                 clients_cpu / len(spans))


# --- 3. push latency ----------------------------------------------------------------------------------

def _listener(socket: str, ready, done, results) -> None:
    """The second desk: subscribed; notes when each request's "changed" reaches its callback."""
    try:
        seen: dict[str, float] = {}

        def changed(params: dict) -> None:
            now = time.monotonic()
            for wid in params.get("workflow_ids") or []:
                seen.setdefault(wid, now)

        svc = RemoteService.connect(socket)
        svc.on_change(changed)
        ready.set()
        done.wait(600)
        time.sleep(1.0)  # the last notifications on their way
        svc.close()
        results.put(("ok", seen))
    except BaseException as exc:  # noqa: BLE001 - said to the parent
        ready.set()
        results.put(("error", f"{type(exc).__name__}: {exc}"))


def push(socket: Path, ids: list[str]) -> tuple[list[float], list[float], int]:
    """(from the decision's start to the other client's callback, from its answer to that
    callback, notifications missed), one decision per PACE."""
    ctx = multiprocessing.get_context("fork")
    ready, done, results = ctx.Event(), ctx.Event(), ctx.Queue()
    proc = ctx.Process(target=_listener, args=(str(socket), ready, done, results))
    proc.start()  # before this process opens a connection (and its reader thread)
    ready.wait(60)
    decided: dict[str, tuple[float, float]] = {}
    try:
        svc = RemoteService.connect(socket)
        user = svc.username
        try:
            svc.approve_workflow(ids[0], user, "warm-up")
            started = time.perf_counter()
            for i, wid in enumerate(ids[1:], 1):
                paced(i, started)
                t0 = time.monotonic()
                svc.approve_workflow(wid, user, "Renewal approved")
                decided[wid] = (t0, time.monotonic())
        finally:
            svc.close()
    finally:
        done.set()
    status, seen = results.get(timeout=120)
    proc.join(30)
    if status == "error":
        raise SystemExit(f"the subscribed client failed: {seen}")
    from_start = [seen[w] - t0 for w, (t0, _) in decided.items() if w in seen]
    from_answer = [seen[w] - t1 for w, (_, t1) in decided.items() if w in seen]
    return from_start, from_answer, len(decided) - len(from_start)


# --- the run ---------------------------------------------------------------------------------------------

def fresh_copies(db: Path, people: Path, tmp: Path, names: tuple[str, ...]) -> list[Path]:
    shutil.copytree(people, store_dir(), dirs_exist_ok=True)  # this account's own signing keys
    copies = []
    for name in names:
        copy = tmp / name
        shutil.copyfile(db, copy)
        copies.append(copy)
    return copies


def sizes(n: int) -> tuple[int, dict[int, int], int]:
    """How many requests (1), each concurrency of (2) and (3) decide, each client's warm-up included."""
    return n + 1, {c: ROUNDS * (n + c) for c in CONCURRENCY}, max(n, 200) + 1


def needed(n: int) -> int:
    first, levels, last = sizes(n)
    return first + sum(levels.values()) + last


def plan(ids: list[str], n: int) -> tuple[list[str], dict[int, list[str]], list[str]]:
    """The requests each measurement decides, none decided twice."""
    first, levels, last = sizes(n)
    assert len(ids) >= needed(n), (len(ids), needed(n))
    at = first
    split = {}
    for c, k in levels.items():
        split[c], at = ids[at:at + k], at + k
    return ids[:first], split, ids[at:at + last]


def report_round_trip(remote: list[float], embedded: list[float], where: str) -> None:
    med_r, med_e = statistics.median(remote), statistics.median(embedded)
    print(f"1. one decision's round trip ({len(remote):,} each, interleaved, one decision of each per "
          f"{PACE * 1000:.0f} ms)  [{where}]")
    print(f"   embedded  WorkflowService.approve_workflow   median {ms(med_e)}   p95 {ms(pct(embedded, 95))}")
    print(f"   remote    RemoteService.approve_workflow     median {ms(med_r)}   p95 {ms(pct(remote, 95))}")
    print(f"   remote / embedded: median {med_r / med_e:.2f}x, p95 {pct(remote, 95) / pct(embedded, 95):.2f}x"
          f"   (goal <= 1.5x)")


def report_level(level: Level) -> None:
    lat, c = level.latencies, level.clients
    print(f"   {c:2d} client{'s' if c > 1 else ' '}  {level.rate:6,.0f} decisions/s   p50 {ms(pct(lat, 50))}"
          f"   p99 {ms(pct(lat, 99))}   CPU a decision: service {level.service_cpu * 1000:.2f} ms "
          f"({level.service_busy:.0%} of a core), clients {level.client_cpu * 1000:.2f} ms")


def report_push(from_start: list[float], from_answer: list[float], missed: int, where: str) -> None:
    print(f"3. push: one client decides (one per {PACE * 1000:.0f} ms), a second, subscribed client's "
          f"on_change runs ({len(from_start):,} decisions)  [{where}]")
    print(f"   from the decision's start   p50 {ms(pct(from_start, 50))}   p99 {ms(pct(from_start, 99))}"
          f"   (goal p99 < 100 ms)")
    print(f"   from the decider's answer   p50 {ms(pct(from_answer, 50))}   p99 {ms(pct(from_answer, 99))}"
          f"   max {ms(max(from_answer))}")
    if missed:
        print(f"   {missed} decision(s) never reached the subscribed client")


def afterwards(db: Path, key: bytes) -> bool:
    """The service's database after the run: it verifies, and every decision is in it."""
    check = WorkflowService.open(db, key=key, create=False)
    try:
        result = check.verify_audit()
        waiting = check._read(lambda conn: conn.execute(
            "SELECT count(*) FROM requests WHERE status = 'awaiting_approval'").fetchone()[0])
    finally:
        check.close(checkpoint=False)
    print(f"\nthe service's database afterwards: {result.summary()}; {waiting:,} requests still awaiting")
    return result.ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--decisions", type=int, default=500, metavar="N",
                        help="decisions timed in (1), in (3) (at least 200) and in each round at each "
                             "concurrency of (2) (default 500)")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # in order with the build's lines on stderr
    n = max(args.decisions, 2 * max(CONCURRENCY))
    db, key, people = cached(-(-needed(n) // 1000) * 1000)  # rounded up: nearby sizes share a build
    with tempfile.TemporaryDirectory(prefix="bench-remote-") as d:
        tmp = Path(d)
        service_db, embedded_db = fresh_copies(db, people, tmp, ("service.db", "embedded.db"))
        keyfile = tmp / "db.key"
        fd = os.open(keyfile, os.O_CREAT | os.O_WRONLY, 0o600)
        os.write(fd, key.hex().encode())
        os.close(fd)
        ids = pending_ids(service_db, key)
        first, levels, last = plan(ids, n)
        socket = tmp / "run" / "hitl.sock"
        print(f"{os.cpu_count()} cores; deciding as {me()} on {needed(n):,} of the {len(ids):,} requests "
              f"filed in {db.name}\n")

        service = Service.start(service_db, keyfile, socket)  # the console script, as shipped
        try:
            where = load()
            remote, embedded = round_trip(socket, embedded_db, key, first)
            report_round_trip(remote, embedded, where)
            where_push = load()
            pushed = push(socket, last)
        finally:
            service.stop()

        service = Service.start(service_db, keyfile, socket, unthrottled=True)
        rounds: dict[int, list[Level]] = {c: [] for c in CONCURRENCY}
        try:
            where = load()
            for r in range(ROUNDS):
                for c in CONCURRENCY:
                    share = len(levels[c]) // ROUNDS
                    rounds[c].append(throughput(service, levels[c][r * share:(r + 1) * share], c))
        finally:
            service.stop()
        measured = {c: Level.merged(rounds[c]) for c in CONCURRENCY}
        print(f"\n2. throughput, each client its own process and connection, deciding back to back, the "
              f"service's per-connection rate limit lifted (median of {ROUNDS} rounds of some {n:,} decisions; "
              f"p50/p99 over all)  [{where}, after: {load()}]")
        for c in CONCURRENCY:
            report_level(measured[c])
        for c in CONCURRENCY[1:]:
            print(f"   throughput at {c:2d} / at 1: {measured[c].rate / measured[1].rate:.2f}   (goal: no loss, >= 1.0)")
        print()
        report_push(*pushed, where_push)
        return 0 if afterwards(service_db, key) and not pushed[2] else 1


if __name__ == "__main__":
    sys.exit(main())
