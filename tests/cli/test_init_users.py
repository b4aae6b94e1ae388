"""init, users, locate and rekey: success paths, refusals, and nothing written on a refusal."""

from __future__ import annotations

import os
import stat

import pytest

from .conftest import CAST, ME


def test_init_creates_db_key_and_first_admin(cli):
    result = cli.ok("init", "--role", "compliance", "--email", "me@example.com", "--name", "Me Myself")
    assert cli.db.exists() and stat.S_IMODE(cli.key_file.stat().st_mode) == 0o600
    assert "first user-directory administrator" in result.stdout and ME in result.stdout
    users = cli.json("users", "list", "--json")
    assert users == [{"username": ME, "role": "compliance", "email": "me@example.com", "display_name": "Me Myself",
                      "active": True, "admin": True, "created_at": users[0]["created_at"],
                      "key_id": users[0]["key_id"], "integration": False, "owner": None}]
    assert len(users[0]["key_id"]) == 16  # the key the first administrator signs with
    with cli.service() as s:
        assert s.verify_audit().ok and s.stored_checkpoints()  # the new log is sealed by a checkpoint


def test_init_refuses_an_existing_database_and_changes_nothing(cli):
    cli.ok("init")
    before = (cli.db.read_bytes(), cli.key_file.read_bytes())
    cli.refused("init", match="already exists")
    assert (cli.db.read_bytes(), cli.key_file.read_bytes()) == before


def test_init_with_bad_input_creates_nothing(cli):
    cli.refused("init", "--role", "wizard", match="Unknown role")
    cli.refused("init", "--email", "not-an-address", match="email")
    assert not cli.db.exists() and not cli.key_file.exists()


def test_init_without_anywhere_to_keep_a_key_is_refused(cli):
    env = {"HITL_DB_KEY_FILE": None}  # fail keyring (conftest), no passphrase, no terminal
    cli.refused("init", env=env, match="No safe place")
    assert not cli.db.exists()


def test_users_lifecycle(ready):
    cli = ready
    assert "Added nora.new (Manager, administrator)" in cli.ok(
        "users", "add", "nora.new", "--role", "manager", "--email", "nora@example.com", "--admin").stdout
    assert "role is now Director" in cli.ok("users", "set-role", "john.doe", "director").stdout
    assert "Deactivated" in cli.ok("users", "deactivate", "john.doe").stdout
    assert "john.doe" not in {u["username"] for u in cli.json("users", "list", "--active-only", "--json")}
    cli.ok("users", "reactivate", "john.doe")
    cli.ok("users", "set-admin", "carol.compliance")
    users = {u["username"]: u for u in cli.json("users", "list", "--json")}
    assert users["john.doe"]["role"] == "director" and users["john.doe"]["active"]
    assert users["carol.compliance"]["admin"] and users["nora.new"]["admin"]
    table = cli.ok("users", "list").stdout
    assert all(name in table for name in CAST)
    with cli.service() as s:
        actions = [e.action for e in s.iter_audit()]
    assert actions.count("user_role_changed") == 1 and "user_deactivated" in actions


def test_users_refusals_write_nothing(ready):
    cli = ready
    size = cli.audit_size()
    cli.refused("users", "add", "john.doe", "--role", "employee", match="already in the user directory")
    cli.refused("users", "add", "bad name!", "--role", "employee", match="not valid")
    cli.refused("users", "add", "x.y", "--role", "wizard", match="Unknown role")
    cli.refused("users", "set-role", "ghost", "manager", match="No user named 'ghost'")
    cli.refused("users", "set-admin", ME, "--revoke", match="cannot remove your own")
    assert cli.audit_size() == size


def test_only_administrators_change_the_directory(ready):
    cli = ready
    with cli.service() as s:
        s.set_user_admin("ian.itadmin", True, actor=ME)
        s.set_user_admin(ME, False, actor="ian.itadmin")
    cli.refused("users", "add", "eve", "--role", "executive", match="not a user-directory administrator")
    assert "eve" not in {u["username"] for u in cli.json("users", "list", "--json")}


