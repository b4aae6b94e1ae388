"""Every human decision signed by the person who made it (issue 10, section 2; contract A)."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hitl_tui.core import tokens
from hitl_tui.core.audit import iso, utc_now
from hitl_tui.core.errors import ReauthRequired, SigningRefused
from hitl_tui.core.models import AgentProposal, Decision, User
from hitl_tui.core.personal_keys import with_passphrase
from hitl_tui.core.policy import default_policy_text
from hitl_tui.core.signatures import (SIGNED_ACTIONS, KeyHistory, check_entry, display_names, entry_manifestation,
                                      key_id, manifestation, parse_public_key, public_key_text, sign, statement)
from hitl_tui.core.store import users as user_sql
from tests.core.conftest import raw_connection
from tests.forgery import approval_details, forge_entry

EXPENSE = {"amount": "5000", "category": "travel"}


def _raw(private) -> bytes:
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _with_admin(service) -> str:
    """The directory gets its administrator (the last bootstrap entry); returns their name."""
    service.set_user_admin("ian.itadmin", True)
    return "ian.itadmin"


def _entries(service):
    return list(service.iter_audit())


# --- the formats (contract A) --------------------------------------------------------------------

def test_statement_bytes_are_the_contract():
    got = statement("db1", "approved", "lisa", "WF-1-0001", "2026-12-01T14:03:22.000000+00:00", {"stage": 1, "a": "é"})
    assert got == ('hitl-tui signed statement v1\n{"action":"approved","actor":"lisa","database_id":"db1",'
                   '"details":{"a":"é","stage":1},"ts":"2026-12-01T14:03:22.000000+00:00","workflow_id":"WF-1-0001"}'
                   ).encode("utf-8")


def test_public_key_text_and_key_id():
    raw = _raw(Ed25519PrivateKey.generate())
    text = public_key_text(raw)
    assert text == "ed25519:" + raw.hex() and parse_public_key(text) == raw
    assert key_id(raw) == hashlib.sha256(raw).hexdigest()[:16]
    for bad in ("ed25519:abcd", raw.hex(), "rsa:" + raw.hex(), "ed25519:" + "zz" * 32):
        with pytest.raises(ValueError, match="is not a public key"):
            parse_public_key(bad)


def test_sign_and_verify_and_what_is_not_signed():
    private = Ed25519PrivateKey.generate()
    raw = _raw(private)
    rec = {"seq": 7, "ts": iso(utc_now()), "actor": "lisa", "action": "approved", "workflow_id": "WF-1",
           "details": {"stage": 0}, "session_id": "s", "prev_hash": "00" * 32}
    rec["sig"] = sign(private, rec, "db1")
    assert rec["sig"]["alg"] == "ed25519" and rec["sig"]["key"] == key_id(raw) and len(rec["sig"]["value"]) == 128
    assert check_entry("db1", 7, rec, raw, key_id(raw), None, "") == ("checked", None)
    # seq, prev_hash and the session are not signed: a signer needs no write lock
    moved = {**rec, "seq": 9, "prev_hash": "11" * 32, "session_id": "other"}
    assert check_entry("db1", 9, moved, raw, key_id(raw), None, "")[1] is None
    for changed in ({"details": {"stage": 1}}, {"actor": "mike"}, {"ts": iso(utc_now())}, {"workflow_id": "WF-2"}):
        assert "does not verify" in check_entry("db1", 7, {**rec, **changed}, raw, key_id(raw), None, "")[1]
    assert "does not verify" in check_entry("db2", 7, rec, raw, key_id(raw), None, "")[1]  # another database


# --- the engine signs ------------------------------------------------------------------------------

def test_every_signed_action_carries_its_actors_signature(service):
    admin = _with_admin(service)
    wid = service.create_workflow_request("expense_approval", "Trip", "", "john.doe", EXPENSE)
    service.request_changes(wid, "sarah.manager", "receipt please")
    service.resubmit(wid, "john.doe", comments="attached")
    service.approve_workflow(wid, "sarah.manager", "ok")
    service.reject_workflow(wid, "mike.director", "no budget")
    other = service.create_workflow_request("expense_approval", "Lunch", "", "john.doe", {"amount": "50", "category": "meals"})
    service.withdraw_workflow(other, "john.doe", "cancelled")
    service.add_user("nina.new", "employee", actor=admin)
    service.set_user_role("nina.new", "manager", actor=admin)
    service.set_user_active("nina.new", False, actor=admin)
    service.set_user_active("nina.new", True, actor=admin)
    service.set_user_admin("nina.new", True, actor=admin)
    service.apply_policy(default_policy_text().replace('"Amount"', '"Total"', 1), actor=admin)
    service.register_user_key("nina.new", service.personal_keys.add("nina.new").public_key, "rotation", actor=admin)
    service.revoke_user_key("nina.new", "left", actor=admin)
    service.add_user("ola.admin", "it_admin", admin=True, actor=admin)  # the erasure's second administrator
    service.erasure.request(other, "asked", actor=admin)
    service.erasure.cancel(other, "not yet", actor="ola.admin")
    service.erasure.request(other, "asked again", actor=admin)
    service.erasure.confirm(other, actor="ola.admin")
    service.apply_policy(service.policy_in_force().text.replace(
        "[types.expense_approval]\n", '[types.expense_approval]\nretain_personal = "PT1S"\n', 1), actor=admin)
    service.erasure.apply_retention(actor=admin, now=utc_now() + timedelta(seconds=5))
    service.add_user("erp.bot", "employee", actor=admin, integration=True, owner="john.doe")
    _token, info = tokens.create(service, "erp.bot", "ERP", actor=admin)
    tokens.revoke(service, info.id, "rotated", actor=admin)
    from hitl_tui.core import notifications

    hook = notifications.add_webhook(service, "https://hooks.example.com/hitl", secret="s" * 32, actor=admin)
    notifications.remove_webhook(service, hook.id, actor=admin)
    notifications.set_email(service, notifications.Smtp(host="smtp.example.com", sender="desk@example.com"),
                            actor=admin)
    notifications.set_retry(service, notifications.Retry(attempts=3), actor=admin)
    notifications.set_prefs(service, "john.doe", email="john@example.com", actor="john.doe")  # their own
    from hitl_tui.core import delegation  # out of office: the delegator's own

    delegation.grant(service, "lisa.executive", "mike.director", (utc_now() + timedelta(days=3)).date().isoformat(),
                     "leave", actor="lisa.executive")
    delegation.end(service, "lisa.executive", actor="lisa.executive")
    from hitl_tui.core import assignment  # reassignment: an administrator's (or a director's)

    third = service.create_workflow_request("expense_approval", "Taxi", "", "john.doe", EXPENSE)
    assignment.reassign(service, third, "tom.manager", "Tom knows the client", actor=admin)
    keys = service.user_key_ids()
    seen = set()
    history = KeyHistory()
    for e in _entries(service):
        if e.action in SIGNED_ACTIONS and e.seq > 10:  # after the bootstrap (the OS login set up the directory)
            assert e.sig is not None, e.action
            held = history.key_of(e.actor)
            assert e.sig["key"] == held.key_id, e.action
            seen.add(e.action)
        history.apply(e.seq, {"action": e.action, "details": e.details})
    assert seen == SIGNED_ACTIONS
    assert keys["sarah.manager"] == history.key_of("sarah.manager").key_id
    result = service.verify_audit()
    assert result.ok, result.problem
    signed = sum(1 for e in _entries(service) if e.sig)
    assert result.signatures_checked == signed and "signatures verified" in result.summary()


def test_an_agents_proposal_confirmed_by_a_human_is_signed_by_the_human(service):
    wid = service.create_workflow_request("expense_approval", "Trip", "", "john.doe", EXPENSE)
    proposal = AgentProposal(agent="assistant", decision=Decision.APPROVE, rationale="within budget")
    service.approve_workflow(wid, "sarah.manager", "agreed", proposal=proposal)
    entry = service.get_audit_trail(wid)[-1]
    assert entry.actor == "sarah.manager" and entry.details["agent_proposal"]["agent"] == "assistant"
    assert entry.sig["key"] == service.user_key_ids()["sarah.manager"]
    assert service.personal_keys.keys("assistant") == []  # no agent ever holds a key
    assert service.verify_audit().ok


def test_keys_are_kept_per_database_and_person_0600_never_in_the_database(service, db_path, db_key):
    key = service.personal_keys.newest("sarah.manager")
    path = service.personal_keys.path("sarah.manager")
    assert path.stat().st_mode & 0o777 == 0o600 and service.database_id in str(path)
    secret = key.secret.encode()
    conn = raw_connection(db_path, db_key)
    blobs = b"".join(bytes(v) if isinstance(v, bytes) else str(v).encode()
                     for t in ("audit_log", "meta", "user_keys", "users") for r in conn.execute(f"SELECT * FROM {t}")
                     for v in r)
    conn.close()
    assert key.public_raw.hex().encode() in blobs and secret not in blobs
    assert key.secret not in repr(key)


# --- the key history: rotation, revocation -----------------------------------------------------------

def test_rotation_keeps_old_signatures_valid_and_signs_with_the_new_key(service):
    admin = _with_admin(service)
    wid = service.create_workflow_request("expense_approval", "Trip", "", "john.doe", EXPENSE)
    old = service.user_key_ids()["john.doe"]
    new = service.personal_keys.add("john.doe")
    assert service.register_user_key("john.doe", new.public_key, "new laptop", actor=admin) == new.key_id
    second = service.create_workflow_request("expense_approval", "Again", "", "john.doe", EXPENSE)
    assert service.get_audit_trail(wid)[0].sig["key"] == old
    assert service.get_audit_trail(second)[0].sig["key"] == new.key_id
    reg = _entries(service)[-2]
    assert reg.action == "user_key_registered" and reg.details["replaces"] == old and reg.details["reason"] == "new laptop"
    assert service.verify_audit().ok


def test_a_revoked_key_signs_nothing_more(service):
    admin = _with_admin(service)
    service.revoke_user_key("john.doe", "laptop lost", actor=admin)
    size = service.audit_size()
    with pytest.raises(SigningRefused, match="john.doe's signing key was revoked.*users key register john.doe"):
        service.create_workflow_request("expense_approval", "Trip", "", "john.doe", EXPENSE)
    assert service.audit_size() == size  # nothing written
    assert "john.doe" not in service.user_key_ids()
    assert service.verify_audit().ok


def test_a_registered_key_held_by_another_account_is_refused_in_one_line(service):
    admin = _with_admin(service)
    elsewhere = public_key_text(_raw(Ed25519PrivateKey.generate()))  # made on john's own account
    service.register_user_key("john.doe", elsewhere, "his own laptop", actor=admin)
    size = service.audit_size()
    with pytest.raises(SigningRefused) as err:
        service.create_workflow_request("expense_approval", "Trip", "", "john.doe", EXPENSE)
    assert "is not in this OS account's key store" in str(err.value)
    assert "`hitl-tui key show`" in str(err.value) and "`hitl-tui users key register john.doe KEY" in str(err.value)
    assert service.audit_size() == size


def test_a_key_cannot_be_two_peoples(service):
    admin = _with_admin(service)
    sarahs = service.personal_keys.newest("sarah.manager").public_key
    with pytest.raises(Exception, match="is sarah.manager's"):
        service.register_user_key("john.doe", sarahs, "mistake", actor=admin)
    with pytest.raises(Exception, match="is not a public key"):
        service.register_user_key("john.doe", "ed25519:1234", "typo", actor=admin)
    with pytest.raises(Exception, match="reason is required"):
        service.register_user_key("john.doe", public_key_text(_raw(Ed25519PrivateKey.generate())), "", actor=admin)
    with pytest.raises(Exception, match="not a user-directory administrator"):
        service.revoke_user_key("sarah.manager", "why not", actor="john.doe")


# --- forgeries --------------------------------------------------------------------------------

@pytest.fixture
def decided(service, db_path, db_key):
    """After the bootstrap: a request awaiting sarah.manager's stage, and a raw connection."""
    _with_admin(service)
    wid = service.create_workflow_request("expense_approval", "Trip", "", "john.doe", EXPENSE)
    conn = raw_connection(db_path, db_key)
    yield service, wid, conn
    conn.close()


