"""The desk's `m`: claim the selected request, shown in the inbox to the others of the role
("⚑ kim.manager" where the title is narrow), and `m` again releases it."""

from __future__ import annotations

from hitl_tui.core import claims

from .conftest import SIZE, notes, settle


def _title_cell(app) -> str:
    table = app.screen.inbox.table
    return str(table.get_row_at(0)[[c.key.value for c in table.columns.values()].index("title")])


async def test_m_claims_and_releases_and_the_others_see_who_has_it(desk):
    wid = desk.service().create_workflow_request("expense_approval", "Lunch", "", "alice", {"amount": "30"})
    app = desk.app("kim.manager")
    async with app.run_test(size=(240, 50)) as pilot:  # a title wide enough for the words
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        assert any(n.startswith(f"Claimed {wid} for 30 minutes") for n in notes(app))
        assert "claimed by you · 0s" in _title_cell(app)
        await pilot.press("m")
        await settle(pilot)
        assert any(n.startswith(f"Released {wid}") for n in notes(app))
        assert "claimed" not in _title_cell(app)
    claims.claim(desk.service(), "kim.manager", wid)
    other = desk.app("bob.manager")
    async with other.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "⚑ kim.manager" in _title_cell(other)  # 80 columns: the short form
        await pilot.press("m")
        await settle(pilot)
        assert any("claimed by kim.manager" in n and "a claim stops nobody" in n for n in notes(other))
