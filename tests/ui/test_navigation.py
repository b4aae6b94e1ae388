"""Panes, keys, help and palette at 80x24; the header's audit badge, including a broken chain."""

from __future__ import annotations

from hitl_tui.core.store import audit_log
from hitl_tui.screens.desk import DeskScreen
from hitl_tui.screens.help import HelpScreen

from .conftest import SIZE, notes, settle


async def test_tab_visits_every_pane_and_v_switches_the_lower_half(desk):
    desk.service().create_workflow_request("expense_approval", "Lunch", "", "alice", {"amount": "30"})
    app = desk.app("bob.manager")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        seen = []
        for _ in range(4):
            seen.append(screen.focused_pane())
            await pilot.press("tab")
            await settle(pilot)
        assert seen == ["inbox", "detail", "timeline", "chat"]
        assert screen.focused_pane() == "inbox"
        await pilot.press("shift+tab")
        assert screen.focused_pane() == "chat" and screen.lower == "chat"
        await pilot.press("escape")
        assert screen.focused_pane() == "inbox"
        await pilot.press("v")
        assert screen.lower == "detail"
        assert screen.query_one("#detail").display and not screen.query_one("#timeline").display
        await pilot.press("enter")
        assert screen.focused_pane() == "detail"


async def test_all_four_panes_show_when_wide(desk):
    app = desk.app("bob.manager")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert all(screen.query_one(f"#{p}").display for p in ("inbox", "detail", "timeline", "chat"))
        assert screen.check_action("next_lower", ()) is False  # nothing to switch, so not in the footer


async def test_help_lists_every_desk_binding_and_palette_offers_the_actions(desk):
    desk.service().create_workflow_request("expense_approval", "Lunch", "", "alice", {"amount": "30"})
    app = desk.app("bob.manager")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Approve the selected request" in titles and "New request" in titles
        assert "Withdraw my request" not in titles  # not bob's request: not offered
        await pilot.press("f1")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        listed = {b.action for _, bindings in app.screen.sections for b in bindings}
        assert {b.action for b in DeskScreen.BINDINGS} <= listed
        await pilot.press("escape")
        assert isinstance(app.screen, DeskScreen)


async def test_header_shows_a_broken_chain_loudly(desk):
    svc = desk.service()
    svc.create_workflow_request("expense_approval", "Lunch", "", "alice", {"amount": "30"})
    with svc._write() as conn:  # an entry slipped in behind the engine's back, with a made-up hash
        size, _ = audit_log.checked_head(conn)
        audit_log.append(conn, size + 1, None, b'{"forged": true}', bytes(32))
    app = desk.app("bob.manager")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        badge = app.screen.header.audit.plain
        assert f"AUDIT CHAIN BROKEN at entry {size + 1}" in badge
        assert any("AUDIT CHAIN BROKEN" in n for n in notes(app))


async def test_header_says_who_and_that_the_chain_verifies(desk):
    app = desk.app("dora.director")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        header = app.screen.header
        assert header.who == "dora.director (Director)"
        assert header.audit.plain.startswith("audit ✔ verified,")


async def test_a_broken_chain_stays_visible_at_80_columns_whatever_the_name(desk):
    """The header gives way in order: database path, then the name; never the chain state."""
    svc = desk.service()
    svc.add_user("christopher.alexander-longname", "compliance")
    with svc._write() as conn:  # a forged entry, as above
        size, _ = audit_log.checked_head(conn)
        audit_log.append(conn, size + 1, None, b'{"forged": true}', bytes(32))
    app = desk.app("christopher.alexander-longname")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        header = app.screen.header
        line = header.render().plain
        assert header.size.width == 80 and len(line) <= 80
        assert line.rstrip().endswith(f"AUDIT CHAIN BROKEN at entry {size + 1}")
        assert line.startswith(" hitl-tui ") and "christopher." in line
