"""The seed's Direct API, async, exactly as the document shows it."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from hitl_tui.core import RiskLevel, Role, WorkflowStatus, WorkflowSystem


async def test_seed_direct_api_end_to_end(tmp_path):
    key = os.urandom(32)
    async with await WorkflowSystem.open(tmp_path / "hitl.db", key=key) as system:
        for name, role in [("john.doe", "employee"), ("sarah.manager", "manager"), ("mike.director", "director")]:
            await system.add_user(name, role, email=f"{name}@example.com")
        wid = await system.create_workflow_request(
            workflow_type="expense_approval", title="Q4 Conference Travel",
            description="Travel expenses for industry conference", requester="john.doe",
            data={"amount": 5000, "category": "travel"},
        )
        assert wid.startswith("WF-")
        pending = await system.get_pending_approvals("sarah.manager")
        assert [w.id for w in pending] == [wid]
        await system.approve_workflow(workflow_id=wid, approver="sarah.manager",
                                      comments="Approved for strategic business value")
        workflow = await system.get_workflow(wid)
        assert workflow.status is WorkflowStatus.AWAITING_APPROVAL and workflow.risk_level is RiskLevel.MEDIUM
        assert workflow.required_approvers == [Role.MANAGER, Role.DIRECTOR] and workflow.current_stage == 1
        assert [(a.approver, a.role) for a in workflow.approvals] == [("sarah.manager", Role.MANAGER)]
        await system.reject_workflow(workflow_id=wid, rejector="mike.director", reason="Over budget")
        trail = await system.get_audit_trail(wid)
        assert [e.action for e in trail] == ["created", "approved", "rejected"]
        assert system.verify_audit().ok


async def test_database_work_runs_off_the_event_loop(tmp_path):
    system = await WorkflowSystem.open(tmp_path / "hitl.db", key=os.urandom(32))
    loop_thread = threading.get_ident()
    seen = []
    original = system.service.get_user

    def spy(name):
        seen.append(threading.get_ident())
        return original(name)

    system.service.get_user = spy
    await system.add_user("a", "employee")
    await system.get_user("a")
    assert seen and loop_thread not in seen
    # the loop stays responsive while the database works
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    for i in range(20):
        await system.create_workflow_request("expense_approval", f"t{i}", "", "a", {"amount": 1})
    task.cancel()
    assert ticks > 20
    await system.close()


async def test_refusals_are_hitl_errors(tmp_path):
    from hitl_tui.core.errors import HitlError, SegregationOfDuties

    async with await WorkflowSystem.open(tmp_path / "hitl.db", key=os.urandom(32)) as system:
        await system.add_user("sarah.manager", "manager")
        wid = await system.create_workflow_request("expense_approval", "t", "", "sarah.manager", {"amount": 10})
        with pytest.raises(SegregationOfDuties) as err:
            await system.approve_workflow(wid, "sarah.manager")
        assert isinstance(err.value, HitlError) and "\n" not in str(err.value)
