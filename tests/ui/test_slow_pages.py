"""A page slower than SLOW_PAGE_S: the inbox says Loading… instead of the previous view's rows,
and once the page comes the cursor's request is shown again (it once stayed on "Nothing awaits
your decision" beside a full inbox)."""

from __future__ import annotations

import hitl_tui.widgets.request_list as request_list

from .conftest import SIZE, settle, wait_for


async def test_after_a_slow_page_the_detail_follows_the_cursor_again(desk, monkeypatch):
    monkeypatch.setattr(request_list, "SLOW_PAGE_S", 0.001)  # every page counts as slow
    svc = desk.service()
    lunch = svc.create_workflow_request("expense_approval", "Team lunch", "", "alice", {"amount": "40"})
    svc.create_workflow_request("expense_approval", "Taxi", "", "alice", {"amount": "30"})
    app = desk.app("bob.manager")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        desk_screen = app.screen
        for keys in (("slash", "t", "a", "x", "i", "enter"), ("escape",), ("3",), ("1",)):
            await pilot.press(*keys)
            await wait_for(pilot, lambda: desk_screen.inbox.settled and desk_screen.search == (
                "taxi" if keys[0] == "slash" else ""))
            await settle(pilot)
            shown = desk_screen.current_request()
            assert shown is not None and shown.id == desk_screen.inbox.current.id, keys
            assert desk_screen.detail.request is not None and desk_screen.detail.request.id == shown.id, keys
        assert lunch in {r.id for r in desk_screen.inbox.rows}
