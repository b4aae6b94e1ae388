"""Peak memory of `hitl-tui export-audit` on a 1M-entry audit log, against opening the database.

    .venv/bin/python benchmarks/bench_export_memory.py            # 1,000,000 entries
    .venv/bin/python benchmarks/bench_export_memory.py 200000     # a quicker run

The database is built once and cached under /tmp (HITL_BENCH_CACHE): realistic requests of four
workflow types, each with its "created" entry and the decisions along its approval chain (most
approved, some rejected, sent back or withdrawn, a few still pending), written with the core's
own functions (build_record, canonical_bytes, chain_hash, audit_log.append, requests.insert)
inside big transactions, so the chain verifies exactly like one written by the service.

Each command runs in its own process; its peak resident memory (ru_maxrss from wait4) is set
against the baseline: the same interpreter importing the CLI and opening the database, nothing
more. The goal is flat memory: under 150 MB whatever the size of the log.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hitl_tui.core.audit import AuditContext, build_record, canonical_bytes, chain_hash, iso, os_login  # noqa: E402
from hitl_tui.core.hydrate import data_to_json  # noqa: E402
from hitl_tui.core.policy import load_policy  # noqa: E402
from hitl_tui.core.service import WorkflowService  # noqa: E402
from hitl_tui.core.store import audit_log, meta  # noqa: E402
from hitl_tui.core.store import requests as req_sql  # noqa: E402
from hitl_tui.core.store.connection import open_connection  # noqa: E402

CACHE = Path(os.environ.get("HITL_BENCH_CACHE", "/tmp/hitl-bench-export"))
GOAL_MB = 150
SCRIPT = Path(sys.executable).with_name("hitl-tui")
PEOPLE = {"manager": [f"manager{i}" for i in range(12)], "director": [f"director{i}" for i in range(4)],
          "executive": ["lisa.executive"], "compliance": ["carol.compliance"], "security": ["sam.security"],
          "it_admin": ["ian.itadmin"]}
EMPLOYEES = [f"employee{i}" for i in range(300)]
KINDS = [("expense_approval", "amount", ["250", "800", "2500", "9000", "15000", "40000", "75000"]),
         ("infrastructure_change", "impact", ["low", "medium", "high", "critical"]),
         ("contract_approval", "contract_value", ["20000", "240000", "1200000", "3500000"]),
         ("refund_approval", "amount", ["120", "3400", "18000", "40000"])]
TITLES = ["Conference travel", "Laptop refresh", "Team offsite", "Software licence", "Customer refund",
          "Database migration", "Vendor contract renewal", "Cloud budget top-up", "Training course"]


def build(entries: int, seed: int = 11) -> tuple[Path, Path]:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"export-{entries}-s{seed}.db"
    keyfile = path.with_name(path.name + ".key")
    if path.exists() and keyfile.exists():
        return path, keyfile
    for leftover in CACHE.glob(path.name + "*"):
        leftover.unlink()
    key = os.urandom(32)
    fd = os.open(keyfile, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.write(fd, key.hex().encode())
    os.close(fd)
    me = os_login()
    with WorkflowService.open(path, key=key, create=True) as svc:  # users through the engine
        svc.add_user(me, "compliance", admin=True, actor=me)  # the exporter: the OS login
        for role, names in PEOPLE.items():
            for name in names:
                svc.add_user(name, role, actor=me)
        for name in EMPLOYEES:
            svc.add_user(name, "employee", actor=me)
    t0 = time.perf_counter()
    conn = open_connection(path, key)
    try:
        _fill(conn, entries, random.Random(seed))
    finally:
        conn.close()
    print(f"built {path.name} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return path, keyfile


def _fill(conn, entries: int, rng: random.Random) -> None:
    policy = load_policy(env={})
    ctx = AuditContext("bench-export", "bench", None, None)
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    conn.execute("BEGIN IMMEDIATE")
    size, head = audit_log.checked_head(conn)

    def append(ts, actor, action, wid, details):
        nonlocal size, head
        body = canonical_bytes(build_record(size + 1, head, ts, actor, action, wid, details, ctx))
        size, head = size + 1, chain_hash(head, body)
        audit_log.append(conn, size, wid, body, head)

    n = 0
    while size < entries:
        n += 1
        wtype, field, values = rng.choice(KINDS)
        data = {field: rng.choice(values), **({"customer": "Acme Corp"} if wtype == "refund_approval" else {})}
        a = policy.assess(wtype, data)
        created = start + timedelta(seconds=n * 20)
        wid, requester, title = f"WF-{int(created.timestamp())}-{n % 10_000:04d}", rng.choice(EMPLOYEES), f"{rng.choice(TITLES)} #{n}"
        chain = [r.value for r in a.chain]
        append(created, requester, "created", wid, {
            "workflow_type": wtype, "title": title, "data": a.data, "risk_level": a.risk_level.value,
            "risk_reason": a.risk_reason, "chain": chain, "status_after": "awaiting_approval", "stage_after": 0})
        fate = rng.random()  # 70% approved, 15% rejected, 8% sent back, 5% withdrawn, 2% pending
        stop = len(chain) if fate < 0.70 else rng.randrange(len(chain))
        status, when, stage = "awaiting_approval", created, 0
        for stage in range(stop + (0 if fate < 0.70 or fate >= 0.93 else 1)):
            when += timedelta(minutes=rng.randint(5, 4000))
            role = chain[stage]
            action = "approved" if stage < stop else ("rejected" if fate < 0.85 else "changes_requested")
            last = action != "approved" or stage + 1 == len(chain)
            status = {"approved": "approved" if last else "awaiting_approval", "rejected": "rejected",
                      "changes_requested": "changes_requested"}[action]
            append(when, rng.choice(PEOPLE[role]), action, wid, {
                "decision": {"approved": "approve", "rejected": "reject"}.get(action, "request_changes"),
                "stage": stage, "stage_role": role, "decider_role": role, "comments": "Looks right to me",
                "revision": 1, "status_before": "awaiting_approval", "status_after": status,
                "stage_after": stage + 1 if action == "approved" else stage})
        if 0.93 <= fate < 0.98:
            status = "withdrawn"
            append(when + timedelta(hours=1), requester, "withdrawn", wid,
                   {"comments": "No longer needed", "status_before": "awaiting_approval", "status_after": status})
        req_sql.insert(conn, {
            "id": wid, "workflow_type": wtype, "title": title, "description": "Generated for the export benchmark",
            "requester": requester, "data": data_to_json(a.data), "risk_level": a.risk_level.value,
            "risk_rank": a.risk_level.rank, "risk_field": a.risk_field, "risk_reason": a.risk_reason,
            "headline": str(a.data[a.risk_field]), "chain": req_sql.encode_chain(a.chain),
            "current_stage": len(chain) if status == "approved" else stage,
            "current_role": chain[stage] if status == "awaiting_approval" else None, "status": status,
            "revision": 1, "created_at": iso(created), "updated_at": iso(created)})
        if n % 20_000 == 0:
            conn.execute("COMMIT")
            conn.execute("BEGIN IMMEDIATE")
    meta.set_audit_head(conn, size, head)
    conn.execute("COMMIT")


def measure(label: str, args: list[str], env: dict, stdout=subprocess.DEVNULL) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=stdout, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace").strip()
    return {"label": label, "mb": usage.ru_maxrss / 1024, "s": time.perf_counter() - t0,
            "rc": proc.returncode, "err": err.splitlines()[-1] if err else ""}


def main() -> None:
    entries = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    db, keyfile = build(entries)
    home = CACHE / "home"  # signing keys for the bench database live here, not in your home
    env = {**os.environ, "HITL_DB_PATH": str(db), "HITL_DB_KEY_FILE": str(keyfile), "HOME": str(home),
           "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config"),
           "XDG_STATE_HOME": str(home / "state"), "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    jsonl = CACHE / "export.jsonl"
    opener = ("import hitl_tui.cli, hitl_tui.commands.export; from hitl_tui.core.service import WorkflowService; "
              f"WorkflowService.open({str(db)!r}).close(checkpoint=False)")
    runs = [
        measure("baseline: import the CLI, open the database", [sys.executable, "-c", opener], env),
        measure("export-audit --format jsonl -o FILE", [str(SCRIPT), "export-audit", "--format", "jsonl", "-o", str(jsonl)], env),
        measure("export-audit --format csv  > /dev/null", [str(SCRIPT), "export-audit", "--format", "csv"], env),
        measure("export-audit --format html > /dev/null", [str(SCRIPT), "export-audit", "--format", "html"], env),
        measure("verify-audit --checkpoint FILE.jsonl", [str(SCRIPT), "verify-audit", "--checkpoint", str(jsonl)], env),
    ]
    base = runs[0]["mb"]
    print(f"\naudit entries: {entries:,} (database {db.stat().st_size / 2**20:.0f} MiB, "
          f"JSONL export {jsonl.stat().st_size / 2**20:.0f} MiB)")
    print(f"{'command':<46} {'peak RSS':>9} {'x baseline':>10} {'vs 150 MB':>9} {'time':>7}  exit")
    for r in runs:
        verdict = "ok" if r["mb"] < GOAL_MB else "OVER"
        print(f"{r['label']:<46} {r['mb']:>6.0f} MB {r['mb'] / base:>9.2f}x {verdict:>9} {r['s']:>6.1f}s  {r['rc']}")
        if r["rc"]:
            print(f"    {r['err']}")
    jsonl.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
