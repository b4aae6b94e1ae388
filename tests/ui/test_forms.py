"""New request, edit-and-resubmit and withdraw, through the form and the confirm dialog."""

from __future__ import annotations

from hitl_tui.core.models import RiskLevel, WorkflowStatus
from hitl_tui.screens.confirm_modal import ConfirmModal
from hitl_tui.screens.desk import DeskScreen
from hitl_tui.screens.request_form import RequestForm

from .conftest import SIZE, notes, screen_text, settle


async def type_into(pilot, selector: str, text: str) -> None:
    pilot.app.screen.query_one(selector).focus()
    await pilot.pause()
    await pilot.press("end", *text)  # focus selects the field's text; typing would replace it


async def test_new_request_invalid_then_valid(desk):
    svc = desk.service()
    app = desk.app("alice")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, RequestForm)
        await pilot.press("ctrl+s")  # nothing filled in
        await settle(pilot)
        assert app.screen is form, "an invalid form must stay open"
        text = screen_text(app)
        assert "A title is required." in text
        assert "Amount is required" in text
        await type_into(pilot, "#form-title", "Singapore travel")
        await type_into(pilot, "#field-amount", "fifteen")
        await settle(pilot)
        assert "amount must be a number like 15000" in screen_text(app)
        await pilot.press(*["backspace"] * 7, *"15,000")
        await settle(pilot)
        text = screen_text(app)
        assert "must be a number" not in text
        assert "amount 15,000.00 >= 10,000, < 50,000" in text  # live preview of the risk rule
        assert "Manager → Director → Executive" in text  # and of the chain
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, DeskScreen)
        assert any(n.startswith("Filed WF-") for n in notes(app)), notes(app)
    [mine] = svc.list_requests("alice", "mine")
    req = svc.get_workflow(mine.id)
    assert (req.title, req.risk_level, str(req.data["amount"])) == ("Singapore travel", RiskLevel.HIGH, "15000.00")


async def test_type_change_rebuilds_the_fields(desk):
    app = desk.app("alice")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        form.query_one("#form-type").value = "infrastructure_change"
        await settle(pilot)
        assert form.query("#field-impact") and not form.query("#field-amount")
        form.query_one("#field-impact").value = "critical"
        await settle(pilot)
        assert "IT Admin → Security → Director → Executive" in screen_text(app)


async def test_edit_and_resubmit_after_changes_requested(desk):
    svc = desk.service()
    wid = svc.create_workflow_request("expense_approval", "Laptop", "", "alice", {"amount": "2400"})
    svc.request_changes(wid, "bob.manager", "Attach the quote")
    app = desk.app("alice")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        assert app.screen.check_action("resubmit", ()) is True
        assert not app.screen.check_action("approve", ())  # her own request: never hers to decide
        await pilot.press("e")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, RequestForm)
        assert form.query_one("#form-title").value == "Laptop"
        await type_into(pilot, "#form-title", " (quote attached)")
        await type_into(pilot, "#form-comments", "quote attached")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert any(f"Resubmitted {wid}" in n for n in notes(app)), notes(app)
    req = svc.get_workflow(wid)
    assert (req.status, req.revision, req.title) == (WorkflowStatus.AWAITING_APPROVAL, 2, "Laptop (quote attached)")


async def test_withdraw_asks_first(desk):
    svc = desk.service()
    wid = svc.create_workflow_request("expense_approval", "Desk lamp", "", "alice", {"amount": "40"})
    app = desk.app("alice")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("w")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("escape")  # keep it
        await settle(pilot)
        assert svc.get_workflow(wid).status is WorkflowStatus.AWAITING_APPROVAL
        await pilot.press("w")
        await settle(pilot)
        await pilot.press(*"bought one myself", "enter")
        await settle(pilot)
        assert any(f"Withdrawn {wid}" in n for n in notes(app)), notes(app)
        assert app.screen.check_action("withdraw", ()) is None  # greyed out now
    assert svc.get_workflow(wid).status is WorkflowStatus.WITHDRAWN


async def test_withdraw_and_edit_keys_leave_the_footer_for_others_requests(desk):
    svc = desk.service()
    svc.create_workflow_request("expense_approval", "Alice's", "", "alice", {"amount": "40"})
    app = desk.app("bob.manager")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.check_action("withdraw", ()) is False
        assert app.screen.check_action("resubmit", ()) is False
        assert app.screen.check_action("approve", ()) is True
