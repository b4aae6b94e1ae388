"""Quorum and parallel stages (issue 14, "People"): a stage may need M of N distinct people of a
role, or one approval of each of several roles in any order; each person counts once per
request; a vote that does not complete its stage is recorded and leaves the request where it
is; the replay re-counts. Real encrypted databases with a policy applied by an administrator."""

from __future__ import annotations

from pathlib import Path

import pytest

from hitl_tui.core import stage_rules
from hitl_tui.core.errors import PermissionDenied, PolicyError, SegregationOfDuties
from hitl_tui.core.models import InboxView, Role, WorkflowStatus
from hitl_tui.core.policy import load_policy
from hitl_tui.core.policy_store import compose_text
from hitl_tui.core.replay import R, VOTES, MISCOUNT, new_request, step

from .conftest import raw_connection

ADMIN = "carol.compliance"

#: LOW: two managers; MEDIUM: two managers, then a director; HIGH: security and compliance in
#: any order, then a director; CRITICAL: a manager, then manager and director (a director may
#: decide both: a person counts once)
POLICY = """
[types.vendor_payment]
name = "Vendor payment"

[types.vendor_payment.fields.amount]
kind = "money"
required = true
minimum = "0.01"

[types.vendor_payment.risk]
field = "amount"
bands = [{ below = "1000", level = "LOW" }, { below = "10000", level = "MEDIUM" }, { below = "50000", level = "HIGH" }]
otherwise = "CRITICAL"

[types.vendor_payment.chains]
LOW = [{ role = "manager", quorum = 2 }]
MEDIUM = [{ role = "manager", quorum = 2 }, "director"]
HIGH = [{ all = ["security", "compliance"] }, "director"]
CRITICAL = ["security", { all = ["manager", "director", "it_admin"] }]
"""


def write_policy(tmp_path: Path, text: str = POLICY) -> Path:
    path = tmp_path / "quorum.toml"
    path.write_text(text)
    return path


@pytest.fixture
def desk(service, tmp_path):
    text, source = compose_text(write_policy(tmp_path))
    service.set_user_admin(ADMIN, True)
    service.apply_policy(text, source=source, actor=ADMIN)
    service.add_user("sue.security", "security", actor=ADMIN)
    return service


def pay(desk, amount: str) -> str:
    return desk.create_workflow_request("vendor_payment", "Pay ACME", "", "john.doe", {"amount": amount})


def awaiting(desk, who: str) -> list[str]:
    return [r.id for r in desk.list_requests(who, InboxView.AWAITING_ME)]


# --- the policy ----------------------------------------------------------------------------------

def test_a_chain_takes_roles_quorum_tables_and_all_tables(tmp_path):
    policy = load_policy(write_policy(tmp_path))
    wtype = policy.types["vendor_payment"]
    assert list(wtype.chains.values())[1] == (Role.MANAGER, Role.DIRECTOR)  # MEDIUM: each stage's role
    medium = policy.assess("vendor_payment", {"amount": "5000"})
    assert [(s.roles, s.quorum) for s in medium.stages] == [([Role.MANAGER], 2), ([Role.DIRECTOR], 1)]
    high = policy.assess("vendor_payment", {"amount": "20000"})
    assert high.chain == (Role.SECURITY, Role.DIRECTOR) and high.stages[0].roles == [Role.SECURITY, Role.COMPLIANCE]
    # the built-in default's plain chains carry no rules at all
    assert load_policy().assess("expense_approval", {"amount": "500", "category": "travel"}).stages == ()


