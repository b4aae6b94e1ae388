"""Requests filed for approval through the engine (issue 12, part 1): integration accounts that can
never decide, the owner's segregation of duties, the payload bound to the request (bounded,
assessed, sealed), typed outcomes, expiry that fails closed, cancel, receipts, and the replay
that rebuilds every new column from the trail. Real encrypted databases, no mocks."""

from __future__ import annotations

import json
import os
import time

import pytest

from hitl_tui.core import payloads, receipts
from hitl_tui.core.approvals import MAX_TIMEOUT, decision_of
from hitl_tui.core.decisions import SYSTEM_ACTOR, AuditAction
from hitl_tui.core.errors import (InvalidTransition, PermissionDenied, SegregationOfDuties, UnknownUser,
                                  ValidationFailed)
from hitl_tui.core.models import ApprovalOutcome, InboxView, WorkflowStatus
from hitl_tui.core.service import WorkflowService

from .conftest import raw_connection, roll_back_schema

ADMIN = "carol.compliance"  # made an administrator below
REFUND = {"tool": "refund", "arguments": {"order_id": "1234", "amount": "25.00"}}


@pytest.fixture
def desk(service):
    service.set_user_admin(ADMIN, True)  # bootstrap: the directory has no administrator yet
    service.approvals.add_integration("billing-bot", "manager", "sarah.manager", actor=ADMIN)
    return service


def file(svc, payload=REFUND, *, timeout=600, who="billing-bot", **kw):
    return svc.approvals.file(who, "tool_call", kw.pop("title", "Refund order 1234"), payload,
                              justification=kw.pop("justification", "the customer was charged twice"),
                              timeout=timeout, agent="billing-agent", **kw)


# --- integration accounts --------------------------------------------------------------------------

def test_an_integration_has_an_active_person_as_owner_and_administers_nothing(desk):
    bot = desk.get_user("billing-bot")
    assert bot.integration and bot.owner == "sarah.manager" and not bot.admin
    for owner, error, words in ((None, ValidationFailed, "needs an owner"), ("nobody", UnknownUser, "nobody"),
                                ("billing-bot", PermissionDenied, "is an integration itself")):
        with pytest.raises(error, match=words):
            desk.add_user("other-bot", "employee", actor=ADMIN, integration=True, owner=owner)
    with pytest.raises(PermissionDenied, match="cannot be a directory administrator"):
        desk.approvals.add_integration("admin-bot", "employee", "sarah.manager", actor=ADMIN, admin=True)
    with pytest.raises(PermissionDenied, match="cannot be a directory administrator"):
        desk.set_user_admin("billing-bot", True, actor=ADMIN)
    with pytest.raises(ValidationFailed, match="engine's own audit entries"):
        desk.add_user(SYSTEM_ACTOR, "employee", actor=ADMIN)
    added = [e for e in desk.iter_audit() if e.action == "user_added" and e.details["username"] == "billing-bot"]
    assert added[0].details["integration"] is True and added[0].details["owner"] == "sarah.manager"
    assert added[0].sig is not None  # signed by the administrator, like every directory change
    assert desk.verify_audit().ok


def test_an_integration_never_decides_by_any_path_even_with_the_stage_role(desk):
    wid = desk.create_workflow_request("expense_approval", "Team lunch", "", "john.doe", {"amount": 100})
    size = desk.audit_size()
    for decision in ("approve", "reject", "request_changes"):
        with pytest.raises(PermissionDenied, match="billing-bot is an integration .* never"):
            desk.decide(wid, "billing-bot", decision, "looks fine to me")
    assert desk.audit_size() == size and desk.get_workflow(wid).status is WorkflowStatus.AWAITING_APPROVAL
    # it reads its own requests only: a manager's stage waiting is none of its business
    assert desk.list_requests("billing-bot", InboxView.AWAITING_ME) == []
    assert desk.list_requests("billing-bot", InboxView.VISIBLE) == []
    assert desk.get_pending_approvals("billing-bot") == []
    with pytest.raises(PermissionDenied, match="outside what"):
        desk.get_workflow_for("billing-bot", wid)
    mine = file(desk)
    assert [r.id for r in desk.list_requests("billing-bot", InboxView.VISIBLE)] == [mine]
    with pytest.raises(PermissionDenied, match="never approve"):
        desk.decide(mine, "billing-bot", "approve")


