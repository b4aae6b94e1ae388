"""Sorting by any column from the keyboard and by clicking a header; clicking the view tabs."""

from __future__ import annotations

from hitl_tui.widgets.request_list import InboxTable
from hitl_tui.widgets.view_bar import ViewBar

from .conftest import settle


def titles(app) -> list[str]:
    return [r.title for r in app.screen.inbox.rows]


async def _desk_with_three(desk):
    svc = desk.service()
    svc.create_workflow_request("expense_approval", "Banana stand", "", "alice", {"amount": "900"})
    svc.create_workflow_request("expense_approval", "Apple crate", "", "alice", {"amount": "20"})
    svc.create_workflow_request("expense_approval", "Cherry tree", "", "alice", {"amount": "5000"})
    return desk.app("bob.manager")


async def test_s_cycles_the_sort_column_and_shift_s_reverses_it(desk):
    app = await _desk_with_three(desk)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        assert titles(app) == ["Banana stand", "Apple crate", "Cherry tree"]  # oldest first
        await pilot.press("s")  # created -> risk (highest first)
        await settle(pilot)
        assert titles(app)[0] == "Cherry tree"
        assert "Risk, highest first" in app.screen.view_bar.render().plain
        await pilot.press("S")
        await settle(pilot)
        assert titles(app)[-1] == "Cherry tree" and "Risk, lowest first" in app.screen.view_bar.render().plain
        await pilot.press("s")  # -> title, A to Z
        await settle(pilot)
        assert titles(app) == ["Apple crate", "Banana stand", "Cherry tree"]


async def test_clicking_a_header_sorts_by_it_and_again_reverses(desk):
    app = await _desk_with_three(desk)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(InboxTable)
        x = next(i for i, c in enumerate(table.ordered_columns) if str(c.key.value) == "value")
        offset = sum(c.get_render_width(table) for c in table.ordered_columns[:x]) + 2
        await pilot.click(InboxTable, offset=(offset, 0))
        await settle(pilot)
        assert titles(app) == ["Apple crate", "Banana stand", "Cherry tree"]  # smallest value first
        await pilot.click(InboxTable, offset=(offset, 0))
        await settle(pilot)
        assert titles(app) == ["Cherry tree", "Banana stand", "Apple crate"]


async def test_clicking_a_view_tab_switches_the_view(desk):
    app = await _desk_with_three(desk)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        bar = app.screen.query_one(ViewBar)
        line = bar.render().plain
        await pilot.click(ViewBar, offset=(line.index("All I may see") + 2, 0))
        await settle(pilot)
        assert app.screen.view.value == "visible"
        assert app.screen.inbox.border_title == "Inbox · All I may see"