@pytest.mark.parametrize("stage, words", [
    ('{ role = "manager", quorum = 0 }', "chain LOW stage 1: quorum must be a whole number of at least 1, not 0"),
    ('{ role = "manager", quorum = "2" }', "quorum must be a whole number of at least 1, not '2'"),
    ('{ role = "manager", quorum = true }', "quorum must be a whole number of at least 1, not True"),
    ('{ role = "wizard", quorum = 2 }', "chain LOW stage 1: Unknown role 'wizard'"),
    ('{ all = [] }', "`all` needs a list of one or more roles, not []"),
    ('{ all = ["security", "security"] }', "`all` names security twice"),
    ('{ all = ["security"], quorum = 2 }', "`all` takes no other key (quorum)"),
    ('{ role = "manager", votes = 2 }', "unknown key 'votes'"),
    ('{ quorum = 2 }', "a stage table needs `role` (or `all`)"),
    ('3', "must be a role, { role = ..., quorum = N } or { all = [...] }, not 3"),
])
def test_a_bad_stage_is_one_line_naming_the_type_level_and_stage(tmp_path, stage, words):
    text = POLICY.replace('LOW = [{ role = "manager", quorum = 2 }]', f"LOW = [{stage}]")
    with pytest.raises(PolicyError) as err:
        load_policy(write_policy(tmp_path, text))
    line = str(err.value)
    assert "\n" not in line and "workflow type 'vendor_payment'" in line and words in line, line


def test_applying_a_quorum_larger_than_the_people_who_may_decide_it_is_allowed_and_said(service, tmp_path):
    text = POLICY.replace('LOW = [{ role = "manager", quorum = 2 }]', 'LOW = [{ role = "director", quorum = 4 }]')
    policy = load_policy(write_policy(tmp_path, text))
    people = service.list_users()  # directors: mike, dana; executives may decide a director stage: lisa
    assert stage_rules.shortfalls(policy, people) == [
        "vendor_payment LOW stage 1 needs 4 of the 3 active people who may decide Director"]
    assert stage_rules.shortfalls(load_policy(write_policy(tmp_path)), people) == []  # two of three managers


# --- quorum ------------------------------------------------------------------------------------

def test_a_quorum_vote_is_recorded_and_the_completing_vote_advances(desk, db_path, db_key):
    wid = pay(desk, "5000")  # MEDIUM: two managers, then a director
    assert wid in awaiting(desk, "sarah.manager") and wid in awaiting(desk, "tom.manager")
    first = desk.decide(wid, "sarah.manager", "approve", "Fine by me")
    assert (first.status, first.current_stage, first.current_role) == (WorkflowStatus.AWAITING_APPROVAL, 0,
                                                                        Role.MANAGER)
    stored = desk.get_workflow(wid)
    assert [(a.stage, a.approver) for a in stored.approvals] == [(0, "sarah.manager")]
    assert stage_rules.progress(stored, 0) == "1 of 2 votes (sarah.manager)"
    entry = [e for e in desk.iter_audit() if e.workflow_id == wid][-1]
    assert entry.action == "approved" and entry.details["stage"] == 0 and entry.details["stage_after"] == 0
    # the voter's Awaiting me no longer lists it; the other manager's does
    assert wid not in awaiting(desk, "sarah.manager") and wid in awaiting(desk, "tom.manager")
    with pytest.raises(SegregationOfDuties, match="already voted on stage 1 .* each person counts once"):
        desk.decide(wid, "sarah.manager", "approve")
    second = desk.decide(wid, "tom.manager", "approve")
    assert (second.current_stage, second.current_role) == (1, Role.DIRECTOR)
    assert stage_rules.progress(desk.get_workflow(wid), 0) == "2 of 2 votes (sarah.manager, tom.manager)"
    # a director who voted as a manager would count twice: refused (segregation of duties)
    with pytest.raises(SegregationOfDuties):
        desk.decide(wid, "tom.manager", "approve")
    assert desk.decide(wid, "mike.director", "approve").status is WorkflowStatus.APPROVED
    assert desk.verify_audit().ok and desk.verify_audit().tables_checked
    row = raw_connection(db_path, db_key).execute("SELECT stage_rules, awaited FROM requests WHERE id = ?",
                                                  (wid,)).fetchone()
    assert row == ('[{"quorum":2,"role":"manager"},"director"]', None)


def test_a_more_senior_person_counts_toward_a_manager_quorum(desk):
    wid = pay(desk, "500")  # LOW: two managers; a director may decide a manager stage
    desk.decide(wid, "mike.director", "approve")
    assert desk.decide(wid, "sarah.manager", "approve").status is WorkflowStatus.APPROVED


