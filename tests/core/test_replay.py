"""The tables are a replay of the trail (core/replay.py): every action's entry carries what the
replay needs, the replay streams, and a database written before this keeps verifying."""

from __future__ import annotations

import json
from datetime import timedelta

from hitl_tui.core import replay
from hitl_tui.core.audit import build_record, canonical_bytes, chain_hash, iso, utc_now
from hitl_tui.core.store import audit_log
from hitl_tui.core.store import requests as req_sql
from tests.core.conftest import raw_connection

EXPENSE = {"amount": "15000", "category": "travel"}


def _life(service) -> list[str]:
    """Every kind of request action, decided by different people."""
    a = service.create_workflow_request("expense_approval", "Singapore travel", "APAC offsite", "john.doe", EXPENSE)
    service.approve_workflow(a, "sarah.manager", "Within budget")
    b = service.create_workflow_request("expense_approval", "Chairs", "Ergonomic", "john.doe", {"amount": "900",
                                                                                                "category": "equipment"})
    service.request_changes(b, "sarah.manager", "Attach the quote")
    service.resubmit(b, "john.doe", description="Quote attached", data={"amount": "950", "category": "equipment"})
    service.approve_workflow(b, "tom.manager", "Fine")
    c = service.create_workflow_request("expense_approval", "Printer", "", "john.doe", {"amount": "300",
                                                                                        "category": "equipment"})
    service.withdraw_workflow(c, "john.doe", "Not needed")
    d = service.create_workflow_request("expense_approval", "Lunch", "", "john.doe", {"amount": "80",
                                                                                      "category": "meals"})
    service.reject_workflow(d, "sarah.manager", "Personal expense")
    service.set_user_role("tom.manager", "director")
    service.set_user_admin("tom.manager", True)
    return [a, b, c, d]


def test_every_action_replays_to_its_rows(service):
    ids = _life(service)
    result = service.verify_audit()
    assert result.ok, result.summary()
    assert result.tables_checked and result.tables_problem is None
    assert result.legacy_entries == 0 and result.replayed_entries >= 10
    # one timestamp for row and entry: the created entry's ts is the row's created_at
    created = next(e for e in service.get_audit_trail(ids[0]) if e.action == "created")
    assert service.get_workflow(ids[0]).created_at == created.timestamp


def test_a_resubmitted_description_is_compared(service, db_path, db_key):
    ids = _life(service)
    conn = raw_connection(db_path, db_key)
    conn.execute("UPDATE requests SET description = 'No quote' WHERE id = ?", (ids[1],))
    result = service.verify_audit()
    assert not result.ok and result.first_bad_seq is None
    assert result.summary() == (f'TABLES OUT OF STEP WITH THE AUDIT TRAIL: {ids[1]} description is "No quote" in '
                                'the table, "Quote attached" in the trail')


def test_derived_deciders_and_the_search_index_are_compared(service, db_path, db_key):
    ids = _life(service)
    conn = raw_connection(db_path, db_key)
    conn.execute("UPDATE requests SET deciders = ',' WHERE id = ?", (ids[0],))
    assert "deciders of this revision (an index column) is , in the table, ,sarah.manager, in the trail" \
        in service.verify_audit().tables_problem
    conn.execute("UPDATE requests SET deciders = ',sarah.manager,' WHERE id = ?", (ids[0],))
    assert service.verify_audit().ok
    rowid = conn.execute("SELECT rowid FROM requests WHERE id = ?", (ids[2],)).fetchone()[0]
    conn.execute("DELETE FROM requests_fts_docsize WHERE id = ?", (rowid,))
    assert service.verify_audit().tables_problem.startswith(f"the search index does not list {ids[2]}")


def test_the_first_difference_is_the_earliest_in_the_trail(service, db_path, db_key):
    ids = _life(service)
    conn = raw_connection(db_path, db_key)
    conn.execute("UPDATE requests SET title = 'Late' WHERE id = ?", (ids[3],))
    conn.execute("UPDATE requests SET title = 'Early' WHERE id = ?", (ids[0],))
    assert service.verify_audit().tables_problem.startswith(f'{ids[0]} title is "Early"')


