"""Several processes deciding on one database at once: nothing lost, no stage decided twice,
and the audit chain still verifies."""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import pytest

from hitl_tui.core.errors import HitlError
from hitl_tui.core.service import WorkflowService

REQUESTS = 40
WORKERS = 4


def decide_everything(db: str, key_hex: str, manager: str, director: str, seed: int,
                      start_at: float) -> list[tuple[str, str]]:
    """Keep approving whatever this pair of people may approve until nothing is left."""
    rng = random.Random(seed)
    done: list[tuple[str, str]] = []
    svc = WorkflowService.open(db, key=bytes.fromhex(key_hex))
    time.sleep(max(0.0, start_at - time.time()))  # all processes start deciding together
    try:
        for _ in range(50):
            progressed = False
            for who in (manager, director):
                ids = [r.id for r in svc.get_pending_approvals(who)]
                rng.shuffle(ids)
                for wid in ids:
                    try:
                        svc.approve_workflow(wid, who, f"by {who}")
                    except HitlError:
                        continue  # someone else got there first, or segregation of duties
                    done.append((wid, who))
                    progressed = True
                    # SQLite's busy handler is not fair: a process deciding in a tight loop can
                    # hold the writer lock throughout. People pause between decisions; so do we.
                    time.sleep(rng.uniform(0, 0.003))
            if not progressed and not svc.get_pending_approvals(manager) and not svc.get_pending_approvals(director):
                break
    finally:
        svc.close(checkpoint=False)
    return done


@pytest.mark.slow
def test_processes_racing_to_decide(tmp_path):
    db, key = tmp_path / "race.db", os.urandom(32)
    svc = WorkflowService.open(db, key=key)
    svc.add_user("john.doe", "employee")
    for i in range(WORKERS):
        svc.add_user(f"manager{i}", "manager")
        svc.add_user(f"director{i}", "director")
    ids = [svc.create_workflow_request("expense_approval", f"Item {n}", "", "john.doe", {"amount": 5000})
           for n in range(REQUESTS)]  # MEDIUM: manager then director
    svc.close(checkpoint=False)

    start_at = time.time() + 4.0  # time enough for every spawned interpreter to import and open
    with ProcessPoolExecutor(WORKERS, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(decide_everything, str(db), key.hex(), f"manager{i}", f"director{i}", i, start_at)
                   for i in range(WORKERS)]
        per_worker = [f.result() for f in futures]
        claimed = [item for done in per_worker for item in done]
    assert sum(1 for done in per_worker if done) >= 2, "the processes did not actually race"

    svc = WorkflowService.open(db, key=key)
    try:
        approvals = {wid: svc.get_workflow(wid).approvals for wid in ids}
        # every request went through both stages exactly once
        assert all(svc.get_workflow(wid).status.value == "approved" for wid in ids)
        assert all(sorted(a.stage for a in approvals[wid]) == [0, 1] for wid in ids)
        # what the processes believe they did is exactly what the database holds: nothing lost
        stored = sorted((wid, a.approver) for wid in ids for a in approvals[wid])
        assert sorted(claimed) == stored
        # directors may take a manager stage, but nobody decided two stages of one request
        assert all(len({a.approver for a in approvals[wid]}) == 2 for wid in ids)
        # one audit entry per decision, and the chain is intact
        counts = Counter(e.action for e in svc.iter_audit())
        assert counts["approved"] == 2 * REQUESTS and counts["created"] == REQUESTS
        result = svc.verify_audit()
        assert result.ok, result.problem
    finally:
        svc.close(checkpoint=False)
