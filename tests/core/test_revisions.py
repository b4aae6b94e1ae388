"""A reviewer who asks for changes on a request filed for approval may propose a revised payload;
it is a proposal only, until the caller accepts it explicitly by resubmitting it (issue 12). The
revision is signed by the reviewer, re-assessed by the policy, rebuilt by the replay, sealed as
personal data, and the receipt of the final decision names the payload of the revision approved.
Real encrypted databases, no mocks."""

from __future__ import annotations

import json

import pytest

from hitl_tui.core import payloads, receipts
from hitl_tui.core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from hitl_tui.core.models import ApprovalOutcome, WorkflowStatus
from hitl_tui.core.service import WorkflowService

from .conftest import raw_connection, roll_back_schema
from .test_approvals import ADMIN, REFUND, desk, file  # noqa: F401  (desk: the fixture)

#: the reviewer's revision: the refund of the right order, for the amount actually charged twice
REVISED = {"tool": "refund", "arguments": {"order_id": "1243", "amount": "725.00"}}


def ask_for_changes(svc, wid, payload=REVISED, who="tom.manager"):
    return svc.request_changes(wid, who, "wrong order: 1243 was charged twice, for 725.00", payload=payload)


def test_the_reviewers_revision_is_a_signed_proposal_and_nothing_is_filed_until_the_caller_accepts_it(desk):
    wid = file(desk)
    ask_for_changes(desk, wid)
    got = desk.approvals.decision("billing-bot", wid)
    assert got.outcome is ApprovalOutcome.CHANGES_REQUESTED and got.revision == 1
    assert got.proposed_payload == REVISED and got.proposed_payload_sha256 == payloads.sha256_of(REVISED)
    assert got.payload_sha256 == payloads.sha256_of(REFUND)  # what is filed has not changed
    assert got.receipt is None  # not final: nothing to run on
    entry = desk.get_audit_trail(wid)[-1]
    assert entry.action == "changes_requested" and entry.sig is not None  # signed by its maker, the reviewer
    assert json.loads(entry.details["proposed_payload"]) == REVISED
    assert entry.details["proposed_payload_sha256"] == payloads.sha256_of(REVISED)
    assert desk.verify_audit().ok


def test_accepting_the_revision_files_it_reassesses_it_and_the_receipt_names_it(desk):
    wid = file(desk)
    ask_for_changes(desk, wid)
    after = desk.approvals.resubmit("billing-bot", wid, REVISED, comments="accepted the reviewer's revision")
    assert after.outcome is ApprovalOutcome.PENDING and after.revision == 2 and after.proposed_payload is None
    req = desk.get_workflow(wid)
    assert req.filing.payload == REVISED and req.filing.payload_sha256 == payloads.sha256_of(REVISED)
    assert req.filing.justification == "the customer was charged twice"  # kept: none was given
    assert req.filing.proposed_payload_text is None
    # 725.00 is over 500: the policy now asks a director too
    assert (req.risk_level.value, [r.value for r in req.required_approvers]) == ("MEDIUM", ["manager", "director"])
    entry = desk.get_audit_trail(wid)[-1]
    assert entry.action == "resubmitted" and entry.details["accepted_proposal"] is True and entry.sig is not None
    assert entry.details["payload_sha256"] == payloads.sha256_of(REVISED)
    desk.decide(wid, "tom.manager", "approve")
    desk.decide(wid, "mike.director", "approve")
    got = desk.approvals.decision("billing-bot", wid)
    key = receipts.parse_key(desk.approvals.receipt_keys()[0])
    assert got.outcome is ApprovalOutcome.APPROVED and got.receipt["payload_sha256"] == payloads.sha256_of(REVISED)
    assert receipts.problem(got.receipt, key, payloads.sha256_of(REVISED)) is None
    assert "for another payload" in receipts.problem(got.receipt, key, payloads.sha256_of(REFUND))
    assert desk.verify_audit().ok


def test_the_caller_may_send_another_payload_than_the_proposal_and_the_trail_says_so(desk):
    wid = file(desk)
    ask_for_changes(desk, wid)
    mine = {"tool": "refund", "arguments": {"order_id": "1243", "amount": "25.00"}}
    desk.approvals.resubmit("billing-bot", wid, mine, justification="only the second capture")
    req = desk.get_workflow(wid)
    assert req.filing.payload == mine and req.filing.justification == "only the second capture"
    assert desk.get_audit_trail(wid)[-1].details["accepted_proposal"] is False
    assert req.risk_level.value == "LOW"


