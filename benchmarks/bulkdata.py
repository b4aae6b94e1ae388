"""Large encrypted databases with a realistic history and a valid audit chain: the one generator
every benchmark uses.

    .venv/bin/python benchmarks/bulkdata.py 1000000            # build (or reuse), then check it
    .venv/bin/python benchmarks/bulkdata.py 100000 --pending 0.4 --seed 3 --no-check

Requests arrive in working hours over a year, then get one decision per stage of their chain
after plausible delays (a few after hours, for the compliance flags). Most are approved; set
shares are rejected, sent back and left so, withdrawn, resubmitted once, or still pending.

One transaction per action, as WorkflowService does, is far too slow for a million requests, so
the same rows are written inside the service's own write transactions (svc._write()) a batch at
a time: audit entries built with the core's build_record / canonical_bytes / chain_hash and
stored by audit_log.append (which also sets the head beside the chain), requests and approvals
rows by executemany, each request with its final state. bulkcheck.py (run by this CLI) proves
the result: the chain verifies, and each request's entries replay to its row and approvals.
Users go in through add_user, the OS login first as a manager and directory administrator.

Deterministic for a seed (key, database id and user_added entries aside). Cached under
HITL_BENCH_CACHE (default /tmp/hitl-bench) by size, pending share, seed and DATA_VERSION, with
the key beside the database in a 0600 file (64 hex digits).
"""

from __future__ import annotations

import argparse
import fcntl
import itertools
import multiprocessing
import os
import sys
import time
import traceback
from pathlib import Path
from queue import Empty

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hitl_tui.core.audit import AuditContext, build_record, canonical_bytes, chain_hash, os_login  # noqa: E402
from hitl_tui.core.policy import load_policy  # noqa: E402
from hitl_tui.core.service import WorkflowService  # noqa: E402
from hitl_tui.core.store import audit_log  # noqa: E402

from bulklife import SHARES, Random, timeline, people  # noqa: E402  (beside this file)

#: bump whenever the generated data changes, so that no benchmark reuses an older cached database
DATA_VERSION = "2"  # 2: requests carry their current revision's deciders (migration 3)
CACHE = Path(os.environ.get("HITL_BENCH_CACHE", "/tmp/hitl-bench"))
BATCH = 50_000  # events per write transaction: amortizes the commit, some 30 MB between the processes

REQUEST_COLUMNS = ("id", "workflow_type", "title", "description", "requester", "data", "risk_level", "risk_rank",
                   "risk_field", "risk_reason", "headline", "chain", "current_stage", "current_role", "status",
                   "revision", "updated_at", "created_at")
INSERT_REQUEST = (f"INSERT INTO requests ({', '.join(REQUEST_COLUMNS)}) "
                  f"VALUES ({', '.join('?' * len(REQUEST_COLUMNS))})")
# store.requests.insert_approval's statement, for many rows at once
INSERT_APPROVAL = ("INSERT INTO approvals (workflow_id, revision, stage, role, approver, approver_role, decision, "
                   "comments, decided_at, proposed_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)")


