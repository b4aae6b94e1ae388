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
import bisect
import fcntl
import heapq
import itertools
import math
import multiprocessing
import os
import random
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from queue import Empty

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hitl_tui.core.audit import AuditContext, build_record, canonical_bytes, chain_hash, iso, os_login  # noqa: E402
from hitl_tui.core.hydrate import data_to_json  # noqa: E402
from hitl_tui.core.models import Role  # noqa: E402
from hitl_tui.core.policy import load_policy  # noqa: E402
from hitl_tui.core.service import WorkflowService  # noqa: E402
from hitl_tui.core.store import audit_log  # noqa: E402
from hitl_tui.core.store import requests as req_sql  # noqa: E402

#: bump whenever the generated data changes, so that no benchmark reuses an older cached database
DATA_VERSION = "2"  # 2: requests carry their current revision's deciders (migration 3)
CACHE = Path(os.environ.get("HITL_BENCH_CACHE", "/tmp/hitl-bench"))
#: how requests' lives end (the rest are approved); "resubmitted" is drawn on its own: sent back
#: once, resubmitted as revision 2, which then ends in one of the ways above
SHARES = {"pending": 0.02, "rejected": 0.10, "changes_requested": 0.03, "withdrawn": 0.04, "resubmitted": 0.05}
END = datetime(2026, 10, 1, tzinfo=timezone.utc).timestamp()  # fixed, so that a seed gives the same data
DAY, HOUR = 86_400, 3_600
OPEN, CLOSE = 8 * HOUR, 19 * HOUR  # working hours (UTC), Monday to Friday, as in the default policy
WORK_YEAR = 261 * (CLOSE - OPEN)
DECIDE, REACT = math.log(3 * HOUR), math.log(DAY)  # median delays: a decision, a requester's answer
BATCH = 50_000  # events per write transaction: amortizes the commit, some 30 MB between the processes

#: the directory for 100,000 requests: it grows with the desk, so that a decider's year holds
#: some thousands of decisions, not a million ('awaiting me' must leave out what they decided)
STAFF = {"manager": ("sarah.manager", 24), "director": ("mike.director", 6), "executive": ("lisa.executive", 3),
         "compliance": ("carol.compliance", 3), "security": ("sam.security", 4), "it_admin": ("ian.itadmin", 4),
         "employee": ("john.doe", 300)}
