"""A real tframex agent whose tool is gated by require_approval, driven by a scripted model (the
OpenAI-compatible server of fake_model.py), while a person decides at a real Pilot desk on the
same encrypted database: approved, the tool runs once with exactly the approved arguments;
rejected and expired, it never runs, and the model is handed the refusal to read.

The agent runs as the OS account running the tests, which the directory knows as an integration
(embedded mode: the Desk opens the database here and polls data_version while it waits)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from hitl_tui.app import make_app
from hitl_tui.client import ApprovalRefused, Desk, Outcome, require_approval
from hitl_tui.core.audit import os_login
from hitl_tui.core.models import InboxView
from hitl_tui.core.service import WorkflowService
from hitl_tui.screens.decision_modal import DecisionModal
from tests.ui.conftest import screen_text, settle, wait_for

from .fake_model import Calls, Text

ME = os_login() or "unknown"
SIZE = (160, 48)
ARGS = {"order_id": "1234", "amount": "25.00"}


@pytest.fixture
def db(tmp_path: Path) -> tuple[Path, bytes]:
    key, path = os.urandom(32), tmp_path / "hitl.db"
    svc = WorkflowService.open(path, key=key, create=True, operator="ann")
    svc.add_user("ann", "it_admin", admin=True, actor="ann")
    svc.add_user("bob.manager", "manager", actor="ann")
    svc.approvals.add_integration(ME, "employee", "ann", actor="ann", display_name="Billing agent")
    svc.close(checkpoint=False)
    return path, key


def _agent(desk: Desk, base_url: str, ran: list, timeout: float):
    """The agent: one tframex app, one LLM at the fake server, one tool behind a human's approval."""
    from hitl_tui.agents.tfx import OpenAIChatLLM, TFrameXApp, ToolParameterProperty, ToolParameters

    app = TFrameXApp(default_llm=OpenAIChatLLM("fake-model", base_url, "sk-test"), mcp_config_file=None)

    @require_approval(desk, title=lambda order_id, amount: f"Refund {amount} on order {order_id}", timeout=timeout,
                      payload=lambda order_id, amount: {"tool": "refund", "order_id": order_id, "amount": amount},
                      justification="the customer was charged twice [bold]\x1b[31m", agent="billing-agent",
                      on_refusal="return")
    async def refund(order_id: str, amount: str) -> str:
        ran.append({"order_id": order_id, "amount": amount})
        return f"refunded {amount} on order {order_id}"

    app.tool(name="refund", description="Refund an order", parameters_schema=ToolParameters(
        properties={"order_id": ToolParameterProperty(type="string", description="The order"),
                    "amount": ToolParameterProperty(type="string", description="The amount")},
        required=["order_id", "amount"]))(refund)

    @app.agent(name="billing", system_prompt="You refund orders when asked.", tools=["refund"])
    async def billing() -> None:
        return None
    return app


async def _run(app) -> str:
    from hitl_tui.agents.tfx import Message

    async with app.run_context() as ctx:
        reply = await ctx.call_agent("billing", Message(role="user", content="Refund order 1234, 25.00"))
    return str(reply.content)


def _tool_result(fake_model) -> str:
    """What the agent handed the model as the tool's result (the second request's last message)."""
    last = fake_model.requests[1].messages[-1]
    assert last["role"] == "tool", last
    return str(last["content"])


