"""The OS keyring: the real (private) gnome-keyring, locked and untrusted backends, time limits."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import keyring
import pytest

from hitl_tui.core import os_keyring
from hitl_tui.core.errors import (
    KeyExists,
    KeyInvalid,
    KeyMissing,
    StoreLocked,
)
from hitl_tui.core.key_rotation import can_store_rotated_key, store_rotated_key
from hitl_tui.core.keys import (
    KEYRING_SERVICE,
    ResolvedKey,
    create_key,
    derive_passphrase_key,
    keyring_username,
    resolve_key,
    salt_path,
)
from hitl_tui.core.os_keyring import keyring_backend_status
from tests.keyring_session import PlaintextDictKeyring

from .key_files import KEY, OTHER


# --- the real (private) keyring --------------------------------------------------------------

@pytest.mark.keyring
def test_keyring_round_trip(db_path, real_keyring):
    created = create_key(db_path)
    assert created.source == "keyring" and created.detail == "Secret Service keyring"
    assert len(created.key) == 32
    stored = keyring.get_password(KEYRING_SERVICE, keyring_username(db_path))
    assert stored == created.key.hex()
    assert resolve_key(db_path) == created


@pytest.mark.keyring
def test_two_databases_two_entries(tmp_path, real_keyring):
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    ka, kb = create_key(a), create_key(b)
    assert ka.key != kb.key
    assert resolve_key(a).key == ka.key and resolve_key(b).key == kb.key
    assert keyring.get_password(KEYRING_SERVICE, keyring_username(b)) == kb.key.hex()


@pytest.mark.keyring
def test_keyring_username_is_the_resolved_path(tmp_path, monkeypatch, real_keyring):
    monkeypatch.chdir(tmp_path)
    created = create_key(Path("rel.db"))
    assert resolve_key(tmp_path / "sub" / ".." / "rel.db").key == created.key


@pytest.mark.keyring
def test_keyring_entry_not_hex_is_refused(db_path, real_keyring):
    keyring.set_password(KEYRING_SERVICE, keyring_username(db_path), "not a key")
    with pytest.raises(KeyInvalid, match="Secret Service keyring"):
        resolve_key(db_path)


@pytest.mark.keyring
def test_locked_keyring_raises_store_locked(db_path, real_keyring):
    create_key(db_path)
    real_keyring.lock()
    try:
        started = time.monotonic()
        with pytest.raises(StoreLocked, match="keyring is locked"):
            resolve_key(db_path)
        assert time.monotonic() - started < 2  # gnome-keyring refuses; we do not wait it out
        with pytest.raises(StoreLocked):
            create_key(db_path.with_name("other.db"))
    finally:
        real_keyring.unlock()
    assert resolve_key(db_path).source == "keyring"


@pytest.mark.keyring
def test_locked_keyring_does_not_block_a_passphrase_database(db_path, monkeypatch, locked_keyring):
    key = derive_passphrase_key(db_path, "pw", create_salt=True)
    monkeypatch.setenv("HITL_DB_PASSPHRASE", "pw")
    assert resolve_key(db_path) == ResolvedKey(key, "passphrase", f"passphrase (salt {salt_path(db_path)})")


@pytest.mark.keyring
def test_keyring_status_real(real_keyring):
    assert keyring_backend_status() == (True, "Secret Service keyring")


@pytest.mark.keyring
def test_chainer_uses_its_secret_service_child(db_path, monkeypatch, real_keyring):
    monkeypatch.setattr(PlaintextDictKeyring, "priority", 20)
    monkeypatch.setattr(PlaintextDictKeyring, "store", {})
    def forget_all_keyrings():  # keyring computes the list once per process (jaraco `once`)
        vars(keyring.backend.get_all_keyring).pop("saved_result", None)

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.chainer.ChainerBackend")
    forget_all_keyrings()  # recompute on this bus, where Secret Service is viable
    keyring.core.init_backend()
    try:
        # The plain-text test backend is discovered too; ranked first, the chainer itself
        # would write there. We must go straight to the Secret Service child instead.
        chained = [type(b).__name__ for b in keyring.get_keyring().backends]
        assert chained == ["PlaintextDictKeyring", "Keyring"]
        created = create_key(db_path)
        assert created.source == "keyring"
        assert resolve_key(db_path) == created
        assert PlaintextDictKeyring.store == {}
    finally:
        forget_all_keyrings()


@pytest.mark.keyring
def test_create_key_never_overwrites_keyring_entry(db_path, real_keyring):
    first = create_key(db_path)
    with pytest.raises(KeyExists, match="already holds a key"):
        create_key(db_path)
    assert resolve_key(db_path).key == first.key


@pytest.mark.keyring
def test_store_rotated_key_keyring(db_path, real_keyring):
    old = create_key(db_path)
    assert can_store_rotated_key(old)[0]
    new = store_rotated_key(db_path, old, OTHER)
    assert new == ResolvedKey(OTHER, "keyring", "Secret Service keyring")
    assert resolve_key(db_path).key == OTHER


# --- backends that are not trusted -----------------------------------------------------------

def test_fail_backend_falls_through(db_path, monkeypatch):
    assert keyring_backend_status() == (False, "no keyring backend (keyring.backends.fail.Keyring)")
    with pytest.raises(KeyMissing) as err:
        resolve_key(db_path)
    for way in ("HITL_DB_KEY_FILE", "keyring", "HITL_DB_PASSPHRASE"):
        assert way in str(err.value)
    key = derive_passphrase_key(db_path, "pw", create_salt=True)
    monkeypatch.setenv("HITL_DB_PASSPHRASE", "pw")
    assert resolve_key(db_path).key == key


@pytest.mark.parametrize("backend", [
    "keyring.backends.null.Keyring",
    "tests.keyring_session.PlaintextDictKeyring",
])
def test_untrusted_backend_is_never_used(db_path, monkeypatch, backend):
    monkeypatch.setattr(PlaintextDictKeyring, "store", {})
    PlaintextDictKeyring.store[(KEYRING_SERVICE, keyring_username(db_path))] = KEY.hex()
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", backend)
    keyring.core.init_backend()
    usable, description = keyring_backend_status()
    assert not usable and backend.rsplit(".", 1)[0] in description
    with pytest.raises(KeyMissing):
        resolve_key(db_path)  # the plain-text store holds a key, and it is ignored
    with pytest.raises(KeyMissing, match="No safe place"):
        create_key(db_path.with_name("new.db"))
    assert len(PlaintextDictKeyring.store) == 1  # nothing was written to it


# --- time limits -----------------------------------------------------------------------------

def test_call_with_timeout_value_and_error():
    assert os_keyring._call_with_timeout(lambda: 42, 1) == 42
    with pytest.raises(ZeroDivisionError):
        os_keyring._call_with_timeout(lambda: 1 / 0, 1)


def test_call_with_timeout_gives_up():
    release = threading.Event()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        os_keyring._call_with_timeout(lambda: release.wait(10), 0.2)
    assert 0.15 < time.monotonic() - started < 1
    release.set()  # let the abandoned worker thread finish


def test_unresponsive_dbus_gives_store_locked(db_path, tmp_path, monkeypatch):
    """A bus that accepts the connection and never answers, as a hung desktop session would."""
    path = tmp_path / "silent-bus"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(1)
    try:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={path}")
        monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.SecretService.Keyring")
        # Forget the cached backend so that choosing it (which already talks to D-Bus) happens
        # inside resolve_key's time limit, as on a real first call.
        keyring.core._keyring_backend = None
        started = time.monotonic()
        with pytest.raises(StoreLocked, match="did not answer within 0.3 s"):
            resolve_key(db_path, keyring_timeout=0.3)
        assert time.monotonic() - started < 1
        assert keyring_backend_status(timeout=0.3)[0] is False
    finally:
        server.close()