def _forged(service, conn, wid, **sig):
    seq = forge_entry(conn, actor="sarah.manager", action="approved", workflow_id=wid, details=approval_details(),
                      **sig)
    result = service.verify_audit()
    assert not result.ok and result.first_bad_seq == seq
    return seq, result.problem


def test_forged_approval_without_signature(decided):
    service, wid, conn = decided
    seq, problem = _forged(service, conn, wid)
    assert problem == f"entry {seq} (approved {wid} by sarah.manager) is a forgery: it carries no signature"


def test_forged_approval_with_a_wrong_signature(decided):
    service, wid, conn = decided
    kid = service.user_key_ids()["sarah.manager"]
    seq, problem = _forged(service, conn, wid, sig={"alg": "ed25519", "key": kid, "value": "ab" * 64})
    assert problem == (f"entry {seq} (approved {wid} by sarah.manager) is a forgery: its signature does not verify "
                       f"against sarah.manager's key {kid}")


def test_forged_approval_signed_by_another_persons_key(decided):
    service, wid, conn = decided
    johns = service.personal_keys.newest("john.doe").unlock()
    seq, problem = _forged(service, conn, wid, signer=johns)
    assert f"is signed by key {service.user_key_ids()['john.doe']}, not by sarah.manager's key" in problem


