"""The desk's view 5 (widgets/analytics_view.py): `5` opens it in place of the panes with the
figures of core/analytics.py, the view keys and escape leave it; at 80x24 and 160x48."""

from __future__ import annotations

import pytest
from textual.widgets import Sparkline

from hitl_tui.core.models import Decision

from .conftest import SIZE, screen_text, settle


def _filed(desk) -> None:
    svc = desk.service()
    low = svc.create_workflow_request("expense_approval", "Lunch", "", "alice", {"amount": "30"})
    svc.create_workflow_request("expense_approval", "Laptop", "", "alice", {"amount": "2500"})
    rejected = svc.create_workflow_request("expense_approval", "Gala", "", "alice", {"amount": "800"})
    svc.decide(low, "kim.manager", Decision.APPROVE, "fine")
    svc.decide(rejected, "kim.manager", Decision.REJECT, "no gala this year")


@pytest.mark.parametrize("size", [SIZE, (160, 48)])
async def test_five_opens_the_analytics_and_the_view_keys_leave_it(desk, size):
    _filed(desk)
    app = desk.app("bob.manager")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.press("5")
        await settle(pilot)
        view = screen.query_one("AnalyticsView")
        assert view.display and not screen.query_one("#panes").display and screen.analytics_shown
        assert screen.focused is view and screen.view_bar.analytics
        text = screen_text(app)
        assert "3 filed, 2 stage decisions, 2 closed" in text
        assert "approved" in text and "50% (1)" in text  # one approval, one rejection
        assert "LOW" in text and "Manager" in text and "Bottleneck: " in text and "most waiting Manager" in text
        assert "kim.manager" in text and "0 breaches" in text
        assert sum(screen.query_one("#an-days", Sparkline).data) == 2
        assert screen.check_action("approve", ()) is False  # no request is in view behind it
        await pilot.press("2")
        await settle(pilot)
        assert not view.display and screen.query_one("#panes").display and screen.view.value == "mine"
        assert not screen.view_bar.analytics
        await pilot.press("5")
        await settle(pilot)
        assert view.display
        await pilot.press("escape")
        assert not view.display and screen.focused_pane() == "inbox"
        await pilot.press("5", "1")
        assert not view.display and screen.view.value == "awaiting_me"


async def test_an_employee_sees_figures_over_their_own_requests_only(desk):
    _filed(desk)
    svc = desk.service()
    svc.add_user("zed", "employee")
    svc.create_workflow_request("expense_approval", "Train", "", "zed", {"amount": "90"})
    app = desk.app("zed")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        text = screen_text(app)
        assert "the requests you may see: 1 filed, 0 stage decisions" in text
        assert "No decisions in the period." in text
        # kim.manager's two decisions were on alice's requests, which zed may not see; zed's own waits for him
        kim = next(line for line in text.splitlines() if line.startswith("kim.manager"))
        assert kim.endswith("0 · 1")
