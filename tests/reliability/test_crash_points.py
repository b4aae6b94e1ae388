"""kill -9 at every named crash point (hitl_tui/core/crashpoints.py), through the installed
`hitl-tui`: afterwards the database opens with a stored key, `verify-audit` exits 0, and every
action that was acknowledged before the kill is there. Nothing is ever lost or left stuck."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

import hitl_tui
from hitl_tui.core import crashpoints, key_rotation, keys
from tests.reliability.desk import ME, SCRIPT, Desk

POINTS = crashpoints.POINTS
#: the points after which the database is under the new key: the rotation happened
REKEYED = {"rekey.after_rekey", "rekey.after_audit", "rekey.after_promote"}


@pytest.fixture
def desk(tmp_path, monkeypatch) -> Desk:
    return Desk(tmp_path, monkeypatch)


def test_every_point_is_placed_and_nothing_else_is():
    """POINTS is the list the tests run over: it must be exactly what the code passes."""
    source = "\n".join(p.read_text() for p in Path(hitl_tui.__file__).parent.rglob("*.py"))
    literal = re.findall(r'crash_point\("([a-z_]+\.[a-z_]+)"\)', source)
    labelled = re.findall(r'crash_point\(f"\{crash_label\}\.([a-z_]+)"\)', source)
    labels = re.findall(r'crash_label="([a-z_]+)"', source)
    placed = literal + [f"{label}.{step}" for label in labels for step in labelled]
    assert set(placed) == set(POINTS)
    assert len(set(POINTS)) == len(POINTS)


def test_the_hook_costs_nothing_when_unset():
    assert crashpoints._TARGET is None and crashpoints.crash_point is crashpoints._nothing


def _acknowledged_request(desk: Desk) -> str:
    """A request you file through the command: its printed id is the acknowledgement."""
    done = desk.ok("request", "create", "--type", "expense_approval", "--title", "Printed before the kill",
                   "-d", "An acknowledged action", "-f", "amount=400", "-f", "category=travel", "--json")
    return json.loads(done.stdout)["id"]


def _assert_recovered(desk: Desk, acknowledged: list[str]) -> None:
    verified = desk.ok("verify-audit")  # opens with the stored key (finishing any rotation first)
    assert "Result: verified." in verified.stdout
    service = desk.service()
    try:
        for wid in acknowledged:
            assert service.get_workflow(wid).id == wid
        assert service.verify_audit().ok
    finally:
        service.close(checkpoint=False)
    assert not list(desk.root.glob(".*.tmp")), "a temp file (holding key material) was left behind"


@pytest.mark.parametrize("point", [p for p in POINTS if p.startswith("create_key.")])
def test_kill_while_creating_the_database_key(desk, point):
    desk.killed("init", crash=point)
    if desk.key_file.exists():  # all or nothing: never an empty or half-written key file
        assert len(bytes.fromhex(desk.key_file.read_text().strip())) == keys.KEY_BYTES
    desk.ok("init")  # running it again finishes the job
    _assert_recovered(desk, [])
    assert ME in desk.ok("users", "list").stdout


@pytest.mark.parametrize("point", [p for p in POINTS if p.startswith("signing_key.")])
def test_kill_while_creating_the_signing_key(desk, point):
    wid = desk.setup()
    signing = desk.root / "signing" / "fresh.ed25519"
    signing.parent.mkdir()
    env = {"HITL_SIGNING_KEY_FILE": str(signing)}
    desk.killed("approve", wid, crash=point, env=env)  # the seal makes the first signing key
    # all or nothing: no key file (the next seal makes one) or a whole key, never an empty one
    assert not signing.exists() or len(bytes.fromhex(signing.read_text().strip())) == 32
    assert "Signed checkpoint" in desk.ok("checkpoint", "-o", str(desk.root / "cp.json"), env=env).stdout
    _assert_recovered(desk, [wid])
    assert "approved" in desk.actions()  # committed before the seal began


@pytest.mark.parametrize("point", [p for p in POINTS if p.startswith("personal_key.")])
def test_kill_while_creating_a_persons_signing_key(desk, point):
    desk.setup()
    desk.killed("users", "add", "walter", "--role", "manager", crash=point)  # makes walter's first key
    assert "walter" not in desk.ok("users", "list").stdout  # the kill came before the commit
    desk.ok("users", "add", "walter", "--role", "manager")  # running it again finishes the job
    _assert_recovered(desk, [])
    with desk.service() as s:
        registered = s.user_key_ids()["walter"]
        assert registered in {k.key_id for k in s.personal_keys.keys("walter")}
    assert not [p for p in desk.root.rglob("*.tmp")], "a temp file (holding key material) was left behind"


@pytest.mark.parametrize("point", [p for p in POINTS if p.startswith("write.")])
def test_kill_around_the_commit_of_a_decision(desk, point):
    wid = desk.setup()
    mine = _acknowledged_request(desk)
    before = desk.actions()
    killed = desk.killed("approve", wid, crash=point)
    assert "Approved" not in killed.stdout
    _assert_recovered(desk, [wid, mine])
    after = desk.actions()
    # all or nothing: the decision and its audit entry are there together, or neither is
    assert after == before + (["approved"] if point == "write.after_commit" else [])
    with desk.service() as s:
        assert s.get_workflow(wid).status.value == ("approved" if point == "write.after_commit" else "awaiting_approval")


@pytest.mark.parametrize("point", [p for p in POINTS if p.startswith("checkpoint.")])
def test_kill_while_sealing_a_checkpoint(desk, point):
    wid = desk.setup()
    with desk.service() as s:
        sealed = len(s.stored_checkpoints())
    desk.killed("approve", wid, crash=point)
    with desk.service() as s:
        assert len(s.stored_checkpoints()) == sealed  # the kill came before the seal committed
    assert "Signed checkpoint" in desk.ok("checkpoint", "-o", str(desk.root / "cp.json")).stdout
    _assert_recovered(desk, [wid])
    assert "approved" in desk.actions()


def _rekey_survives(desk: Desk, point: str, keyring: bool, env: dict | None = None) -> None:
    wid = desk.setup()
    mine = _acknowledged_request(desk)
    old = keys.resolve_key(desk.db).key
    desk.killed("rekey", crash=point, env=env)
    _assert_recovered(desk, [wid, mine])
    resolved = keys.resolve_key(desk.db)
    assert resolved.pending is None  # settled: finished and promoted, or discarded
    assert (resolved.key != old) == (point in REKEYED)
    with desk.service() as s:
        rotations = [e for e in s.iter_audit() if e.action == "key_rotated"]
    # the entry is true: there is one exactly when the database was re-keyed, naming the new key
    if point in REKEYED:
        assert len(rotations) == 1
        assert rotations[0].details["new_key_fingerprint"] == key_rotation.key_fingerprint(resolved.key)
        assert rotations[0].details["old_key_fingerprint"] == key_rotation.key_fingerprint(old)
    else:
        assert rotations == []
    assert "Rotated the key" in desk.ok("rekey", env=env).stdout  # the next rotation works
    again = keys.resolve_key(desk.db)
    assert again.key not in (old, resolved.key) and again.pending is None
    with desk.service() as s:
        assert s.verify_audit().ok and s.get_workflow(mine).id == mine


@pytest.mark.parametrize("point", [p for p in POINTS if p.startswith("rekey.")])
def test_kill_during_rekey_with_a_key_file(desk, point):
    _rekey_survives(desk, point, keyring=False)
    assert not key_rotation.pending_key_file(desk.key_file).exists()


@pytest.mark.keyring
@pytest.mark.parametrize("point", ["rekey.after_pending", "rekey.after_rekey", "rekey.after_promote"])
def test_kill_during_rekey_with_the_keyring(desk, point, real_keyring, monkeypatch):
    monkeypatch.delenv("HITL_DB_KEY_FILE")
    _rekey_survives(desk, point, keyring=True)
    assert keys.resolve_key(desk.db).source == "keyring"


def test_a_refused_rotation_leaves_no_pending_key(desk):
    desk.setup()
    with desk.service() as s:
        s.add_user("ian.itadmin", "it_admin", admin=True, actor=ME)
        s.set_user_admin(ME, False, actor="ian.itadmin")
    old = desk.key_file.read_bytes()
    done = desk.run("rekey")
    assert done.returncode == 1 and "not a user-directory administrator" in done.stderr
    assert desk.key_file.read_bytes() == old and not key_rotation.pending_key_file(desk.key_file).exists()
    assert "key_rotated" not in desk.actions()


def test_a_rotation_under_way_elsewhere_is_waited_for_not_discarded(desk):
    """While a rotation holds its lock, its pending key looks stale (the main key still opens
    the database). An opener must wait for the lock instead of discarding it, or the rotation
    would re-key the database to a key that no longer exists anywhere."""
    import subprocess
    import time

    import sqlcipher3

    desk.setup()
    old, new = keys.resolve_key(desk.db).key, os.urandom(32)
    with key_rotation.rotation_lock(desk.db) as locked:
        assert locked
        key_rotation.store_pending_key(desk.db, keys.resolve_key(desk.db), new)  # step 1 of a rotation
        opener = subprocess.Popen([str(SCRIPT), "users", "list"], env=dict(os.environ),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)  # the opener is waiting for the lock by now
        assert key_rotation.pending_key_file(desk.key_file).exists()
        conn = sqlcipher3.connect(str(desk.db), isolation_level=None)  # step 2: the re-key
        conn.execute(f"PRAGMA key = \"x'{old.hex()}'\"")
        conn.execute(f"PRAGMA rekey = \"x'{new.hex()}'\"")
        conn.close()
    out, err = opener.communicate(timeout=60)
    assert opener.returncode == 0, err
    resolved = keys.resolve_key(desk.db)  # the opener finished the rotation it found
    assert resolved.key == new and resolved.pending is None
    with desk.service() as s:
        rotated = [e for e in s.iter_audit() if e.action == "key_rotated"]
    assert len(rotated) == 1 and rotated[0].details["completed_at_open"] is True
