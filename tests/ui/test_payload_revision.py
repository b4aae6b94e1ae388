"""At the desk, a reviewer who asks for changes on an agent's request may edit its payload: the
edit is a proposal, signed with the decision, shown beside what was filed, and filed only when
the agent accepts it. A payload that is not JSON, or could not be filed, is refused in the
dialog in one line, with nothing written."""

from __future__ import annotations

import json

from textual.widgets import TextArea

from hitl_tui.core.models import WorkflowStatus
from hitl_tui.screens.decision_modal import DecisionModal

from .conftest import screen_text, settle

REFUND = {"tool": "refund", "order_id": "1234", "amount": "25.00"}


def _filed(desk) -> str:
    svc = desk.service()
    svc.set_user_admin("eve.exec", True)
    svc.approvals.add_integration("billing-bot", "employee", "alice", actor="eve.exec")
    return svc.approvals.file("billing-bot", "tool_call", "Refund order 1234", REFUND, timeout=3600,
                              justification="charged twice", agent="billing-agent")


async def _edit_payload(pilot, text: str) -> None:
    area = pilot.app.screen.query_one("#decision-payload", TextArea)
    if not area.has_focus:
        await pilot.press("tab")  # from the comment to the payload editor
    assert area.has_focus
    area.select_all()
    await pilot.press("delete")
    await pilot.press(*text)  # typed, as a person would (the editor indents nothing here: one line)
    await settle(pilot)


async def test_the_reviewer_proposes_a_revised_payload_and_the_desk_shows_it_beside_what_was_filed(desk):
    wid = _filed(desk)
    app = desk.app("bob.manager")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, DecisionModal)
        area = app.screen.query_one("#decision-payload", TextArea)
        assert json.loads(area.text) == REFUND  # it starts as what was filed, pretty-printed
        await pilot.press(*"order 1243, not 1234")
        await _edit_payload(pilot, '{"tool": "refund", "order_id": "1243", "amount": "25.00"}')
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, DecisionModal)
        svc = desk.service()
        req = svc.get_workflow(wid)
        assert req.status is WorkflowStatus.CHANGES_REQUESTED
        assert req.filing.payload == REFUND  # nothing is filed on the reviewer's word
        assert req.filing.proposed_payload == {"tool": "refund", "order_id": "1243", "amount": "25.00"}
        entry = svc.get_audit_trail(wid)[-1]
        assert entry.details["comments"] == "order 1243, not 1234" and entry.sig is not None
        await pilot.press("4")  # decided by me
        await settle(pilot)
        shown = screen_text(app)
        assert "Proposed revision sha256" in shown and "not filed until billing-bot accepts it" in shown, shown
        assert '"order_id": "1243"' in shown and '"order_id": "1234"' in shown


async def test_a_payload_that_is_not_json_or_could_not_be_filed_is_refused_in_the_dialog(desk):
    wid = _filed(desk)
    app = desk.app("bob.manager")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        await pilot.press(*"fix it")
        await _edit_payload(pilot, '{"tool": "refund",')
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, DecisionModal)
        assert "The revised payload is not JSON: Expecting property name enclosed in double quotes at line 1" \
            in screen_text(app)
        await _edit_payload(pilot, "[1, 2]")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "The revised payload cannot be filed: payload must be a JSON object" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
    req = desk.service().get_workflow(wid)
    assert req.status is WorkflowStatus.AWAITING_APPROVAL and req.filing.proposed_payload_text is None


async def test_left_as_filed_the_payload_proposes_nothing(desk):
    wid = _filed(desk)
    app = desk.app("bob.manager")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        await pilot.press(*"which order?", "enter")
        await settle(pilot)
    req = desk.service().get_workflow(wid)
    assert req.status is WorkflowStatus.CHANGES_REQUESTED and req.filing.proposed_payload_text is None
