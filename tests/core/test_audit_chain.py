"""Tamper evidence: every kind of tampering, done the way an attacker holding the key would do
it (a real second connection, dropping the append-only triggers first), is found and named."""

from __future__ import annotations

import json

import pytest

from hitl_tui.core.audit import canonical_bytes, chain_hash
from hitl_tui.core.checkpoints import read_checkpoint_file, write_checkpoint_file
from hitl_tui.core.errors import AuditChainBroken, CheckpointError
from tests.attacker import rewrite_whole_chain

from .conftest import raw_connection


@pytest.fixture
def busy(service):
    """A database with a few dozen audit entries and a signed checkpoint stored in it."""
    for i in range(6):
        wid = service.create_workflow_request("expense_approval", f"Trip {i}", "", "john.doe", {"amount": 2000 + i})
        service.approve_workflow(wid, "sarah.manager", f"ok {i}")
    service.checkpoint()
    return service


@pytest.fixture
def attacker(busy, db_path, db_key):
    conn = raw_connection(db_path, db_key)
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("DROP TRIGGER audit_log_no_delete")
    yield conn
    conn.close()


def body(conn, seq):
    return bytes(conn.execute("SELECT body FROM audit_log WHERE seq = ?", (seq,)).fetchone()[0])


def edited_body(conn, seq):
    """Entry 15 is sarah.manager's approval with comment 'ok 2'; turn it into a rejection (the
    comment itself is sealed: the hashed bytes hold its digest, not its words)."""
    old = body(conn, seq)
    assert json.loads(old)["actor"] == "sarah.manager"
    new = old.replace(b'"decision":"approve"', b'"decision":"reject"')
    assert new != old
    return new


def test_intact_chain_verifies_with_its_checkpoint(busy):
    result = busy.verify_audit()
    assert result.ok and result.entries == busy.audit_size() and result.checkpoints_checked == 1
    assert "verified" in result.summary()


def test_triggers_refuse_update_and_delete(busy, db_path, db_key):
    conn = raw_connection(db_path, db_key)
    with pytest.raises(Exception, match="append-only"):
        conn.execute("UPDATE audit_log SET workflow_id = NULL WHERE seq = 1")
    with pytest.raises(Exception, match="append-only"):
        conn.execute("DELETE FROM audit_log WHERE seq = 1")
    with pytest.raises(Exception, match="append-only"):
        conn.execute("DELETE FROM checkpoints")


def test_edited_entry(busy, attacker):
    attacker.execute("UPDATE audit_log SET body = ? WHERE seq = 15", (edited_body(attacker, 15),))
    result = busy.verify_audit()
    assert not result.ok and result.first_bad_seq == 15 and "edited" in result.problem
    assert "BROKEN at entry 15" in result.summary()


def test_edited_entry_with_recomputed_hash(busy, attacker):
    prev = bytes(attacker.execute("SELECT hash FROM audit_log WHERE seq = 14").fetchone()[0])
    edited = edited_body(attacker, 15)
    attacker.execute("UPDATE audit_log SET body = ?, hash = ? WHERE seq = 15", (edited, chain_hash(prev, edited)))
    result = busy.verify_audit()
    assert result.first_bad_seq == 15 and "altered" in result.problem


def test_deleted_entry_leaves_a_gap(busy, attacker):
    attacker.execute("DELETE FROM audit_log WHERE seq = 12")
    result = busy.verify_audit()
    assert result.first_bad_seq == 12 and "missing" in result.problem


def test_deleted_entry_with_renumbering(busy, attacker):
    last = attacker.execute("SELECT max(seq) FROM audit_log").fetchone()[0]
    attacker.execute("DELETE FROM audit_log WHERE seq = 12")
    for seq in range(13, last + 1):
        attacker.execute("UPDATE audit_log SET seq = seq - 1 WHERE seq = ?", (seq,))
    result = busy.verify_audit()
    assert result.first_bad_seq == 12 and "deleted, inserted or reordered" in result.problem


def test_inserted_entry(busy, attacker):
    last = attacker.execute("SELECT max(seq) FROM audit_log").fetchone()[0]
    for seq in range(last, 9, -1):
        attacker.execute("UPDATE audit_log SET seq = seq + 1 WHERE seq = ?", (seq,))
    prev = bytes(attacker.execute("SELECT hash FROM audit_log WHERE seq = 9").fetchone()[0])
    rec = json.loads(body(attacker, 9))
    rec.update(seq=10, prev_hash=prev.hex(), action="approved", actor="mallory")
    forged = canonical_bytes(rec)
    attacker.execute("INSERT INTO audit_log (seq, workflow_id, body, hash) VALUES (10, ?, ?, ?)",
                     (rec["workflow_id"], forged, chain_hash(prev, forged)))
    result = busy.verify_audit()
    assert not result.ok and result.first_bad_seq == 11  # the entry after the forgery exposes it
    assert "entry 10" in result.problem


def test_reordered_entries(busy, attacker):
    a, b = attacker.execute("SELECT body, hash FROM audit_log WHERE seq IN (15, 16) ORDER BY seq").fetchall()
    attacker.execute("UPDATE audit_log SET body = ?, hash = ? WHERE seq = 15", tuple(b))
    attacker.execute("UPDATE audit_log SET body = ?, hash = ? WHERE seq = 16", tuple(a))
    result = busy.verify_audit()
    assert result.first_bad_seq == 15 and "reordered" in result.problem