def test_a_reject_by_any_eligible_voter_acts_at_once(desk):
    wid = pay(desk, "500")
    desk.decide(wid, "sarah.manager", "approve")
    done = desk.decide(wid, "tom.manager", "reject", "Duplicate invoice")
    assert done.status is WorkflowStatus.REJECTED and wid not in awaiting(desk, "mike.director")


def test_the_requester_never_votes_and_a_resubmission_counts_afresh(desk):
    wid = desk.create_workflow_request("vendor_payment", "Pay ACME", "", "sarah.manager", {"amount": "500"})
    with pytest.raises(SegregationOfDuties, match="You requested"):
        desk.decide(wid, "sarah.manager", "approve")
    desk.decide(wid, "tom.manager", "approve")
    desk.decide(wid, "mike.director", "request_changes", "Attach the invoice")
    again = desk.resubmit(wid, "sarah.manager", comments="Attached")
    assert again.revision == 2 and stage_rules.progress(again, 0) == "0 of 2 votes"
    desk.decide(wid, "tom.manager", "approve")  # a new revision: every person may vote once again
    assert desk.decide(wid, "mike.director", "approve").status is WorkflowStatus.APPROVED
    assert desk.verify_audit().ok


# --- parallel ----------------------------------------------------------------------------------

def test_a_parallel_stage_awaits_each_role_in_any_order(desk, db_path, db_key):
    wid = pay(desk, "20000")  # HIGH: security and compliance, then a director
    assert wid in awaiting(desk, "sam.security") and wid in awaiting(desk, ADMIN)
    desk.decide(wid, ADMIN, "approve")  # compliance first
    req = desk.get_workflow(wid)
    assert req.current_stage == 0 and req.current_role is Role.SECURITY
    assert stage_rules.progress(req, 0) == "Security waiting · Compliance ✓ carol.compliance"
    assert raw_connection(db_path, db_key).execute("SELECT current_role, awaited FROM requests WHERE id = ?",
                                                   (wid,)).fetchone() == ("security", ",security,")
    assert wid not in awaiting(desk, ADMIN) and wid in awaiting(desk, "sue.security")
    done = desk.decide(wid, "sue.security", "approve")
    assert (done.current_stage, done.current_role) == (1, Role.DIRECTOR)
    assert wid not in awaiting(desk, "sam.security")  # the stage is complete: no more security votes
    assert desk.verify_audit().ok


def test_the_roles_still_awaited_are_in_their_holders_awaiting_me_and_no_one_elses(desk):
    wid = pay(desk, "20000")
    desk.decide(wid, "sam.security", "approve")
    # security is filled: another security person has nothing to do; compliance still waits
    assert wid not in awaiting(desk, "sue.security") and awaiting(desk, ADMIN) == [wid]
    assert desk.count_requests("sue.security", InboxView.AWAITING_ME) == 0
    assert desk.count_requests(ADMIN, InboxView.AWAITING_ME) == 1
    with pytest.raises(PermissionDenied, match="waiting for a Compliance"):
        desk.decide(wid, "sue.security", "approve")


def test_one_person_never_fills_two_roles_of_a_parallel_stage(desk):
    wid = pay(desk, "90000")  # CRITICAL: security, then manager + director + IT admin
    desk.decide(wid, "sam.security", "approve")
    desk.decide(wid, "mike.director", "approve")  # a director may decide a manager stage too: fills director
    req = desk.get_workflow(wid)
    assert stage_rules.awaited(req) == (Role.MANAGER, Role.IT_ADMIN)
    assert [a.role for a in stage_rules.votes(req)] == [Role.DIRECTOR]
    with pytest.raises(SegregationOfDuties):
        desk.decide(wid, "mike.director", "approve")
    desk.decide(wid, "dana.director", "approve")  # the other director fills the manager role
    assert stage_rules.awaited(desk.get_workflow(wid)) == (Role.IT_ADMIN,)
    assert desk.decide(wid, "ian.itadmin", "approve").status is WorkflowStatus.APPROVED
    assert desk.verify_audit().ok