def test_wrong_key_and_missing_database_are_one_line(ready, tmp_path):
    other = tmp_path / "other.key"
    other.write_text(os.urandom(32).hex())
    other.chmod(0o600)
    cli = ready
    cli.refused("users", "list", env={"HITL_DB_KEY_FILE": str(other)}, match="wrong key")
    cli.refused("request", "list", env={"HITL_DB_PATH": str(tmp_path / "nope.db")}, match="No database")
    loose = tmp_path / "loose.key"
    loose.write_text(cli.key.hex())
    loose.chmod(0o644)
    cli.refused("users", "list", env={"HITL_DB_KEY_FILE": str(loose)}, match="chmod 600")


def test_locate(ready):
    info = ready.json("locate", "--json")
    assert info["database"] == str(ready.db) and info["database_exists"]
    assert info["key_source"] == "key-file" and info["key_detail"] == str(ready.key_file)
    assert info["database_id"] and info["signing_key"].endswith(f"{info['database_id']}.ed25519")
    assert info["signing_key_exists"] and info["policy"]["source"] == "database" and info["policy"]["version"] == 1
    text = ready.ok("locate").stdout
    assert "Database key:" in text and "key-file" in text


def test_locate_before_init(cli):
    info = cli.json("locate", "--json")
    assert not info["database_exists"] and info["key_source"] == "none"


def test_rekey_rotates_and_stores_the_new_key(ready):
    cli = ready
    old = cli.key
    result = cli.ok("rekey")
    assert "Rotated the key" in result.stdout
    assert cli.key != old and stat.S_IMODE(cli.key_file.stat().st_mode) == 0o600
    with cli.service() as s:  # opens with the new key; the rotation is in the audit log
        assert s.verify_audit().ok
        assert [e.action for e in s.iter_audit()][-1] == "key_rotated"
    from hitl_tui.core.errors import WrongKey
    from hitl_tui.core.service import WorkflowService

    with pytest.raises(WrongKey):
        WorkflowService.open(cli.db, key=old, create=False)


def test_rekey_refuses_a_key_it_cannot_store(ready):
    cli = ready
    env = {"HITL_DB_KEY_FILE": None, "HITL_DB_KEY": cli.key.hex()}
    size = cli.audit_size()
    cli.refused("rekey", env=env, match="HITL_DB_KEY")
    assert cli.audit_size() == size  # refused before anything was written
    cli.ok("users", "list", env=env)  # the old key still opens it


def test_rekey_needs_an_administrator(ready):
    cli = ready
    with cli.service() as s:
        s.set_user_admin("ian.itadmin", True, actor=ME)
        s.set_user_admin(ME, False, actor="ian.itadmin")
    old = cli.key
    cli.refused("rekey", match="not a user-directory administrator")
    assert cli.key == old
    cli.ok("users", "list")


@pytest.mark.keyring
def test_init_keeps_the_key_in_a_real_keyring_and_rekey_updates_it(cli, real_keyring):
    import keyring

    from hitl_tui.core.keys import KEYRING_SERVICE, keyring_username

    env = {"HITL_DB_KEY_FILE": None}
    assert "Secret Service" in cli.ok("init", env=env).stdout
    stored = keyring.get_password(KEYRING_SERVICE, keyring_username(cli.db))
    assert len(bytes.fromhex(stored)) == 32 and not cli.key_file.exists()
    assert cli.json("locate", "--json", env=env)["key_source"] == "keyring"
    cli.ok("rekey", env=env)
    assert keyring.get_password(KEYRING_SERVICE, keyring_username(cli.db)) != stored
    assert cli.json("verify-audit", "--json", env=env)["ok"]


def test_passphrase_database_works_and_refuses_rekey(cli):
    env = {"HITL_DB_KEY_FILE": None, "HITL_DB_PASSPHRASE": "correct horse battery staple"}
    assert "passphrase" in cli.ok("init", env=env).stdout
    assert cli.json("users", "list", "--json", env=env)[0]["username"] == ME
    cli.refused("rekey", env=env, match="passphrase-derived key cannot be rotated")
    cli.refused("users", "list", env={**env, "HITL_DB_PASSPHRASE": "wrong"}, match="the wrong passphrase for this database")