def test_truncated_tail(busy, attacker):
    size = busy.audit_size()
    attacker.execute("DELETE FROM audit_log WHERE seq > ?", (size - 3,))
    result = busy.verify_audit()
    assert not result.ok and result.first_bad_seq == size - 2 and "deleted from the end" in result.problem


def test_truncated_tail_with_head_rewritten_is_caught_by_the_stored_checkpoint(busy, attacker):
    size = busy.audit_size()
    attacker.execute("DELETE FROM audit_log WHERE seq > ?", (size - 3,))
    head = bytes(attacker.execute("SELECT hash FROM audit_log WHERE seq = ?", (size - 3,)).fetchone()[0])
    attacker.execute("UPDATE meta SET value = ? WHERE key = 'audit_size'", (str(size - 3),))
    attacker.execute("UPDATE meta SET value = ? WHERE key = 'audit_head'", (head.hex(),))
    result = busy.verify_audit()
    assert not result.ok and "truncated" in result.problem


def test_index_columns_edited_to_hide_an_entry(busy, attacker):
    attacker.execute("UPDATE audit_log SET workflow_id = 'WF-0-0000' WHERE seq = 14")
    result = busy.verify_audit()
    assert result.first_bad_seq == 14 and "filed under the wrong request" in result.problem


def test_appending_after_tampering_is_refused(busy, attacker):
    attacker.execute("DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)")
    size = busy.audit_size()
    with pytest.raises(AuditChainBroken, match="nothing was written"):
        busy.create_workflow_request("expense_approval", "t", "", "john.doe", {"amount": 1})
    assert busy.audit_size() == size


def test_full_rewrite_passes_the_inner_checks_but_not_an_external_checkpoint(busy, attacker, tmp_path):
    outside = tmp_path / "auditor-checkpoint.json"
    write_checkpoint_file(busy.checkpoint(), outside)
    # what nobody signs (the session fields), rewritten: every check inside the database agrees
    rewrite_whole_chain(attacker, b'"session_id":"', b'"session_id":"0')
    assert busy.verify_audit().ok  # internally consistent: this is why checkpoints live elsewhere
    result = busy.verify_audit([read_checkpoint_file(outside)])
    assert not result.ok and "rewritten" in result.problem


def test_full_rewrite_is_caught_by_the_checkpoint_stored_in_the_database(busy, attacker):
    rewrite_whole_chain(attacker, b'"session_id":"', b'"session_id":"0', drop_checkpoints=False)
    result = busy.verify_audit()
    assert not result.ok and "rewritten" in result.problem


def test_full_rewrite_of_what_people_signed_is_caught_by_their_signatures(busy, attacker):
    rewrite_whole_chain(attacker, b"sarah.manager", b"mike.director")  # no checkpoint left to compare
    result = busy.verify_audit()
    assert not result.ok and "by mike.director) is a forgery" in result.problem


def test_forged_checkpoint_files_are_refused(busy, tmp_path):
    path = tmp_path / "cp.json"
    write_checkpoint_file(busy.checkpoint(), path)
    lines = path.read_text().split("\n")
    lines[1] = str(int(lines[1]) + 5)  # the note's size line, under the old signature
    path.write_text("\n".join(lines))
    with pytest.raises(CheckpointError, match="signature does not verify"):
        read_checkpoint_file(path)
    path.write_text("{not json")
    with pytest.raises(CheckpointError, match="Cannot read"):
        read_checkpoint_file(path)


def test_checkpoint_of_another_database_is_refused(busy, tmp_path, db_key):
    from hitl_tui.core.service import WorkflowService

    other = WorkflowService.open(tmp_path / "other.db", key=db_key)
    other.add_user("x", "employee")
    cp = other.checkpoint()
    other.close()
    result = busy.verify_audit([cp])
    assert not result.ok and "another database" in result.problem


def test_close_seals_the_session_with_a_checkpoint(db_path, db_key):
    from hitl_tui.core.service import WorkflowService

    svc = WorkflowService.open(db_path, key=db_key)
    svc.add_user("someone", "employee")
    svc.close()
    svc = WorkflowService.open(db_path, key=db_key)
    cps = svc.stored_checkpoints()
    assert len(cps) == 1 and cps[0].size == svc.audit_size()
    actions = [e.action for e in svc.iter_audit()]
    assert actions == ["user_added", "signing_key_registered"]
    svc.close()


def test_audit_entries_carry_who_and_where(busy, monkeypatch):
    entry = busy.get_audit_trail(busy.list_requests("sarah.manager", "decided")[0].id)[-1]
    assert entry.actor == "sarah.manager" and entry.session_id == busy.session_id
    assert entry.os_login and entry.details["comments"].startswith("ok")
    assert entry.timestamp.tzinfo is not None and len(entry.prev_hash) == 64
    assert entry.details["status_before"] == "awaiting_approval"


def test_body_rewritten_as_text_is_reported_not_a_crash(busy, attacker):
    attacker.execute("UPDATE audit_log SET body = replace(CAST(body AS TEXT), ?, ?) WHERE seq = 15",
                     ('"decision":"approve"', '"decision":"reject"'))
    assert attacker.execute("SELECT typeof(body) FROM audit_log WHERE seq = 15").fetchone()[0] == "text"
    result = busy.verify_audit()
    assert result.first_bad_seq == 15 and "edited" in result.problem
