"""Deciding through the desk with real keys on a real encrypted database."""

from __future__ import annotations

from hitl_tui.core.models import Decision, WorkflowStatus
from hitl_tui.screens.decision_modal import DecisionModal
from hitl_tui.screens.desk import DeskScreen

from .conftest import SIZE, notes, screen_text, settle


async def decide(desk, username: str, key: str, comment: str) -> list[str]:
    """Open the app as `username`, decide the first awaiting request with `key`, return the
    notifications shown."""
    app = desk.app(username)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, DeskScreen)
        await pilot.press(key)
        await settle(pilot)
        assert isinstance(app.screen, DecisionModal), f"{key} did not open the decision dialog for {username}"
        await pilot.press(*comment)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DeskScreen)
        return notes(app)


async def test_approve_through_a_three_stage_chain_switching_users(desk):
    svc = desk.service()
    wid = svc.create_workflow_request("expense_approval", "Singapore travel", "", "alice",
                                      {"amount": "15000", "category": "travel"})
    assert [r.value for r in svc.get_workflow(wid).required_approvers] == ["manager", "director", "executive"]

    said = await decide(desk, "bob.manager", "a", "fine")
    assert any(f"Approved {wid}: now awaiting Director." in n for n in said), said
    said = await decide(desk, "dora.director", "a", "")
    assert any(f"Approved {wid}: now awaiting Executive." in n for n in said), said
    said = await decide(desk, "eve.exec", "a", "ok")
    assert any(f"Approved {wid}: the request is approved." in n for n in said), said

    req = svc.get_workflow(wid)
    assert req.status is WorkflowStatus.APPROVED
    assert [(a.approver, a.decision) for a in req.approvals] == [
        ("bob.manager", Decision.APPROVE), ("dora.director", Decision.APPROVE), ("eve.exec", Decision.APPROVE)]
    assert req.approvals[0].comments == "fine"
    assert svc.verify_audit().ok


async def test_modal_names_the_consequence(desk):
    svc = desk.service()
    svc.create_workflow_request("expense_approval", "Team lunch", "", "alice", {"amount": "3000"})
    app = desk.app("bob.manager")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        text = screen_text(app)
        assert "Approving moves it to Director: dora.director" in text
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DeskScreen)
    assert svc.get_workflow(svc.list_requests("alice", "mine")[0].id).approvals == []


async def test_reject_needs_a_reason(desk):
    svc = desk.service()
    wid = svc.create_workflow_request("expense_approval", "Espresso machine", "", "alice", {"amount": "900"})
    app = desk.app("bob.manager")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, DecisionModal)
        await pilot.press("enter")  # no reason yet
        await settle(pilot)
        assert isinstance(app.screen, DecisionModal), "an empty reason must not close the dialog"
        assert "A reason is required" in screen_text(app)
        assert svc.get_workflow(wid).status is WorkflowStatus.AWAITING_APPROVAL
        await pilot.press(*"not a business expense", "enter")
        await settle(pilot)
        assert any(f"Rejected {wid}" in n for n in notes(app))
    req = svc.get_workflow(wid)
    assert req.status is WorkflowStatus.REJECTED
    assert req.approvals[-1].comments == "not a business expense"


async def test_self_approval_is_refused_with_the_rule_in_words(desk):
    svc = desk.service()
    wid = svc.create_workflow_request("expense_approval", "My own laptop", "", "bob.manager", {"amount": "500"})
    app = desk.app("bob.manager")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")  # my requests
        await settle(pilot)
        desk_screen = app.screen
        assert desk_screen.current_request().id == wid
        # never the requester's to decide: the key leaves the footer (falsy), and still explains
        assert not desk_screen.check_action("approve", ()), "approve must not be offered"
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, DeskScreen), "no dialog for a decision the rules forbid"
        assert any(f"You requested {wid}, so you cannot approve it (segregation of duties)." in n
                   for n in notes(app)), notes(app)
    assert svc.get_workflow(wid).approvals == []


async def test_engine_refusal_after_a_race_is_a_notification(desk):
    """The UI thought the stage was open; another approver got there first. The engine refuses
    and the user reads why; nothing is written twice."""
    svc = desk.service()
    wid = svc.create_workflow_request("expense_approval", "Team lunch", "", "alice", {"amount": "300"})
    app = desk.app("bob.manager")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        desk.service().approve_workflow(wid, "kim.manager", "mine first")  # another terminal
        await pilot.press("enter")
        await settle(pilot)
        assert app.is_running
        said = notes(app)
        assert f"{wid} is approved, no longer awaiting approval, so it cannot be decided." in said, said
        assert not any(n.startswith("Approved") for n in said)
    assert [a.approver for a in svc.get_workflow(wid).approvals] == ["kim.manager"]