def test_the_owner_may_not_decide_what_their_integration_filed_unless_the_policy_lets_them(desk):
    wid = file(desk)
    with pytest.raises(SegregationOfDuties, match="the integration you are responsible for"):
        desk.decide(wid, "sarah.manager", "approve")
    assert desk.approvals.decision("billing-bot", wid).outcome is ApprovalOutcome.PENDING
    from hitl_tui.core.policy_store import compose_text

    text, source = compose_text()
    desk.apply_policy(text.replace("segregate_owners = true", "segregate_owners = false"), source=source, actor=ADMIN)
    desk.decide(wid, "sarah.manager", "approve", "fine")
    assert desk.approvals.decision("billing-bot", wid).outcome is ApprovalOutcome.APPROVED


def test_what_an_owners_integration_files_does_not_wait_for_the_owner_who_may_not_decide_it(desk):
    wid = file(desk)
    awaiting = lambda who: [r.id for r in desk.list_requests(who, InboxView.AWAITING_ME)]  # noqa: E731
    assert wid in awaiting("tom.manager") and wid not in awaiting("sarah.manager")
    assert desk.count_requests("sarah.manager", InboxView.AWAITING_ME) == 0
    assert desk.count_views("sarah.manager")[InboxView.AWAITING_ME] == 0
    assert wid not in [r.id for r in desk.get_pending_approvals("sarah.manager")]
    assert wid in [r.id for r in desk.get_pending_approvals("tom.manager")]
    from hitl_tui.core.policy_store import compose_text

    text, source = compose_text()
    desk.apply_policy(text.replace("segregate_owners = true", "segregate_owners = false"), source=source, actor=ADMIN)
    assert wid in awaiting("sarah.manager")  # the policy lets owners decide: it waits for her again


# --- the payload -----------------------------------------------------------------------------------

def test_the_risk_and_the_chain_come_from_the_payload_so_a_refund_over_500_needs_a_director(desk):
    small = desk.get_workflow(file(desk))
    big = desk.get_workflow(file(desk, {"tool": "refund", "order_id": "9", "amount": 1200}))
    prod = desk.get_workflow(file(desk, {"tool": "deploy", "arguments": {"environment": "prod", "service": "api"}}))
    assert (small.risk_level.value, [r.value for r in small.required_approvers]) == ("LOW", ["manager"])
    assert (big.risk_level.value, [r.value for r in big.required_approvers]) == ("MEDIUM", ["manager", "director"])
    assert big.risk_reason == "amount 1,200.00 >= 500, < 5,000"
    assert prod.risk_level.value == "HIGH" and prod.data == {"tool": "deploy", "environment": "production"}
    filing = big.filing
    assert filing is not None and filing.payload == {"tool": "refund", "order_id": "9", "amount": 1200}
    assert filing.payload_sha256 == payloads.sha256_of({"amount": 1200, "order_id": "9", "tool": "refund"})
    assert filing.justification == "the customer was charged twice" and filing.agent == "billing-agent"
    assert filing.owner == "sarah.manager" and filing.policy_version == 0


def test_the_created_entry_carries_the_filing_sealed_and_signed(desk):
    wid = file(desk)
    created = desk.get_audit_trail(wid)[0]
    assert created.action == "created" and created.sig is not None
    text = desk.get_workflow(wid).filing.payload_text
    assert created.details["payload"] == text and created.details["justification"] == "the customer was charged twice"
    assert created.details["payload_sha256"] == payloads.sha256_of(REFUND)
    body = desk._conn.execute("SELECT body FROM audit_log WHERE seq = ?", (created.seq,)).fetchone()[0]
    assert b"charged twice" not in bytes(body) and b"order_id" not in bytes(body)  # sealed, as personal data