async def test_approved_at_the_desk_the_tool_runs_once_with_the_approved_arguments(db, fake_model):
    fake_model.script(Calls([("refund", ARGS)]), Text("Refunded."))
    ran: list = []
    with Desk.open(db[0], key=db[1]) as desk:
        path, key = db
        svc = WorkflowService.open(path, key=key)
        app = make_app(svc, "bob.manager", poll_interval=0.05, background_delay=0)
        try:
            async with app.run_test(size=SIZE) as pilot:
                await settle(pilot)  # the desk is watching: the agent starts now
                agent = asyncio.create_task(_run(_agent(desk, fake_model.base_url, ran, timeout=60)))
                await wait_for(pilot, lambda: "Refund 25.00 on order 1234" in screen_text(app), timeout=20)
                await settle(pilot)
                shown = screen_text(app)
                assert "[bold]\\x1b[31m" in shown and "\x1b[31m" not in shown  # the agent's words, literally
                assert "(the agent's words: nobody has checked them)" in shown and '"order_id": "1234"' in shown
                assert ran == []  # nothing runs while a human has not decided
                await pilot.press("a")
                await settle(pilot)
                assert isinstance(app.screen, DecisionModal)
                await pilot.press(*"checked the order", "enter")
                await settle(pilot)
                reply = await asyncio.wait_for(agent, 30)
        finally:
            svc.close(checkpoint=False)
        mine = await desk.list_my_requests()
    assert reply == "Refunded."
    assert ran == [ARGS]  # once, with exactly what was approved
    assert _tool_result(fake_model) == "refunded 25.00 on order 1234"
    assert mine[0].outcome is Outcome.APPROVED and mine[0].decided_by == "bob.manager"


async def test_rejected_at_the_desk_the_tool_never_runs_and_the_model_reads_why(db, fake_model):
    fake_model.script(Calls([("refund", ARGS)]), Text("I could not refund it."))
    ran: list = []
    with Desk.open(db[0], key=db[1]) as desk:
        path, key = db
        svc = WorkflowService.open(path, key=key)
        app = make_app(svc, "bob.manager", poll_interval=0.05, background_delay=0)
        try:
            async with app.run_test(size=SIZE) as pilot:
                await settle(pilot)  # the desk is watching: the agent starts now
                agent = asyncio.create_task(_run(_agent(desk, fake_model.base_url, ran, timeout=60)))
                await wait_for(pilot, lambda: "Refund 25.00 on order 1234" in screen_text(app), timeout=20)
                await pilot.press("r")
                await settle(pilot)
                await pilot.press(*"open a ticket first", "enter")
                await settle(pilot)
                reply = await asyncio.wait_for(agent, 30)
        finally:
            svc.close(checkpoint=False)
    assert reply == "I could not refund it." and ran == []
    said = _tool_result(fake_model)
    assert said.startswith("A human rejected this (bob.manager, Manager): open a ticket first (request WF-"), said


async def test_nobody_decides_in_time_the_request_expires_and_the_tool_never_runs(db, fake_model):
    fake_model.script(Calls([("refund", ARGS)]), Text("It timed out."))
    ran: list = []
    with Desk.open(db[0], key=db[1]) as desk:
        reply = await asyncio.wait_for(_run(_agent(desk, fake_model.base_url, ran, timeout=1.5)), 30)
        mine = await desk.list_my_requests()
    assert reply == "It timed out." and ran == []
    assert _tool_result(fake_model).startswith("Nobody approved this before its deadline")
    assert mine[0].outcome is Outcome.EXPIRED and mine[0].decided_by == "system"
    path, key = db
    svc = WorkflowService.open(path, key=key)
    try:
        assert svc.list_requests("bob.manager", InboxView.AWAITING_ME) == []
        assert svc.verify_audit().ok
    finally:
        svc.close(checkpoint=False)


