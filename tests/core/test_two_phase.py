"""Team mode's signed writes in two phases (issue 11, S3): the service prepares a write without
writing it, the person signs its statements with the key of THEIR OS account, the service
commits exactly the signed entries. Real service, real database, real keys: each person's key
lives in a key store of its own directory (their account), never in the service's."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hitl_tui.core import draws
from hitl_tui.core.audit import iso, utc_now
from hitl_tui.core.errors import ConcurrentChange, SigningRefused, ValidationFailed
from hitl_tui.core.models import User, WorkflowStatus
from hitl_tui.core.personal_keys import KeyStore
from hitl_tui.core.policy import default_policy_text
from hitl_tui.core.service import WorkflowService
from hitl_tui.core.signatures import public_key_text, statement_of
from hitl_tui.core.store import users as user_sql
from hitl_tui.core.two_phase import TICKET_SECONDS, TwoPhase
from tests.core.conftest import CAST

EXPENSE = {"amount": "5000", "category": "travel"}  # MEDIUM: a manager, then a director
ADMIN = "ian.itadmin"
#: the people who sign on their own accounts in these tests
OUTSIDE = ("sarah.manager", "john.doe", ADMIN)
REAUTH_POLICY = "\n[signing]\nreauth_at = \"HIGH\"\n"


class Team:
    """The service (its own account's key store) and each outside person's account."""

    def __init__(self, service: WorkflowService, accounts: dict[str, KeyStore]) -> None:
        self.service, self.accounts, self.two = service, accounts, TwoPhase(service)

    def sign(self, username: str, prepared) -> list[str]:
        """What the person's own account does: sign each statement with the key it holds."""
        key = self.accounts[username].find(username, prepared.key_id)
        assert key is not None, f"{username}'s account holds no key {prepared.key_id}"
        private = key.unlock()
        return [private.sign(statement).hex() for statement in prepared.statements]

    def run(self, username: str, call):
        prepared = self.two.prepare(username, call)
        return self.two.commit(prepared.ticket, self.sign(username, prepared), username)


@pytest.fixture
def team(tmp_path: Path, db_path: Path, db_key: bytes):
    svc = WorkflowService.open(db_path, key=db_key)
    svc.use_personal_keys_in(tmp_path / "service-account")
    for name, role in CAST.items():
        svc.add_user(name, role, email=f"{name}@example.com")
    svc.add_user("tom.manager", "manager")
    svc.add_user("dana.director", "director")
    svc.set_user_admin(ADMIN, True)  # the directory's administrator (the last bootstrap entry)
    accounts = {}
    for name in OUTSIDE:  # the administrator last: from then on only ian's own account signs for him
        accounts[name] = KeyStore(svc.database_id, root=tmp_path / f"{name}-account")
        svc.register_user_key(name, accounts[name].add(name).public_key, "their own account", actor=ADMIN)
    yield Team(svc, accounts)
    svc.close(checkpoint=False)


def _count(svc: WorkflowService, table: str) -> int:
    return svc._read(lambda conn: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def _state(svc: WorkflowService) -> dict[str, object]:
    """Everything a write could have left behind."""
    tables = ("requests", "approvals", "users", "user_keys", "privacy_keys", "sealed_values", "policies")
    return {"audit": (svc.audit_size(), svc.verify_audit().head_hash), **{t: _count(svc, t) for t in tables}}


def _stored(svc: WorkflowService, seq: int) -> dict:
    """Entry `seq` as its stored (hashed) bytes say."""
    (row,) = [r for batch in svc.iter_audit_rows(start=seq, stop=seq) for r in batch]
    return json.loads(row[1])


# --- every signed write, through the two phases ----------------------------------------------------

def test_the_service_holds_none_of_the_outside_keys(team):
    wid = team.service.create_workflow_request("expense_approval", "Trip", "", "tom.manager", EXPENSE)
    with pytest.raises(SigningRefused, match="is not in this OS account's key store"):
        team.service.approve_workflow(wid, "sarah.manager")  # embedded: nothing here can sign for her


def test_each_signed_write_through_two_phases_is_what_verify_audit_accepts(team):
    svc = team.service
    first = svc.audit_size() + 1
    wid = team.run("john.doe", lambda: svc.create_workflow_request(
        "expense_approval", "Trip to Lyon", "the customer visit", "john.doe", EXPENSE))
    approved = team.run("sarah.manager", lambda: svc.approve_workflow(wid, "sarah.manager", "fine by me"))
    assert approved.status is WorkflowStatus.AWAITING_APPROVAL and approved.current_stage == 1

    other = team.run("john.doe", lambda: svc.create_workflow_request("expense_approval", "Hotel", "", "john.doe",
                                                                     EXPENSE))
    rejected = team.run("sarah.manager", lambda: svc.reject_workflow(other, "sarah.manager", "over budget"))
    assert rejected.status is WorkflowStatus.REJECTED

    third = team.run("john.doe", lambda: svc.create_workflow_request("expense_approval", "Taxi", "", "john.doe",
                                                                     EXPENSE))
    changes = team.run("sarah.manager", lambda: svc.request_changes(third, "sarah.manager", "add the receipt"))
    assert changes.status is WorkflowStatus.CHANGES_REQUESTED
    withdrawn = team.run("john.doe", lambda: svc.withdraw_workflow(third, "john.doe", "not needed"))
    assert withdrawn.status is WorkflowStatus.WITHDRAWN

    newcomer = Ed25519PrivateKey.generate()  # made on nina's own account
    nina_key = public_key_text(newcomer.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    user = team.run(ADMIN, lambda: svc.add_user("nina.new", "manager", email="nina@example.com",
                                                public_key=nina_key, actor=ADMIN))
    assert user.username == "nina.new" and svc.get_user("nina.new").email == "nina@example.com"
    erasure = team.run(ADMIN, lambda: svc.erasure.request(other, "GDPR Art. 17 request", actor=ADMIN))
    assert erasure.target == other and [p.target for p in svc.erasure.pending()] == [other]

    entries = list(svc.iter_audit(start=first))
    assert [e.action for e in entries] == ["created", "approved", "created", "rejected", "created",
                                           "changes_requested", "withdrawn", "user_added", "erasure_requested"]
    for entry in entries:  # each carries the signature its actor's own account made
        holder = team.accounts[entry.actor].newest(entry.actor)
        assert entry.sig["key"] == holder.key_id == svc.user_key_ids()[entry.actor]
    result = svc.verify_audit()
    assert result.ok, result.problem or result.tables_problem
    assert result.tables_checked and result.tables_problem is None  # the tables replay from the trail
    assert result.signatures_checked >= len(entries)
    assert svc.get_workflow(wid).title == "Trip to Lyon"  # the sealed values open: salts and keys replayed


def test_the_entry_carries_exactly_the_signature_given(team):
    svc = team.service
    wid = svc.create_workflow_request("expense_approval", "Trip", "", "tom.manager", EXPENSE)
    prepared = team.two.prepare("sarah.manager", lambda: svc.approve_workflow(wid, "sarah.manager", "ok"))
    assert prepared.signer == "sarah.manager" and len(prepared.statements) == 1 and not prepared.reauth
    assert prepared.key_id == team.accounts["sarah.manager"].newest("sarah.manager").key_id
    assert len(prepared.ticket) == 32 and int(prepared.ticket, 16) >= 0  # 128 random bits
    signatures = team.sign("sarah.manager", prepared)
    team.two.commit(prepared.ticket, signatures, "sarah.manager")
    record = _stored(svc, svc.audit_size())  # the hashed bytes, its comment sealed as she signed it
    assert record["workflow_id"] == wid and record["action"] == "approved"
    assert record["sig"] == {"alg": "ed25519", "key": prepared.key_id, "value": signatures[0]}
    assert statement_of(record, svc.database_id) == prepared.statements[0]  # what she saw is what is stored


def test_prepare_writes_nothing(team):
    svc = team.service
    wid = svc.create_workflow_request("expense_approval", "Trip", "", "tom.manager", EXPENSE)
    before = _state(svc)
    head = svc.policy_in_force().version
    team.two.prepare("john.doe", lambda: svc.create_workflow_request("expense_approval", "New", "words", "john.doe",
                                                                     EXPENSE))
    team.two.prepare("sarah.manager", lambda: svc.approve_workflow(wid, "sarah.manager", "ok"))
    team.two.prepare(ADMIN, lambda: svc.apply_policy(default_policy_text() + REAUTH_POLICY,
                                                     actor=ADMIN))
    assert _state(svc) == before  # no entry, no row, no data key, no sealed value, no policy version
    assert svc.policy_in_force().version == head and not svc.policy.asks_reauth  # the rolled-back one governs nothing
    assert svc.get_workflow(wid).current_stage == 0
    assert team.two.pending() == 3


def test_reauth_is_reported_where_the_policy_asks_for_it(team):
    svc = team.service
    team.run(ADMIN, lambda: svc.apply_policy(default_policy_text() + REAUTH_POLICY, actor=ADMIN))
    assert svc.policy.asks_reauth
    big = svc.create_workflow_request("expense_approval", "Servers", "", "tom.manager",
                                      {"amount": "20000", "category": "equipment"})
    small = svc.create_workflow_request("expense_approval", "Lunch", "", "tom.manager",
                                        {"amount": "50", "category": "meals"})
    assert team.two.prepare("sarah.manager", lambda: svc.approve_workflow(big, "sarah.manager")).reauth
    assert not team.two.prepare("sarah.manager", lambda: svc.approve_workflow(small, "sarah.manager")).reauth


# --- refusals: one line each, nothing written --------------------------------------------------------

@pytest.fixture
def prepared_approval(team):
    svc = team.service
    wid = svc.create_workflow_request("expense_approval", "Trip", "", "dana.director", EXPENSE)
    prepared = team.two.prepare("sarah.manager", lambda: svc.approve_workflow(wid, "sarah.manager", "ok"))
    return wid, prepared


def _refused(team, error, match, ticket, signatures, signer):
    before = _state(team.service)
    with pytest.raises(error, match=match) as raised:
        team.two.commit(ticket, signatures, signer)
    assert "\n" not in str(raised.value) and "nothing was written" in str(raised.value)
    assert _state(team.service) == before
    return raised.value


def test_a_wrong_signature_is_refused(team, prepared_approval):
    wid, prepared = prepared_approval
    stranger = Ed25519PrivateKey.generate()
    _refused(team, SigningRefused, "does not verify against sarah.manager's registered key", prepared.ticket,
             [stranger.sign(prepared.statements[0]).hex()], "sarah.manager")
    assert team.service.get_workflow(wid).current_stage == 0


def test_a_signature_over_another_statement_is_refused(team, prepared_approval):
    wid, prepared = prepared_approval
    svc = team.service
    other = svc.create_workflow_request("expense_approval", "Other", "", "tom.manager", EXPENSE)
    elsewhere = team.two.prepare("sarah.manager", lambda: svc.approve_workflow(other, "sarah.manager", "ok"))
    _refused(team, SigningRefused, "does not verify", prepared.ticket, team.sign("sarah.manager", elsewhere),
             "sarah.manager")


def test_a_malformed_or_missing_signature_is_refused(team, prepared_approval):
    _, prepared = prepared_approval
    _refused(team, SigningRefused, "1 statement.* prepared and 0 signature", prepared.ticket, [], "sarah.manager")
    again = team.two.prepare("sarah.manager", lambda: team.service.approve_workflow(
        prepared_approval[0], "sarah.manager", "ok"))
    _refused(team, SigningRefused, "not an Ed25519 signature", again.ticket, ["zz" * 64], "sarah.manager")


def test_a_ticket_is_used_once(team, prepared_approval):
    wid, prepared = prepared_approval
    signatures = team.sign("sarah.manager", prepared)
    team.two.commit(prepared.ticket, signatures, "sarah.manager")
    _refused(team, SigningRefused, "unknown, expired or already used", prepared.ticket, signatures, "sarah.manager")
    assert [a.approver for a in team.service.get_workflow(wid).approvals] == ["sarah.manager"]


def test_an_expired_ticket_is_refused(team, prepared_approval, monkeypatch):
    wid, prepared = prepared_approval
    start = team.two.clock()
    monkeypatch.setattr(team.two, "clock", lambda: start + TICKET_SECONDS + 1)  # the tickets' clock only
    _refused(team, SigningRefused, "That signing ticket expired", prepared.ticket, team.sign("sarah.manager", prepared),
             "sarah.manager")
    again = team.two.prepare("sarah.manager", lambda: team.service.approve_workflow(wid, "sarah.manager"))
    monkeypatch.setattr(team.two, "clock", lambda: start + 3 * TICKET_SECONDS)
    assert team.two.pending() == 0  # expired ones are dropped, with the data keys their tapes hold
    _refused(team, SigningRefused, "unknown, expired or already used", again.ticket, team.sign("sarah.manager", again),
             "sarah.manager")


def test_another_signer_cannot_commit_someone_elses_ticket(team, prepared_approval):
    wid, prepared = prepared_approval
    signatures = team.sign("sarah.manager", prepared)
    _refused(team, SigningRefused, "prepared for sarah.manager, not john.doe", prepared.ticket, signatures, "john.doe")
    team.two.commit(prepared.ticket, signatures, "sarah.manager")  # still hers to commit
    assert team.service.get_workflow(wid).current_stage == 1


def test_a_signer_prepares_only_their_own_entries(team):
    svc = team.service
    wid = svc.create_workflow_request("expense_approval", "Trip", "", "tom.manager", EXPENSE)
    before = _state(svc)
    with pytest.raises(SigningRefused, match="entry of sarah.manager's, and john.doe signs only their own"):
        team.two.prepare("john.doe", lambda: svc.approve_workflow(wid, "sarah.manager"))
    assert _state(svc) == before and team.two.pending() == 0


def test_someone_else_deciding_meanwhile_refuses_the_commit(team, prepared_approval):
    wid, prepared = prepared_approval
    team.service.approve_workflow(wid, "tom.manager", "mine")  # the stage is decided while she signs
    _refused(team, ConcurrentChange, f"{wid} changed while you were signing; nothing was written",
             prepared.ticket, team.sign("sarah.manager", prepared), "sarah.manager")
    assert [a.approver for a in team.service.get_workflow(wid).approvals] == ["tom.manager"]


def test_a_changed_statement_refuses_the_commit(team):
    """The request went back to its requester and came back: the same action now states another
    revision, so the signature she made is not over what would be written."""
    svc = team.service
    wid = team.run("john.doe", lambda: svc.create_workflow_request("expense_approval", "Trip", "", "john.doe",
                                                                   EXPENSE))
    prepared = team.two.prepare("sarah.manager", lambda: svc.approve_workflow(wid, "sarah.manager", "ok"))
    svc.request_changes(wid, "tom.manager", "add the receipt")
    team.run("john.doe", lambda: svc.resubmit(wid, "john.doe", comments="receipt added"))
    _refused(team, ConcurrentChange, f"{wid} changed while you were signing", prepared.ticket,
             team.sign("sarah.manager", prepared), "sarah.manager")


def test_a_policy_asking_reauth_meanwhile_refuses_the_commit(team):
    svc = team.service
    big = svc.create_workflow_request("expense_approval", "Servers", "", "tom.manager",
                                      {"amount": "20000", "category": "equipment"})
    prepared = team.two.prepare("sarah.manager", lambda: svc.approve_workflow(big, "sarah.manager"))
    assert not prepared.reauth
    team.run(ADMIN, lambda: svc.apply_policy(default_policy_text() + REAUTH_POLICY,
                                             actor=ADMIN))
    _refused(team, ConcurrentChange, "now needs your signing key's passphrase", prepared.ticket,
             team.sign("sarah.manager", prepared), "sarah.manager")


def test_no_key_is_enrolled_or_made_for_anyone_in_two_phase_mode(team):
    svc = team.service
    now = utc_now()
    with svc._write() as conn:  # a person from before signatures, with no key at all
        user_sql.insert(conn, User(username="olga.old", role="manager", created_at=now), iso(now))
        svc._audit(conn, svc.operator, "user_added", None,
                   {"username": "olga.old", "role": "manager", "email": None, "admin": False}, ts=now)
    wid = svc.create_workflow_request("expense_approval", "Trip", "", "tom.manager", EXPENSE)
    before = _state(svc)
    with pytest.raises(SigningRefused, match="olga.old has no registered signing key; on olga.old's own OS account"):
        team.two.prepare("olga.old", lambda: svc.approve_workflow(wid, "olga.old"))
    with pytest.raises(ValidationFailed, match="made on their own OS account"):
        team.two.prepare(ADMIN, lambda: svc.add_user("nina.new", "manager", actor=ADMIN))
    assert _state(svc) == before
    assert svc.personal_keys.keys("olga.old") == [] and svc.personal_keys.keys("nina.new") == []


# --- embedded mode and the draws ----------------------------------------------------------------------

def test_embedded_mode_draws_as_before(team):
    """No tape, no seam: the clock and the random digits are drawn afresh, the local key signs."""
    svc = team.service
    before = utc_now()
    first = svc.create_workflow_request("expense_approval", "One", "", "dana.director", EXPENSE)
    second = svc.create_workflow_request("expense_approval", "Two", "", "dana.director", EXPENSE)
    assert first != second
    decided = svc.approve_workflow(first, "tom.manager", "fine")
    assert decided.current_stage == 1
    entry = svc.get_audit_trail(first)[-1]
    assert before <= entry.timestamp <= utc_now()
    assert entry.sig["key"] == svc.personal_keys.newest("tom.manager").key_id  # this account's key signed
    assert team.two.pending() == 0 and svc.verify_audit().ok


def test_draws_pass_through_record_and_replay():
    before = utc_now()
    assert before <= draws.now() <= utc_now()
    assert draws.token_hex(8) != draws.token_hex(8) and len(draws.token_bytes(5)) == 5
    with draws.recording() as tape:
        drawn = [draws.now(), draws.token_bytes(16), draws.token_hex(16), draws.randbelow(10_000),
                 draws.choice(["a", "b", "c"]), draws.seconds()]
    assert len(tape) == 6
    with draws.replaying(tape) as replay:
        again = [draws.now(), draws.token_bytes(16), draws.token_hex(16), draws.randbelow(10_000),
                 draws.choice(["a", "b", "c"]), draws.seconds()]
        assert replay.remaining == 0
    assert again == drawn
    with draws.replaying(tape), pytest.raises(draws.DrawsDiverged, match="draws token_bytes\\(32\\) where it drew now"):
        draws.token_bytes(32)
    with draws.replaying(draws.Tape()), pytest.raises(ConcurrentChange, match="draws more than it did"):
        draws.now()


def test_a_recording_sees_only_its_own_thread():
    seen: list[str] = []
    with draws.recording() as tape:
        worker = threading.Thread(target=lambda: seen.append(draws.token_hex(4)))
        worker.start()
        worker.join()
    assert len(seen[0]) == 8 and len(tape) == 0
