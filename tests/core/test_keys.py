"""Key resolution against real files, real scrypt and the environment (the keyring half is in
test_os_keyring.py)."""

from __future__ import annotations

import os

import pytest

from hitl_tui.core.errors import (
    InsecureKeyFile,
    KeyExists,
    KeyInvalid,
    KeyMissing,
    StoreError,
)
from hitl_tui.core.key_rotation import can_store_rotated_key, store_rotated_key
from hitl_tui.core.keys import (
    ResolvedKey,
    create_key,
    derive_passphrase_key,
    resolve_key,
    salt_path,
)

from .key_files import KEY, OTHER, write_key_file


# --- key file --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "content", [KEY.hex().encode(), b"  " + KEY.hex().upper().encode() + b"\n", KEY]
)
def test_key_file_hex_or_raw(db_path, tmp_path, monkeypatch, content):
    path = write_key_file(tmp_path / "key", content)
    monkeypatch.setenv("HITL_DB_KEY_FILE", str(path))
    resolved = resolve_key(db_path)
    assert resolved == ResolvedKey(KEY, "key-file", str(path))


def test_raw_key_with_whitespace_bytes_is_not_stripped(db_path, tmp_path, monkeypatch):
    raw = b" " + bytes(30) + b"\n"
    monkeypatch.setenv("HITL_DB_KEY_FILE", str(write_key_file(tmp_path / "key", raw)))
    assert resolve_key(db_path).key == raw


@pytest.mark.parametrize("mode", [0o400, 0o600])
def test_key_file_private_modes_accepted(db_path, tmp_path, monkeypatch, mode):
    monkeypatch.setenv("HITL_DB_KEY_FILE", str(write_key_file(tmp_path / "key", KEY, mode)))
    assert resolve_key(db_path).key == KEY


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_key_file_readable_by_others_refused(db_path, tmp_path, monkeypatch, mode):
    path = write_key_file(tmp_path / "key", KEY.hex().encode(), mode)
    monkeypatch.setenv("HITL_DB_KEY_FILE", str(path))
    with pytest.raises(InsecureKeyFile) as err:
        resolve_key(db_path)
    assert str(path) in str(err.value) and f"chmod 600 {path}" in str(err.value)


def test_key_file_missing(db_path, tmp_path, monkeypatch):
    monkeypatch.setenv("HITL_DB_KEY_FILE", str(tmp_path / "nope"))
    with pytest.raises(KeyMissing, match="nope"):
        resolve_key(db_path)


def test_key_file_is_a_directory(db_path, tmp_path, monkeypatch):
    monkeypatch.setenv("HITL_DB_KEY_FILE", str(tmp_path))
    with pytest.raises(KeyMissing, match="not a regular file"):
        resolve_key(db_path)


def test_key_file_fifo_refused_without_hanging(db_path, tmp_path, monkeypatch):
    os.mkfifo(tmp_path / "fifo", 0o600)
    monkeypatch.setenv("HITL_DB_KEY_FILE", str(tmp_path / "fifo"))
    with pytest.raises(KeyMissing, match="not a regular file"):
        resolve_key(db_path)


