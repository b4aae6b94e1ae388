"""Proof that a generated database is one the engine could have written: the audit chain
verifies, and every request's row and approvals agree with its audit entries.

    .venv/bin/python benchmarks/bulkcheck.py DB KEYFILE     # bulkdata.py runs it after a build

Each request's entries are replayed through the core's own transition table (workflow.transition),
with the rules rbac enforces (the stage's role may decide it, the requester never does, nobody
decides two stages of one revision); the result must be the row's status, stage, role, revision
and times, and the approvals rows must be exactly the decisions, one per decided stage. The three
tables are streamed side by side in workflow-id order, so a million requests need little memory.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from collections import Counter
from operator import itemgetter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hitl_tui.core.errors import HitlError  # noqa: E402
from hitl_tui.core.models import Role, WorkflowStatus  # noqa: E402
from hitl_tui.core.service import WorkflowService  # noqa: E402
from hitl_tui.core.store import requests as req_sql  # noqa: E402
from hitl_tui.core.workflow import Action, transition  # noqa: E402

ACTIONS = {"approved": Action.APPROVE, "rejected": Action.REJECT, "changes_requested": Action.REQUEST_CHANGES,
           "withdrawn": Action.WITHDRAW, "resubmitted": Action.RESUBMIT}
SHOWN = 10


def check(db: Path, key: bytes) -> bool:
    svc = WorkflowService.open(db, key=key)  # the database's own policy: built-in, as bulkdata left it
    try:
        t0 = time.perf_counter()
        result = svc.verify_audit()
        print(f"verify_audit(): ok={result.ok}, {result.entries:,} entries ({time.perf_counter() - t0:.0f} s)"
              + (f": {result.problem}" if result.problem else ""))
        t0 = time.perf_counter()
        conn = svc._reader()
        try:
            conn.execute("BEGIN")  # one snapshot for the three streams
            roles = dict(conn.execute("SELECT username, role FROM users"))
            statuses = Counter(dict(conn.execute("SELECT status, count(*) FROM requests GROUP BY status")))
            problems, replayed = _replay(conn, svc.policy, roles)
            conn.execute("COMMIT")
        finally:
            conn.close()
    finally:
        svc.close(checkpoint=False)
    total = sum(statuses.values())
    print(f"states replayed for {replayed:,} requests ({time.perf_counter() - t0:.0f} s): "
          + ", ".join(f"{s} {c / total:.1%}" for s, c in statuses.most_common()))
    for problem in problems[:SHOWN]:
        print(f"  {problem}")
    if len(problems) > SHOWN:
        print(f"  ... and {len(problems) - SHOWN:,} more")
    print("consistent" if result.ok and not problems else "NOT consistent")
    return result.ok and not problems


def _replay(conn, policy, roles: dict) -> tuple[list[str], int]:
    rows = conn.execute("SELECT id, chain, status, current_stage, current_role, revision, created_at, updated_at, "
                        "deciders FROM requests ORDER BY id")
    audit = itertools.groupby(conn.execute(
        "SELECT workflow_id, CAST(body AS BLOB) FROM audit_log WHERE workflow_id IS NOT NULL "
        "ORDER BY workflow_id, seq"), itemgetter(0))
    approvals = itertools.groupby(conn.execute(
        "SELECT workflow_id, revision, stage, role, approver, approver_role, decision, decided_at FROM approvals "
        "ORDER BY workflow_id, revision, stage"), itemgetter(0))
    next_audit, next_approvals = next(audit, (None, ())), next(approvals, (None, ()))
    problems, count = [], 0
    for row in rows:
        count += 1
        wid = row[0]
        entries, stored = [], []
        while next_audit[0] is not None and next_audit[0] < wid:
            problems.append(f"audit entries for {next_audit[0]}, which is no request")
            next_audit = next(audit, (None, ()))
        if next_audit[0] == wid:
            entries = [json.loads(body) for _, body in next_audit[1]]
            next_audit = next(audit, (None, ()))
        while next_approvals[0] is not None and next_approvals[0] < wid:
            problems.append(f"approvals for {next_approvals[0]}, which is no request")
            next_approvals = next(approvals, (None, ()))
        if next_approvals[0] == wid:
            stored = [tuple(a[1:]) for a in next_approvals[1]]
            next_approvals = next(approvals, (None, ()))
        problem = _one(policy, roles, row, entries, stored)
        if problem:
            problems.append(f"{wid}: {problem}")
    return problems, count


def _one(policy, roles: dict, row: tuple, entries: list[dict], stored: list[tuple]) -> str | None:
    """What is wrong with one request, or None."""
    wid, chain_text, status, stage, role, revision, created_at, updated_at, deciders = row
    if not entries or entries[0]["action"] != "created":
        return "its first audit entry is not 'created'"
    requester, chain = entries[0]["actor"], entries[0]["details"]["chain"]
    state, at, rev, decided, used = "awaiting_approval", 0, 1, [], set()
    for rec in entries[1:]:
        action, d = rec["action"], rec["details"]
        try:
            out = transition(ACTIONS[action], WorkflowStatus(state), at, len(chain), wid)
        except (KeyError, HitlError) as exc:
            return f"entry {rec['seq']} ({action}) cannot follow {state}: {exc}"
        if action in ("withdrawn", "resubmitted"):
            if rec["actor"] != requester:
                return f"entry {rec['seq']}: {action} by {rec['actor']}, not the requester"
            if action == "resubmitted":
                rev, chain, used = rev + 1, d["chain"], set()
        else:
            who, as_role = rec["actor"], d["decider_role"]
            if who == requester or who in used:
                return f"entry {rec['seq']}: {who} may not decide (segregation of duties)"
            if roles.get(who) != as_role or Role(as_role) not in policy.stage_deciders(Role(chain[at])):
                return f"entry {rec['seq']}: {who} ({roles.get(who)}) may not decide a {chain[at]} stage"
            used.add(who)
            decided.append((rev, at, chain[at], who, as_role, d["decision"], rec["ts"]))
        state, at = out.status.value, out.stage
        if d.get("status_after") != state or d.get("stage_after", at) != at:
            return f"entry {rec['seq']} says {d.get('status_after')}/{d.get('stage_after')}, replay gives {state}/{at}"
    want_role = chain[at] if state == "awaiting_approval" else None
    if (status, stage, role, revision) != (state, at, want_role, rev):
        return f"row is {status}/{stage}/{role}/rev {revision}, its entries say {state}/{at}/{want_role}/rev {rev}"
    if chain_text != req_sql.encode_chain(Role(r) for r in chain):
        return f"row chain {chain_text} differs from the entries' {chain}"
    if (created_at, updated_at) != (entries[0]["ts"], entries[-1]["ts"]):
        return "created_at/updated_at differ from its first and last entries"
    if stored != decided:
        return f"approvals rows {stored} differ from its decisions {decided}"
    want_deciders = ",".join(["", *(d[3] for d in decided if d[0] == rev), ""])
    if deciders != want_deciders:
        return f"deciders {deciders!r} differ from its current revision's {want_deciders!r}"
    return None


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(0 if check(Path(sys.argv[1]), bytes.fromhex(Path(sys.argv[2]).read_text().strip())) else 1)
