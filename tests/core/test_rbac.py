"""Who may decide which stage, segregation of duties, and who may see what."""

from __future__ import annotations

from datetime import datetime, timezone
from itertools import product

import pytest

from hitl_tui.core import rbac
from hitl_tui.core.errors import InvalidTransition, PermissionDenied, SegregationOfDuties
from hitl_tui.core.models import Approval, Decision, RiskLevel, Role, User, WorkflowRequest, WorkflowStatus
from hitl_tui.core.policy import load_policy
from hitl_tui.core.workflow import Action

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)
LINE = [Role.MANAGER, Role.DIRECTOR, Role.EXECUTIVE]


@pytest.fixture(scope="module")
def policy():
    return load_policy()


def user(name: str, role: Role, **kw) -> User:
    return User(username=name, role=role, created_at=NOW, **kw)


def request_at(stage_role: Role, *, chain: list[Role] | None = None, stage: int | None = None,
               requester: str = "req.user", approvals: list[Approval] | None = None,
               status: WorkflowStatus = WorkflowStatus.AWAITING_APPROVAL) -> WorkflowRequest:
    chain = chain or [stage_role]
    return WorkflowRequest(
        id="WF-1-0001", workflow_type="expense_approval", title="t", requester=requester, data={},
        risk_level=RiskLevel.LOW, risk_reason="r", required_approvers=chain,
        current_stage=chain.index(stage_role) if stage is None else stage, status=status,
        approvals=approvals or [], created_at=NOW, updated_at=NOW,
    )


def expected_may_decide(user_role: Role, stage_role: Role) -> bool:
    """The rule in the README, written out independently of policy.stage_deciders."""
    if user_role == stage_role:
        return True
    return stage_role in LINE and user_role in LINE and LINE.index(user_role) > LINE.index(stage_role)


@pytest.mark.parametrize("user_role,stage_role", list(product(Role, Role)))
def test_every_role_against_every_stage(policy, user_role, stage_role):
    req = request_at(stage_role)
    decider = user("someone", user_role)
    assert rbac.may_decide(policy, decider, req) is expected_may_decide(user_role, stage_role)
    if not expected_may_decide(user_role, stage_role):
        with pytest.raises(PermissionDenied, match=f"waiting for an? {stage_role.label}"):
            rbac.check_decide(policy, decider, req)


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.EMPLOYEE])
def test_requester_never_decides_own_request_whatever_the_role(policy, role):
    req = request_at(role, requester="boss")
    with pytest.raises(SegregationOfDuties, match="You requested WF-1-0001, so you cannot approve it"):
        rbac.check_decide(policy, user("boss", role), req)
    for action, verb in [(Action.REJECT, "reject"), (Action.REQUEST_CHANGES, "request changes on")]:
        with pytest.raises(SegregationOfDuties, match=f"cannot {verb} it"):
            rbac.check_decide(policy, user("boss", role), req, action)


def test_one_person_never_decides_two_stages(policy):
    first = Approval(stage=0, role=Role.MANAGER, approver="vp", approver_role=Role.EXECUTIVE,
                     decision=Decision.APPROVE, decided_at=NOW)
    req = request_at(Role.DIRECTOR, chain=[Role.MANAGER, Role.DIRECTOR], approvals=[first])
    with pytest.raises(SegregationOfDuties, match="already decided stage 1"):
        rbac.check_decide(policy, user("vp", Role.EXECUTIVE), req)
    assert rbac.may_decide(policy, user("other.vp", Role.EXECUTIVE), req)


def test_decisions_of_an_earlier_revision_do_not_count(policy):
    old = Approval(stage=0, role=Role.MANAGER, approver="m", approver_role=Role.MANAGER,
                   decision=Decision.REQUEST_CHANGES, decided_at=NOW, revision=1)
    req = request_at(Role.MANAGER, approvals=[old]).model_copy(update={"revision": 2})
    assert rbac.may_decide(policy, user("m", Role.MANAGER), req)


@pytest.mark.parametrize("status", [s for s in WorkflowStatus if s is not WorkflowStatus.AWAITING_APPROVAL])
def test_decisions_on_requests_no_longer_awaiting_are_refused(policy, status):
    req = request_at(Role.MANAGER, status=status)
    with pytest.raises(InvalidTransition, match="no longer awaiting approval"):
        rbac.check_decide(policy, user("m", Role.MANAGER), req)


def test_deactivated_users_cannot_act(policy):
    with pytest.raises(PermissionDenied, match="deactivated"):
        rbac.check_decide(policy, user("m", Role.MANAGER, active=False), request_at(Role.MANAGER))


def test_only_the_requester_withdraws_or_resubmits():
    req = request_at(Role.MANAGER, requester="john")
    assert rbac.may_withdraw(user("john", Role.EMPLOYEE), req)
    with pytest.raises(PermissionDenied, match="Only john"):
        rbac.check_requester_action(user("lisa", Role.EXECUTIVE), req, Action.WITHDRAW)
    changes = request_at(Role.MANAGER, requester="john", status=WorkflowStatus.CHANGES_REQUESTED)
    assert rbac.may_resubmit(user("john", Role.EMPLOYEE), changes)
    assert not rbac.may_resubmit(user("john", Role.EMPLOYEE), req)
    assert not rbac.may_resubmit(user("lisa", Role.EXECUTIVE), changes)


