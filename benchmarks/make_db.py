"""Populated, encrypted databases for screenshots and benchmarks.

    python benchmarks/make_db.py sample DIR          # a small realistic desk (people, requests, decisions)
    python benchmarks/make_db.py bulk DIR N          # the sample plus N generated requests

Each writes DIR/hitl.db and DIR/hitl.key (0600, 64 hex digits); run the TUI on it with
    HITL_DB_KEY_FILE=DIR/hitl.key hitl-tui --db DIR/hitl.db
Sample data goes through WorkflowService like any user's would. Bulk data is written in one
transaction through the core's own store and audit functions, so the audit chain stays valid
(a "created" entry per request, hash-linked) while a million rows take well under a minute.
"""

from __future__ import annotations

import os
import random
import secrets
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hitl_tui.core.audit import build_record, canonical_bytes, chain_hash, iso, os_login  # noqa: E402
from hitl_tui.core.hydrate import data_to_json  # noqa: E402
from hitl_tui.core.models import WorkflowStatus  # noqa: E402
from hitl_tui.core.service import WorkflowService  # noqa: E402
from hitl_tui.core.store import audit_log  # noqa: E402
from hitl_tui.core.store import requests as req_sql  # noqa: E402

PEOPLE = [
    ("john.doe", "employee"), ("priya.patel", "employee"), ("lee.wong", "employee"),
    ("sarah.manager", "manager"), ("tom.manager", "manager"), ("mike.director", "director"),
    ("emma.exec", "executive"), ("carol.compliance", "compliance"), ("sam.security", "security"),
    ("ian.itadmin", "it_admin"),
]


def write_key(path: Path) -> bytes:
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.hex() + "\n")
    return key


def new_db(directory: Path, me: str | None = None, my_role: str = "manager") -> tuple[WorkflowService, bytes]:
    directory.mkdir(parents=True, exist_ok=True)
    db = directory / "hitl.db"
    for leftover in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        leftover.unlink(missing_ok=True)
    key = write_key(directory / "hitl.key")
    svc = WorkflowService.open(db, key=key, create=True)
    for name, role in PEOPLE:
        svc.add_user(name, role)
    me = me or os_login()
    if me and svc.find_user(me) is None:
        svc.add_user(me, my_role, display_name="you")
    return svc, key


def fill_sample(svc: WorkflowService, me: str) -> None:
    """A desk worth looking at: every risk level, stages done and to come, odd titles."""
    new = svc.create_workflow_request
    a = new("expense_approval", "Singapore strategy travel", "Executive travel to Singapore for the APAC "
            "strategy offsite: flights, four nights, ground transport.", "john.doe",
            {"amount": "15000", "category": "travel", "cost_center": "CC-4410"})
    new("expense_approval", "Team offsite catering", "Lunch for 30 people.", "priya.patel",
        {"amount": "3,000", "category": "meals"})
    new("expense_approval", "Monitor for the new hire", "27-inch monitor.", "lee.wong",
        {"amount": "450", "category": "equipment"})
    new("contract_approval", "Cloud hosting renewal, three years", "Renewal with the current provider.",
        "john.doe", {"contract_value": "1,200,000", "counterparty": "Nimbus Hosting Ltd", "term_months": "36"})
    new("customer_escalation", "Acme Corp outage credit", "Outage on 3 May, SLA breached.", "priya.patel",
        {"severity": "major", "customer": "Acme Corp", "credit_amount": "12000"})
    new("expense_approval", "[@click=app.quit]Pay me[/] \x1b[31mnow\x1b[0m", "Markup and ANSI must show "
        "literally: [b]not bold[/b].", "lee.wong", {"amount": "999", "category": "other"})
    new("refund_approval", "Refund order #88121", "Damaged on arrival.", "john.doe",
        {"amount": "620", "customer": "Globex", "order_id": "88121"})
    critical = new("expense_approval", "Data-centre UPS replacement", "Both UPS units are end of life.",
                   "priya.patel", {"amount": "82000", "category": "equipment"})
    svc.approve_workflow(a, "sarah.manager", "Within the travel budget.")
    svc.approve_workflow(critical, "tom.manager", "Necessary; quotes attached.")
    mine = new("expense_approval", "Conference tickets", "Two tickets for PyCon.", me,
               {"amount": "1,800", "category": "training"})
    svc.approve_workflow(mine, "tom.manager", "")
    back = new("expense_approval", "Laptop upgrade", "Faster build machine.", me,
               {"amount": "2,400", "category": "equipment"})
    svc.request_changes(back, "tom.manager", "Attach the quote and say which model.")
    done = new("expense_approval", "Printer toner", "", "lee.wong", {"amount": "120", "category": "other"})
    svc.approve_workflow(done, me, "OK")
    rej = new("expense_approval", "Espresso machine", "For the 4th floor.", "john.doe",
              {"amount": "2,900", "category": "equipment"})
    svc.reject_workflow(rej, me, "Not a business expense.")


