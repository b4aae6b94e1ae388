"""The desk's keys for copying, exporting and saved views, wired to the pieces that do the work
(those pieces have their own tests against a real terminal: test_terminal_pieces.py)."""

from __future__ import annotations

from hitl_tui.clipboard import link_line
from hitl_tui.core.settings import Settings
from hitl_tui.screens.export_dialog import ExportDialog

from .conftest import SIZE, settle, wait_for


async def test_y_copies_the_id_and_shift_y_a_link_line(desk):
    svc = desk.service()
    wid = svc.create_workflow_request("expense_approval", "Team lunch", "", "alice", {"amount": "40"})
    app = desk.app("bob.manager")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("y")
        assert app.clipboard == wid
        await pilot.press("Y")
        assert app.clipboard == link_line(svc.get_workflow(wid)) and "Team lunch" in app.clipboard


async def test_ctrl_e_opens_the_export_dialog(desk):
    app = desk.app("carl.compliance")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+e")
        await settle(pilot)
        assert isinstance(app.screen, ExportDialog)


async def test_a_saved_view_from_the_config_file_filters_and_sorts(desk, tmp_path):
    svc = desk.service()
    svc.create_workflow_request("expense_approval", "Team lunch", "", "alice", {"amount": "40"})
    svc.create_workflow_request("expense_approval", "Hotel for the summit", "", "alice", {"amount": "900"})
    svc.create_workflow_request("expense_approval", "Hotel, second night", "", "alice", {"amount": "300"})
    config = tmp_path / "config.toml"
    config.write_text('[ui.views.hotels]\nfilter = "hotel"\nsort = "-value"\n')
    settings = Settings.load(environ={}, config_file=config)
    app = desk.app("bob.manager", settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        commands = [c.title for c in app.screen.palette_commands()]
        assert "Saved view: hotels" in commands
        app.screen.open_saved_view("hotel", "-value")
        await settle(pilot)
        assert [r.title for r in app.screen.inbox.rows] == ["Hotel for the summit", "Hotel, second night"]


async def test_keys_typed_as_soon_as_the_desk_appears_reach_the_filter(desk):
    """The hidden filter field comes first in the focus chain: it must not take the focus by
    itself (a / would then be typed into it instead of opening it)."""
    from hitl_tui.screens.desk import DeskScreen

    svc = desk.service()
    svc.create_workflow_request("expense_approval", "Team lunch", "", "alice", {"amount": "40"})
    app = desk.app("bob.manager", background_delay=0.3)
    async with app.run_test(size=SIZE) as pilot:
        while not isinstance(app.screen, DeskScreen):
            await pilot.pause()
        await pilot.press("slash", "r", "i")
        await settle(pilot)
        assert app.screen.filter_bar.display and app.screen.filter_bar.value == "ri"
        await wait_for(pilot, lambda: app.screen.search == "ri")  # once typing pauses


async def test_a_filter_that_cannot_be_read_says_why_under_the_field_and_runs_nothing(desk):
    svc = desk.service()
    svc.create_workflow_request("expense_approval", "Team lunch", "", "alice", {"amount": "40"})
    svc.create_workflow_request("expense_approval", "Offsite venue", "", "alice", {"amount": "15000"})
    app = desk.app("bob.manager")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        desk_screen = app.screen
        await pilot.press("slash", *"risk:hgh", "enter")
        await settle(pilot)
        bar = desk_screen.filter_bar
        assert "hgh" in bar.error and "HIGH" in bar.error and bar.display
        assert desk_screen.search == "" and len(desk_screen.inbox.rows) == 2  # nothing ran
        assert app.focused is bar.input  # enter on a bad filter keeps you in the field
        await pilot.press("backspace", "backspace", "backspace", *"high", "enter")
        await wait_for(pilot, lambda: desk_screen.search == "risk:high")
        await settle(pilot)
        assert not bar.error and [r.title for r in desk_screen.inbox.rows] == ["Offsite venue"]
