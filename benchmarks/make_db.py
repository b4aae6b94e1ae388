"""A small, realistic, encrypted desk for screenshots and trying the TUI by hand.

    python benchmarks/make_db.py sample DIR          # people, requests at every risk level, decisions

Writes DIR/hitl.db and DIR/hitl.key (0600, 64 hex digits); run the TUI on it with
    HITL_DB_KEY_FILE=DIR/hitl.key hitl-tui --db DIR/hitl.db
Everything goes through WorkflowService, like any user's data. For large databases (benchmarks)
use benchmarks/bulkdata.py instead.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hitl_tui.core.audit import os_login  # noqa: E402
from hitl_tui.core.service import WorkflowService  # noqa: E402

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


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "sample":
        print(__doc__)
        return 2
    directory = Path(argv[1])
    me = os.environ.get("HITL_SAMPLE_USER") or os_login()
    svc, _ = new_db(directory, me)
    fill_sample(svc, me)
    svc.close()
    print(directory / "hitl.db")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
