"""The administrators' commands in team mode, through the service, each signed on the
administrator's own OS account (conftest.py: real accounts, a real `hitl-tui serve`).

Three more accounts for this module, members of the socket's group: dana and eli, directory
administrators (root, the first administrator, adds them with the keys their own accounts made),
and nora, a newcomer whom they add, change, erase. bob (a manager, not an administrator) tries
every administrator's command and gets the engine's one line, with nothing written.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from hitl_tui.core.checkpoints import read_checkpoint_file
from hitl_tui.core.personal_keys import KeyStore
from hitl_tui.core.signatures import key_id, parse_public_key
from tests.remote.conftest import _MAKE_KEY, Account, Team, _account

# one worker holds the module's accounts and the order of its steps (pyproject: --dist loadgroup)
pytestmark = pytest.mark.xdist_group("remote-admin")

_NEW_KEY = ("import sys; from hitl_tui.core.personal_keys import KeyStore; "
            "print(KeyStore(sys.argv[1]).add(sys.argv[2]).public_key)")


@dataclass
class Admins:
    dana: Account
    eli: Account
    nora: Account


@pytest.fixture(scope="module")
def admins(team: Team) -> Iterator[Admins]:
    suffix = team["alice"].name[2:]
    made = {key: _account(team, key, f"{prefix}{suffix}", team.group)
            for key, prefix in (("dana", "hd"), ("eli", "he"), ("nora", "hn"))}
    for key in ("dana", "eli"):
        account = made[key]
        public = account.python(_MAKE_KEY, team.database_id, account.name)  # on their own account
        assert public.returncode == 0, public.stderr
        team.root_cli("users", "add", account.name, "--role", "director", "--admin", "--key", public.stdout.strip(),
                      "--email", f"{key}@example.com")
    yield Admins(made["dana"], made["eli"], made["nora"])


def _not_admin(account: Account) -> str:
    return f"hitl-tui: {account.name} is not a user-directory administrator; ask one"


def _size(team: Team) -> int:
    with team.peek() as engine:
        return engine.audit_size()


def _signed_since(team: Team, size: int) -> list[tuple[str, str]]:
    """(action, actor) of each entry after `size`, once each is checked signed with the key its
    actor had registered at the time (replayed from the trail's own key entries)."""
    registered: dict[str, str | None] = {}
    done = []
    with team.peek() as engine:
        for e in engine.iter_audit():
            if e.seq > size:
                assert e.sig is not None and e.sig["key"] == registered[e.actor], (e.seq, e.action, e.actor, e.sig)
                done.append((e.action, e.actor))
            if e.action in ("user_added", "user_key_registered"):
                registered[e.details["username"]] = e.details["key_id"]
            elif e.action == "user_key_revoked":
                registered[e.details["username"]] = None
    return done


def _refused_unwritten(team: Team, account: Account, *args: str, match: str) -> str:
    size = _size(team)
    line = account.refused(*args)
    assert line.startswith(match), line
    assert _size(team) == size, f"{args} as {account.name} wrote to the trail"
    return line


def _give(account: Account, name: str, text: str) -> Path:
    """A file of `account`'s own, in its home (only it, and root, may read it)."""
    path = account.home / name
    path.write_text(text)
    os.chown(path, account.uid, account.gid)
    path.chmod(0o600)
    return path


def _public_key(shown: str) -> str:
    return next(word for word in shown.split() if word.startswith("ed25519:"))


def test_an_administrator_changes_the_directory_and_its_keys_and_no_one_else_can(team: Team, admins: Admins,
                                                                                 service):
    dana, nora, bob = admins.dana, admins.nora, team["bob"]
    first = _public_key(nora.ok("key", "show").stdout)  # made on nora's account, before she is in the directory
    add = ("users", "add", nora.name, "--role", "employee", "--email", "nora@example.com", "--name", "Nora Newcomer")
    _refused_unwritten(team, bob, *add, "--key", first, match=_not_admin(bob))
    line = _refused_unwritten(team, dana, *add, match=f"hitl-tui: {nora.name}'s signing key is made on their own OS")
    assert "`hitl-tui key show`" in line and "--key" in line, line

    size = _size(team)
    assert dana.ok(*add, "--key", first).stdout.strip() == f"Added {nora.name} (Employee)."
    with team.peek() as engine:
        assert engine.user_key_ids()[nora.name] == key_id(parse_public_key(first))
    service_store = KeyStore(team.database_id, root=team.root_home / "data" / "hitl-tui" / "personal-keys")
    assert service_store.newest("root") is not None  # the service's own store (init made root's key there) ...
    assert service_store.newest(nora.name) is None  # ... holds no key for her

    made = nora.python(_NEW_KEY, team.database_id, nora.name)
    assert made.returncode == 0, made.stderr
    second = made.stdout.strip()
    steps = [(("users", "set-role", nora.name, "manager"), "role is now Manager"),
             (("users", "set-admin", nora.name), "administrator rights granted"),
             (("users", "set-admin", nora.name, "--revoke"), "administrator rights removed"),
             (("users", "deactivate", nora.name), f"Deactivated {nora.name} (Manager, DEACTIVATED)."),
             (("users", "reactivate", nora.name), f"Reactivated {nora.name} (Manager)."),
             (("users", "key", "register", nora.name, second, "--reason", "new laptop"),
              f"Registered key {key_id(parse_public_key(second))} for {nora.name}"),
             (("users", "key", "revoke", nora.name, "--reason", "laptop lost"),
              f"Revoked {nora.name}'s key {key_id(parse_public_key(second))}")]
    for args, said in steps:
        _refused_unwritten(team, bob, *args, match=_not_admin(bob))
        out = dana.ok(*args).stdout
        assert said in out, (args, out)

    assert _signed_since(team, size) == [(a, dana.name) for a in (
        "user_added", "user_role_changed", "user_admin_changed", "user_admin_changed", "user_deactivated",
        "user_reactivated", "user_key_registered", "user_key_revoked")]
    listed = {u["username"]: u for u in bob.json("users", "list", "--json")}
    assert listed[nora.name] | {"created_at": None} == {
        "username": nora.name, "role": "manager", "email": "nora@example.com", "display_name": "Nora Newcomer",
        "active": True, "admin": False, "created_at": None, "key_id": None, "integration": False, "owner": None}


RETAINED = 'retain_personal = "PT1S"\n'
CUSTOMER = "Erika Mustermann-Zweig"


def test_policy_show_diff_apply_then_resubmit_and_retention(team: Team, admins: Admins, service):
    dana, alice, bob = admins.dana, team["alice"], team["bob"]
    shown = dana.ok("policy", "show").stdout
    before = bob.json("policy", "show", "--json")  # anyone in the directory reads it
    assert before["toml"] in shown and before["toml"].count("[types.refund_approval]\n") == 1
    text = before["toml"].replace("[types.refund_approval]\n", "[types.refund_approval]\n" + RETAINED, 1)
    mine, bobs = _give(dana, "retain.toml", text), _give(bob, "retain.toml", text)  # read on each client

    diff = dana.ok("policy", "diff", str(mine)).stdout
    assert f"+{RETAINED}" in diff and "Summary: " in diff, diff
    _refused_unwritten(team, bob, "policy", "apply", str(bobs), match=_not_admin(bob))
    size = _size(team)
    applied = dana.ok("policy", "apply", str(mine)).stdout
    version = before["version"] + 1
    assert applied.startswith(f"Applied policy version {version} (sha256 "), applied
    after = bob.json("policy", "show", "--json")
    assert after["version"] == version and after["applied_by"] == dana.name and RETAINED in after["toml"]
    assert str(mine) in after["applied_from"]  # the path on dana's side, read there
    assert _signed_since(team, size) == [("policy_applied", dana.name)]

    # request resubmit: the requester alone, through the service
    filed = alice.json("request", "create", "--type", "refund_approval", "--title", "Refund for a broken kettle",
                       "-f", "amount=120", "-f", f"customer={CUSTOMER}", "--json")
    wid = filed["id"]
    bob.ok("request-changes", wid, "-m", "Which order was it?")
    _refused_unwritten(team, bob, "request", "resubmit", wid, "-f", "order_id=A-17",
                       match=f"hitl-tui: Only {alice.name}, who requested {wid}, may resubmit it.")
    size = _size(team)
    out = alice.ok("request", "resubmit", wid, "-f", "order_id=A-17", "-m", "Added the order").stdout
    assert out.startswith(f"Resubmitted {wid} as revision 2: LOW risk"), out
    assert _signed_since(team, size) == [("resubmitted", alice.name)]
    alice.ok("withdraw", wid, "-m", "Sorted out by phone")

    # retention under the rule dana applied: anyone lists what is due, an administrator erases it
    time.sleep(1.2)  # PT1S after the withdrawal
    assert bob.json("retention", "--json") == [{"workflow_id": wid, "workflow_type": "refund_approval",
                                                "retain": "PT1S"}]
    _refused_unwritten(team, bob, "retention", "--apply", match=_not_admin(bob))
    size = _size(team)
    expired = dana.ok("retention", "--apply").stdout
    assert expired.startswith("Expired the personal data of 1 refund_approval request ("), expired
    assert _signed_since(team, size) == [("personal_data_expired", dana.name)]
    shown = alice.ok("request", "show", wid).stdout
    assert "erased on " in shown and CUSTOMER not in shown and "order_id = A-17" in shown, shown


def test_two_administrators_on_two_accounts_erase_a_person(team: Team, admins: Admins, service):
    dana, eli, nora, bob = admins.dana, admins.eli, admins.nora, team["bob"]
    with team.peek() as engine:
        if engine.find_user(nora.name) is None:  # run alone: the first test adds her
            team.root_cli("users", "add", nora.name, "--role", "employee", "--email", "nora@example.com",
                          "--key", _public_key(nora.ok("key", "show").stdout))
    size = _size(team)
    dana.ok("users", "deactivate", nora.name)
    reason = "GDPR Art. 17 request of 2026-11-30"
    _refused_unwritten(team, bob, "erase", nora.name, "--reason", reason, match=_not_admin(bob))
    asked = dana.ok("erase", nora.name, "--reason", reason).stdout
    assert f"A second administrator carries it out with: hitl-tui erase {nora.name} --confirm" in asked
    listed = eli.ok("erase", "--list").stdout
    assert f"{nora.name}  asked by {dana.name} at " in listed and reason in listed, listed
    cancelled = eli.ok("erase", nora.name, "--cancel", "--reason", "Asked about the wrong person").stdout
    assert cancelled.startswith(f"Cancelled the erasure of {nora.name} that {dana.name} asked for"), cancelled
    dana.ok("erase", nora.name, "--reason", reason)
    _refused_unwritten(team, dana, "erase", nora.name, "--confirm",
                       match=f"hitl-tui: You ({dana.name}) requested this erasure; a second administrator")
    done = eli.ok("erase", nora.name, "--confirm").stdout
    assert done.startswith(f"Erased the personal data of {nora.name}: "), done

    assert _signed_since(team, size) == [("user_deactivated", dana.name), ("erasure_requested", dana.name),
                                         ("erasure_cancelled", eli.name), ("erasure_requested", dana.name),
                                         ("personal_data_erased", eli.name)]
    assert eli.ok("erase", "--list").stdout.strip() == "No erasure is waiting for a second administrator."
    listed = {u["username"]: u for u in bob.json("users", "list", "--json")}
    assert listed[nora.name]["email"].startswith("erased on "), listed[nora.name]


def test_the_service_signs_a_checkpoint_the_client_keeps_and_the_chain_verifies(team: Team, admins: Admins,
                                                                                service):
    dana, bob = admins.dana, team["bob"]
    out = dana.ok("checkpoint", "-o", "kept.checkpoint").stdout
    kept = dana.home / "kept.checkpoint"
    assert kept.stat().st_uid == dana.uid  # written by dana's own process, on her side
    with team.peek() as engine:
        first_seal, stored = engine.stored_checkpoints()[0], engine.stored_checkpoints()[-1]
        size = engine.audit_size()
    assert stored.size == size and f"Signed checkpoint: {size:,} entries" in out, out
    cp = read_checkpoint_file(kept, [stored.public_key])  # its signature verified
    assert cp.note == stored.note and cp.head_hash == stored.head_hash
    assert stored.public_key == first_seal.public_key  # the service account's key, which sealed init's session

    note = bob.ok("checkpoint").stdout  # a member asks for one too: the service signs it
    assert note.startswith(f"hitl-tui.local/{team.database_id}\n{size}\n"), note
    assert "Result: verified." in bob.ok("verify-audit").stdout
    with team.peek() as engine:
        result = engine.verify_audit()
    assert result.ok and result.tables_problem is None, result.summary()