def test_visibility(policy):
    infra = request_at(Role.IT_ADMIN, chain=[Role.IT_ADMIN, Role.SECURITY], requester="dev")
    assert rbac.may_view(policy, user("dev", Role.EMPLOYEE), infra)          # own request
    assert rbac.may_view(policy, user("sec", Role.SECURITY), infra)          # a stage for my role
    assert rbac.may_view(policy, user("boss", Role.EXECUTIVE), infra)        # oversight
    assert rbac.may_view(policy, user("audit", Role.COMPLIANCE), infra)      # oversight
    assert not rbac.may_view(policy, user("m", Role.MANAGER), infra)         # nothing to decide
    assert not rbac.may_view(policy, user("emp", Role.EMPLOYEE), infra)
    with pytest.raises(PermissionDenied, match="outside what a Manager may see"):
        rbac.check_view(policy, user("m", Role.MANAGER), infra)


def test_directory_changes_need_an_administrator():
    rbac.check_admin(None, directory_has_admin=False)  # bootstrap an empty directory
    rbac.check_admin(user("root", Role.IT_ADMIN, admin=True), directory_has_admin=True)
    with pytest.raises(PermissionDenied, match="not a user-directory administrator"):
        rbac.check_admin(user("m", Role.MANAGER), directory_has_admin=True)
    with pytest.raises(PermissionDenied, match="not in the directory"):
        rbac.check_admin(None, directory_has_admin=True)


def test_delegations_from_the_policy_file(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[access.also_decides]\nmanager = ["compliance"]\n')
    policy = load_policy(path)
    assert rbac.may_decide(policy, user("c", Role.COMPLIANCE), request_at(Role.MANAGER))
    assert not rbac.may_decide(policy, user("c", Role.COMPLIANCE), request_at(Role.DIRECTOR))


# --- every access rule in rbac (issue 10, section 6) -------------------------------------------

@pytest.mark.parametrize("user_role,stage_role", list(product(Role, Role)))
def test_role_may_decide_is_the_stage_rule(policy, user_role, stage_role):
    assert rbac.role_may_decide(policy, user_role, stage_role) is expected_may_decide(user_role, stage_role)


def test_who_sees_everything_and_another_persons_queue(policy):
    for role in Role:
        oversight = role in (Role.EXECUTIVE, Role.COMPLIANCE)
        assert rbac.sees_everything(policy, user("x", role)) is oversight
        rbac.check_see_queue(policy, user("x", role), "x")  # one's own queue: always
        if oversight:
            rbac.check_see_queue(policy, user("x", role), "sarah.manager")
        else:
            with pytest.raises(PermissionDenied, match="sarah.manager's queue is visible to the Compliance or "
                                                       "Executive roles"):
                rbac.check_see_queue(policy, user("x", role), "sarah.manager")


def test_who_may_export(policy):
    for role in Role:
        oversight = role in (Role.EXECUTIVE, Role.COMPLIANCE)
        assert rbac.may_export(policy, user("x", role)) is oversight
        assert rbac.may_export(policy, user("x", role, admin=True))  # administrators run the audit duties
    with pytest.raises(PermissionDenied, match="needs an oversight role \\(Compliance, Executive\\) or directory "
                                               "administrator rights; m is Manager"):
        rbac.check_export(policy, user("m", Role.MANAGER))
    with pytest.raises(PermissionDenied, match="deactivated"):
        rbac.check_export(policy, user("c", Role.COMPLIANCE, active=False))


class _Refused(PermissionDenied):
    pass


def _refuse(*_args, **_kw):
    raise _Refused("the rule in rbac said no")


def test_the_callers_ask_rbac(service, monkeypatch):
    """The export, the assistant's queue tool and the report's eligibility check hold no rule of
    their own: replacing the rbac function changes what they allow."""
    from hitl_tui.agents.tools import EventSink, SessionTools
    from hitl_tui.core.reports import check_may_export
    from hitl_tui.core.reports.stats import Stats

    check_may_export(service, "carol.compliance")
    monkeypatch.setattr(rbac, "check_export", _refuse)
    with pytest.raises(_Refused):
        check_may_export(service, "carol.compliance")

    tools = SessionTools(service, "lisa.executive", EventSink())
    assert "no pending approvals" in tools.list_pending_approvals("sarah.manager")
    monkeypatch.setattr(rbac, "check_see_queue", _refuse)
    assert "the rule in rbac said no" in tools.list_pending_approvals("sarah.manager")

    def flags_for_decision(stats_policy) -> list[str]:
        stats = Stats(stats_policy)
        created = {"seq": 1, "ts": "2026-11-26T10:00:00.000000+00:00", "actor": "john.doe", "action": "created",
                   "workflow_id": "WF-1-0001", "details": {"workflow_type": "expense_approval", "risk_level": "LOW",
                                                           "chain": ["manager"]}}
        approved = {"seq": 2, "ts": "2026-11-26T11:00:00.000000+00:00", "actor": "sarah.manager",
                    "action": "approved", "workflow_id": "WF-1-0001",
                    "details": {"stage": 0, "stage_role": "manager", "decider_role": "manager",
                                "status_after": "approved"}}
        import json
        for rec in (created, approved):
            stats.feed_row(rec["seq"], json.dumps(rec).encode())
        stats.finish()
        return [f["code"] for f in stats.flags]

    assert "decider_not_eligible" not in flags_for_decision(service.policy)
    monkeypatch.setattr(rbac, "role_may_decide", lambda *a: False)
    assert "decider_not_eligible" in flags_for_decision(service.policy)
