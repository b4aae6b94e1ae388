"""Build large benchmark databases quickly, with a valid audit chain.

Going through WorkflowService costs one transaction per action (that is the point of it); for a
million requests that would take minutes, so this writes the same rows with the core's own store
and audit functions inside a few big transactions. The result opens, lists and verifies exactly
like a database built one action at a time. Files are cached under /tmp by size and seed.

    python benchmarks/datagen.py 100000        # prints the path and writes PATH.key (0600, hex)
"""

from __future__ import annotations

import os
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hitl_tui.core.audit import AuditContext, build_record, canonical_bytes, chain_hash, iso  # noqa: E402
from hitl_tui.core.hydrate import data_to_json  # noqa: E402
from hitl_tui.core.policy import load_policy  # noqa: E402
from hitl_tui.core.service import WorkflowService  # noqa: E402
from hitl_tui.core.store import audit_log, meta  # noqa: E402
from hitl_tui.core.store import requests as req_sql  # noqa: E402

CACHE = Path(os.environ.get("HITL_BENCH_CACHE", "/tmp/hitl-bench"))
USERS = ([(f"employee{i}", "employee") for i in range(200)] + [(f"manager{i}", "manager") for i in range(20)]
         + [(f"director{i}", "director") for i in range(5)] + [("sarah.manager", "manager"),
         ("mike.director", "director"), ("lisa.executive", "executive"), ("carol.compliance", "compliance"),
         ("sam.security", "security"), ("ian.itadmin", "it_admin"), ("john.doe", "employee")])
TYPES = [("expense_approval", "amount"), ("refund_approval", "amount"), ("infrastructure_change", "impact"),
         ("contract_approval", "contract_value")]
TITLES = ["Conference travel", "Laptop refresh", "Team offsite", "Software licence", "Customer refund",
          "Database migration", "Vendor contract renewal", "Cloud budget top-up", "Training course"]
# the share of requests still awaiting a decision: a real desk decides most of what arrives
PENDING_SHARE = 0.02


def key_for(path: Path) -> bytes:
    return bytes.fromhex(path.with_suffix(path.suffix + ".key").read_text().strip())


def build(n_requests: int, seed: int = 7) -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"requests-{n_requests}-s{seed}.db"
    keyfile = path.with_suffix(path.suffix + ".key")
    if path.exists() and keyfile.exists():
        return path
    for leftover in CACHE.glob(path.name + "*"):
        leftover.unlink()
    key = os.urandom(32)
    fd = os.open(keyfile, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.write(fd, key.hex().encode())
    os.close(fd)
    rng = random.Random(seed)
    policy = load_policy(env={})
    svc = WorkflowService.open(path, key=key, policy=policy)
    for name, role in USERS:
        svc.add_user(name, role)
    conn, ctx = svc._conn, AuditContext("bench-datagen", "bench", None, None)
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    t0 = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    size, head = audit_log.checked_head(conn)
    requesters = [u for u, r in USERS if r == "employee"]
    assessed: dict = {}
    for n in range(n_requests):
        wtype, field = rng.choice(TYPES)
        value = _value(rng, wtype)
        a = assessed.get((wtype, value))
        if a is None:  # a few dozen distinct inputs: assess each once
            extra = {"customer": "Acme Corp"} if wtype == "refund_approval" else {}
            a = assessed[(wtype, value)] = policy.assess(wtype, {field: value, **extra})
        created = start + timedelta(seconds=n * 30 + rng.randint(0, 29))
        wid = f"WF-{int(created.timestamp())}-{rng.randint(0, 9999):04d}"
        while req_sql.exists(conn, wid):
            wid = f"WF-{int(created.timestamp())}-{rng.randint(0, 9999):04d}"
        requester = rng.choice(requesters)
        pending = rng.random() < PENDING_SHARE
        status, stage = ("awaiting_approval", 0) if pending else (rng.choice(["approved", "rejected"]), 0)
        if status == "approved":
            stage = len(a.chain)
        title = f"{rng.choice(TITLES)} #{n}"
        req_sql.insert(conn, {
            "id": wid, "workflow_type": wtype, "title": title, "description": "Generated for benchmarks",
            "requester": requester, "data": data_to_json(a.data), "risk_level": a.risk_level.value,
            "risk_rank": a.risk_level.rank, "risk_field": a.risk_field, "risk_reason": a.risk_reason,
            "headline": str(a.data[a.risk_field]), "chain": req_sql.encode_chain(a.chain),
            "current_stage": stage, "current_role": a.chain[0].value if pending else None,
            "status": status, "revision": 1, "created_at": iso(created), "updated_at": iso(created),
        })
        size, head = _append(conn, size, head, created, requester, "created", wid,
                             {"workflow_type": wtype, "title": title, "risk_level": a.risk_level.value}, ctx)
        if not pending:
            size, head = _append(conn, size, head, created + timedelta(hours=2), "manager0",
                                 status, wid, {"decision": status, "stage": 0}, ctx)
        if n % 50_000 == 49_999:
            meta.set_audit_head(conn, size, head)  # the head beside the chain, as append() keeps it
            conn.execute("COMMIT")
            conn.execute("BEGIN IMMEDIATE")
    meta.set_audit_head(conn, size, head)
    conn.execute("COMMIT")
    svc.close(checkpoint=False)
    print(f"built {path.name}: {n_requests:,} requests, {size:,} audit entries in "
          f"{time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return path


def _append(conn, size, head, ts, actor, action, wid, details, ctx):
    seq = size + 1
    body = canonical_bytes(build_record(seq, head, ts, actor, action, wid, details, ctx))
    digest = chain_hash(head, body)
    audit_log.append(conn, seq, wid, body, digest)
    return seq, digest


def _value(rng: random.Random, wtype: str):
    if wtype in ("infrastructure_change",):
        return rng.choice(["low", "medium", "high", "critical"])
    return str(rng.choice([250, 800, 2500, 9000, 15000, 40000, 75000, 600000, 3000000]))


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    print(build(n))
