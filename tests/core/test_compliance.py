"""Deterministic compliance checks: each flag appears exactly when its rule is broken."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from hitl_tui.core.compliance import Severity, check_request, split_window, zone_from_env
from hitl_tui.core.errors import ValidationFailed
from hitl_tui.core.models import Approval, Decision, Role, WorkflowRequest, WorkflowStatus
from hitl_tui.core.policy import load_policy

POLICY = load_policy()
UTC = timezone.utc
WEDNESDAY_10 = datetime(2025, 11, 19, 10, 0, tzinfo=UTC)
GOOD_WHY = "Flights and hotel for the annual partner summit in Berlin"


def request(wid="WF-1", amount="500", *, requester="john.doe", created=WEDNESDAY_10, approvals=(),
            description=GOOD_WHY, category="travel", status=WorkflowStatus.AWAITING_APPROVAL) -> WorkflowRequest:
    a = POLICY.assess("expense_approval", {"amount": amount, "category": category})
    return WorkflowRequest(
        id=wid, workflow_type="expense_approval", title="Trip", description=description, requester=requester,
        data=a.data, risk_level=a.risk_level, risk_field=a.risk_field, risk_reason=a.risk_reason,
        required_approvers=list(a.chain), current_stage=len(approvals), status=status,
        approvals=list(approvals), created_at=created, updated_at=created,
    )


def approval(stage, role, approver, approver_role, at=WEDNESDAY_10, revision=1, decision=Decision.APPROVE):
    return Approval(stage=stage, role=role, approver=approver, approver_role=approver_role, decision=decision,
                    decided_at=at, revision=revision)


def codes(flags):
    return [f.code for f in flags]


def test_a_clean_request_has_no_flags():
    req = request(amount="5000", approvals=[approval(0, Role.MANAGER, "sarah.manager", Role.MANAGER)])
    assert check_request(POLICY, req, [], tz=UTC) == []


def test_requester_deciding_their_own_request_is_flagged():
    req = request(approvals=[approval(0, Role.MANAGER, "john.doe", Role.MANAGER)])
    (flag,) = check_request(POLICY, req, tz=UTC)
    assert (flag.code, flag.severity) == ("sod_requester_decided", Severity.HIGH)
    assert "john.doe requested WF-1 and also approved stage 1 (Manager)" in flag.explanation


def test_one_person_deciding_two_stages_is_flagged_but_two_people_are_not():
    same = request(amount="5000", approvals=[approval(0, Role.MANAGER, "mike.director", Role.DIRECTOR),
                                             approval(1, Role.DIRECTOR, "mike.director", Role.DIRECTOR)])
    assert codes(check_request(POLICY, same, tz=UTC)) == ["sod_same_person_two_stages"]
    assert "stages 1 and 2 of revision 1" in check_request(POLICY, same, tz=UTC)[0].explanation
    two = request(amount="5000", approvals=[approval(0, Role.MANAGER, "sarah.manager", Role.MANAGER),
                                            approval(1, Role.DIRECTOR, "mike.director", Role.DIRECTOR)])
    assert check_request(POLICY, two, tz=UTC) == []
    # the same person on different revisions (after a resubmission) is allowed
    again = request(amount="5000", approvals=[approval(0, Role.MANAGER, "sarah.manager", Role.MANAGER, revision=1),
                                              approval(0, Role.MANAGER, "sarah.manager", Role.MANAGER, revision=2)])
    assert check_request(POLICY, again, tz=UTC) == []


def test_a_decider_below_the_stage_role_is_flagged():
    req = request(amount="5000", approvals=[approval(0, Role.MANAGER, "sarah.manager", Role.MANAGER),
                                            approval(1, Role.DIRECTOR, "tom.manager", Role.MANAGER)])
    assert codes(check_request(POLICY, req, tz=UTC)) == ["decider_not_eligible"]


@pytest.mark.parametrize("amount, description, code, severity", [
    ("15000", "", "missing_justification", Severity.HIGH),
    ("500", "   ", "missing_justification", Severity.MEDIUM),
    ("500", "Conference trip", "thin_justification", Severity.LOW),
])
def test_missing_or_thin_justification(amount, description, code, severity):
    (flag,) = check_request(POLICY, request(amount=amount, description=description), tz=UTC)
    assert (flag.code, flag.severity) == (code, severity)


def test_five_words_are_enough():
    assert check_request(POLICY, request(description="Travel expenses for industry conference"), tz=UTC) == []


def test_split_purchase_under_a_threshold_within_the_window():
    day = timedelta(days=1)
    a = request("WF-A", "9500", created=WEDNESDAY_10 - 6 * day)
    b = request("WF-B", "9800", created=WEDNESDAY_10 - 2 * day)
    c = request("WF-C", "9900")
    flags = check_request(POLICY, c, [a, b], tz=UTC)
    (flag,) = flags
    assert (flag.code, flag.severity) == ("split_purchase", Severity.HIGH)
    assert flag.workflow_ids == ("WF-A", "WF-B", "WF-C")
    assert "3 expense approval requests within 14 days, each just under the 10,000 threshold" in flag.explanation
    assert "29,200.00" in flag.explanation and "HIGH risk" in flag.explanation
    assert "Manager -> Director -> Executive" in flag.explanation
    # every part of the split is flagged when it is the one being checked
    assert codes(check_request(POLICY, a, [b, c], tz=UTC)) == ["split_purchase"]


@pytest.mark.parametrize("other", [
    request("WF-X", "9600", created=WEDNESDAY_10 - timedelta(days=20)),   # outside the window
    request("WF-X", "9600", requester="jane.roe"),                       # someone else
    request("WF-X", "9600", status=WorkflowStatus.WITHDRAWN),            # withdrawn
    request("WF-X", "7000"),                                              # not just under a threshold
])
def test_no_split_when_the_pattern_is_not_there(other):
    assert check_request(POLICY, request("WF-C", "9900"), [other], tz=UTC) == []


def test_no_split_flag_when_the_checked_request_is_not_near_the_threshold():
    others = [request("WF-A", "9500"), request("WF-B", "9800")]
    assert check_request(POLICY, request("WF-C", "3000"), others, tz=UTC) == []


def test_split_rules_come_from_the_policy(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text("[compliance]\nsplit_min_requests = 3\n")
    strict = load_policy(path)
    pair = [request("WF-A", "950")]
    assert check_request(strict, request("WF-B", "990"), pair, tz=UTC) == []
    assert codes(check_request(POLICY, request("WF-B", "990"), pair, tz=UTC)) == ["split_purchase"]


def test_split_window_is_centred_on_the_request():
    start, end = split_window(POLICY, request())
    assert (WEDNESDAY_10 - start, end - WEDNESDAY_10) == (timedelta(days=14), timedelta(days=14))


@pytest.mark.parametrize("category, amount, flagged", [
    ("meals", "2000", True), ("meals", "1500", False), ("travel", "15000", False), ("travel", "30000", True),
    ("services", "90000", False),  # no usual amount configured for services
])
def test_unusual_amount_for_the_category(category, amount, flagged):
    flags = [f for f in check_request(POLICY, request(amount=amount, category=category), tz=UTC)
             if f.code == "unusual_amount"]
    assert bool(flags) is flagged
    if flagged:
        assert f"usual for {category}" in flags[0].explanation


@pytest.mark.parametrize("at, tz, flagged", [
    (datetime(2025, 11, 19, 22, 30, tzinfo=UTC), UTC, True),                 # Wednesday night
    (datetime(2025, 11, 22, 10, 0, tzinfo=UTC), UTC, True),                  # Saturday
    (datetime(2025, 11, 19, 18, 59, tzinfo=UTC), UTC, False),
    (datetime(2025, 11, 19, 6, 30, tzinfo=UTC), ZoneInfo("Europe/Berlin"), True),     # 07:30 there
    (datetime(2025, 11, 19, 8, 30, tzinfo=UTC), ZoneInfo("Europe/Berlin"), False),    # 09:30 there
    (datetime(2025, 11, 19, 12, 0, tzinfo=UTC), ZoneInfo("America/New_York"), True),  # 07:00 there
    (datetime(2025, 11, 19, 14, 0, tzinfo=UTC), ZoneInfo("America/New_York"), False),
])
def test_decisions_outside_working_hours_in_the_deciders_zone(at, tz, flagged):
    req = request(approvals=[approval(0, Role.MANAGER, "sarah.manager", Role.MANAGER, at=at)])
    flags = check_request(POLICY, req, tz=tz)
    assert codes(flags) == (["decision_outside_hours"] if flagged else [])
    if flagged:
        assert "working hours are 08:00-19:00, Monday to Friday" in flags[0].explanation


def test_flags_come_most_severe_first():
    late = datetime(2025, 11, 19, 23, 0, tzinfo=UTC)
    req = request(amount="2500", category="meals", description="",
                  approvals=[approval(0, Role.MANAGER, "john.doe", Role.MANAGER, at=late)])
    severities = [f.severity for f in check_request(POLICY, req, tz=UTC)]
    assert severities == sorted(severities, key=lambda s: s.rank)
    assert set(codes(check_request(POLICY, req, tz=UTC))) == {
        "sod_requester_decided", "missing_justification", "unusual_amount", "decision_outside_hours"}


def test_zone_from_env():
    assert zone_from_env({}) is None
    assert zone_from_env({"HITL_TIMEZONE": "Europe/Berlin"}) == ZoneInfo("Europe/Berlin")
    with pytest.raises(ValidationFailed, match="HITL_TIMEZONE='Mars/Olympus' is not a known time zone"):
        zone_from_env({"HITL_TIMEZONE": "Mars/Olympus"})


def test_flags_serialise_for_export():
    (flag,) = check_request(POLICY, request(description="Short"), tz=UTC)
    assert flag.model_dump(mode="json")["severity"] == "low"
