"""Opening the encrypted database, and telling a wrong key from a file that is no database.

SQLCipher 4 defaults are kept (page size, KDF, HMAC) so the standard `sqlcipher` shell opens the
file with `PRAGMA key = "x'<hex>'"`. The key is a raw 32-byte key, so no PBKDF2 runs on open.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import sqlcipher3

from ..errors import DatabaseExists, DatabaseMissing, NotADatabase, StoreBusy, StoreError, WrongKey

BUSY_TIMEOUT_S = 15.0
SQLITE_MAGIC = b"SQLite format 3\x00"
_log_silenced = False
_log_lock = threading.Lock()

DbError = sqlcipher3.DatabaseError  # NOT a subclass of the stdlib sqlite3 error classes


def silence_cipher_log() -> None:
    """SQLCipher writes errors straight to fd 2, which corrupts a full-screen app. The setting is
    process-wide and must be made before any `PRAGMA key`, so do it once, first."""
    global _log_silenced
    with _log_lock:
        if _log_silenced:
            return
        probe = sqlcipher3.connect(":memory:")
        try:
            probe.execute("PRAGMA cipher_log_level = NONE").fetchall()
        finally:
            probe.close()
        _log_silenced = True


def _check_key(key: bytes) -> str:
    if not isinstance(key, (bytes, bytearray)) or len(key) != 32:
        raise WrongKey("The database key must be exactly 32 raw bytes.")
    return bytes(key).hex()


def open_connection(path: Path, key: bytes, *, create: bool = False) -> sqlcipher3.Connection:
    """An open, keyed, configured connection. `create` refuses an existing file; without it a
    missing file is refused. Either way nothing is ever written over an existing database."""
    silence_cipher_log()
    hexkey = _check_key(key)
    path = Path(path)
    if create:
        if path.exists():
            raise DatabaseExists(f"A database already exists at {path}; nothing was changed.")
        path.parent.mkdir(parents=True, exist_ok=True)
        # create the file ourselves so its mode is 0600 from the first byte
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    elif not path.exists():
        raise DatabaseMissing(f"No database at {path}; create one with `hitl-tui init` (or pass --db).")
    elif path.is_dir():
        raise NotADatabase(f"{path} is a directory, not a hitl-tui database.")
    elif path.stat().st_size == 0:  # SQLite would happily treat it as a new database
        raise NotADatabase(f"{path} is an empty file, not a hitl-tui database; nothing was changed.")
    try:
        conn = sqlcipher3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    except DbError as exc:
        raise StoreError(f"Cannot open {path}: {exc}") from None
    try:
        conn.execute(f"PRAGMA key = \"x'{hexkey}'\"")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # decrypts page 1: wrong key fails here
    except DbError as exc:
        conn.close()
        if create:
            raise StoreError(f"Cannot create {path}: {exc}") from None
        raise _classify_open_failure(path, exc) from None
    try:
        conn.execute("PRAGMA temp_store = MEMORY")  # temp files are not encrypted otherwise
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"Cannot switch {path} to WAL mode (got {mode}).")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except DbError as exc:
        conn.close()
        raise translate(exc, path) from None
    return conn


def _classify_open_failure(path: Path, exc: Exception) -> StoreError:
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
        size = path.stat().st_size
    except OSError as err:
        return StoreError(f"Cannot read {path}: {err.strerror}.")
    if "locked" in str(exc) or "busy" in str(exc):
        return StoreBusy(f"{path} is locked by another process; try again.")
    if head == SQLITE_MAGIC:
        return NotADatabase(f"{path} is an unencrypted SQLite file, not a hitl-tui database.")
    if size == 0 or size % 512 != 0:
        return NotADatabase(f"{path} is not a hitl-tui database (its size, {size} bytes, is no whole number of pages).")
    return WrongKey(
        f"The key does not open {path}: it is the wrong key for this database (or the file is not a database)."
    )


def translate(exc: Exception, path: Path | str = "the database") -> StoreError:
    """Turn a driver error into one clear line."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return StoreBusy(f"{path} stayed locked by another writer for {BUSY_TIMEOUT_S:.0f} s; try again.")
    if "not a database" in text:
        return NotADatabase(f"{path} is damaged or not a hitl-tui database ({text}).")
    if "readonly" in text or "read-only" in text:
        return StoreError(f"{path} is read-only for this account; nothing was written.")
    if "disk I/O" in text or "full" in text:
        return StoreError(f"Writing {path} failed ({text}); nothing was written.")
    return StoreError(f"Database error on {path}: {text}")
