"""The key store's side of a key rotation (rotation.py runs the rotation itself).

WorkflowService.rekey stores the new key here BEFORE re-keying the database, so that a kill at
any moment leaves a key that opens it: the main key (nothing happened yet) or the pending key
(the database was re-keyed; opening finishes the rotation and promotes it). The pending key is
`<key file>.pending`, or a second keyring entry whose username ends in " (pending)";
keys.resolve_key returns it beside the main key (ResolvedKey.pending).
"""

from __future__ import annotations

import hashlib
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from hitl_tui.core.errors import KeyInvalid, KeyMissing, StoreError
from hitl_tui.core.keys import (
    KEY_BYTES,
    KEYRING_SERVICE,
    ResolvedKey,
    keyring_set_and_check,
    keyring_username,
    read_key_file,
)
from hitl_tui.core.os_keyring import keyring_call
from hitl_tui.core.safe_files import fsync_dir, replace_file

PENDING_SUFFIX = ".pending"
_KEYRING_PENDING = " (pending)"


def can_store_rotated_key(resolved: ResolvedKey) -> tuple[bool, str]:
    """Whether store_rotated_key can keep a new key: ask BEFORE re-keying the database."""
    if resolved.source in ("key-file", "keyring"):
        return True, f"the new key will replace the old one in the {resolved.detail}"
    if resolved.source == "env":
        return False, (
            "The key comes from HITL_DB_KEY, which this program cannot change; rotate by "
            "generating a new key yourself and updating HITL_DB_KEY, or move the key to "
            "HITL_DB_KEY_FILE first."
        )
    return False, (
        "A passphrase-derived key cannot be rotated this way; move the database to a key file "
        "(HITL_DB_KEY_FILE) or the OS keyring first."
    )


def _check_storable(resolved: ResolvedKey, new_key: bytes) -> None:
    """What both the pending and the promoted key must satisfy before anything is written."""
    if len(new_key) != KEY_BYTES:
        raise KeyInvalid(f"A database key must be {KEY_BYTES} bytes.")
    ok, why = can_store_rotated_key(resolved)
    if not ok:
        raise StoreError(why)


def store_rotated_key(
    db_path: Path,
    resolved: ResolvedKey,
    new_key: bytes,
    *,
    keyring_timeout: float = 5.0,
) -> ResolvedKey:
    """Write `new_key` back where `resolved` came from; returns the new ResolvedKey."""
    _check_storable(resolved, new_key)
    if resolved.source == "key-file":
        try:
            replace_file(Path(resolved.detail), new_key.hex().encode("ascii") + b"\n")
        except OSError as exc:
            raise StoreError(f"Cannot rewrite key file {resolved.detail}: {exc}.") from None
        return ResolvedKey(new_key, "key-file", resolved.detail)
    username = keyring_username(db_path)
    found, stored, description = keyring_call(
        keyring_set_and_check(username, new_key.hex()), keyring_timeout
    )
    if not found or not stored:
        raise StoreError(f"Could not store the new key in the keyring ({description}).")
    return ResolvedKey(new_key, "keyring", description)


def pending_key_file(key_file: Path | str) -> Path:
    return Path(f"{key_file}{PENDING_SUFFIX}")


def pending_keyring_username(db_path: Path) -> str:
    return keyring_username(db_path) + _KEYRING_PENDING


def read_pending_file(key_file: Path) -> bytes | None:
    path = pending_key_file(key_file)
    if not os.path.lexists(path):
        return None
    try:
        return read_key_file(path)
    except KeyMissing:  # gone between the two calls: a rotation finished meanwhile
        return None


def store_pending_key(db_path: Path, resolved: ResolvedKey, new_key: bytes, *,
                      keyring_timeout: float = 5.0) -> str:
    """Keep `new_key` durably beside the main key (0600 file, fsynced, directory fsynced; or a
    second keyring entry, read back). Returns where, for messages. Replaces a stale pending key:
    the caller holds rotation_lock and the main key opens the database, so it is stale."""
    _check_storable(resolved, new_key)
    if resolved.source == "key-file":
        path = pending_key_file(resolved.detail)
        try:
            replace_file(path, new_key.hex().encode("ascii") + b"\n")
        except OSError as exc:
            raise StoreError(f"Cannot write the new key to {path}: {exc.strerror or exc}; nothing was changed.") from None
        return str(path)
    name = pending_keyring_username(db_path)
    found, stored, description = keyring_call(keyring_set_and_check(name, new_key.hex()), keyring_timeout)
    if not found or not stored:
        raise StoreError(f"The {description} did not keep the new key; nothing was changed.")
    return f"{description} entry {KEYRING_SERVICE!r} / {name!r}"


def discard_pending_key(db_path: Path, resolved: ResolvedKey, *, keyring_timeout: float = 5.0) -> None:
    """Remove the pending key (best effort: a pending key left behind is harmless, it is tried
    only when the main key no longer opens the database)."""
    try:
        if resolved.source == "key-file":
            path = pending_key_file(resolved.detail)
            path.unlink(missing_ok=True)
            fsync_dir(path.parent)
        elif resolved.source == "keyring":
            name = pending_keyring_username(db_path)

            def delete(backend: Any) -> None:
                if backend.get_password(KEYRING_SERVICE, name) is not None:
                    backend.delete_password(KEYRING_SERVICE, name)

            keyring_call(delete, keyring_timeout)
    except (OSError, StoreError):
        pass


def key_fingerprint(key: bytes) -> str:
    """What the audit log records about a key: a domain-separated SHA-256 of it, 32 hex digits.
    It identifies the key (which key opened the database after a rotation) without revealing it."""
    return hashlib.sha256(b"hitl-tui database key fingerprint\n" + bytes(key)).hexdigest()[:32]


def rotation_lock_path(db_path: Path) -> Path:
    return Path(f"{Path(db_path).expanduser()}.rekey-lock")


@contextmanager
def rotation_lock(db_path: Path, timeout: float = 15.0) -> Iterator[bool]:
    """An exclusive lock on `<db>.rekey-lock` for as long as a rotation, or the decision that a
    pending key is stale, takes. Yields False when the lock cannot be had (the file cannot be
    created, or another process held it past `timeout`): the caller must then change no key.

    SQLite's own write lock cannot serve: PRAGMA rekey commits and drops it by itself. A killed
    process loses its flock at once, so a crash never leaves the lock behind."""
    import fcntl

    try:
        fd = os.open(rotation_lock_path(db_path), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        yield False
        return
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.05)
        yield True
    finally:
        os.close(fd)  # releases the flock