TEMPLATES = [
    ("expense_approval", {"category": "travel"}, "amount", ["450", "3000", "15000", "82000", "999.50", "7400"]),
    ("expense_approval", {"category": "software"}, "amount", ["120", "8000", "24000"]),
    ("contract_approval", {"counterparty": "Initech"}, "contract_value", ["40000", "300000", "1500000", "5000000"]),
    ("infrastructure_change", {"system": "payments-db"}, "impact", ["low", "medium", "high", "critical"]),
    ("customer_escalation", {"customer": "Globex"}, "severity", ["low", "medium", "high", "critical"]),
    ("refund_approval", {"customer": "Acme"}, "amount", ["90", "1200", "9000", "40000"]),
]
TITLES = ["Quarterly licence true-up", "Vendor onboarding", "Travel to Berlin", "Firewall rule change",
          "Customer credit", "Refund for duplicate charge", "Hardware refresh", "Conference sponsorship"]


def bulk(svc: WorkflowService, n: int, seed: int = 7) -> None:
    """n requests, each with its hash-linked "created" audit entry, in one transaction.

    Rows go in with executemany; audit entries are built, hashed and appended with the core's own
    functions (build_record, canonical_bytes, chain_hash, audit_log.append), so verification
    passes afterwards exactly as for entries the service wrote one by one.
    """
    rnd = random.Random(seed)
    variants = []
    for wtype, extra, field, values in TEMPLATES:
        for value in values:
            variants.append(svc.policy.assess(wtype, {**extra, field: value}))
    requesters = [p for p, r in PEOPLE if r == "employee"] + [f"emp{i:03d}" for i in range(40)]
    for name in requesters[3:]:
        if svc.find_user(name) is None:
            svc.add_user(name, "employee")
    now = datetime.now(timezone.utc)
    base = int(time.time()) - 90 * 86400
    cols = ("id", "workflow_type", "title", "description", "requester", "data", "risk_level", "risk_rank",
            "risk_field", "risk_reason", "headline", "chain", "current_stage", "current_role", "status",
            "revision", "created_at", "updated_at")
    insert = f"INSERT INTO requests ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    encoded = {id(a): (data_to_json(a.data), req_sql.encode_chain(a.chain)) for a in variants}
    with svc._write() as conn:  # the service's own serialized write transaction
        size, head = audit_log.checked_head(conn)
        rows = []
        for i in range(n):
            a = rnd.choice(variants)
            created = now - timedelta(seconds=rnd.randrange(90 * 86400), microseconds=rnd.randrange(10**6))
            stage = rnd.randrange(len(a.chain))
            status = WorkflowStatus.AWAITING_APPROVAL if rnd.random() < 0.4 else rnd.choice(
                [WorkflowStatus.APPROVED, WorkflowStatus.REJECTED, WorkflowStatus.WITHDRAWN])
            if status is WorkflowStatus.APPROVED:
                stage = len(a.chain)
            wid = f"WF-{base + i // 10_000}-{i % 10_000:04d}"
            title = f"{rnd.choice(TITLES)} #{i}"
            requester = rnd.choice(requesters)
            data_json, chain = encoded[id(a)]
            ts = iso(created)
            rows.append((wid, a.workflow_type, title, "Generated.", requester, data_json, a.risk_level.value,
                         a.risk_level.rank, a.risk_field, a.risk_reason, str(a.data[a.risk_field]), chain, stage,
                         a.chain[stage].value if status is WorkflowStatus.AWAITING_APPROVAL else None,
                         status.value, 1, ts, ts))
            size += 1
            body = canonical_bytes(build_record(size, head, created, requester, "created", wid, {
                "workflow_type": a.workflow_type, "title": title, "data": a.data,
                "risk_level": a.risk_level.value, "risk_reason": a.risk_reason,
                "chain": [r.value for r in a.chain], "status_after": status.value, "stage_after": stage,
                "generated": True,
            }, svc.ctx))
            head = chain_hash(head, body)
            audit_log.append(conn, size, wid, body, head)
            if len(rows) >= 20_000:
                conn.executemany(insert, rows)
                rows.clear()
        if rows:
            conn.executemany(insert, rows)


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("sample", "bulk"):
        print(__doc__)
        return 2
    directory = Path(argv[1])
    me = os.environ.get("HITL_SAMPLE_USER") or os_login()
    svc, _ = new_db(directory, me)
    fill_sample(svc, me)
    if argv[0] == "bulk":
        started = time.perf_counter()
        bulk(svc, int(argv[2]))
        print(f"{int(argv[2]):,} requests in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    svc.close()
    print(directory / "hitl.db")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
