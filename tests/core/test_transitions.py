"""Requests move through their chains only as the rules allow, one transaction per action."""

from __future__ import annotations

import re

import pytest

from hitl_tui.core.errors import (
    InvalidTransition, PermissionDenied, SegregationOfDuties, UnknownUser, UnknownWorkflow, ValidationFailed,
)
from hitl_tui.core.models import Decision, RiskLevel, Role, WorkflowStatus as S


def expense(service, amount, requester="john.doe", **kw):
    return service.create_workflow_request("expense_approval", kw.pop("title", "Travel"), "Conference trip",
                                           requester, {"amount": amount, "category": "travel", **kw})


def test_ids_have_the_seed_shape_and_are_unique(service):
    ids = {expense(service, 10) for _ in range(300)}
    assert len(ids) == 300
    assert all(re.fullmatch(r"WF-\d{10}-\d{4}", i) for i in ids)


def test_high_expense_walks_manager_director_executive(service):
    wid = expense(service, 15000)
    req = service.get_workflow(wid)
    assert req.risk_level is RiskLevel.HIGH and req.required_approvers == [Role.MANAGER, Role.DIRECTOR, Role.EXECUTIVE]
    assert (req.status, req.current_role) == (S.AWAITING_APPROVAL, Role.MANAGER)
    req = service.approve_workflow(wid, "sarah.manager", "Business justification confirmed")
    assert (req.status, req.current_stage, req.current_role) == (S.AWAITING_APPROVAL, 1, Role.DIRECTOR)
    req = service.approve_workflow(wid, "mike.director")
    req = service.approve_workflow(wid, "lisa.executive", "go")
    assert req.status is S.APPROVED and req.current_role is None
    assert [(a.approver, a.role, a.decision) for a in req.approvals] == [
        ("sarah.manager", Role.MANAGER, Decision.APPROVE), ("mike.director", Role.DIRECTOR, Decision.APPROVE),
        ("lisa.executive", Role.EXECUTIVE, Decision.APPROVE)]
    assert req.approvals[0].comments == "Business justification confirmed"
    actions = [e.action for e in service.get_audit_trail(wid)]
    assert actions == ["created", "approved", "approved", "approved"]
    with pytest.raises(InvalidTransition, match="is approved, no longer awaiting approval"):
        service.reject_workflow(wid, "dana.director", "too late")


def test_infrastructure_change_chain(service):
    wid = service.create_workflow_request("infrastructure_change", "Database migration", "Move to new cluster",
                                          "john.doe", {"impact": "high"})
    with pytest.raises(PermissionDenied, match="waiting for an IT Admin"):
        service.approve_workflow(wid, "sarah.manager")
    service.approve_workflow(wid, "ian.itadmin")
    service.approve_workflow(wid, "sam.security")
    assert service.approve_workflow(wid, "mike.director").status is S.APPROVED


def test_reject_needs_a_reason_and_ends_the_request(service):
    wid = expense(service, 5000)
    with pytest.raises(ValidationFailed, match="reason is required"):
        service.reject_workflow(wid, "sarah.manager", "   ")
    assert service.get_workflow(wid).status is S.AWAITING_APPROVAL  # nothing written
    req = service.reject_workflow(wid, "sarah.manager", "No budget this quarter")
    assert req.status is S.REJECTED and req.approvals[-1].comments == "No budget this quarter"
    with pytest.raises(InvalidTransition):
        service.approve_workflow(wid, "mike.director")


def test_request_changes_then_resubmit_restarts_the_chain_with_risk_reassessed(service):
    wid = expense(service, 5000)
    service.approve_workflow(wid, "sarah.manager")
    with pytest.raises(ValidationFailed, match="comments is required"):
        service.request_changes(wid, "mike.director", "")
    req = service.request_changes(wid, "mike.director", "Attach the quote")
    assert req.status is S.CHANGES_REQUESTED
    with pytest.raises(PermissionDenied, match="Only john.doe"):
        service.resubmit(wid, "sarah.manager")
    req = service.resubmit(wid, "john.doe", data={"amount": "20000", "category": "travel"}, comments="quote attached")
    assert req.revision == 2 and req.status is S.AWAITING_APPROVAL and req.current_stage == 0
    assert req.risk_level is RiskLevel.HIGH and len(req.required_approvers) == 3
    # the earlier revision's decisions no longer count for segregation of duties
    assert wid in {r.id for r in service.get_pending_approvals("mike.director")}
    service.approve_workflow(wid, "mike.director")
    assert wid not in {r.id for r in service.get_pending_approvals("mike.director")}
    trail = service.get_audit_trail(wid)
    assert [e.action for e in trail] == ["created", "approved", "changes_requested", "resubmitted", "approved"]
    assert trail[3].details["risk_before"] == "MEDIUM" and trail[3].details["risk_level"] == "HIGH"


