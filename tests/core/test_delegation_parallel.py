"""Delegation at a parallel (`all`) stage: the compliance officer is away and hands her decisions
to a manager; a stage awaiting security and compliance at once (its current_role is security,
the first awaited) is the delegate's to decide for her, in her slot, and in his Awaiting me.
Real encrypted databases with the quorum tests' policy applied by an administrator."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from hitl_tui.core import delegation
from hitl_tui.core.errors import SegregationOfDuties
from hitl_tui.core.models import InboxView, Role

from .test_quorum import ADMIN, awaiting, desk, pay  # noqa: F401 - the policy fixture, reused

DELEGATE = "sarah.manager"
UNTIL = (date.today() + timedelta(days=10)).isoformat()


def _away(desk) -> None:
    delegation.grant(desk, ADMIN, DELEGATE, UNTIL, "conference week", actor=ADMIN)


def test_a_delegate_decides_the_delegators_role_of_a_parallel_stage_in_her_slot(desk):
    wid = pay(desk, "20000")  # HIGH: security and compliance in any order, then a director
    assert desk.get_workflow(wid).current_role is Role.SECURITY  # compliance is awaited too, not first
    _away(desk)
    done = desk.decide(wid, DELEGATE, "approve", "for Carol")
    vote = done.approvals[-1]
    assert (vote.approver, vote.on_behalf_of, vote.role) == (DELEGATE, ADMIN, Role.COMPLIANCE)
    assert (done.current_stage, done.current_role) == (0, Role.SECURITY)  # security still awaited
    with pytest.raises(SegregationOfDuties, match="for you"):
        desk.decide(wid, ADMIN, "approve")  # her vote was cast for her already
    assert desk.decide(wid, "sam.security", "approve").current_role is Role.DIRECTOR
    result = desk.verify_audit()
    assert result.ok, result.problem


def test_the_delegates_awaiting_me_holds_a_parallel_stage_still_awaiting_the_delegators_role(desk):
    wid = pay(desk, "20000")
    assert wid not in awaiting(desk, DELEGATE)
    _away(desk)
    assert awaiting(desk, DELEGATE) == [wid]
    assert desk.count_requests(DELEGATE, InboxView.AWAITING_ME) == 1
    assert [r.id for r in desk.get_pending_approvals(DELEGATE)] == [wid]
    desk.decide(wid, DELEGATE, "approve")
    # compliance is filled: the stage waits only for security now, nothing of Carol's
    assert awaiting(desk, DELEGATE) == [] and desk.count_requests(DELEGATE, InboxView.AWAITING_ME) == 0
