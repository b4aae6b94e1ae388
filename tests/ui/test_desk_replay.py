"""The desk says so in its header when the tables are out of step with the trail (the chain
itself verifying): the reads people see come from the tables, so they must know."""

from __future__ import annotations

import sqlcipher3

from tests.ui.conftest import notes, settle, wait_for


async def test_header_says_the_tables_are_out_of_step_with_the_trail(desk):
    svc = desk.service()
    wid = svc.create_workflow_request("expense_approval", "Travel", "Two nights", "alice",
                                      {"amount": "90000", "category": "travel"})
    conn = sqlcipher3.connect(str(desk.path), isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{desk.key.hex()}'\"")
    conn.execute("UPDATE requests SET data = replace(data, '90000', '9000') WHERE id = ?", (wid,))
    conn.close()
    app = desk.app("bob.manager")
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        header = app.screen.header
        await wait_for(pilot, lambda: "OUT OF STEP" in header.audit.plain)
        assert "TABLES OUT OF STEP WITH THE TRAIL" in header.render().plain
        assert any(f"{wid} amount is 9,000 in the table, 90,000 in the trail" in n for n in notes(app))


async def test_header_says_verified_when_the_tables_match(desk):
    svc = desk.service()
    svc.create_workflow_request("expense_approval", "Travel", "Two nights", "alice",
                                {"amount": "900", "category": "travel"})
    app = desk.app("bob.manager")
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        header = app.screen.header
        await wait_for(pilot, lambda: "verified" in header.audit.plain)
        assert "OUT OF STEP" not in header.render().plain
