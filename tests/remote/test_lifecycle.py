"""The service's life and its clients' faults: a client killed mid-request, SIGTERM, changes
pushed to a subscribed client, and what a client says when the service is not there."""

from __future__ import annotations

import base64
import json
import time

from hitl_tui.core.personal_keys import KeyStore
from tests.remote.conftest import Account, Team


def _file(alice: Account, title: str) -> str:
    out = alice.ok("request", "create", "--type", "expense_approval", "--title", title, "-f", "amount=250",
                   "-f", "category=travel", "--json").stdout
    return json.loads(out)["id"]


def _signatures(team: Team, account: Account, prepared: dict) -> list[str]:
    """What the account's own client signs: each statement, with its key (read here as root)."""
    store = KeyStore(team.database_id, root=account.home / "data" / "hitl-tui" / "personal-keys")
    private = store.find(account.name, prepared["key_id"]).unlock(None)
    return [private.sign(base64.b64decode(s)).hex() for s in prepared["statements"]]


def test_a_client_killed_mid_request_changes_nothing_half_way(team: Team, service):
    alice, bob = team["alice"], team["bob"]
    wid = _file(alice, "Killed before signing")
    with team.peek() as engine:
        size = engine.audit_size()
    wire = bob.wire()
    prepared = wire.request("decide.prepare", {"workflow_id": wid, "decision": "approve", "comments": "ok"})["result"]
    assert prepared["signer"] == bob.name and len(prepared["statements"]) == 1
    wire.kill()  # kill -9 between prepare and commit
    with team.peek() as engine:
        assert engine.audit_size() == size and engine.get_workflow(wid).status.value == "awaiting_approval"
        assert not engine.get_workflow(wid).approvals
    # killed right after sending its commit: the write is whole or absent, never half
    wid2 = _file(alice, "Killed while committing")
    wire = bob.wire()
    prepared = wire.request("decide.prepare", {"workflow_id": wid2, "decision": "approve"})["result"]
    wire.send(json.dumps({"jsonrpc": "2.0", "id": 99, "method": "decide.commit",
                          "params": {"ticket": prepared["ticket"],
                                     "signatures": _signatures(team, bob, prepared)}}).encode() + b"\n")
    wire.kill()
    assert bob.ok("request", "list", "--view", "visible").exit_code == 0  # the service carries on
    with team.peek() as engine:
        req = engine.get_workflow(wid2)
        entries = [e.action for e in engine.get_audit_trail(wid2)]
        assert (req.status.value, entries) in (("approved", ["created", "approved"]),
                                               ("awaiting_approval", ["created"])), (req.status, entries)
        assert len(req.approvals) == entries.count("approved")
        result = engine.verify_audit()
        assert result.ok and result.tables_problem is None, result.summary()
    # the abandoned ticket of the first one held nothing: bob decides it normally
    assert "Approved" in bob.ok("approve", wid, "-m", "after the crash").stdout


def test_a_change_is_pushed_to_a_subscribed_client(team: Team, service):
    alice, bob = team["alice"], team["bob"]
    listener = alice.listen()  # alice's RemoteService, on_change
    wid = _file(alice, "Pushed to the other desk")
    created = listener.next(10)
    assert wid in created["workflow_ids"]
    started = time.monotonic()
    bob.ok("approve", wid, "-m", "fine")
    decided = listener.next(10)
    assert decided["workflow_ids"] == [wid] and time.monotonic() - started < 10
    with team.peek() as engine:
        size = engine.audit_size()
        head = [e for e in engine.iter_audit(start=size)][0].hash
    assert decided["audit_size"] == size == created["audit_size"] + 1 and decided["audit_head"] == head
    listener.close()


def test_sigterm_finishes_what_it_took_seals_a_checkpoint_and_exits_0(team: Team):
    service = team.start_service()
    _file(team["alice"], "Before the stop")
    wires = [team[name].wire() for name in ("alice", "bob")]
    for n, wire in enumerate(wires):
        wire.send(json.dumps({"jsonrpc": "2.0", "id": n + 1, "method": "verify"}).encode() + b"\n")
    assert service.stop() == 0
    for wire in wires:  # every request taken was answered: a result, or "stopping"
        answer = wire.next(10)
        assert answer is not None and ("result" in answer or answer["error"]["code"] == -32003), answer
        if "result" in answer:
            assert answer["result"]["ok"] is True
        assert wire.closed_by_service()
    assert not team.socket.exists()
    with team.peek() as engine:
        sealed = engine.stored_checkpoints()[-1]
        assert sealed.size == engine.audit_size()
    assert "sealed a checkpoint of the audit chain; stopped" in service.log_text()


def test_without_the_service_and_outside_the_slice_each_command_says_so_in_one_line(team: Team, service):
    alice = team["alice"]
    assert alice.refused("init") == (
        f"hitl-tui: `hitl-tui init` is not available in team mode yet (the service at {team.socket}, from "
        f"HITL_SERVER); run it on the service's account, or unset HITL_SERVER.")
    assert "terminal" in alice.refused()  # the desk opens in team mode; with no terminal it says so
    alice.refused("--server", str(team.socket), "init", match="`hitl-tui init` is not available in team mode yet")
    assert service.stop() == 0
    assert alice.refused("request", "list") == (
        f"hitl-tui: The hitl-tui service is not running at {team.socket} (connection refused); start it with "
        f"`hitl-tui serve` or unset HITL_SERVER.")


def test_the_key_may_come_from_systemd_credentials(team: Team):
    credentials = team.base / "credentials"
    credentials.mkdir(mode=0o700, exist_ok=True)
    (credentials / "hitl-db-key").write_bytes(team.key_file.read_bytes())
    (credentials / "hitl-db-key").chmod(0o400)  # as LoadCredential= leaves it
    service = team.start_service(env={"HITL_DB_KEY_FILE": None, "CREDENTIALS_DIRECTORY": str(credentials)})
    try:
        assert team["bob"].ok("request", "list", "--view", "visible").exit_code == 0
    finally:
        assert service.stop() == 0


def test_one_verification_serves_every_desk_until_the_trail_grows(team: Team, service):
    """verify runs off the engine thread, once for everyone asking while the head stands still."""
    alice, bob = team["alice"], team["bob"]
    runs = lambda: service.log_text().count("verified the audit trail for the desks")  # noqa: E731
    before = runs()
    answers = [who.ok("verify-audit").stdout for who in (alice, bob, alice)]
    assert all("audit chain verified" in a for a in answers) and runs() == before + 1
    _file(alice, "Grows the trail")
    assert "audit chain verified" in bob.ok("verify-audit").stdout and runs() == before + 2