def test_resubmit_only_after_changes_requested(service):
    wid = expense(service, 50)
    with pytest.raises(InvalidTransition, match="only possible when changes requested"):
        service.resubmit(wid, "john.doe")


def test_withdraw(service):
    wid = expense(service, 50)
    with pytest.raises(PermissionDenied, match="Only john.doe"):
        service.withdraw_workflow(wid, "sarah.manager")
    assert service.withdraw_workflow(wid, "john.doe", "bought it myself").status is S.WITHDRAWN
    with pytest.raises(InvalidTransition, match="Cannot withdraw"):
        service.withdraw_workflow(wid, "john.doe")
    with pytest.raises(InvalidTransition):
        service.approve_workflow(wid, "sarah.manager")


def test_self_approval_refused_and_nothing_written(service):
    wid = expense(service, 50, requester="sarah.manager")
    before = service.audit_size()
    with pytest.raises(SegregationOfDuties, match="segregation of duties"):
        service.approve_workflow(wid, "sarah.manager")
    assert service.audit_size() == before
    assert service.get_workflow(wid).approvals == []


def test_unknown_people_and_requests(service):
    with pytest.raises(UnknownUser, match="ghost"):
        expense(service, 10, requester="ghost")
    with pytest.raises(UnknownWorkflow):
        service.approve_workflow("WF-0-0000", "sarah.manager")
    with pytest.raises(UnknownUser):
        service.approve_workflow(expense(service, 10), "ghost")


def test_deactivated_user_cannot_decide(service):
    service.set_user_active("tom.manager", False)
    with pytest.raises(PermissionDenied, match="deactivated"):
        service.approve_workflow(expense(service, 10), "tom.manager")


@pytest.mark.parametrize("title,words", [("", "title is required"), ("a\nb", "single line"),
                                         ("x" * 201, "too long"), ("a\x00b", "NUL")])
def test_bad_titles(service, title, words):
    with pytest.raises(ValidationFailed, match=words):
        service.create_workflow_request("expense_approval", title, "", "john.doe", {"amount": 1})


def test_hostile_text_is_stored_verbatim(service):
    title = "[@click=app.quit]Pay me[/] \x1b[31mred"
    wid = service.create_workflow_request("expense_approval", title, "<script>x</script>", "john.doe", {"amount": 1})
    assert service.get_workflow(wid).title == title


def test_pending_approvals_are_what_the_user_may_decide(service):
    own = expense(service, 10, requester="sarah.manager")
    low = expense(service, 10)
    high = expense(service, 15000)
    infra = service.create_workflow_request("infrastructure_change", "x", "", "john.doe", {"impact": "low"})
    assert {r.id for r in service.get_pending_approvals("sarah.manager")} == {low, high}
    assert {r.id for r in service.get_pending_approvals("mike.director")} == {own, low, high}  # senior may act
    assert {r.id for r in service.get_pending_approvals("ian.itadmin")} == {infra}
    service.approve_workflow(high, "mike.director")  # the director took the manager stage
    assert high not in {r.id for r in service.get_pending_approvals("mike.director")}  # not two stages
    assert high in {r.id for r in service.get_pending_approvals("dana.director")}
    assert service.get_pending_approvals("john.doe") == []


def test_user_directory_rules(service):
    # the directory was bootstrapped without an administrator: promote one, then only admins act
    service.set_user_admin("ian.itadmin", True)
    with pytest.raises(PermissionDenied, match="not a user-directory administrator"):
        service.add_user("new.person", "employee", actor="sarah.manager")
    service.add_user("new.person", "employee", actor="ian.itadmin")
    with pytest.raises(Exception, match="already in the user directory"):
        service.add_user("new.person", "manager", actor="ian.itadmin")
    assert service.set_user_role("new.person", "manager", actor="ian.itadmin").role is Role.MANAGER
    with pytest.raises(PermissionDenied, match="own administrator rights"):
        service.set_user_active("ian.itadmin", False, actor="ian.itadmin")
    with pytest.raises(ValidationFailed, match="Unknown role"):
        service.set_user_role("new.person", "janitor", actor="ian.itadmin")
    with pytest.raises(ValidationFailed, match="Username"):
        service.add_user("bad name!", "employee", actor="ian.itadmin")
