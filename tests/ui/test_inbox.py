"""The inbox: filtering, views, literal display of hostile text, changes made elsewhere."""

from __future__ import annotations

from rich.text import Text

from hitl_tui.screens.desk import DeskScreen

from .conftest import SIZE, notes, screen_text, settle, wait_for


def titles(app) -> list[str]:
    return [r.title for r in app.screen.inbox.rows]


async def test_filter_as_you_type_then_clear(desk):
    svc = desk.service()
    for title in ("Monitor for the new hire", "Team offsite catering", "Monitor arm"):
        svc.create_workflow_request("expense_approval", title, "", "alice", {"amount": "300"})
    app = desk.app("bob.manager")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert len(titles(app)) == 3
        await pilot.press("slash", *"monitor")
        await pilot.pause(0.4)  # the filter waits for a pause in typing before it asks
        await settle(pilot)
        assert sorted(titles(app)) == ["Monitor arm", "Monitor for the new hire"]
        assert app.screen.query_one("ViewBar").counts  # counts follow the filter
        await pilot.press("enter")  # keep the filter, back to the list
        await settle(pilot)
        assert app.screen.focused is app.screen.inbox.table
        await pilot.press("escape")  # clears it
        await settle(pilot)
        assert len(titles(app)) == 3


async def test_views_switch_with_number_keys(desk):
    svc = desk.service()
    svc.create_workflow_request("expense_approval", "Alice asks", "", "alice", {"amount": "300"})
    svc.create_workflow_request("expense_approval", "Bob asks", "", "bob.manager", {"amount": "300"})
    app = desk.app("bob.manager")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert titles(app) == ["Alice asks"]
        await pilot.press("2")
        await settle(pilot)
        assert titles(app) == ["Bob asks"]
        await pilot.press("3")
        await settle(pilot)
        assert sorted(titles(app)) == ["Alice asks", "Bob asks"]
        counts = app.screen.query_one("ViewBar").counts
        assert [counts[v] for v in sorted(counts, key=list(counts).index)] == [1, 1, 2, 0]


async def test_hostile_title_is_shown_literally_and_does_nothing(desk):
    svc = desk.service()
    title = "[@click=app.quit]Pay me[/] \x1b[31mnow"
    wid = svc.create_workflow_request("expense_approval", title, "[b]not bold[/b] \x9b2J", "alice", {"amount": "10"})
    app = desk.app("bob.manager")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.inbox.table
        cells = [table.get_cell_at((0, c)) for c in range(len(table.columns))]
        shown = " ".join(c.plain for c in cells if isinstance(c, Text))
        assert "[@click=app.quit]Pay me…" in shown  # cut to the column, with an ellipsis
        text = screen_text(app)
        assert "[@click=app.quit]Pay me[/] \\x1b[31mnow" in text
        assert "[b]not bold[/b] \\x9b2J" in text
        assert "\x1b" not in text and "\x9b" not in text
        # click where the title is drawn, open it, move around: the app keeps running
        await pilot.click("#inbox-table", offset=(4, 1))
        await pilot.press("enter", "v", "v", "v")
        await settle(pilot)
        assert app.is_running and app.return_code is None
        assert app.screen.current_request().id == wid


async def test_change_from_another_connection_appears_and_notifies(desk):
    svc = desk.service()
    svc.create_workflow_request("expense_approval", "Already here", "", "alice", {"amount": "300"})
    app = desk.app("bob.manager", poll_interval=0.1)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert titles(app) == ["Already here"]
        other = desk.service()  # another terminal or the CLI: its own connection
        wid = other.create_workflow_request("expense_approval", "Arrived later", "", "alice", {"amount": "200"})
        await wait_for(pilot, lambda: "Arrived later" in titles(app))
        await wait_for(pilot, lambda: any(wid in n and n.startswith("New in Awaiting me") for n in notes(app)))
        # bob files one from his own CLI: the refresh shows it, but it is not announced as
        # awaiting him (he may not decide his own request)
        before = len(notes(app))
        await pilot.press("2")
        other.create_workflow_request("expense_approval", "Filed from the CLI", "", "bob.manager", {"amount": "5"})
        await wait_for(pilot, lambda: "Filed from the CLI" in titles(app))
        await settle(pilot)
        assert not any(n.startswith("New in Awaiting me") for n in notes(app)[before:])


async def test_paging_loads_more_rows_at_the_end(desk):
    svc = desk.service()
    for i in range(170):
        svc.create_workflow_request("expense_approval", f"Request {i:03d}", "", "alice", {"amount": "10"})
    app = desk.app("bob.manager")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert len(app.screen.inbox.rows) == 150  # one page, not everything
        await pilot.press("G")
        await settle(pilot)
        assert len(app.screen.inbox.rows) == 170
        assert app.screen.query_one("ViewBar").counts
        assert isinstance(app.screen, DeskScreen)