CUSTOMERS = ["Acme Corp", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises"]
SYSTEMS = ["payments-db", "crm", "data-warehouse", "vpn", "k8s-prod", "billing-api", "hr-portal"]
DEPARTMENTS = ["engineering", "sales", "finance", "support", "marketing", "operations"]


def _money(lo: float, hi: float):
    """Log-uniform amounts rounded to two significant figures, as people ask for them."""
    def draw(rng: random.Random) -> str:
        x = math.exp(rng.uniform(math.log(lo), math.log(hi)))
        step = 10 ** max(0, int(math.log10(x)) - 1)
        return str(int(x // step * step))
    return draw


def _pick(*values, weights=None):
    if weights is None:
        return lambda rng: rng.choice(values)
    cumulative = list(itertools.accumulate(weights))
    return lambda rng: values[bisect.bisect(cumulative, rng.random() * cumulative[-1])]


LEVELS, ACCESS = ("low", "medium", "high", "critical"), ("read", "write", "admin", "root")
ENVIRONMENTS = ("development", "staging", "production", "production_freeze")
CATEGORIES = ("travel", "software", "equipment", "training", "meals", "services", "other")
# (type, weight, {field: draw}, titles): the default policy's nine types, expenses the commonest
KINDS = [
    ("expense_approval", 34, {"amount": _money(40, 150_000), "category": _pick(*CATEGORIES),
                              "cost_center": _pick(*(f"CC-{4400 + 10 * i}" for i in range(8)))},
     ["Conference travel", "Travel to Berlin", "Laptop refresh", "Team offsite", "Software licence",
      "Training course", "Client dinner", "Monitor for the new hire", "Cloud budget top-up"]),
    ("refund_approval", 12, {"amount": _money(20, 60_000), "customer": _pick(*CUSTOMERS)},
     ["Refund for a duplicate charge", "Damaged on arrival", "Cancelled subscription", "Goodwill refund"]),
    ("infrastructure_change", 10, {"impact": _pick(*LEVELS, weights=[50, 30, 15, 5]), "system": _pick(*SYSTEMS)},
     ["Database migration", "Firewall rule change", "Kernel upgrade", "Storage expansion", "DNS cut-over"]),
    ("access_request", 10, {"access_level": _pick(*ACCESS, weights=[50, 30, 15, 5]), "system": _pick(*SYSTEMS)},
     ["Access for the quarterly audit", "On-call access", "Read access for reporting", "Break-glass access"]),
    ("deployment_approval", 10, {"environment": _pick(*ENVIRONMENTS, weights=[30, 30, 35, 5]),
                                 "service": _pick(*SYSTEMS)},
     ["Release 4.2", "Hotfix for the login bug", "Feature flag roll-out", "Dependency upgrade"]),
    ("contract_approval", 8, {"contract_value": _money(5_000, 5_000_000), "counterparty": _pick(*CUSTOMERS),
                              "term_months": _pick(12, 24, 36)},
     ["Vendor contract renewal", "Cloud hosting renewal", "Consulting agreement", "Office lease"]),
    ("customer_escalation", 8, {"severity": _pick(*LEVELS, weights=[40, 35, 20, 5]), "customer": _pick(*CUSTOMERS)},
     ["Outage credit", "SLA breach", "Data export request", "Billing dispute"]),
    ("budget_allocation", 5, {"amount": _money(5_000, 3_000_000), "department": _pick(*DEPARTMENTS),
                              "fiscal_year": _pick(2026, 2027)},
     ["Quarterly budget", "Headcount budget", "Tooling budget", "Marketing campaign"]),
    ("hiring_approval", 3, {"annual_salary": _money(40_000, 400_000), "department": _pick(*DEPARTMENTS),
                            "position": _pick("Engineer", "Analyst", "Account executive", "Support lead")},
     ["Backfill", "New position", "Contractor conversion"]),
]
#: decision -> (its audit action, which is also the status it leaves unless approving; comments)
OUTCOMES = {
    "approve": ("approved", ["", "OK", "Approved.", "Within budget.", "Looks right to me", "Thanks for the detail."]),
    "reject": ("rejected", ["Not in this quarter's budget.", "Duplicate of an earlier one.", "Not business."]),
    "request_changes": ("changes_requested", ["Attach the quote.", "Which cost center?", "Add the rollback plan."]),
}
REQUEST_COLUMNS = ("id", "workflow_type", "title", "description", "requester", "data", "risk_level", "risk_rank",
                   "risk_field", "risk_reason", "headline", "chain", "current_stage", "current_role", "status",
                   "revision", "updated_at", "created_at")
INSERT_REQUEST = (f"INSERT INTO requests ({', '.join(REQUEST_COLUMNS)}) "
                  f"VALUES ({', '.join('?' * len(REQUEST_COLUMNS))})")
# store.requests.insert_approval's statement, for many rows at once
INSERT_APPROVAL = ("INSERT INTO approvals (workflow_id, revision, stage, role, approver, approver_role, decision, "
                   "comments, decided_at, proposed_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)")
UTC = timezone.utc
_at = datetime.fromtimestamp


class Random(random.Random):
    """random.Random with a cheaper choice(): a million requests make some ten million draws,
    and the stock one (rejection sampling on random bits) costs several times more."""

    def choice(self, seq):
        return seq[int(self.random() * len(seq))]


def people(n_requests: int) -> dict[str, list[str]]:
    """Role -> usernames of the generated directory for n_requests (the OS login aside)."""
    scale = max(1, round(n_requests / 100_000))
    return {role: [first, *(f"{role.replace('_', '')}{i}" for i in range(1, size * scale))]
            for role, (first, size) in STAFF.items()}


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
    policy = load_policy(env={})  # the built-in policy: never the user's file or environment
    svc = WorkflowService.open(path, key=key, create=True, policy=policy)
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
        events = _timeline(n, Random(seed), load_policy(env={}), shares)
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


def _timeline(n: int, rng: random.Random, policy, shares: dict):
    """Heap items (time, tie-break, event) for every event of n requests' lives, in time order:
    requests arrive in working hours (a Poisson stream over a year); each one's events are drawn
    when it is created and wait in a heap until their time comes."""
    years = max(1.0, 1.2 * n / WORK_YEAR)  # a year, or as long as a second between requests needs
    first = int((END - years * 365 * DAY) // DAY)
    monday = (first - (first + 3) % 7) * DAY  # 1970-01-01 was a Thursday
    gap = years * WORK_YEAR / n - 1  # mean working seconds between two requests, beyond the one
    cumulative = list(itertools.accumulate(k[1] for k in KINDS))
    # who else may decide a stage (a director may take a manager's): now and then one does
    seniors = {r.value: sorted(x.value for x in policy.stage_deciders(r) if x is not r) for r in Role}
    staff = people(n)
    assessed: dict = {}
    heap: list = []
    order = itertools.count()
    work = 0.0
    for _ in range(n):
        work += 1 + rng.expovariate(1 / gap)  # at least a second apart: ids by the second stay unique
        days, sec = divmod(work, CLOSE - OPEN)  # working time -> a weekday's working hours
        weeks, weekday = divmod(days, 5)
        t = monday + (weeks * 7 + weekday) * DAY + OPEN + sec
        while heap and heap[0][0] <= t:
            yield heapq.heappop(heap)
        wtype, _, fields, titles = KINDS[bisect.bisect(cumulative, rng.random() * cumulative[-1])]
        data = {name: draw(rng) for name, draw in fields.items()}
        known = assessed.get((wtype, *data.values()))
        if known is None:  # tens of thousands of distinct inputs: assess each once
            a = policy.assess(wtype, data)
            known = assessed[(wtype, *data.values())] = (
                a.workflow_type, data_to_json(a.data), _plain(a.data), req_sql.encode_chain(a.chain),
                [r.value for r in a.chain], a.risk_level.value, a.risk_level.rank, a.risk_field, a.risk_reason,
                str(a.data[a.risk_field]))
        creation, *later = _life(rng, t, known, rng.choice(titles), shares, seniors, staff)
        yield creation[0], 0, creation[1]  # nothing in the heap is due before it
        for when, event in later:
            heapq.heappush(heap, (when, next(order), event))
    while heap:
        yield heapq.heappop(heap)


def _plain(data: dict) -> dict:
    """The data as canonical_bytes writes it (money as text), sparing it the per-value fallback."""
    return {k: (v if isinstance(v, (int, str)) else str(v)) for k, v in data.items()}


def _later(t: float, rng: random.Random, log_median: float) -> float:
    """The next step: minutes to days later (log-normal, capped); moved into working hours but
    now and then (what the compliance flags look for)."""
    t += min(math.exp(rng.gauss(log_median, 1.2)), 5 * DAY)
    if rng.random() < 0.05:
        return t
    day, sec = divmod(t, DAY)
    weekday = (int(day) + 3) % 7  # Monday = 0
    if weekday < 5 and OPEN <= sec < CLOSE:
        return t
    if weekday >= 5 or sec >= CLOSE:
        day, weekday = day + 1, (weekday + 1) % 7
    if weekday >= 5:
        day += 7 - weekday
    return day * DAY + OPEN + rng.uniform(0, 2 * HOUR)  # early on the next working morning


def _life(rng: random.Random, t: float, known: tuple, title: str, shares: dict, seniors: dict, staff: dict) -> list:
    """One request's events as (time, (datetime, actor, action, id, details, request row, approval
    row)); the creation carries the request row, in its final state. Rows lack their last column
    (created_at, decided_at): the entry's own time, added when it is built."""
    wtype, as_json, data, chain_text, chain, risk, rank, field, reason, headline = known
    wid = f"WF-{int(t)}-{int(rng.random() * 10_000):04d}"
    requester = rng.choice(staff["employee"])
    created, events = (t, _at(t, UTC)), []
    revision = 1
    if rng.random() < shares["resubmitted"]:
        t, _, _ = _revision(events, rng, t, wid, chain, 1, "changes_requested", seniors, staff)
        t, revision = _later(t, rng, REACT), 2
        events.append((t, (_at(t, UTC), requester, "resubmitted", wid, {
            "comments": rng.choice(["Quote attached.", "Split as asked.", "Updated."]), "revision": 2,
            "title": title, "data": data, "risk_before": risk, "risk_level": risk, "risk_reason": reason,
            "chain": chain, "status_before": "changes_requested", "status_after": "awaiting_approval",
            "stage_after": 0}, None, None)))
    x, fate = rng.random(), "approved"
    for name in ("pending", "rejected", "changes_requested", "withdrawn"):
        if x < shares[name]:
            fate = name
            break
        x -= shares[name]
    t, status, stage = _revision(events, rng, t, wid, chain, revision, fate, seniors, staff)
    if fate == "withdrawn":
        t, status = _later(t, rng, REACT), "withdrawn"
        events.append((t, (_at(t, UTC), requester, "withdrawn", wid, {
            "comments": rng.choice(["No longer needed", "", "Bought it another way"]),
            "status_before": "awaiting_approval", "status_after": status, "revision": revision}, None, None)))
    last = events[-1][1][0] if events else created[1]
    row = (wid, wtype, title, f"{title}, filed through the desk.", requester, as_json, risk, rank, field, reason,
           headline, chain_text, stage, chain[stage] if status == "awaiting_approval" else None, status, revision,
           iso(last))
    events.insert(0, (created[0], (created[1], requester, "created", wid, {
        "workflow_type": wtype, "title": title, "data": data, "risk_level": risk, "risk_reason": reason,
        "chain": chain, "status_after": "awaiting_approval", "stage_after": 0}, row, None)))
    return events


def _revision(events: list, rng: random.Random, t: float, wid: str, chain: list, revision: int, fate: str,
              seniors: dict, staff: dict) -> tuple[float, str, int]:
    """One revision's stage decisions, as far as `fate` lets it go: (time, status, stage) after."""
    stages = len(chain)
    approved = stages if fate == "approved" else int(rng.random() * stages)
    last = {"rejected": "reject", "changes_requested": "request_changes"}.get(fate)
    used: set = set()  # segregation of duties: nobody decides two stages of one revision
    status, stage = "awaiting_approval", 0
    for stage in range(approved + (last is not None)):
        t = _later(t, rng, DECIDE)
        role = chain[stage]
        decider_role = rng.choice(seniors[role]) if seniors[role] and rng.random() < 0.04 else role
        approver = rng.choice(staff[decider_role])
        while approver in used:
            approver = rng.choice(staff[decider_role])
        used.add(approver)
        decision = "approve" if stage < approved else last
        action, notes = OUTCOMES[decision]
        status = action if decision != "approve" else "approved" if stage + 1 == stages else "awaiting_approval"
        after, comments, ts = stage + (decision == "approve"), rng.choice(notes), _at(t, UTC)
        events.append((t, (ts, approver, action, wid, {
            "decision": decision, "stage": stage, "stage_role": role, "decider_role": decider_role,
            "comments": comments, "revision": revision, "status_before": "awaiting_approval",
            "status_after": status, "stage_after": after},
            None, (wid, revision, stage, role, approver, decider_role, decision, comments))))
        stage = after
    return t, status, stage


def requests_for_entries(entries: int, pending: float = SHARES["pending"], seed: int = 7) -> int:
    """How many requests give about `entries` audit entries (measured on a sample of their
    lives), rounded to a thousand so that the cached database's name stays readable."""
    sample = 20_000
    events = sum(1 for _ in _timeline(sample, Random(seed), load_policy(env={}), {**SHARES, "pending": pending}))
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
