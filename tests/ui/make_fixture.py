"""Regenerate tests/ui/fixtures/desk.db, the fixed database behind the snapshot tests.

    HOME=$(mktemp -d) .venv/bin/python tests/ui/make_fixture.py

Request ids and timestamps come from the engine (random ids, the real clock), so snapshots need
a database made once and kept: the tests copy it to a temp HOME and run the app with a fixed
clock (FIXTURE_NOW). Regenerate it only when the schema or the sample must change, then update
FIXTURE_NOW and the snapshots (pytest tests/ui --snapshot-update).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from hitl_tui.core.service import WorkflowService  # noqa: E402

KEY_HEX = "5f1e0c7a9b3d2e4f60718293a4b5c6d7e8f90112233445566778899aabbccdd0"
USERS = [("alice", "employee"), ("ben.employee", "employee"), ("ops.manager", "manager"),
         ("kim.manager", "manager"), ("dora.director", "director"), ("eve.exec", "executive"),
         ("carl.compliance", "compliance")]


def main() -> None:
    db = HERE / "fixtures" / "desk.db"
    for leftover in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        leftover.unlink(missing_ok=True)
    svc = WorkflowService.open(db, key=bytes.fromhex(KEY_HEX), create=True)
    for name, role in USERS:
        svc.add_user(name, role)
    new = svc.create_workflow_request
    travel = new("expense_approval", "Singapore strategy travel", "Flights and four nights for the APAC "
                 "strategy offsite.", "alice", {"amount": "15000", "category": "travel", "cost_center": "CC-4410"})
    new("expense_approval", "Team offsite catering", "Lunch for 30 people.", "ben.employee",
        {"amount": "3,000", "category": "meals"})
    new("contract_approval", "Cloud hosting renewal", "Three-year renewal.", "alice",
        {"contract_value": "1,200,000", "counterparty": "Nimbus Hosting", "term_months": "36"})
    new("expense_approval", "[@click=app.quit]Pay me[/] \x1b[31mnow", "Markup must stay literal: [b]x[/b]",
        "ben.employee", {"amount": "999", "category": "other"})
    mine = new("expense_approval", "Laptop upgrade", "Faster build machine.", "ops.manager",
               {"amount": "2,400", "category": "equipment"})
    svc.request_changes(mine, "kim.manager", "Attach the quote, please.")
    svc.approve_workflow(travel, "kim.manager", "Within budget.")
    svc.close(checkpoint=False)
    for leftover in (Path(f"{db}-wal"), Path(f"{db}-shm")):
        leftover.unlink(missing_ok=True)
    print(db)


if __name__ == "__main__":
    main()