def test_forged_approval_signed_by_an_unregistered_key(decided):
    service, wid, conn = decided
    seq, problem = _forged(service, conn, wid, signer=Ed25519PrivateKey.generate())
    assert "is a forgery: it is signed by key" in problem


def test_forged_approval_signed_by_a_revoked_key(decided):
    service, wid, conn = decided
    revoked = service.personal_keys.newest("sarah.manager").unlock()
    service.revoke_user_key("sarah.manager", "laptop lost", actor="ian.itadmin")
    seq, problem = _forged(service, conn, wid, signer=revoked)
    assert "its signature cannot be sarah.manager's (sarah.manager's key was revoked)" in problem


def test_forged_first_use_enrolment_for_someone_who_had_a_key(decided):
    service, wid, conn = decided
    mine = Ed25519PrivateKey.generate()
    raw = _raw(mine)
    seq = forge_entry(conn, actor="sarah.manager", action="user_key_registered", workflow_id=None, signer=mine,
                      details={"username": "sarah.manager", "public_key": public_key_text(raw), "key_id": key_id(raw),
                               "replaces": None, "reason": "first use", "first_use": True})
    result = service.verify_audit()
    assert result.first_bad_seq == seq and "enrols a first key for sarah.manager, who already had one" in result.problem


def test_a_person_with_a_key_cannot_make_themselves_an_administrator(decided):
    """A key proves who signed, not that they were allowed to: sarah.manager signs, with her own
    registered key, an entry making her an administrator, then registers a key for someone else."""
    service, _wid, conn = decided
    hers = service.personal_keys.newest("sarah.manager").unlock()
    seq = forge_entry(conn, actor="sarah.manager", action="user_admin_changed", workflow_id=None, signer=hers,
                      details={"username": "sarah.manager", "before": {"admin": False}, "after": {"admin": True}})
    result = service.verify_audit()
    assert result.first_bad_seq == seq
    assert result.problem == (f"entry {seq} (user_admin_changed by sarah.manager) is a forgery: sarah.manager was "
                              "not an active administrator at that point of the trail")


