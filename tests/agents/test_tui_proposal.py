"""End to end in the TUI at 80x24 with the real agents (offline assistant): a decision asked for in
the chat opens the same confirmation modal as a key press; escape writes nothing, enter writes
the human's decision with the agent's proposal beside it."""

from __future__ import annotations

from hitl_tui.app import make_app
from hitl_tui.core.models import WorkflowStatus
from hitl_tui.screens.decision_modal import DecisionModal
from hitl_tui.screens.desk import DeskScreen

from .helpers import expense

SIZE = (80, 24)


async def settle(pilot, rounds: int = 40) -> None:
    """Until no worker runs (the first question also imports tframex in a worker)."""
    for _ in range(rounds):
        await pilot.pause()
        if not any(w.is_running for w in pilot.app.workers):
            await pilot.pause()
            if not any(w.is_running for w in pilot.app.workers):
                return
        await pilot.app.workers.wait_for_complete()
    raise AssertionError("workers did not settle")


def shown(app) -> str:
    from textual.widgets import Static

    return "\n".join(str(w.render()) for w in app.screen.query(Static))


async def ask_in_chat(pilot, text: str) -> None:
    screen = pilot.app.screen
    screen.action_show_lower("chat")
    await pilot.pause()
    screen.chat.focus()
    await pilot.press(*text, "enter")
    await settle(pilot)


async def test_proposal_needs_confirmation_in_the_tui(service):
    wid = expense(service, 15000)
    app = make_app(service, "sarah.manager", poll_interval=None, verify_on_start=False)
    question = f"Approve workflow {wid} with comment 'ok'"
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await ask_in_chat(pilot, question)
        assert isinstance(app.screen, DecisionModal)
        text = shown(app)
        assert f"Approve {wid}" in app.screen.query_one("#decision-dialog").border_title
        assert "Proposed by agent ApprovalManager" in text and "does not weigh requests" in text
        assert service.get_workflow(wid).approvals == []
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DeskScreen)
        assert service.get_workflow(wid).approvals == [] and len(service.get_audit_trail(wid)) == 1

        await ask_in_chat(pilot, question)
        assert isinstance(app.screen, DecisionModal)
        await pilot.press("enter")  # the comment field holds the proposal's "ok"
        await settle(pilot)
        assert isinstance(app.screen, DeskScreen)
    req = service.get_workflow(wid)
    assert (req.status, req.current_stage) == (WorkflowStatus.AWAITING_APPROVAL, 1)
    (approval,) = req.approvals
    assert (approval.approver, approval.comments, approval.proposed_by) == ("sarah.manager", "ok", "ApprovalManager")
    entry = service.get_audit_trail(wid)[-1]
    assert (entry.action, entry.actor) == ("approved", "sarah.manager")
    assert entry.details["agent_proposal"]["agent"] == "ApprovalManager"
    assert entry.details["agent_proposal"]["decision"] == "approve"