def test_a_role_only_in_a_parallel_stage_may_see_the_request(desk):
    wid = pay(desk, "90000")  # it_admin is the parallel stage's third role, not in the chain column
    visible = [r.id for r in desk.list_requests("ian.itadmin", InboxView.VISIBLE)]
    assert wid in visible and desk.get_workflow_for("ian.itadmin", wid).id == wid


# --- the trail ---------------------------------------------------------------------------------

def test_a_plain_chain_carries_no_rules_in_its_entry_or_row(desk, db_path, db_key):
    wid = desk.create_workflow_request("expense_approval", "Keyboard", "", "john.doe",
                                       {"amount": "500", "category": "equipment"})
    created = next(e for e in desk.iter_audit() if e.workflow_id == wid)
    assert "stage_rules" not in created.details and desk.get_workflow(wid).stage_rules == []
    assert raw_connection(db_path, db_key).execute("SELECT stage_rules, awaited FROM requests WHERE id = ?",
                                                   (wid,)).fetchone() == (None, None)
    quorum = pay(desk, "500")
    created = next(e for e in desk.iter_audit() if e.workflow_id == quorum)
    assert created.details["stage_rules"] == [{"role": "manager", "quorum": 2}]


def test_verify_audit_catches_a_stage_advanced_in_the_tables_with_too_few_votes(desk, db_path, db_key):
    wid = pay(desk, "5000")
    desk.decide(wid, "sarah.manager", "approve")
    conn = raw_connection(db_path, db_key)
    conn.execute("UPDATE requests SET current_stage = 1, current_role = 'director' WHERE id = ?", (wid,))
    result = desk.verify_audit()
    assert not result.ok and result.tables_problem == (
        f"{wid} is awaiting Director (stage 2 of 2) in the table, awaiting Manager (stage 1 of 2) in the trail")


def test_verify_audit_catches_a_parallel_role_struck_off_in_the_tables(desk, db_path, db_key):
    wid = pay(desk, "20000")
    desk.decide(wid, "sam.security", "approve")
    raw_connection(db_path, db_key).execute("UPDATE requests SET awaited = NULL WHERE id = ?", (wid,))
    assert desk.verify_audit().tables_problem == (
        f"{wid} roles still awaited (an index column) is empty in the table, ,compliance, in the trail")


def test_the_replay_recounts_each_stage_against_its_rule():
    """An entry that moves a quorum stage on before its last vote (or keeps it after) is named,
    whatever the tables say: the replay counts the votes against the rules of the created entry."""
    created = {"action": "created", "seq": 1, "workflow_id": "WF-1-0001", "actor": "john.doe",
               "details": {"chain": ["manager", "director"], "status_after": "awaiting_approval", "stage_after": 0,
                           "stage_rules": [{"role": "manager", "quorum": 2}, "director"], "revision": 1}}

    def vote(seq: int, who: str, stage: int, after: int) -> dict:
        return {"action": "approved", "seq": seq, "workflow_id": "WF-1-0001", "actor": who,
                "details": {"decision": "approve", "stage": stage, "stage_role": "manager", "stage_after": after,
                            "status_after": "awaiting_approval", "revision": 1}}

    state = new_request(1)
    step(state, created, True)
    step(state, vote(2, "sarah.manager", 0, 1), True)  # forged: one vote of two moves the chain on
    assert state[MISCOUNT] == (2, "entry 2 advances past stage 1 with 1 of the 2 approvals it needs on "
                                  "WF-1-0001 (its approval chain's rule)")
    honest = new_request(1)
    step(honest, created, True)
    step(honest, vote(2, "sarah.manager", 0, 0), True)
    assert honest[VOTES] == ["manager"] and honest[R["current_role"]] == "manager"
    step(honest, vote(3, "tom.manager", 0, 1), True)
    assert honest[MISCOUNT] is None and honest[VOTES] == [] and honest[R["current_role"]] == "director"
    stuck = new_request(1)
    step(stuck, created, True)
    step(stuck, vote(2, "sarah.manager", 0, 0), True)
    step(stuck, vote(3, "tom.manager", 0, 0), True)  # the completing vote must move it on
    assert stuck[MISCOUNT] is not None and "keeps stage 1 waiting" in stuck[MISCOUNT][1]