async def test_a_changed_payload_on_an_old_approval_is_refused(db):
    """The gate hashes the arguments again just before running: an approval of one payload never
    runs another (a dict the caller changed while it waited, or an old decision reused)."""
    ran: list = []
    with Desk.open(db[0], key=db[1]) as desk:
        order = {"order_id": "1234", "amount": "25.00"}

        @require_approval(desk, title="Refund", timeout=60, payload=lambda o: {"tool": "refund", **o})
        async def refund(o: dict) -> str:
            ran.append(dict(o))
            return "refunded"

        async def approve_then_tamper() -> None:
            path, key = db
            svc = WorkflowService.open(path, key=key)
            try:
                for _ in range(400):
                    rows = svc.list_requests("bob.manager", InboxView.AWAITING_ME)
                    if rows:
                        order["amount"] = "2500.00"  # changed while it waits
                        svc.decide(rows[0].id, "bob.manager", "approve")
                        return
                    await asyncio.sleep(0.025)
            finally:
                svc.close(checkpoint=False)

        helper = asyncio.create_task(approve_then_tamper())
        with pytest.raises(ApprovalRefused, match="The arguments changed after a human approved them"):
            await refund(order)
        await helper
        old = await desk.get_decision((await desk.list_my_requests())[0].request_id)
        assert old.outcome is Outcome.APPROVED
        with pytest.raises(ApprovalRefused, match="arguments changed"):
            await desk.check_approved(old, {"tool": "refund", "order_id": "1234", "amount": "9999.00"})
        await desk.check_approved(old, {"tool": "refund", "order_id": "1234", "amount": "25.00"})  # the very payload
        forged = old.model_copy(update={"receipt": {**old.receipt, "outcome": "approved", "decided_by": "ann"}})
        with pytest.raises(ApprovalRefused, match="receipt does not verify"):
            await desk.check_approved(forged, {"tool": "refund", "order_id": "1234", "amount": "25.00"})
    assert ran == []


def test_a_plain_function_is_gated_too_for_frameworks_that_call_tools_synchronously(db):
    ran: list = []
    with Desk.open(db[0], key=db[1]) as desk:
        @require_approval(desk, title="Delete the records", timeout=1.2, on_refusal="return")
        def delete_records(table: str, where: str = "all") -> str:
            ran.append(table)
            return "deleted"

        said = delete_records("customers")
        payload = json.loads(desk.sync.list_my_requests()[0].model_dump_json())
    assert ran == [] and said.startswith("Nobody approved this before its deadline")
    assert payload["outcome"] == "expired"


async def test_a_reviewers_revision_runs_only_once_the_agent_calls_again_with_it_and_a_human_approves(db, fake_model):
    """The reviewer asks for changes and proposes other arguments; the model reads the proposal
    in the refusal and calls the tool again with exactly those, which accepts the revision (the
    same request, resubmitted); only once a human approves that does the tool run, with them."""
    revised = {"order_id": "1243", "amount": "24.00"}
    fake_model.script(Calls([("refund", ARGS)]), Calls([("refund", revised)]), Text("Refunded the right order."))
    ran: list = []
    seen: list = []
    with Desk.open(db[0], key=db[1]) as desk:
        async def review() -> None:
            svc = WorkflowService.open(*db)
            try:
                for step in ("propose", "approve"):
                    for _ in range(800):
                        rows = svc.list_requests("bob.manager", InboxView.AWAITING_ME)
                        if rows:
                            break
                        await asyncio.sleep(0.025)
                    req = svc.get_workflow(rows[0].id)
                    seen.append((req.id, req.revision, req.filing.payload))
                    if step == "propose":
                        assert ran == []
                        svc.request_changes(req.id, "bob.manager", "wrong order: 1243, and 24.00",
                                            payload={"tool": "refund", **revised})
                    else:
                        assert ran == []  # the revision waits for a human like the first one
                        svc.decide(req.id, "bob.manager", "approve")
            finally:
                svc.close(checkpoint=False)

        reviewer = asyncio.create_task(review())
        reply = await asyncio.wait_for(_run(_agent(desk, fake_model.base_url, ran, timeout=60)), 60)
        await reviewer
        mine = await desk.list_my_requests()
    assert reply == "Refunded the right order."
    assert ran == [revised]  # once, with the revision a human approved
    first = fake_model.requests[1].messages[-1]["content"]
    assert "They propose this revision instead" in first and '"order_id": "1243"' in first, first
    (wid1, rev1, _), (wid2, rev2, payload2) = seen
    assert wid1 == wid2 and (rev1, rev2) == (1, 2) and payload2 == {"tool": "refund", **revised}
    assert len(mine) == 1 and mine[0].outcome is Outcome.APPROVED and mine[0].revision == 2
