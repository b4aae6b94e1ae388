"""Delegation (out of office, issue 14): lisa.executive hands her decisions to mike.director for a
period; he decides her stages "for lisa.executive (delegated until ...)", never her or his own
requests, never two stages of one; the grant and its end are signed entries replayed into the
delegations table, and a decision claiming a delegation that did not run is named by verify-audit."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from hitl_tui.core import delegation
from hitl_tui.core.errors import InvalidTransition, PermissionDenied, SegregationOfDuties, ValidationFailed
from hitl_tui.core.notifications import set_prefs
from hitl_tui.core.reports.entries import describe
from hitl_tui.core.signatures import SIGNED_ACTIONS, entry_manifestation
from tests.core.conftest import raw_connection
from tests.forgery import forge_entry

LISA, MIKE, ADMIN = "lisa.executive", "mike.director", "ian.itadmin"
UNTIL = (date.today() + timedelta(days=17)).isoformat()  # the last day away
BIG = {"amount": "500000", "category": "travel"}  # manager, director, executive, compliance


def _at_executive(service, requester: str = "john.doe") -> str:
    """A request whose executive stage (3 of 4) is now awaited: sarah and dana decided before."""
    wid = service.create_workflow_request("expense_approval", "Offsite", "Flights and hotel for the whole team offsite",
                                          requester, BIG)
    service.decide(wid, "sarah.manager", "approve")
    service.decide(wid, "dana.director", "approve")
    assert service.get_workflow(wid).current_role.value == "executive"
    return wid


def _grant(service, **kw):
    args = {"delegator": LISA, "delegate": MIKE, "until": UNTIL, "reason": "annual leave", "actor": LISA}
    args.update(kw)
    return delegation.grant(service, args.pop("delegator"), args.pop("delegate"), args.pop("until"),
                            args.pop("reason"), **args)


def test_a_delegate_decides_the_delegators_stage_signed_for_them_and_the_trail_replays_it(service):
    wid = _at_executive(service)
    with pytest.raises(PermissionDenied, match="waiting for an Executive"):
        service.decide(wid, MIKE, "approve")  # a director, in his own right: no
    made = _grant(service)
    assert (made.delegator, made.delegate, made.until, made.types) == (LISA, MIKE, UNTIL, None)
    done = service.decide(wid, MIKE, "approve", "covering for Lisa")
    assert done.approvals[-1].on_behalf_of == LISA and done.approvals[-1].approver == MIKE
    assert service.get_workflow(wid).approvals[-1].on_behalf_of == LISA  # the approvals row keeps it
    entry = service.get_audit_trail(wid)[-1]
    assert entry.details["on_behalf_of"] == LISA and entry.details["delegation"] == made.id
    shown = entry_manifestation(entry)
    assert shown is not None and shown.endswith(
        f": approved as Director for lisa.executive (delegated until {UNTIL}), stage 3 of 4")
    assert f"as director for lisa.executive (delegated until {UNTIL}); now awaiting_approval" in describe(
        {"action": entry.action, "details": entry.details})
    [granted] = [e for e in service.iter_audit() if e.action == delegation.GRANTED]
    assert granted.actor == LISA and granted.workflow_id is None and granted.sig is not None
    assert entry_manifestation(granted).endswith(
        f": delegated lisa.executive's decisions to mike.director until {UNTIL}")
    assert delegation.ACTIONS <= SIGNED_ACTIONS
    result = service.verify_audit()
    assert result.ok, result.problem


def test_segregation_of_duties_holds_for_both_of_them(service):
    _grant(service)
    own = _at_executive(service, requester=LISA)  # her own request: her delegate may not decide it for her
    with pytest.raises(PermissionDenied, match="waiting for an Executive"):
        service.decide(own, MIKE, "approve")
    his = _at_executive(service, requester=MIKE)
    with pytest.raises(SegregationOfDuties, match="You requested"):
        service.decide(his, MIKE, "approve")
    wid = _at_executive(service)
    service.decide(wid, MIKE, "approve")
    with pytest.raises(SegregationOfDuties, match=f"{MIKE} decided stage 3 \\(Executive\\) of {wid} for you"):
        service.decide(wid, LISA, "approve")  # lisa decided the executive stage through him already
    # mike decided a stage himself: he may not decide another one of the revision for lisa
    two = service.create_workflow_request("expense_approval", "Offsite", "Flights and hotel for the team offsite",
                                          "john.doe", BIG)
    service.decide(two, "sarah.manager", "approve")
    service.decide(two, MIKE, "approve")
    with pytest.raises(SegregationOfDuties, match="You already decided stage 2"):
        service.decide(two, MIKE, "approve")


def test_who_may_delegate_to_whom(service):
    service.set_user_admin(ADMIN, True)
    service.add_user("erp.bot", "employee", actor=ADMIN, integration=True, owner="john.doe")
    with pytest.raises(PermissionDenied, match="Only lisa.executive, or a directory administrator"):
        _grant(service, actor="sarah.manager")
    with pytest.raises(PermissionDenied, match="erp.bot is an integration"):
        _grant(service, delegate="erp.bot", actor=ADMIN)
    with pytest.raises(ValidationFailed, match="not yourself"):
        _grant(service, delegate=LISA)
    with pytest.raises(ValidationFailed, match="already past"):
        _grant(service, until=(date.today() - timedelta(days=1)).isoformat())
    with pytest.raises(ValidationFailed, match="more than a year away"):
        _grant(service, until=(date.today() + timedelta(days=400)).isoformat())
    with pytest.raises(ValidationFailed, match="is not a date"):
        _grant(service, until="next tuesday")
    with pytest.raises(ValidationFailed, match="Unknown workflow type 'lunch'"):
        _grant(service, types=["lunch"])
    with pytest.raises(ValidationFailed, match="reason"):
        _grant(service, reason="")
    made = _grant(service, actor=ADMIN)  # an administrator records it for her, as themselves
    assert made.granted_by == ADMIN
    with pytest.raises(InvalidTransition, match=f"already delegates to mike.director until {UNTIL}"):
        _grant(service, delegate="dana.director")
    with pytest.raises(PermissionDenied, match="a delegate cannot re-delegate"):
        _grant(service, delegator=MIKE, delegate="dana.director", actor=MIKE)
    with pytest.raises(PermissionDenied, match="lisa.executive is away"):
        _grant(service, delegator="dana.director", delegate=LISA, actor="dana.director")
    assert [d.id for d in delegation.listing(service, MIKE)] == [made.id]
    with pytest.raises(PermissionDenied, match="Every delegation is for"):
        delegation.listing(service, MIKE, everyone=True)
    assert [d.id for d in delegation.listing(service, ADMIN, everyone=True)] == [made.id]
    assert service.verify_audit().ok


def test_types_limit_it_and_ending_it_gives_the_decisions_back(service):
    _grant(service, types=["contract_approval"])
    wid = _at_executive(service)
    with pytest.raises(PermissionDenied, match="waiting for an Executive"):
        service.decide(wid, MIKE, "approve")  # an expense: not delegated
    ended = delegation.end(service, LISA, "back early", actor=LISA)
    assert ended.ended_by == LISA and ended.end_reason == "back early"
    with pytest.raises(InvalidTransition, match="has no delegation running"):
        delegation.end(service, LISA, actor=LISA)
    with pytest.raises(PermissionDenied, match="not a user-directory administrator"):
        delegation.end(service, MIKE, actor=LISA)
    _grant(service)  # a new one, once the first ended
    delegation.end(service, LISA, actor=LISA)
    with pytest.raises(PermissionDenied, match="waiting for an Executive"):
        service.decide(wid, MIKE, "approve")
    assert service.verify_audit().ok


def test_awaiting_me_of_the_delegate_holds_the_delegators_requests(service):
    wid = _at_executive(service)
    theirs = _at_executive(service, requester=LISA)
    assert wid not in [r.id for r in service.list_requests(MIKE)]
    _grant(service)
    awaiting = [r.id for r in service.list_requests(MIKE)]
    assert wid in awaiting and theirs not in awaiting
    assert [r.id for r in service.get_pending_approvals(MIKE)] == [wid]
    assert service.count_requests(MIKE) == 1 and service.count_views(MIKE, ["awaiting_me"])["awaiting_me"] == 1
    service.decide(wid, MIKE, "approve")
    assert service.count_requests(MIKE) == 0  # decided: now it waits for compliance


def test_the_delegate_hears_it_was_delegated_to_them(service, db_path, db_key):
    set_prefs(service, MIKE, actor=MIKE)
    _grant(service)
    wid = _at_executive(service)
    conn = raw_connection(db_path, db_key)
    try:
        rows = conn.execute("SELECT event, recipient FROM notify_outbox WHERE workflow_id = ?", (wid,)).fetchall()
    finally:
        conn.close()
    assert ("waiting_for_you", MIKE) in rows  # the director stage: his own
    assert ("delegated_to_you", MIKE) in rows  # the executive stage: lisa's, delegated to him


def test_the_delegations_table_is_a_replay_of_the_trail(service, db_path, db_key):
    made = _grant(service)
    conn = raw_connection(db_path, db_key)
    try:
        conn.execute("UPDATE delegations SET ends_at = '2099-12-21T00:00:00.000000+00:00' WHERE id = ?", (made.id,))
    finally:
        conn.close()
    result = service.verify_audit()
    assert not result.ok and f"delegation {made.id} ends at is '2099-12-21T00:00:00.000000+00:00' in the table" in \
        str(result.tables_problem)


def test_a_decision_claiming_a_delegation_that_did_not_run_is_named(service, db_path, db_key):
    made = _grant(service, types=["contract_approval"])  # it exists, but not for expenses
    wid = _at_executive(service)
    mikes = service.personal_keys.newest(MIKE).unlock()
    conn = raw_connection(db_path, db_key)
    try:  # mike, holding the database key and his own signing key, decides lisa's expense anyway
        seq = forge_entry(conn, actor=MIKE, action="approved", workflow_id=wid, signer=mikes, details={
            "decision": "approve", "stage": 2, "stage_role": "executive", "decider_role": "director", "comments": "",
            "revision": 1, "status_before": "awaiting_approval", "status_after": "awaiting_approval", "stage_after": 3,
            "stages": 4, "on_behalf_of": LISA, "delegation": made.id, "delegated_until": made.until, "replay": 1})
        ts = json.loads(bytes(conn.execute("SELECT body FROM audit_log WHERE seq = ?", (seq,)).fetchone()[0]))["ts"]
        conn.execute("UPDATE requests SET current_stage = 3, current_role = 'compliance', deciders = deciders || ?, "
                     "updated_at = ? WHERE id = ?", (f"{MIKE},", ts, wid))
        conn.execute("INSERT INTO approvals (workflow_id, revision, stage, role, approver, approver_role, decision, "
                     "decided_at, comments, proposed_by, on_behalf_of) VALUES (?, 1, 2, 'executive', ?, 'director', "
                     "'approve', ?, '', NULL, ?)", (wid, MIKE, ts, LISA))
    finally:
        conn.close()
    result = service.verify_audit()
    assert not result.ok and result.problem is None  # the chain and every signature verify
    assert result.tables_problem == (f"entry {seq} (approved {wid} by {MIKE}) claims a delegation from {LISA} that did "
                                   f"not exist for it at that point of the trail")


def test_compliance_names_a_delegated_decision_without_calling_it_ineligible(service):
    from hitl_tui.core.compliance import check_request

    _grant(service)
    wid = _at_executive(service)
    req = service.decide(wid, MIKE, "approve")
    codes = [f.code for f in check_request(service.policy, req)]
    assert "decided_under_delegation" in codes and "decider_not_eligible" not in codes