def test_the_standalone_verifier_recounts_the_same_way():
    """verifier/hitl_verify.py (no hitl_tui) names the same forged entry (VERIFY.md 7, stage rules)."""
    import importlib.util
    import sys

    path = Path(__file__).parents[2] / "verifier" / "hitl_verify.py"
    spec = importlib.util.spec_from_file_location("hitl_verify", path)
    assert spec is not None and spec.loader is not None
    verifier = importlib.util.module_from_spec(spec)
    sys.modules["hitl_verify"] = verifier  # its dataclasses look their module up
    try:
        spec.loader.exec_module(verifier)
    finally:
        del sys.modules["hitl_verify"]
    details = {"chain": ["manager", "director"], "status_after": "awaiting_approval", "stage_after": 0,
               "stage_rules": [{"role": "manager", "quorum": 2}, "director"], "revision": 1, "replay": 1}
    replay = verifier.Replay()
    replay.feed(1, {"action": "created", "workflow_id": "WF-1-0001", "actor": "john.doe", "details": details})
    vote = {"decision": "approve", "stage": 0, "stage_role": "manager", "status_after": "awaiting_approval",
            "revision": 1, "replay": 1}
    replay.feed(2, {"action": "approved", "workflow_id": "WF-1-0001", "actor": "sarah.manager",
                    "details": {**vote, "stage_after": 0}})
    assert replay.problems == [] and replay.requests["WF-1-0001"]["current_role"] == "manager"
    replay.feed(3, {"action": "approved", "workflow_id": "WF-1-0001", "actor": "sarah.manager",
                    "details": {**vote, "stage_after": 1}})  # the same person again: counted, and named
    assert replay.problems == ["entry 3 decides stage 1 of WF-1-0001 revision 1 again"]
    forged = verifier.Replay()
    forged.feed(1, {"action": "created", "workflow_id": "WF-1-0001", "actor": "john.doe", "details": details})
    forged.feed(2, {"action": "approved", "workflow_id": "WF-1-0001", "actor": "sarah.manager",
                    "details": {**vote, "stage_after": 1}})
    assert forged.problems == ["entry 2 advances past stage 1 with 1 of the 2 approvals it needs on WF-1-0001 "
                               "(its approval chain's rule)"]


def test_erasing_a_quorum_request_rewrites_each_voters_comment_and_still_verifies(desk):
    """A quorum stage has an approvals row per voter: an erasure rewrites each one's comment
    (replayed per voter) and the tables still replay from the trail."""
    desk.add_user("ada.admin", "it_admin", actor=ADMIN, admin=True)
    wid = pay(desk, "500")
    desk.decide(wid, "sarah.manager", "approve", "First vote")
    desk.decide(wid, "tom.manager", "approve", "Second vote")
    desk.erasure.request(wid, "GDPR Art. 17 request", actor="ada.admin")
    desk.erasure.confirm(wid, actor=ADMIN)
    comments = [a.comments for a in desk.get_workflow(wid).approvals]
    assert len(comments) == 2 and all(c.startswith("erased on ") for c in comments)
    assert desk.verify_audit().ok


def test_the_agents_report_shows_the_votes_of_quorum_and_parallel_stages(desk):
    """agents/reports.chain_text (what the assistant reads and says) names a stage by its rule
    and shows its votes in stage_rules' words, as the desk and `request show` do."""
    from hitl_tui.agents.reports import chain_text

    low = pay(desk, "500")
    desk.decide(low, "sarah.manager", "approve")
    assert chain_text(desk.get_workflow(low)) == "Manager ×2 (waiting: 1 of 2 votes (sarah.manager))"
    high = pay(desk, "20000")
    desk.decide(high, "sam.security", "approve")
    assert chain_text(desk.get_workflow(high)) == ("Security + Compliance (waiting: Security ✓ sam.security · "
                                                  "Compliance waiting) -> Director")
    desk.decide(high, "carol.compliance", "approve")
    assert chain_text(desk.get_workflow(high)) == ("Security + Compliance (Security ✓ sam.security · Compliance ✓ "
                                                  "carol.compliance) -> Director (waiting)")