def test_a_self_signed_new_person_after_the_bootstrap_is_a_forgery(decided):
    """Only the first person, while the directory has no administrator, adds themselves."""
    service, _wid, conn = decided
    eve = Ed25519PrivateKey.generate()
    raw = _raw(eve)
    seq = forge_entry(conn, actor="eve", action="user_added", workflow_id=None, signer=eve,
                      details={"username": "eve", "role": "executive", "email": None, "display_name": None,
                               "admin": True, "public_key": public_key_text(raw), "key_id": key_id(raw)})
    result = service.verify_audit()
    assert result.first_bad_seq == seq and "eve was not an active administrator" in result.problem


def test_the_user_keys_table_is_checked_against_the_trail(decided):
    service, _wid, conn = decided
    conn.execute("UPDATE user_keys SET public_key = ? WHERE username = 'sarah.manager'",
                 (public_key_text(_raw(Ed25519PrivateKey.generate())),))
    result = service.verify_audit()
    assert not result.ok and "the registered keys table disagrees with the trail about sarah.manager's key" in result.problem


# --- bootstrap and first use ---------------------------------------------------------------------

def test_bootstrap_entries_are_accepted_unsigned_and_counted(service, db_path, db_key):
    # the fixture's directory has no administrator: the OS login added everyone, unsigned
    result = service.verify_audit()
    unsigned = [e for e in _entries(service) if e.sig is None]
    assert result.ok and result.signatures_bootstrap == len(unsigned) == 9
    admin = _with_admin(service)
    conn = raw_connection(db_path, db_key)
    seq = forge_entry(conn, actor=admin, action="user_role_changed", workflow_id=None,
                      details={"username": "john.doe", "before": {"role": "employee"}, "after": {"role": "executive"}})
    conn.close()
    result = service.verify_audit()
    assert result.first_bad_seq == seq and "carries no signature" in result.problem  # no bootstrap any more