@pytest.mark.parametrize(
    "content", [b"", b"abc", KEY.hex().encode()[:-1], b"zz" * 32, bytes(33), b"\xff" * 64]
)
def test_key_file_bad_content(db_path, tmp_path, monkeypatch, content):
    path = write_key_file(tmp_path / "key", content)
    monkeypatch.setenv("HITL_DB_KEY_FILE", str(path))
    with pytest.raises(KeyInvalid) as err:
        resolve_key(db_path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


# --- HITL_DB_KEY -----------------------------------------------------------------------------

def test_env_key_ok(db_path, monkeypatch):
    monkeypatch.setenv("HITL_DB_KEY", KEY.hex() + "\n")
    assert resolve_key(db_path) == ResolvedKey(KEY, "env", "HITL_DB_KEY environment variable")


@pytest.mark.parametrize("value", ["", "xyz", KEY.hex()[:-2], KEY.hex() + "00", "g" * 64])
def test_env_key_bad(db_path, monkeypatch, value):
    monkeypatch.setenv("HITL_DB_KEY", value)
    with pytest.raises(KeyInvalid, match="HITL_DB_KEY"):
        resolve_key(db_path)


def test_repr_never_shows_the_key(db_path, monkeypatch):
    monkeypatch.setenv("HITL_DB_KEY", KEY.hex())
    resolved = resolve_key(db_path)
    assert KEY.hex() not in repr(resolved) and str(KEY) not in repr(resolved)


# --- precedence ------------------------------------------------------------------------------

@pytest.mark.keyring
def test_precedence_file_env_keyring_passphrase(db_path, tmp_path, monkeypatch, real_keyring):
    pw_key = create_key(db_path, passphrase_prompt=lambda: "pw")  # keyring wins over the prompt
    assert pw_key.source == "keyring"
    derive_passphrase_key(db_path, "pw", create_salt=True)
    monkeypatch.setenv("HITL_DB_PASSPHRASE", "pw")
    assert resolve_key(db_path).source == "keyring"
    monkeypatch.setenv("HITL_DB_KEY", OTHER.hex())
    assert resolve_key(db_path).key == OTHER
    monkeypatch.setenv("HITL_DB_KEY_FILE", str(write_key_file(tmp_path / "key", KEY)))
    assert resolve_key(db_path).source == "key-file"


def test_explicit_but_broken_key_file_does_not_fall_through(db_path, tmp_path, monkeypatch):
    monkeypatch.setenv("HITL_DB_KEY", KEY.hex())
    monkeypatch.setenv("HITL_DB_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(KeyMissing):
        resolve_key(db_path)


# --- passphrase ------------------------------------------------------------------------------

def test_passphrase_deterministic_per_salt(tmp_path):
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    ka = derive_passphrase_key(a, "correct horse", create_salt=True)
    assert len(ka) == 32
    assert derive_passphrase_key(a, "correct horse") == ka
    assert derive_passphrase_key(a, "Correct horse") != ka
    assert derive_passphrase_key(b, "correct horse", create_salt=True) != ka  # another salt
    assert salt_path(a) == tmp_path / "a.db.salt"
    assert len(salt_path(a).read_bytes()) == 16
    assert salt_path(a).stat().st_mode & 0o777 == 0o600


def test_passphrase_unicode_forms_agree(db_path):
    composed = derive_passphrase_key(db_path, "caf\u00e9", create_salt=True)
    assert derive_passphrase_key(db_path, "cafe\u0301") == composed


def test_missing_salt_file(db_path, monkeypatch):
    with pytest.raises(KeyMissing, match="not created with a passphrase"):
        derive_passphrase_key(db_path, "pw")
    monkeypatch.setenv("HITL_DB_PASSPHRASE", "pw")
    with pytest.raises(KeyMissing, match="not created with a passphrase"):
        resolve_key(db_path)


def test_prompt_not_called_without_salt(db_path):
    def prompt():
        raise AssertionError("asked for a passphrase that cannot work")

    with pytest.raises(KeyMissing, match="No key found"):
        resolve_key(db_path, passphrase_prompt=prompt)


def test_prompt_used_when_salt_exists(db_path):
    key = create_key(db_path, passphrase_prompt=lambda: "from the prompt")
    assert key.source == "passphrase"
    assert resolve_key(db_path, passphrase_prompt=lambda: "from the prompt") == key


def test_empty_passphrase_refused(db_path, monkeypatch):
    with pytest.raises(KeyInvalid, match="empty passphrase"):
        create_key(db_path, passphrase_prompt=lambda: "")
    assert not salt_path(db_path).exists()
    monkeypatch.setenv("HITL_DB_PASSPHRASE", "")
    with pytest.raises(KeyInvalid):
        create_key(db_path)


def test_damaged_salt(db_path):
    salt_path(db_path).write_bytes(b"short")
    with pytest.raises(KeyInvalid, match="damaged"):
        derive_passphrase_key(db_path, "pw")


# --- create_key ------------------------------------------------------------------------------

def test_create_key_writes_new_key_file(db_path, tmp_path, monkeypatch):
    path = tmp_path / "new.key"
    monkeypatch.setenv("HITL_DB_KEY_FILE", str(path))
    created = create_key(db_path)
    assert created.source == "key-file" and created.detail == str(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_text().strip() == created.key.hex()
    assert resolve_key(db_path) == created


def test_create_key_uses_existing_key_file(db_path, tmp_path, monkeypatch):
    path = write_key_file(tmp_path / "key", KEY.hex().encode())
    monkeypatch.setenv("HITL_DB_KEY_FILE", str(path))
    assert create_key(db_path).key == KEY
    assert path.read_bytes() == KEY.hex().encode()  # untouched


def test_create_key_checks_existing_key_file_mode(db_path, tmp_path, monkeypatch):
    monkeypatch.setenv("HITL_DB_KEY_FILE", str(write_key_file(tmp_path / "key", KEY, 0o644)))
    with pytest.raises(InsecureKeyFile):
        create_key(db_path)


def test_create_key_key_file_in_missing_directory(db_path, tmp_path, monkeypatch):
    monkeypatch.setenv("HITL_DB_KEY_FILE", str(tmp_path / "no" / "such" / "key"))
    with pytest.raises(KeyMissing, match="Cannot create key file"):
        create_key(db_path)


def test_create_key_from_env(db_path, monkeypatch):
    monkeypatch.setenv("HITL_DB_KEY", KEY.hex())
    assert create_key(db_path) == ResolvedKey(KEY, "env", "HITL_DB_KEY environment variable")


def test_create_key_never_overwrites_salt(db_path, monkeypatch):
    first = create_key(db_path, passphrase_prompt=lambda: "pw")
    salt = salt_path(db_path).read_bytes()
    monkeypatch.setenv("HITL_DB_PASSPHRASE", "pw")
    with pytest.raises(KeyExists, match="already exists"):
        create_key(db_path)
    assert salt_path(db_path).read_bytes() == salt
    assert resolve_key(db_path).key == first.key


def test_create_key_nowhere_to_keep_it(db_path):
    with pytest.raises(KeyMissing, match="No safe place"):
        create_key(db_path)


# --- rotation --------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_store_rotated_key_file(db_path, tmp_path, monkeypatch, mode):
    path = write_key_file(tmp_path / "key", KEY, mode)
    monkeypatch.setenv("HITL_DB_KEY_FILE", str(path))
    old = resolve_key(db_path)
    assert can_store_rotated_key(old)[0]
    new = store_rotated_key(db_path, old, OTHER)
    assert new == ResolvedKey(OTHER, "key-file", str(path))
    assert path.stat().st_mode & 0o777 == 0o600
    assert resolve_key(db_path).key == OTHER
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("source", ["env", "passphrase"])
def test_store_rotated_key_refused(db_path, source):
    resolved = ResolvedKey(KEY, source, "x")
    ok, why = can_store_rotated_key(resolved)
    assert not ok and ("HITL_DB_KEY" in why if source == "env" else "passphrase" in why)
    with pytest.raises(StoreError, match=why[:20]):
        store_rotated_key(db_path, resolved, OTHER)


def test_store_rotated_key_wrong_length(db_path, tmp_path):
    with pytest.raises(KeyInvalid):
        store_rotated_key(db_path, ResolvedKey(KEY, "key-file", str(tmp_path / "k")), b"short")