@pytest.mark.parametrize("payload, words", [
    ({"blob": "x" * (payloads.MAX_BYTES + 1)}, "payload is too large"),
    ({"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"j": {"k": {"l": {"m": {"n": {"o": {"p": {"q": 1}}}}}}}}}}}}}}}}},
     "nested more than 16 levels"),
    ({"amount": float("nan")}, "payload.amount is nan, which is not a JSON number"),
    ({"amount": __import__("decimal").Decimal("1.5")}, "payload.amount is a Decimal: a payload holds JSON values only"),
    ({1: "one"}, "has the key 1"),
    ({"id": 2**60}, "beyond +/-2^53"),
    ({"note": "a\x00b"}, "NUL"),
    (["not", "an", "object"], "payload must be a JSON object"),
    ({"tool": {"name": "refund"}}, "payload.tool must be a single value"),
])
def test_a_bad_payload_is_refused_in_one_line_and_nothing_is_written(desk, payload, words):
    size = desk.audit_size()
    with pytest.raises(ValidationFailed) as caught:
        file(desk, payload)
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert desk.audit_size() == size


def test_an_amount_in_another_currency_than_the_policys_is_refused_not_shown_as_the_policys(desk):
    before = desk.audit_size()
    with pytest.raises(ValidationFailed) as refused:
        file(desk, {"tool": "refund", "amount": "740.00", "currency": "EUR"})
    assert str(refused.value) == ("payload.currency is 'EUR', but this policy's amounts are in USD: give amount "
                                  "in USD (nothing is converted), or leave currency out.")
    with pytest.raises(ValidationFailed):
        file(desk, {"tool": "refund", "arguments": {"amount": "740.00", "currency": 978}})
    assert desk.audit_size() == before
    same = desk.get_workflow(file(desk, {"tool": "refund", "amount": "740.00", "currency": "usd"}))
    assert same.risk_level.value == "MEDIUM"
    file(desk, {"tool": "deploy", "currency": "EUR"})  # no amount: nothing is read in a currency


def test_a_huge_payload_is_refused_before_it_is_encoded(desk):
    huge = {"rows": [{"n": i, "text": "y" * 100} for i in range(200_000)]}  # ~25 MB as JSON
    with pytest.raises(ValidationFailed, match="too large"):
        file(desk, huge)


def test_a_bad_timeout_or_agent_name_is_refused(desk):
    for timeout in (0, -5, MAX_TIMEOUT + 1, "soon", True):
        with pytest.raises(ValidationFailed, match="timeout must be a number of seconds"):
            file(desk, timeout=timeout)
    with pytest.raises(ValidationFailed, match="agent must be a single line"):
        desk.approvals.file("billing-bot", "tool_call", "t", REFUND, agent="a\nb")


# --- outcomes, expiry, cancel ----------------------------------------------------------------------

def test_outcomes_are_typed_for_every_status():
    assert {s: ApprovalOutcome.of(s).value for s in WorkflowStatus} == {
        WorkflowStatus.AWAITING_APPROVAL: "pending", WorkflowStatus.APPROVED: "approved",
        WorkflowStatus.REJECTED: "rejected", WorkflowStatus.CHANGES_REQUESTED: "changes_requested",
        WorkflowStatus.WITHDRAWN: "cancelled", WorkflowStatus.EXPIRED: "expired"}


def test_a_decision_names_who_decided_in_which_role_and_what_they_said(desk):
    wid = file(desk)
    desk.decide(wid, "tom.manager", "reject", "refund it by hand")
    got = desk.approvals.decision("billing-bot", wid)
    assert (got.outcome, got.decided_by, got.decider_role.value, got.comments) == (
        ApprovalOutcome.REJECTED, "tom.manager", "manager", "refund it by hand")
    assert got.payload_sha256 == payloads.sha256_of(REFUND) and got.receipt is not None


def test_expiry_fails_closed_is_audited_by_the_system_and_leaves_every_inbox(desk):
    wid = file(desk, timeout=1)
    assert [r.id for r in desk.list_requests("tom.manager", InboxView.AWAITING_ME)] == [wid]
    time.sleep(1.05)
    size = desk.audit_size()
    with pytest.raises(InvalidTransition, match="expired at .* no longer be decided"):
        desk.decide(wid, "tom.manager", "approve")  # before any sweep: still nobody may decide it
    assert desk.audit_size() == size
    assert desk.list_requests("tom.manager", InboxView.AWAITING_ME) == []  # the read swept it
    assert desk.get_pending_approvals("tom.manager") == []
    entry = desk.get_audit_trail(wid)[-1]
    assert (entry.action, entry.actor, entry.sig) == (AuditAction.EXPIRED, SYSTEM_ACTOR, None)
    assert entry.details["status_before"] == "awaiting_approval" and entry.details["status_after"] == "expired"
    got = desk.approvals.decision("billing-bot", wid)
    assert (got.outcome, got.decided_by, got.decider_role) == (ApprovalOutcome.EXPIRED, SYSTEM_ACTOR, None)
    assert got.receipt["outcome"] == "expired" and got.receipt["decided_by"] == SYSTEM_ACTOR
    assert desk.approvals.sweep() == []  # once
    result = desk.verify_audit()
    assert result.ok and result.tables_checked, result.summary()


def test_the_integration_cancels_its_pending_request_and_nobody_else_can(desk):
    wid = file(desk)
    with pytest.raises(PermissionDenied, match="Only billing-bot"):
        desk.withdraw_workflow(wid, "tom.manager")
    desk.withdraw_workflow(wid, "billing-bot", "the customer called back")
    got = desk.approvals.decision("billing-bot", wid)
    assert (got.outcome, got.decided_by) == (ApprovalOutcome.CANCELLED, "billing-bot")
    assert got.receipt["outcome"] == "cancelled"
    assert desk.list_requests("tom.manager", InboxView.AWAITING_ME) == []


def test_mine_lists_what_the_integration_filed_newest_first(desk):
    first, second = file(desk, title="one"), file(desk, title="two")
    desk.create_workflow_request("expense_approval", "not for approval", "", "billing-bot", {"amount": 5})
    assert [d.request_id for d in desk.approvals.mine("billing-bot")] == [second, first]
    assert [decision_of(desk.get_workflow(w)).outcome for w in (first, second)] == [ApprovalOutcome.PENDING] * 2


# --- receipts ----------------------------------------------------------------------------------------

def test_a_receipt_verifies_offline_for_its_payload_only_and_any_change_breaks_it(desk):
    wid = file(desk)
    desk.decide(wid, "tom.manager", "approve", "ok")
    got = desk.approvals.decision("billing-bot", wid)
    receipt = got.receipt
    key = receipts.parse_key(desk.approvals.receipt_keys()[0])
    entry = desk.get_audit_trail(wid)[-1]
    assert receipt["audit_seq"] == entry.seq and receipt["chain_head"] == entry.hash
    assert (receipt["outcome"], receipt["decided_by"], receipt["decider_role"]) == ("approved", "tom.manager", "manager")
    assert receipts.problem(receipt, key, payloads.sha256_of(REFUND)) is None
    other = {**REFUND, "arguments": {"order_id": "1234", "amount": "2500.00"}}
    assert "for another payload" in receipts.problem(receipt, key, payloads.sha256_of(other))
    assert "does not verify" in receipts.problem({**receipt, "outcome": "rejected"}, key)
    assert "does not verify" in receipts.problem({**receipt, "decided_by": "sarah.manager"}, key)
    stranger = os.urandom(32)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from hitl_tui.core.checkpoints import Signer

    forged = receipts.signed({k: v for k, v in receipt.items() if k != "signature"},
                             Signer(Ed25519PrivateKey.generate().private_bytes_raw()))
    assert "not by the trusted key" in receipts.problem(forged, key)
    assert receipts.problem(forged, bytes.fromhex(forged["signature"]["public_key"])) is None  # well formed, but whose?
    assert receipts.problem({**receipt, "extra": 1}, key).startswith("it has a member")
    assert stranger != key
    assert desk.approvals.decision("billing-bot", wid).receipt == receipt  # deterministic: the same every time


def test_no_receipt_while_pending_or_for_a_request_filed_without_payload(desk):
    wid = file(desk)
    assert desk.approvals.decision("billing-bot", wid).receipt is None
    plain = desk.create_workflow_request("expense_approval", "Lunch", "", "john.doe", {"amount": 50})
    desk.decide(plain, "sarah.manager", "approve")
    assert desk.approvals.decision("john.doe", plain).receipt is None


# --- the trail rebuilds the tables; old databases; erasure -------------------------------------------

def test_the_replay_rebuilds_the_filing_columns_and_names_an_edit(desk, db_path, db_key):
    wid = file(desk)
    desk.decide(wid, "tom.manager", "approve")
    assert desk.verify_audit().ok
    conn = raw_connection(db_path, db_key)
    conn.execute("UPDATE requests SET payload = ? WHERE id = ?",
                 (json.dumps({"tool": "refund", "arguments": {"order_id": "1234", "amount": "25000.00"}}), wid))
    conn.close()
    result = desk.verify_audit()
    assert not result.ok and f"{wid} payload is" in (result.tables_problem or ""), result.summary()
    conn = raw_connection(db_path, db_key)
    conn.execute("UPDATE users SET integration = 0 WHERE username = 'billing-bot'")  # made a person, behind our back
    conn.close()
    assert "user billing-bot's integration flag is 0 in the table, 1 in the trail" == desk.verify_audit().tables_problem


def test_an_edited_deadline_or_owner_is_caught_too(desk, db_path, db_key):
    wid = file(desk)
    conn = raw_connection(db_path, db_key)
    conn.execute("UPDATE requests SET expires_at = '2999-01-01T00:00:00.000000+00:00' WHERE id = ?", (wid,))
    conn.close()
    assert "deadline is" in (desk.verify_audit().tables_problem or "")
    conn = raw_connection(db_path, db_key)
    conn.execute("UPDATE requests SET expires_at = (SELECT json_extract(body, '$.details.expires_at') FROM audit_log "
                 "WHERE workflow_id = ? AND json_extract(body, '$.action') = 'created') WHERE id = ?", (wid, wid))
    conn.execute("UPDATE users SET owner = 'tom.manager' WHERE username = 'billing-bot'")
    conn.close()
    assert "user billing-bot's integration's owner is" in (desk.verify_audit().tables_problem or "")


def test_a_database_from_before_migration_13_opens_with_nobody_an_integration(db_path, db_key):
    svc = WorkflowService.open(db_path, key=db_key)
    svc.add_user("ann", "manager")
    wid = svc.create_workflow_request("expense_approval", "t", "", "ann", {"amount": 50})
    svc.close(checkpoint=False)
    conn = raw_connection(db_path, db_key)
    roll_back_schema(conn, 12)
    conn.close()
    svc = WorkflowService.open(db_path, key=db_key)
    try:
        assert svc.get_user("ann").integration is False and svc.get_workflow(wid).filing is None
        assert svc.approvals.sweep() == [] and svc.verify_audit().ok
    finally:
        svc.close(checkpoint=False)


def test_an_expired_requests_personal_data_is_erased_payload_and_justification_too(desk):
    wid = file(desk, timeout=1)
    time.sleep(1.05)
    assert desk.approvals.sweep() == [wid]
    desk.set_user_admin("lisa.executive", True, actor=ADMIN)
    desk.erasure.request(wid, "GDPR Art. 17, ticket 1", actor=ADMIN)
    desk.erasure.confirm(wid, actor="lisa.executive")
    filing = desk.get_workflow(wid).filing
    assert filing.payload is None and filing.payload_text.startswith("erased on ")
    assert filing.justification.startswith("erased on ") and filing.payload_sha256 == payloads.sha256_of(REFUND)
    assert desk.verify_audit().ok
    assert desk.approvals.decision("billing-bot", wid).receipt["payload_sha256"] == filing.payload_sha256