def test_the_first_person_adds_themselves_self_signed(tmp_path):
    from hitl_tui.core.service import WorkflowService

    svc = WorkflowService.open(tmp_path / "first.db", key=bytes(range(32)))
    try:
        svc.add_user("ann", "it_admin", admin=True, actor="ann")
        entry = _entries(svc)[0]
        assert entry.sig["key"] == entry.details["key_id"] == svc.user_key_ids()["ann"]
        result = svc.verify_audit()
        assert result.ok and result.signatures_checked == 1
    finally:
        svc.close(checkpoint=False)


def test_a_legacy_user_enrols_on_first_use(service):
    # a person added before signatures: a user_added entry without a key, as older versions wrote
    now = utc_now()
    with service._write() as conn:
        user_sql.insert(conn, User(username="olga.old", role="manager", created_at=now), iso(now))
        service._audit(conn, service.operator, "user_added", None, {"username": "olga.old", "role": "manager",
                                                                    "email": None, "admin": False}, ts=now)
    _with_admin(service)
    wid = service.create_workflow_request("expense_approval", "Trip", "", "john.doe", EXPENSE)
    service.approve_workflow(wid, "olga.old", "fine")
    enrol, decision = _entries(service)[-2:]
    assert enrol.action == "user_key_registered" and enrol.actor == "olga.old" and enrol.details["first_use"] is True
    assert enrol.sig["key"] == decision.sig["key"] == enrol.details["key_id"] == service.user_key_ids()["olga.old"]
    result = service.verify_audit()
    assert result.ok and result.signatures_first_use == 1 and "1 first-use key enrolments" in result.summary()


# --- re-authentication at signing (21 CFR 11.200) -----------------------------------------------------

REAUTH_POLICY = "\n[signing]\nreauth_at = \"HIGH\"\n"


def test_reauth_needs_the_passphrase_for_each_such_signing(service):
    admin = _with_admin(service)
    service.apply_policy(default_policy_text() + REAUTH_POLICY, actor=admin)
    big = service.create_workflow_request("expense_approval", "Servers", "", "john.doe", {"amount": "20000", "category": "equipment"})
    small = service.create_workflow_request("expense_approval", "Lunch", "", "john.doe", {"amount": "50", "category": "meals"})
    service.approve_workflow(small, "sarah.manager")  # LOW: no passphrase asked
    with pytest.raises(ReauthRequired, match="has none; set one with `hitl-tui key passphrase`"):
        service.decide(big, "sarah.manager", "approve", unlock=lambda: "whatever")
    store = service.personal_keys
    key = store.newest("sarah.manager")
    store.replace(with_passphrase(key, key.unlock(), "correct horse"))
    size = service.audit_size()
    with pytest.raises(ReauthRequired, match="run the command on a terminal"):
        service.decide(big, "sarah.manager", "approve")
    with pytest.raises(ReauthRequired, match="Wrong passphrase"):
        service.decide(big, "sarah.manager", "approve", unlock=lambda: "wrong")
    assert service.audit_size() == size
    asked = []
    service.decide(big, "sarah.manager", "approve", unlock=lambda: asked.append(1) or "correct horse")
    assert asked == [1] and service.get_audit_trail(big)[-1].sig["key"] == key.key_id
    # the next such decision asks again: an unlocked key is never reused for re-authentication
    with pytest.raises(ReauthRequired):
        service.decide(big, "mike.director", "approve")  # mike's key has no passphrase either
    assert service.verify_audit().ok


