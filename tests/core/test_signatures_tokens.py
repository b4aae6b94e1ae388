"""Bearer tokens are an administrator's signed act (issue 12): `token_created` and `token_revoked`
carry their administrator's signature, and verify-audit reports one that is unsigned, wrongly
signed, or signed by someone who was no administrator (even while the directory had none)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hitl_tui.core import tokens
from hitl_tui.core.signatures import (ADMIN_ACTIONS, ALWAYS_ADMIN_ACTIONS, SIGNED_ACTIONS, KeyHistory,
                                      entry_manifestation, expectation)
from tests.core.conftest import raw_connection
from tests.forgery import forge_entry

ADMIN = "ian.itadmin"


@pytest.fixture
def desk(service, db_path, db_key):
    """The directory has its administrator; erp.bot is john.doe's integration; a raw connection."""
    service.set_user_admin(ADMIN, True)
    service.add_user("erp.bot", "employee", actor=ADMIN, integration=True, owner="john.doe")
    conn = raw_connection(db_path, db_key)
    yield service, conn
    conn.close()


def _token_details(service, username: str = "erp.bot") -> dict:
    digest = tokens.token_hash("hitl_" + "A" * 43)
    return {"token_id": tokens.id_of(digest), "token_hash": digest, "username": username, "name": None}


def _refused(service, seq: int) -> str:
    result = service.verify_audit()
    assert not result.ok and result.first_bad_seq == seq, (result.first_bad_seq, result.problem)
    return str(result.problem)


def test_the_token_actions_are_signed_and_only_an_administrators():
    assert tokens.ACTIONS <= SIGNED_ACTIONS and tokens.ACTIONS <= ADMIN_ACTIONS
    # with the notifications' administrator entries (core/notifications.py): none of them is part of a set-up
    assert ALWAYS_ADMIN_ACTIONS == tokens.ACTIONS | {"notify_webhook_added", "notify_webhook_removed",
                                                     "notify_email_set", "notify_retry_set"}


def test_making_and_revoking_a_token_is_signed_by_the_administrator(desk):
    service, _conn = desk
    _token, info = tokens.create(service, "erp.bot", "ERP webhooks", actor=ADMIN)
    tokens.revoke(service, info.id, "rotated", actor=ADMIN)
    made, revoked = [e for e in service.iter_audit() if e.action in tokens.ACTIONS]
    kid = service.user_key_ids()[ADMIN]
    assert (made.actor, made.sig["key"]) == (ADMIN, kid) and (revoked.actor, revoked.sig["key"]) == (ADMIN, kid)
    shown = entry_manifestation(made, names={ADMIN: "Ian Itadmin"})
    assert shown is not None and shown.startswith(f"Signed by Ian Itadmin ({ADMIN}), ")
    assert shown.endswith(f": made bearer token {info.id} for erp.bot")
    assert entry_manifestation(revoked).endswith(f": revoked bearer token {info.id} of erp.bot")
    result = service.verify_audit()
    assert result.ok, result.problem
    assert result.signatures_checked == sum(1 for e in service.iter_audit() if e.sig)


def test_an_unsigned_token_entry_is_a_forgery(desk):
    service, conn = desk
    seq = forge_entry(conn, actor=ADMIN, action="token_created", workflow_id=None, details=_token_details(service))
    assert _refused(service, seq) == (f"entry {seq} (token_created by {ADMIN}) is a forgery: it carries no "
                                      f"signature")


def test_a_token_entry_whose_signature_does_not_verify_is_a_forgery(desk):
    service, conn = desk
    kid = service.user_key_ids()[ADMIN]
    seq = forge_entry(conn, actor=ADMIN, action="token_revoked", workflow_id=None,
                      details={"token_id": "tk-000000000000", "username": "erp.bot", "reason": ""},
                      sig={"alg": "ed25519", "key": kid, "value": "cd" * 64})
    assert _refused(service, seq) == (f"entry {seq} (token_revoked by {ADMIN}) is a forgery: its signature does "
                                      f"not verify against {ADMIN}'s key {kid}")


def test_a_token_entry_signed_by_another_key_is_a_forgery(desk):
    service, conn = desk
    seq = forge_entry(conn, actor=ADMIN, action="token_created", workflow_id=None, details=_token_details(service),
                      signer=Ed25519PrivateKey.generate())
    assert f"entry {seq} (token_created by {ADMIN}) is a forgery: it is signed by key" in _refused(service, seq)


def test_a_token_made_by_someone_who_is_no_administrator_is_a_forgery_whatever_its_signature(desk):
    """sarah.manager holds a registered key and signs with it: that proves she signed, not that she
    was allowed to make a token (only an administrator may: tokens.create)."""
    service, conn = desk
    hers = service.personal_keys.newest("sarah.manager").unlock()
    seq = forge_entry(conn, actor="sarah.manager", action="token_created", workflow_id=None,
                      details=_token_details(service), signer=hers)
    assert _refused(service, seq) == (f"entry {seq} (token_created by sarah.manager) is a forgery: sarah.manager "
                                      f"was not an active administrator at that point of the trail")


def test_a_deactivated_administrator_revokes_no_token(desk):
    service, conn = desk
    _token, info = tokens.create(service, "erp.bot", None, actor=ADMIN)
    service.add_user("ola.admin", "it_admin", admin=True, actor=ADMIN)
    service.set_user_active(ADMIN, False, actor="ola.admin")
    mine = service.personal_keys.newest(ADMIN).unlock()
    seq = forge_entry(conn, actor=ADMIN, action="token_revoked", workflow_id=None,
                      details={"token_id": info.id, "username": "erp.bot", "reason": ""}, signer=mine)
    assert f"{ADMIN} was not an active administrator at that point of the trail" in _refused(service, seq)


def test_no_bootstrap_excuses_a_token_entry(service, db_path, db_key):
    """Before the directory has an administrator, its changes may be unsigned (the bootstrap), but
    a token is never part of setting a directory up: an entry making one is a forgery then too."""
    assert service.verify_audit().ok  # the fixture's directory: no administrator, bootstrap entries
    conn = raw_connection(db_path, db_key)
    try:
        seq = forge_entry(conn, actor="john.doe", action="token_created", workflow_id=None,
                          details=_token_details(service))
    finally:
        conn.close()
    assert _refused(service, seq) == (f"entry {seq} (token_created by john.doe) is a forgery: john.doe was not an "
                                      f"active administrator at that point of the trail, and only one makes or "
                                      f"revokes a token")


def test_the_expectation_for_a_token_entry_follows_the_administrators():
    history = KeyHistory()
    rec = {"action": "token_created", "actor": "ann", "details": {"username": "bot"}}
    assert history.bootstrap and expectation(history, 1, rec).forged  # nobody is an administrator yet
    history.apply(1, {"action": "user_added", "details": {"username": "ann", "admin": True}})
    assert expectation(history, 2, rec).forged == ""
    history.apply(2, {"action": "user_admin_changed", "details": {"username": "ann", "after": {"admin": False}}})
    assert "ann was not an active administrator" in expectation(history, 3, rec).forged