def test_the_replay_holds_only_open_requests(service, db_path, db_key):
    """Streaming: a request that reached a final status is a digest in SQLite, not in Python."""
    ids = _life(service)
    conn = raw_connection(db_path, db_key)
    conn.execute("PRAGMA temp_store = MEMORY")
    replay.sql.begin(conn)
    replayer = replay.Replayer(conn)
    for batch in audit_log.iter_rows(conn):
        replayer.feed(batch)
    assert set(replayer.live) == {ids[0]}  # awaiting its Director; the other three are final
    replayer.finish()
    assert replay.sql.expected_counts(conn) == (4, 4)  # four requests, four decisions


def _old_entry(conn, actor, action, wid, details, ts):
    size, head = audit_log.checked_head(conn)
    from hitl_tui.core.audit import AuditContext

    body = canonical_bytes(build_record(size + 1, head, ts, actor, action, wid, details,
                                        AuditContext("legacy", actor, None, None)))
    audit_log.append(conn, size + 1, wid, body, chain_hash(head, body))


def test_a_database_written_the_old_way_verifies_and_is_compared_for_what_it_carries(service, db_path, db_key):
    """Entries with the details of before (no description, risk field nor revision in `created`,
    no replay mark, the entry's time a few microseconds after the row's): never tampering."""
    wid, row_time = "WF-1700000000-0001", utc_now()
    conn = raw_connection(db_path, db_key)
    conn.execute("BEGIN IMMEDIATE")
    req_sql.insert(conn, {
        "id": wid, "workflow_type": "expense_approval", "title": "Old travel", "description": "Kept",
        "requester": "john.doe", "data": '{"amount": "15000.00", "category": "travel"}', "risk_level": "HIGH",
        "risk_rank": 2, "risk_field": "amount", "risk_reason": "amount 15,000.00 is below 50,000",
        "headline": "15000.00", "chain": ",manager,director,executive,", "current_stage": 1,
        "current_role": "director", "status": "awaiting_approval", "revision": 1, "created_at": iso(row_time),
        "updated_at": iso(row_time + timedelta(seconds=5)), "policy_version": 1, "deciders": ",sarah.manager,",
    })
    _old_entry(conn, "john.doe", "created", wid, {
        "workflow_type": "expense_approval", "title": "Old travel", "data": {"amount": "15000.00", "category": "travel"},
        "risk_level": "HIGH", "risk_reason": "amount 15,000.00 is below 50,000",
        "chain": ["manager", "director", "executive"], "status_after": "awaiting_approval", "stage_after": 0,
        "policy_version": 1, "policy_sha256": "0" * 64}, row_time + timedelta(microseconds=7))
    conn.execute("INSERT INTO approvals (workflow_id, revision, stage, role, approver, approver_role, decision, "
                 "decided_at, comments, proposed_by) VALUES (?, 1, 0, 'manager', 'sarah.manager', 'manager', "
                 "'approve', ?, 'ok', NULL)", (wid, iso(row_time + timedelta(seconds=5))))
    _old_entry(conn, "sarah.manager", "approved", wid, {
        "decision": "approve", "stage": 0, "stage_role": "manager", "decider_role": "manager", "comments": "ok",
        "revision": 1, "status_before": "awaiting_approval", "status_after": "awaiting_approval", "stage_after": 1},
        row_time + timedelta(seconds=5, microseconds=9))
    conn.execute("COMMIT")
    result = service.verify_audit()
    assert result.tables_problem is None, result.tables_problem
    assert result.legacy_entries == 2
    # what they do carry is still compared
    conn.execute("UPDATE requests SET title = 'New travel' WHERE id = ?", (wid,))
    assert service.verify_audit().tables_problem == f'{wid} title is "New travel" in the table, "Old travel" in the trail'
    conn.execute("UPDATE requests SET title = 'Old travel' WHERE id = ?", (wid,))
    conn.execute("UPDATE approvals SET comments = 'fine' WHERE workflow_id = ?", (wid,))
    assert 'the approvals row of WF-1700000000-0001 stage 1 has comments "fine" in the table, "ok" in the trail' \
        == service.verify_audit().tables_problem


def test_entry_details_carry_the_contract(service):
    ids = _life(service)
    trail = {e.action: e.details for e in service.get_audit_trail(ids[1])}
    assert {"description", "risk_field", "revision", "replay"} <= trail["created"].keys()
    assert trail["resubmitted"]["description"] == "Quote attached"
    user = next(e for e in service.iter_audit() if e.action == "user_added")
    assert "display_name" in user.details and user.details["replay"] == 1
    assert json.loads(json.dumps(trail["approved"]))["stage_role"] == "manager"