def test_policy_reauth_at_is_validated():
    from hitl_tui.core.errors import PolicyError
    from hitl_tui.core.models import RiskLevel
    from hitl_tui.core.policy import build_policy
    import tomllib

    raw = tomllib.loads(default_policy_text())
    raw["types"]["expense_approval"]["reauth_at"] = "CRITICAL"
    policy = build_policy(raw, "test")
    assert policy.asks_reauth and policy.reauth_required("expense_approval", RiskLevel.CRITICAL)
    assert not policy.reauth_required("expense_approval", RiskLevel.HIGH)
    raw["types"]["expense_approval"]["reauth_at"] = "SEVERE"
    with pytest.raises(PolicyError, match="reauth_at 'SEVERE' is not a risk level"):
        build_policy(raw, "test")
    raw["types"]["expense_approval"].pop("reauth_at")
    raw["signing"] = {"reauth": "HIGH"}
    with pytest.raises(PolicyError, match=r"\[signing\] has unknown key 'reauth'"):
        build_policy(raw, "test")


# --- the manifestation -------------------------------------------------------------------------

def test_manifestation_printed_name_time_and_meaning(service):
    service.add_user("lisa.director", "director", display_name="Lisa Director")
    wid = service.create_workflow_request("expense_approval", "Kit", "", "john.doe", {"amount": "5000", "category": "equipment"})
    service.approve_workflow(wid, "sarah.manager")
    service.approve_workflow(wid, "lisa.director")
    entry = service.get_audit_trail(wid)[-1]
    names = display_names(service.list_users())
    line = entry_manifestation(entry, names=names, zone=timezone.utc)
    stamp = entry.timestamp.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    assert line == f"Signed by Lisa Director (lisa.director), {stamp} UTC: approved as Director, stage 2 of 2"
    first = entry_manifestation(service.get_audit_trail(wid)[1], names=names, zone=timezone.utc)
    assert first.startswith("Signed by sarah.manager, ")  # no display name: the username is the printed name
    assert manifestation({"action": "approved", "actor": "x", "ts": entry.timestamp.isoformat()}) is None  # unsigned


# --- the parallel pass ---------------------------------------------------------------------------

def test_the_pass_over_worker_processes_counts_and_finds_the_same(tmp_path):
    from hitl_tui.core import signature_check
    from hitl_tui.core.audit import ChainWalker

    private = Ed25519PrivateKey.generate()
    raw = _raw(private)
    setup = {"seq": 1, "ts": iso(utc_now()), "actor": "ann", "action": "user_added", "workflow_id": None,
             "details": {"username": "ann", "role": "it_admin", "admin": True, "public_key": public_key_text(raw),
                         "key_id": key_id(raw)}}
    setup["sig"] = sign(private, setup, "db")
    rows = [(1, json.dumps(setup, sort_keys=True, separators=(",", ":")).encode())]
    for seq in range(2, 3002):
        rec = {"seq": seq, "ts": iso(utc_now()), "actor": "ann", "action": "created", "workflow_id": f"WF-{seq}",
               "details": {"n": seq}}
        rec["sig"] = sign(private, rec, "db")
        if seq == 2500:
            rec["details"] = {"n": -1}  # edited after signing
        rows.append((seq, json.dumps(rec, sort_keys=True, separators=(",", ":")).encode()))
    outcomes = []
    for workers in (1, 2):
        sp = signature_check.SignaturePass("db", signature_check.POOL_FROM, workers=workers)
        assert (sp._pool is not None) == (workers == 2)
        sp.feed(rows, len(rows))
        walker = ChainWalker()
        counts = sp.finish(walker)
        outcomes.append((walker.bad_seq, walker.problem))
        assert walker.bad_seq == 2500 and "does not verify against ann's key" in walker.problem
        assert counts["signatures_checked"] >= 1
    assert outcomes[0] == outcomes[1]
