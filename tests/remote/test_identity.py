"""Who acts is the kernel's word: accounts, the socket's group, the user directory, and
segregation of duties across real OS accounts (conftest.py)."""

from __future__ import annotations

import grp
import json
import re

from tests.remote.conftest import Team

EXPENSE = ("request", "create", "--type", "expense_approval", "--description", "Flights and hotel",
           "-f", "amount=400", "-f", "category=travel")


def _filed(out: str) -> str:
    found = re.search(r"Created (WF-\d+-\d{4})", out)
    assert found, out
    return found.group(1)


def test_clients_can_read_neither_the_database_nor_its_key(team: Team, service):
    alice = team["alice"]
    tried = alice.python("import sys\nfor p in sys.argv[1:]:\n    try:\n        open(p, 'rb').read(1)\n"
                         "        print('read', p)\n    except PermissionError:\n        print('denied', p)",
                         str(team.db), str(team.key_file))
    assert tried.stdout.split() == ["denied", str(team.db), "denied", str(team.key_file)], tried
    # nor can the console script open it in embedded mode: it has neither the file nor a key
    line = alice.refused("request", "list", env={"HITL_SERVER": None, "HITL_DB_PATH": str(team.db)})
    assert line == f"hitl-tui: Permission denied ({team.db}); nothing more was done.", line
    # through the service the same account works, with no key and no access to the file
    assert alice.ok("request", "list", "--view", "visible").exit_code == 0


def test_identity_comes_from_the_kernel_not_from_the_environment_or_a_field(team: Team, service):
    alice, bob = team["alice"], team["bob"]
    forged = {"USER": bob.name, "LOGNAME": bob.name, "SUDO_USER": bob.name, "HITL_USER": bob.name,
              "HITL_OPERATOR": bob.name}
    wid = _filed(alice.ok(*EXPENSE, "--title", "Filed by alice, claiming to be bob", env=forged).stdout)
    with team.peek() as engine:
        assert engine.get_workflow(wid).requester == alice.name
        created = [e for e in engine.get_audit_trail(wid) if e.action == "created"][0]
        assert created.actor == alice.name and created.sig is not None
        assert created.sig["key"] == engine.user_key_ids()[alice.name]  # signed with alice's own key
    wire = alice.wire()
    assert wire.request("whoami")["result"]["username"] == alice.name
    assert wire.request("whoami")["result"]["uid"] == alice.uid
    for method, params in (("whoami", {"username": bob.name}), ("request.list", {"viewer": bob.name}),
                           ("decide.prepare", {"workflow_id": wid, "decision": "approve", "approver": bob.name}),
                           ("request.create.prepare", {"workflow_type": "expense_approval", "title": "x",
                                                       "data": {"amount": "5"}, "requester": bob.name})):
        answer = wire.request(method, params)
        assert answer["error"]["code"] == -32602, answer  # a forged person is refused, never used
        assert "never a parameter" in answer["error"]["message"]
    wire.close()
    # the users list through the service is the directory's; who asks is alice
    listed = {u["username"]: u for u in alice.json("users", "list", "--json")}
    assert {alice.name, bob.name} <= set(listed) and listed[alice.name]["key_id"]


def test_an_account_outside_the_sockets_group_cannot_connect(team: Team, service):
    outsider = team["outsider"]
    line = outsider.refused("request", "list")
    assert line == (f"hitl-tui: Your account may not connect to the hitl-tui service at {team.socket} (permission "
                    f"denied): only members of group {team.group} may; ask an administrator to add you, then log "
                    f"in again."), line
    assert outsider.name not in service.log_text()  # the kernel refused it: the service never saw it
    assert oct(team.socket.stat().st_mode & 0o777) == "0o660" and oct(team.socket.parent.stat().st_mode & 0o777) == "0o750"
    assert team.socket.stat().st_gid == team.socket.parent.stat().st_gid == grp.getgrnam(team.group).gr_gid


def test_an_account_not_in_the_directory_gets_the_unknown_user_line(team: Team, service):
    stranger = team["stranger"]
    line = stranger.refused("request", "list")
    assert line == (f"hitl-tui: No user named '{stranger.name}' in the user directory; an administrator adds "
                    f"people with `hitl-tui users add`."), line
    wire = stranger.wire()
    hello = wire.request("hello")["result"]
    assert hello["username"] == stranger.name and hello["in_directory"] is False and hello["role"] is None
    assert wire.request("users.list")["error"]["data"]["kind"] == "unknown_user"
    wire.close()


def test_segregation_of_duties_holds_across_accounts(team: Team, service):
    alice, bob = team["alice"], team["bob"]
    wid = _filed(alice.ok(*EXPENSE, "--title", "Team offsite").stdout)
    alice.refused("approve", wid, "-m", "looks fine to me", match="segregation of duties")
    assert "Approved" in bob.ok("approve", wid, "-m", "Within budget").stdout
    with team.peek() as engine:
        req = engine.get_workflow(wid)
        assert req.status.value == "approved" and [a.approver for a in req.approvals] == [bob.name]
        approved = [e for e in engine.get_audit_trail(wid) if e.action == "approved"][0]
        assert approved.actor == bob.name and approved.sig["key"] == engine.user_key_ids()[bob.name]
    shown = bob.json("request", "show", wid, "--json")
    assert shown["request"]["status"] == "approved" and shown["request"]["data"]["amount"] == "400.00"
    assert "audit chain verified" in bob.ok("verify-audit").stdout


def test_someone_not_in_the_directory_yet_makes_their_key_through_the_service(team: Team, service):
    """Onboarding: the person cannot open the database, so `key show` asks the service which
    database it is and whether they have a key registered; the key is made on their account."""
    stranger = team["stranger"]
    out = stranger.ok("key", "show").stdout
    public = next(w for w in out.split() if w.startswith("ed25519:"))
    assert f"{stranger.name}'s signing key for database " in out
    assert "It is not registered (no key is registered for you yet)" in out
    assert f"hitl-tui users key register {stranger.name} {public} --reason" in out
    assert stranger.ok("key", "show").stdout == out  # made once, on their own account


def test_a_new_key_is_made_on_the_account_and_signs_once_an_administrator_registers_it(team: Team, service):
    """`key new` in team mode: a rotation on the person's own account; the service only learns
    the public half when an administrator registers it, and the old key signs until then."""
    bob = team["bob"]
    out = bob.ok("key", "new").stdout
    public = next(w for w in out.split() if w.startswith("ed25519:"))
    assert "An administrator registers it (your old key signs until then):" in out
    assert "It is registered" in bob.ok("key", "show").stdout  # still the old one
    team.root_cli("--server", str(team.socket), "users", "key", "register", bob.name, public, "--reason", "rotation")
    shown = bob.ok("key", "show").stdout
    assert public in shown and "It is registered" in shown
    wid = json.loads(team["alice"].ok("request", "create", "--type", "expense_approval", "--title", "Signed anew",
                                      "-f", "amount=90", "-f", "category=travel", "--json").stdout)["id"]
    assert "Approved" in bob.ok("approve", wid, "-m", "with the new key").stdout
