"""Reassignment (issue 14): an administrator, a Director or an Executive names who should decide a
request's current stage, with a reason; the assignee finds it first in Awaiting me and hears of
it; naming another or clearing it is a signed `reassigned` entry each; verify-audit replays the
assignments table and names an entry whose actor could not reassign."""

from __future__ import annotations

import pytest

from hitl_tui.core import assignment
from hitl_tui.core.errors import InvalidTransition, PermissionDenied, UnknownUser, ValidationFailed
from hitl_tui.core.notifications import set_prefs
from hitl_tui.core.signatures import SIGNED_ACTIONS, entry_manifestation
from tests.core.conftest import raw_connection
from tests.forgery import forge_entry

ADMIN = "ian.itadmin"
MID = {"amount": "3000", "category": "travel"}  # manager, then director


def _at_director(service, title: str = "Trade fair stand") -> str:
    wid = service.create_workflow_request("expense_approval", title, "Stand, travel and hotel for the trade fair",
                                          "john.doe", MID)
    service.decide(wid, "sarah.manager", "approve")
    return wid


def test_assigning_a_stage_puts_it_first_in_the_assignees_awaiting_me_and_is_signed(service):
    service.set_user_admin(ADMIN, True)
    older, newer = _at_director(service, "Older"), _at_director(service, "Newer")
    assert [r.id for r in service.list_requests("dana.director")] == [older, newer]  # oldest first
    done = assignment.reassign(service, newer, "dana.director", "Dana knows the supplier", actor=ADMIN)
    assert (done.assignee, done.before, done.stage, done.by) == ("dana.director", None, 1, ADMIN)
    assert service.assigned_to("dana.director", newer) == "dana.director"
    assert [r.id for r in service.list_requests("dana.director")] == [newer, older]  # hers: first
    assert [r.id for r in service.list_requests("mike.director")] == [older, newer]  # nobody else's order moves
    again = assignment.reassign(service, newer, "mike.director", "Dana is travelling", actor="lisa.executive")
    assert (again.assignee, again.before) == ("mike.director", "dana.director")
    assert [r.id for r in service.list_requests("mike.director")] == [newer, older]
    cleared = assignment.reassign(service, newer, None, "back to the pool", actor=ADMIN)
    assert (cleared.assignee, cleared.before) == (None, "mike.director")
    assert service.assigned_to("lisa.executive", newer) is None
    entries = [e for e in service.get_audit_trail(newer) if e.action == assignment.REASSIGNED]
    assert [e.details["assignee"] for e in entries] == ["dana.director", "mike.director", None]
    assert assignment.REASSIGNED in SIGNED_ACTIONS and all(e.sig is not None for e in entries)
    assert entry_manifestation(entries[0]).endswith(f": assigned stage 2 (Director) of {newer} to dana.director")
    assert entry_manifestation(entries[2]).endswith(f": cleared the assignment of stage 2 (Director) of {newer}")
    result = service.verify_audit()
    assert result.ok, (result.problem, result.tables_problem)


def test_who_may_reassign_and_to_whom(service):
    service.set_user_admin(ADMIN, True)
    wid = _at_director(service)
    with pytest.raises(PermissionDenied, match="for a directory administrator, a Director or Executive"):
        assignment.reassign(service, wid, "dana.director", "x", actor="sarah.manager")
    with pytest.raises(PermissionDenied, match="john.doe requested"):
        assignment.reassign(service, wid, "john.doe", "x", actor=ADMIN)
    with pytest.raises(PermissionDenied, match="sarah.manager already decided a stage"):
        assignment.reassign(service, wid, "sarah.manager", "x", actor=ADMIN)
    with pytest.raises(PermissionDenied, match="is Compliance, who may not decide that stage"):
        assignment.reassign(service, wid, "carol.compliance", "x", actor=ADMIN)
    with pytest.raises(UnknownUser):
        assignment.reassign(service, wid, "nobody", "x", actor=ADMIN)
    with pytest.raises(ValidationFailed, match="reason"):
        assignment.reassign(service, wid, "dana.director", "", actor=ADMIN)
    with pytest.raises(InvalidTransition, match="assigned to nobody; nothing to clear"):
        assignment.reassign(service, wid, None, "x", actor=ADMIN)
    assignment.reassign(service, wid, "dana.director", "x", actor="mike.director")  # a director may
    with pytest.raises(InvalidTransition, match="already assigned to dana.director"):
        assignment.reassign(service, wid, "dana.director", "x", actor=ADMIN)
    service.decide(wid, "mike.director", "approve")  # another eligible person still may decide it
    assert service.assigned_to("lisa.executive", wid) is None  # and the assignment lapsed with the stage
    with pytest.raises(InvalidTransition, match="is approved: no stage waits"):
        assignment.reassign(service, wid, "dana.director", "x", actor=ADMIN)
    assert service.verify_audit().ok


def test_the_assignee_hears_of_it(service, db_path, db_key):
    service.set_user_admin(ADMIN, True)
    wid = _at_director(service)
    set_prefs(service, "dana.director", email="dana@example.com", events=["waiting_for_you"],
              actor="dana.director")
    assignment.reassign(service, wid, "dana.director", "Dana knows the supplier", actor=ADMIN)
    seq = service.audit_size()
    conn = raw_connection(db_path, db_key)
    try:
        rows = conn.execute("SELECT event, recipient FROM notify_outbox WHERE seq = ?", (seq,)).fetchall()
    finally:
        conn.close()
    assert rows == [("waiting_for_you", "dana.director")]


def test_the_table_is_a_replay_and_a_reassignment_by_someone_who_may_not_is_named(service, db_path, db_key):
    service.set_user_admin(ADMIN, True)
    wid = _at_director(service)
    assignment.reassign(service, wid, "dana.director", "Dana knows the supplier", actor=ADMIN)
    seq = service.audit_size()
    conn = raw_connection(db_path, db_key)
    try:
        conn.execute("UPDATE assignments SET assignee = 'mike.director' WHERE seq = ?", (seq,))
    finally:
        conn.close()
    broken = service.verify_audit()
    assert not broken.ok and broken.tables_problem == (
        f"the assignment of entry {seq} assignee is 'mike.director' in the table, 'dana.director' in the trail")
    conn = raw_connection(db_path, db_key)
    try:  # put it back; then sarah, a manager with the database key and her own signing key, reassigns
        conn.execute("UPDATE assignments SET assignee = 'dana.director' WHERE seq = ?", (seq,))
        sarahs = service.personal_keys.newest("sarah.manager").unlock()
        forged = forge_entry(conn, actor="sarah.manager", action="reassigned", workflow_id=wid, signer=sarahs, details={
            "stage": 1, "stage_role": "director", "revision": 1, "assignee": "mike.director",
            "before": "dana.director", "reason": "mine"})
        conn.execute("INSERT INTO assignments VALUES (?, ?, 1, 1, 'mike.director', 'mine', 'x', 'sarah.manager')",
                     (forged, wid))
    finally:
        conn.close()
    result = service.verify_audit()
    assert not result.ok and result.problem is None  # the chain and the signatures verify
    assert result.tables_problem == (f"entry {forged} (reassigned {wid} by sarah.manager): sarah.manager was neither "
                                     f"an active administrator nor a Director or Executive at that point of the trail")