@pytest.mark.parametrize("payload, words", [
    (REFUND, "is the one WF-"),  # no revision at all
    ({"tool": "refund", "amount": 1.5e300}, "amount is implausibly large"),  # the policy cannot assess it
    ({"tool": "refund", "amount": "600", "currency": "EUR"}, "EUR"),
    ([1, 2], "must be a JSON object"),
])
def test_a_revision_the_caller_could_not_file_is_refused_in_one_line_and_nothing_is_written(desk, payload, words):
    wid = file(desk)
    size = len(desk.get_audit_trail(wid))
    with pytest.raises(ValidationFailed, match=words):
        ask_for_changes(desk, wid, payload)
    assert len(desk.get_audit_trail(wid)) == size and desk.get_workflow(wid).status is WorkflowStatus.AWAITING_APPROVAL


def test_only_a_request_for_changes_proposes_and_only_on_a_request_filed_with_a_payload(desk):
    wid = file(desk)
    with pytest.raises(ValidationFailed, match="Only a request for changes proposes a revised payload"):
        desk.decide(wid, "tom.manager", "approve", payload=REVISED)
    plain = desk.create_workflow_request("expense_approval", "Lunch", "", "john.doe", {"amount": 50})
    with pytest.raises(ValidationFailed, match="was not filed with a payload"):
        ask_for_changes(desk, plain, who="sarah.manager")
    assert desk.get_workflow(wid).status is WorkflowStatus.AWAITING_APPROVAL


def test_a_payload_request_is_revised_by_its_payload_alone_and_only_by_its_requester(desk):
    wid = file(desk)
    ask_for_changes(desk, wid)
    with pytest.raises(ValidationFailed, match="its fields come from it"):
        desk.resubmit(wid, "billing-bot", data={"tool": "refund", "amount": 1})
    with pytest.raises(ValidationFailed, match="its fields come from it"):
        desk.resubmit(wid, "billing-bot", comments="as it was")
    with pytest.raises(PermissionDenied):
        desk.approvals.resubmit("tom.manager", wid, REVISED)  # the reviewer cannot accept their own proposal
    plain = desk.create_workflow_request("expense_approval", "Lunch", "", "john.doe", {"amount": 50})
    desk.request_changes(plain, "sarah.manager", "which lunch?")
    with pytest.raises(ValidationFailed, match="was not filed with a payload"):
        desk.approvals.resubmit("john.doe", plain, REVISED)
    assert desk.get_workflow(wid).status is WorkflowStatus.CHANGES_REQUESTED


def test_a_revision_does_not_buy_time_past_the_deadline(desk):
    import time

    wid = file(desk, timeout=1)
    ask_for_changes(desk, wid)
    time.sleep(1.05)
    with pytest.raises(InvalidTransition, match="expired at"):
        desk.approvals.resubmit("billing-bot", wid, REVISED)


def test_the_replay_rebuilds_the_proposal_and_names_an_edit_of_it(desk, db_path, db_key):
    wid = file(desk)
    ask_for_changes(desk, wid)
    assert desk.verify_audit().ok
    conn = raw_connection(db_path, db_key)
    forged = json.dumps({"tool": "refund", "arguments": {"order_id": "1243", "amount": "72500.00"}})
    conn.execute("UPDATE requests SET proposed_payload = ? WHERE id = ?", (forged, wid))
    conn.close()
    problem = desk.verify_audit().tables_problem or ""
    assert f"{wid} proposed revision of the payload is" in problem, problem
    conn = raw_connection(db_path, db_key)
    conn.execute("UPDATE requests SET proposed_payload = NULL WHERE id = ?", (wid,))
    conn.close()
    assert "proposed revision" in (desk.verify_audit().tables_problem or "")  # removing it is caught too


def test_an_erasure_erases_the_proposed_revision_too(desk):
    wid = file(desk)
    ask_for_changes(desk, wid)
    desk.withdraw_workflow(wid, "billing-bot", "refunded by hand")  # only a closed request is erased
    desk.set_user_admin("lisa.executive", True, actor=ADMIN)
    desk.erasure.request(wid, "GDPR Art. 17, ticket 2", actor=ADMIN)
    desk.erasure.confirm(wid, actor="lisa.executive")
    filing = desk.get_workflow(wid).filing
    assert filing.proposed_payload_text.startswith("erased on ") and filing.proposed_payload is None
    assert desk.approvals.decision("billing-bot", wid).proposed_payload is None
    assert desk.verify_audit().ok


def test_a_database_from_before_migration_15_opens_with_nothing_proposed(db_path, db_key):
    svc = WorkflowService.open(db_path, key=db_key)
    svc.add_user("ann", "manager")
    wid = svc.create_workflow_request("expense_approval", "t", "", "ann", {"amount": 50})
    svc.close(checkpoint=False)
    conn = raw_connection(db_path, db_key)
    roll_back_schema(conn, 14)
    conn.close()
    svc = WorkflowService.open(db_path, key=db_key)
    try:
        assert svc.get_workflow(wid).filing is None and svc.verify_audit().ok
    finally:
        svc.close(checkpoint=False)
