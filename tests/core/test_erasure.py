"""Personal data sealed in the trail, and erased without breaking it (core/privacy.py, erasure.py):
after an erasure the chain, the tree, the signatures and the replay all still verify, and the
erased values read `erased on DATE` in the tables and the trail's readers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hitl_tui.core.audit import utc_now
from hitl_tui.core.errors import PermissionDenied, ValidationFailed
from hitl_tui.core.privacy import is_sealed, placeholder
from tests.core.conftest import raw_connection

REFUND = {"amount": "120", "customer": "Erika Mustermann", "order_id": "A-17"}


@pytest.fixture
def admins(service):
    """Two administrators (the two-person rule needs both), added by the bootstrap administrator."""
    service.add_user("ada.admin", "it_admin", admin=True, actor="ada.admin")
    service.add_user("bob.admin", "it_admin", admin=True, actor="ada.admin")
    return service


def _closed_refund(service) -> str:
    wid = service.create_workflow_request("refund_approval", "Refund for Erika", "She wrote from erika@example.org",
                                          "john.doe", REFUND)
    while service.get_workflow(wid).status.value == "awaiting_approval":
        req = service.get_workflow(wid)
        decider = {"manager": "sarah.manager", "director": "mike.director", "executive": "lisa.executive",
                   "finance": "finance.team"}.get(req.current_role.value, "sarah.manager")
        service.approve_workflow(wid, decider, f"ok for {req.current_role.value}")
    return wid


def _today() -> str:
    return utc_now().date().isoformat()


def test_personal_values_are_sealed_in_the_hashed_bytes(admins, db_path, db_key):
    wid = _closed_refund(admins)
    created = next(e for e in admins.get_audit_trail(wid) if e.action == "created")
    assert created.details["title"] == "Refund for Erika" and created.details["data"]["customer"] == "Erika Mustermann"
    conn = raw_connection(db_path, db_key)
    body = conn.execute("SELECT CAST(body AS BLOB) FROM audit_log WHERE workflow_id = ? ORDER BY seq LIMIT 1",
                        (wid,)).fetchone()[0]
    assert b"Erika" not in body and b"erika@example.org" not in body
    assert b'"order_id":"A-17"' in body  # not marked personal: stays readable in the trail
    boxes = b"".join(bytes(r[0]) for r in conn.execute("SELECT box FROM sealed_values"))
    assert b"Erika" not in boxes  # only ciphertext


def test_erasing_a_request_keeps_every_proof_and_reads_erased(admins):
    wid = _closed_refund(admins)
    before = admins.verify_audit()
    assert before.ok, before.summary()
    asked = admins.erasure.request(wid, "GDPR Art. 17 request", actor="ada.admin")
    assert [p.target for p in admins.erasure.pending()] == [wid] and asked.reason == "GDPR Art. 17 request"
    done = admins.erasure.confirm(wid, actor="bob.admin")
    assert done.requests == (wid,) and done.values >= 4 and admins.erasure.pending() == []
    gone = placeholder(_today())
    req = admins.get_workflow(wid)
    assert (req.title, req.description, req.data["customer"], req.data["order_id"]) == (gone, gone, gone, "A-17")
    assert all(a.comments == gone for a in req.approvals)
    created = next(e for e in admins.get_audit_trail(wid) if e.action == "created")
    assert created.details["title"] == gone and str(created.details["data"]["amount"]) == "120.00"
    after = admins.verify_audit()
    assert after.ok and after.tables_problem is None, after.summary()
    assert after.entries == before.entries + 2  # the request and the tombstone; nothing rewritten
    # the search index no longer finds the erased words, and finds the placeholder instead
    assert admins.list_requests("lisa.executive", "visible", search="Erika") == []
    assert [r.id for r in admins.list_requests("lisa.executive", "visible", search="erased")] == [wid]


def test_erasing_a_person_needs_two_administrators_and_a_deactivated_person(admins):
    wid = _closed_refund(admins)
    from hitl_tui.core import notifications

    notifications.set_prefs(admins, "john.doe", email="john.private@example.org", actor="john.doe")
    with pytest.raises(PermissionDenied, match="still active; deactivate them first"):
        admins.erasure.request("john.doe", "left the company", actor="ada.admin")
    admins.set_user_active("john.doe", False, actor="ada.admin")
    with pytest.raises(ValidationFailed, match="reason"):
        admins.erasure.request("john.doe", "", actor="ada.admin")
    with pytest.raises(PermissionDenied, match="not a user-directory administrator"):
        admins.erasure.request("john.doe", "left", actor="sarah.manager")
    admins.erasure.request("john.doe", "left the company", actor="ada.admin")
    with pytest.raises(PermissionDenied, match="two-person rule"):
        admins.erasure.confirm("john.doe", actor="ada.admin")
    done = admins.erasure.confirm("john.doe", actor="bob.admin")
    gone = placeholder(_today())
    assert wid in done.requests
    user = next(u for u in admins.list_users() if u.username == "john.doe")
    assert user.email == gone
    assert notifications.prefs_of(admins, "ada.admin", "john.doe") is None  # the address he gave for notifications
    assert admins.get_workflow(wid).title == gone
    # the approvers' own comments on it are theirs, not john's: they stay
    assert all(a.comments.startswith("ok for ") for a in admins.get_workflow(wid).approvals)
    result = admins.verify_audit()
    assert result.ok and result.tables_problem is None, result.summary()
    with pytest.raises(PermissionDenied, match="no personal data left"):
        admins.erasure.request("john.doe", "again", actor="ada.admin")


def test_a_cancelled_erasure_cannot_be_confirmed(admins):
    wid = _closed_refund(admins)
    admins.erasure.request(wid, "mistaken identity?", actor="ada.admin")
    admins.erasure.cancel(wid, "it was another customer", actor="bob.admin")
    with pytest.raises(ValidationFailed, match="No erasure of .* is waiting"):
        admins.erasure.confirm(wid, actor="bob.admin")
    assert admins.get_workflow(wid).title == "Refund for Erika"


def test_an_open_request_is_not_erased(admins):
    wid = admins.create_workflow_request("refund_approval", "Refund", "", "john.doe", REFUND)
    with pytest.raises(PermissionDenied, match="still open"):
        admins.erasure.request(wid, "asked", actor="ada.admin")


def test_retention_expires_closed_requests_of_the_type(admins):
    policy = admins.policy_in_force().text.replace(
        "[types.refund_approval]\n", '[types.refund_approval]\nretain_personal = "PT1S"\n', 1)
    admins.apply_policy(policy, actor="ada.admin")
    wid = _closed_refund(admins)
    other = admins.create_workflow_request("expense_approval", "Taxi", "", "john.doe", {"amount": "40",
                                                                                         "category": "travel"})
    assert admins.erasure.due(utc_now() - timedelta(seconds=5)) == []  # the rule had not run out then
    later = utc_now() + timedelta(seconds=2)
    assert [d.workflow_id for d in admins.erasure.due(later)] == [wid]
    done = admins.erasure.apply_retention(actor="ada.admin", now=later)
    assert [d.requests for d in done] == [(wid,)]
    assert admins.get_workflow(wid).data["customer"] == placeholder(_today())
    assert admins.get_workflow(other).title == "Taxi"
    result = admins.verify_audit()
    assert result.ok and result.tables_problem is None, result.summary()


def test_a_key_destroyed_behind_the_applications_back_is_named(admins, db_path, db_key):
    wid = _closed_refund(admins)
    conn = raw_connection(db_path, db_key)
    conn.execute("UPDATE privacy_keys SET secret = NULL, erased_seq = 3, erased_on = '2026-01-01T00:00:00+00:00' "
                 "WHERE workflow_id = ?", (wid,))
    result = admins.verify_audit()
    assert not result.ok
    assert "no erasure in the trail destroyed its key" in (result.tables_problem or "")


def test_sealed_form_is_what_is_signed(admins):
    wid = _closed_refund(admins)
    rows = list(admins.iter_audit_rows())
    import json

    created = next(json.loads(r[1]) for batch in rows for r in batch
                   if json.loads(r[1]).get("workflow_id") == wid and json.loads(r[1])["action"] == "created")
    assert is_sealed(created["details"]["title"]) and "sig" in created


def test_an_erased_description_is_not_flagged_as_thin(admins):
    from hitl_tui.core.compliance import check_request

    wid = _closed_refund(admins)
    admins.erasure.request(wid, "asked", actor="ada.admin")
    admins.erasure.confirm(wid, actor="bob.admin")
    codes = {f.code for f in check_request(admins.policy, admins.get_workflow(wid))}
    assert "thin_justification" not in codes and "missing_justification" not in codes


def test_an_erasure_without_a_second_administrator_is_named(admins, db_path, db_key):
    """An administrator who holds the database key asks for an erasure, then forges its
    confirmation with their own (valid) signing key and destroys the keys by hand: every
    signature verifies, the two-person rule does not."""
    from tests.forgery import forge_entry

    wid = _closed_refund(admins)
    asked = admins.erasure.request(wid, "asked", actor="ada.admin")
    conn = raw_connection(db_path, db_key)
    keys = sorted(r[0] for r in conn.execute("SELECT key_id FROM privacy_keys WHERE workflow_id = ?", (wid,)))
    ada = admins.personal_keys.newest("ada.admin").unlock()
    seq = forge_entry(conn, actor="ada.admin", action="personal_data_erased", workflow_id=None, signer=ada, details={
        "target": wid, "keys": keys, "request_seq": asked.seq, "requested_by": "bob.admin", "rule": None})
    day = conn.execute("SELECT json_extract(body, '$.ts') FROM audit_log WHERE seq = ?", (seq,)).fetchone()[0]
    conn.execute("UPDATE privacy_keys SET secret = NULL, erased_seq = ?, erased_on = ? WHERE workflow_id = ?",
                 (seq, day, wid))
    conn.execute("DELETE FROM sealed_values WHERE key_id IN (SELECT key_id FROM privacy_keys WHERE workflow_id = ?)",
                 (wid,))
    result = admins.verify_audit()
    assert not result.ok
    assert f"entry {seq} erased personal data without a waiting request by another administrator" in (
        result.tables_problem or ""), result.summary()