def cached(n_requests: int, pending: float = SHARES["pending"], seed: int = 7, **shares: float) -> tuple[Path, Path]:
    """(database, key file) with n_requests generated requests: built once, then reused."""
    shares = {**SHARES, **shares, "pending": pending}
    tag = "".join(f"-{k[:3]}{v:g}" for k, v in shares.items() if k != "pending" and v != SHARES[k])
    db = CACHE / f"bulk-v{DATA_VERSION}-{n_requests}-p{pending:g}-s{seed}{tag}.db"
    keyfile = db.with_name(db.name + ".key")
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:  # two benchmarks started at once: one builds, one waits
        fcntl.flock(lock, fcntl.LOCK_EX)
        if db.exists() and keyfile.exists():
            return db, keyfile
        tmp = db.with_name(f"{db.name}.{os.getpid()}.tmp")
        key = os.urandom(32)
        fd = os.open(f"{tmp}.key", os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
        os.write(fd, key.hex().encode())
        os.close(fd)
        started = time.perf_counter()
        print(f"generating {n_requests:,} requests into {db} (cached for later runs)...", file=sys.stderr)
        try:
            entries = build(tmp, key, n_requests, seed, shares)
        except BaseException:
            for leftover in CACHE.glob(tmp.name + "*"):
                leftover.unlink()
            raise
        print(f"  {n_requests:,} requests, {entries:,} audit entries in {time.perf_counter() - started:.0f} s",
              file=sys.stderr)
        # under its real name only once complete (closing merged the WAL into the file)
        os.replace(f"{tmp}.key", keyfile)
        os.replace(tmp, db)
    return db, keyfile


def read_key(keyfile: Path) -> bytes:
    return bytes.fromhex(Path(keyfile).read_text().strip())


def build(path: Path, key: bytes, n_requests: int, seed: int = 7, shares: dict | None = None) -> int:
    """Create the database at `path` and fill it; returns the number of audit entries.

    Two processes for the two cores: a forked producer draws the requests' lives and builds and
    hashes their audit entries (pure Python, the larger half of the work) while this one writes
    (SQLCipher). The chain stays one sequence: the producer starts from the head written here,
    and each batch names the head it follows, checked inside the write transaction.
    """
    svc = WorkflowService.open(path, key=key, create=True)  # a new database: the built-in policy
    try:
        _add_people(svc, people(n_requests))
        # this connection, this build only: a big page cache keeps index pages in memory between
        # batches (not written, encrypted, read back and decrypted again), and no fsync per batch
        # (a build cut short is thrown away: the file gets its real name only when complete)
        svc._conn.execute("PRAGMA cache_size = -262144")
        svc._conn.execute("PRAGMA synchronous = OFF")
        mp = multiprocessing.get_context("fork")  # the child never touches svc or its connection
        queue = mp.Queue(maxsize=2)  # bounds memory: a batch being written, one or two waiting
        producer = mp.Process(target=_produce, daemon=True, args=(
            queue, n_requests, seed, {**SHARES, **(shares or {})}, svc._read(audit_log.checked_head)))
        producer.start()
        try:
            while (batch := _receive(queue, producer)) is not None:
                with svc._write() as conn:  # the service's own serialized write transaction
                    _store(conn, *batch)
            with svc._write() as conn:
                conn.execute(FILL_DECIDERS)
        finally:
            producer.join(timeout=10)
            if producer.is_alive():
                producer.terminate()
        return svc.audit_size()
    finally:
        svc.close(checkpoint=False)  # no signing key: a build never touches anyone's home directory


def _add_people(svc: WorkflowService, staff: dict[str, list[str]]) -> None:
    """Everyone through add_user. The OS login comes first, as a manager (so the TUI opens on an
    inbox) and a directory administrator (so export-audit may run, and may add the others)."""
    me = os_login() or "unknown"
    svc.add_user(me, "manager", display_name="you (the OS login)", admin=True, actor=me)
    for role, names in staff.items():
        for name in names:
            if name != me:
                svc.add_user(name, role, actor=me)


def _produce(queue, n: int, seed: int, shares: dict, start: tuple[int, bytes]) -> None:
    """The producer: batches of (head they follow, audit rows, request rows, approval rows)."""
    try:
        events = timeline(n, Random(seed), load_policy(), shares)
        size, head = start
        ctxs: dict[str, AuditContext] = {}
        while batch := list(itertools.islice(events, BATCH)):
            follows, audit, requests, approvals = (size, head), [], [], []
            for _, _, (ts, actor, action, wid, details, request, approval) in batch:
                ctx = ctxs.get(actor)
                if ctx is None:  # as if everyone worked at their own desk, in their own session
                    ctx = ctxs[actor] = AuditContext(f"bulk{seed}-{actor}", actor, None, None)
                size += 1
                record = build_record(size, head, ts, actor, action, wid, details, ctx)
                body = canonical_bytes(record)
                head = chain_hash(head, body)
                audit.append((size, wid, body, head))
                # a request's created_at, a decision's decided_at: its entry's own time, as written
                if request:
                    requests.append((*request, record["ts"]))
                if approval:
                    approvals.append((*approval, record["ts"]))
            queue.put((follows, audit, requests, approvals))
        queue.put(None)
    except BaseException:
        queue.put(traceback.format_exc())


def _receive(queue, producer):  # the next batch, None at the end
    while True:
        try:
            batch = queue.get(timeout=5)
        except Empty:
            if not producer.is_alive():  # killed (out of memory?) before it could say why
                raise RuntimeError(f"the generator process died (exit code {producer.exitcode})") from None
            continue
        if isinstance(batch, str):
            raise RuntimeError(f"the generator failed:\n{batch}")
        return batch


def _store(conn, follows: tuple[int, bytes], audit: list, requests: list, approvals: list) -> None:
    if audit_log.checked_head(conn) != follows:
        raise RuntimeError("the audit chain moved while the generator was writing it")
    batched = _Batched()
    for seq, wid, body, digest in audit:
        audit_log.append(batched, seq, wid, body, digest)
    batched.run(conn)
    conn.executemany(INSERT_REQUEST, requests)  # before the approvals, which reference them
    conn.executemany(INSERT_APPROVAL, approvals)


# Who decided each request's current revision (",sarah.manager,mike.director,"), as
# service._decide keeps it; the same statement as migration 3's backfill. Run once at the end: a
# request's decisions can arrive in later batches than the request itself.
FILL_DECIDERS = """
    UPDATE requests SET deciders = ',' || (
        SELECT group_concat(a.approver, ',') FROM approvals a
        WHERE a.workflow_id = requests.id AND a.revision = requests.revision) || ','
    WHERE EXISTS (SELECT 1 FROM approvals a WHERE a.workflow_id = requests.id AND a.revision = requests.revision)
"""


class _Batched:
    """Stands in for the connection in audit_log.append: the core's own statements (the entry,
    then the head beside the chain) are gathered and each run once per batch by executemany,
    which takes about a quarter off the writer's time. They write different tables, so running
    all of one before the other leaves exactly what the interleaved calls would."""

    def __init__(self) -> None:
        self.statements: dict[str, list] = {}

    def execute(self, sql: str, params: tuple) -> None:
        self.statements.setdefault(sql, []).append(params)

    def run(self, conn) -> None:
        for sql, rows in self.statements.items():
            conn.executemany(sql, rows)


def requests_for_entries(entries: int, pending: float = SHARES["pending"], seed: int = 7) -> int:
    """How many requests give about `entries` audit entries (measured on a sample of their
    lives), rounded to a thousand so that the cached database's name stays readable."""
    sample = 20_000
    events = sum(1 for _ in timeline(sample, Random(seed), load_policy(), {**SHARES, "pending": pending}))
    per_request = events / sample
    users = 1 + sum(len(names) for names in people(round(entries / per_request)).values())
    return max(1000, int(round((entries - users) / per_request, -3)))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("requests", type=int, nargs="?", default=100_000)
    parser.add_argument("--pending", type=float, default=SHARES["pending"], help="share still awaiting a decision")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-check", action="store_true", help="skip verify_audit and the replay of states")
    args = parser.parse_args(argv)
    db, keyfile = cached(args.requests, pending=args.pending, seed=args.seed)
    print(db)
    print(keyfile)
    if args.no_check:
        return 0
    from bulkcheck import check  # only the CLI needs it

    return 0 if check(db, read_key(keyfile)) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
