"""Every SQL statement of the engine lives in hitl_tui/core/store/ (issue 10, section 6): the other
modules call its functions. The demo's tamper simulation is the one exception, on purpose (it is
the insider's raw SQL, going around the engine)."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "hitl_tui"
#: the insider of the guided tour: its statements are the attack, not the engine's
ALLOWED = {PACKAGE / "demo" / "tamper.py"}
_STATEMENT = re.compile(r"""(\.execute(many|script)?\(|(?<!["'])["'](SELECT|INSERT|UPDATE|DELETE|PRAGMA|BEGIN|COMMIT|ROLLBACK|"""
                        r"""CREATE|DROP)\b)""")


def test_no_sql_outside_the_store():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path in ALLOWED or (PACKAGE / "core" / "store") in path.parents:
            continue
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if _STATEMENT.search(line):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()[:90]}")
    assert not found, "SQL outside hitl_tui/core/store/:\n" + "\n".join(found)


def test_one_seconds_ids(service):
    """store.requests.ids_starting, which the id allocator asks when a second's random ids
    collide: a LIKE pattern whose wildcards are escaped, so only that prefix matches."""
    from hitl_tui.core.store import requests as req_sql

    wid = service.create_workflow_request("expense_approval", "Team lunch", "Lunch with the new team members",
                                          "john.doe", {"amount": "300"})
    second = wid.rsplit("-", 1)[0] + "-"
    found = service._read(req_sql.ids_starting, second)
    assert found == {wid}
    assert service._read(req_sql.ids_starting, second.replace("-", "_")) == set()  # "_" is no wildcard
    assert service._read(req_sql.ids_starting, "WF-%") == set()
