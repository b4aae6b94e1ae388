"""Opening the encrypted database, and telling a wrong key from a file that is no database.

SQLCipher 4 defaults are kept (page size, KDF, HMAC) so the standard `sqlcipher` shell opens the
file with `PRAGMA key = "x'<hex>'"`. The key is a raw 32-byte key, so no PBKDF2 runs on open.

"Wrong key" is said only when it is so: every page of the file fails its HMAC under this key. A
file whose page 1 opens but whose later pages do not is damaged; a failure that comes from the
filesystem (read-only, full, another account's -wal/-shm) or another writer is named by
faults.py.
"""

from __future__ import annotations

import os
import re
import sqlite3
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import sqlcipher3

from ..errors import (
    DatabaseDamaged,
    DatabaseExists,
    DatabaseMissing,
    NotADatabase,
    StoreError,
    StoreReadOnly,
    WrongKey,
    WrongPassphrase,
)
from . import faults
from .faults import error_name

if TYPE_CHECKING:
    from ..settings import Settings

#: the static type of a connection (and `Cursor` of what `execute` returns): sqlcipher3's dbapi2 is
#: pysqlite's, the standard library's sqlite3 API, and ships no types of its own
Conn = sqlite3.Connection
Cursor = sqlite3.Cursor

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


def open_connection(path: Path, key: bytes, *, create: bool = False,
                    settings: "Settings | None" = None) -> sqlcipher3.Connection:
    """An open, keyed, configured connection. `create` refuses an existing file; without it a
    missing file is refused. Either way nothing is ever written over an existing database.
    `settings` gives the busy timeout (default: this process's settings)."""
    from ..settings import given_or_loaded

    settings = given_or_loaded(settings)
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
        raise missing_database(path, settings)
    elif path.is_dir():
        raise NotADatabase(f"{path} is a directory, not a hitl-tui database.")
    elif path.stat().st_size == 0:  # SQLite would happily treat it as a new database
        raise NotADatabase(f"{path} is an empty file, not a hitl-tui database; nothing was changed.")
    else:
        faults.repair_sidecar_modes(path)
    try:
        conn = sqlcipher3.connect(str(path), timeout=settings.busy_timeout, isolation_level=None,
                                  check_same_thread=False)
        faults.note_busy_timeout(path, settings.busy_timeout)  # for the "did not let go within" line
    except DbError as exc:
        raise translate(exc, path) from None
    try:
        conn.execute(f"PRAGMA key = \"x'{hexkey}'\"")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # decrypts page 1: wrong key fails here
    except DbError as exc:
        conn.close()
        if create:
            raise faults.diagnose(path, exc) or StoreError(f"Cannot create {path}: {exc}") from None
        raise _classify_open_failure(path, exc, hexkey) from None
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


def missing_database(path: Path, settings: "Settings | None" = None) -> DatabaseMissing:
    """No file at `path`: the message says where the path came from (the db_path setting's
    origin in `settings`, default this process's), and how to choose another."""
    from ..paths import data_dir
    from ..settings import given_or_loaded

    path = Path(path)
    q = faults.q(path)
    settings = given_or_loaded(settings)
    origin = settings.origin("db_path")
    if settings.db_path is not None and path == settings.db_path and origin.kind == "env":
        return DatabaseMissing(
            f"No database at {path} (from HITL_DB_PATH); create one there with `hitl-tui init`, "
            f"or set HITL_DB_PATH to an existing database."
        )
    if settings.db_path is not None and path == settings.db_path and origin.kind == "file":
        return DatabaseMissing(
            f"No database at {path} (from db_path in {origin.detail}); create one there with "
            f"`hitl-tui init`, or change db_path there to an existing database."
        )
    if path == data_dir() / "hitl.db":
        return DatabaseMissing(
            f"No database at {path} (the default path); create one with `hitl-tui init`, or name "
            f"another with --db or HITL_DB_PATH."
        )
    return DatabaseMissing(f"No database at {path}; check the path, or create one there with `hitl-tui --db {q} init`.")


def wrong_key(path: Path, source: str | None = None, detail: str = "",
              named_by: str = "HITL_DB_KEY_FILE") -> WrongKey:
    """The key, named by where it came from (keys.ResolvedKey.source/.detail/.named_by), does
    not open `path`."""
    if source == "passphrase":
        salt = f"{path}.salt"
        return WrongPassphrase(
            f"The passphrase does not open {path}: it is the wrong passphrase for this database "
            f"(or {salt} is not the salt file it was created with); nothing was changed."
        )
    where = {
        "key-file": f"The key in {detail} ({named_by})",
        "env": "The key in HITL_DB_KEY",
        "keyring": f"The key kept in the {detail}",
    }.get(source or "", "The key")
    return WrongKey(
        f"{where} does not open {path}: it is the wrong key for this database (or the file is "
        f"not a hitl-tui database); nothing was changed."
    )


def _classify_open_failure(path: Path, exc: Exception, hexkey: str) -> StoreError:
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
        size = path.stat().st_size
    except OSError as err:
        return faults.unreadable(path, err)
    name, text = error_name(exc), str(exc)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        return faults.busy(path)
    if head == SQLITE_MAGIC:
        return NotADatabase(f"{path} is an unencrypted SQLite file, not a hitl-tui database.")
    if size % 512 != 0:
        return NotADatabase(
            f"{path} is not a hitl-tui database, or is truncated (its size, {size} bytes, is no "
            f"whole number of pages); nothing was changed."
        )
    cause = faults.diagnose(path, exc)
    if cause is not None:
        return cause
    if name.startswith("SQLITE_CORRUPT") or "malformed" in text:
        return damaged(path, text)
    if name.startswith("SQLITE_NOTADB") or "not a database" in text:
        if _key_opens_some_page(path, hexkey):
            return damaged(path, "page 1 fails its integrity check")
        return wrong_key(path)
    return StoreError(f"Cannot open {path} ({text}); nothing was written.")


def damaged(path: Path | str, why: str) -> DatabaseDamaged:
    return DatabaseDamaged(
        f"{path} is damaged ({why}): the key is right, but the file is truncated or some of its "
        f"pages are corrupt; nothing was written. Restore it from a backup (with its -wal file, "
        f"if there is one)."
    )


_PROBE_PAGES = 8
_PAGE = 4096  # SQLCipher 4's default page size, which hitl-tui keeps


def _key_opens_some_page(path: Path, hexkey: str) -> bool:
    """Whether any of the first pages authenticates under this key. A wrong key fails every
    page's HMAC; a damaged page 1 under the right key leaves the others intact. Checked on a
    copy of the first pages (ciphertext only) so that a big file is not read whole."""
    try:
        with tempfile.TemporaryDirectory(prefix="hitl-probe-") as tmp:
            probe = Path(tmp) / "probe.db"
            with open(path, "rb") as src:
                probe.write_bytes(src.read(_PROBE_PAGES * _PAGE))
            pages = probe.stat().st_size // _PAGE
            conn = sqlcipher3.connect(str(probe), isolation_level=None)
            try:
                conn.execute(f"PRAGMA key = \"x'{hexkey}'\"")
                failed = {int(m.group(1)) for (line,) in conn.execute("PRAGMA cipher_integrity_check")
                          if (m := re.search(r"page (\d+)", str(line)))}
            finally:
                conn.close()
    except (OSError, DbError):
        return False  # cannot tell: the plainer "wrong key (or not a database)" stands
    return pages > 0 and len(failed & set(range(1, pages + 1))) < pages


def translate(exc: Exception, path: Path | str = "the database") -> StoreError:
    """Turn a driver error on an open database into one clear line naming the real cause."""
    name, text = error_name(exc), str(exc)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text or "busy" in text:
        return faults.busy(Path(path))
    if name.startswith("SQLITE_CORRUPT") or "malformed" in text:
        return damaged(path, text)
    if name.startswith("SQLITE_NOTADB") or "not a database" in text:
        return DatabaseDamaged(
            f"{path} no longer reads with the key it was opened with ({text}): it is damaged, or "
            f"another process changed its key; nothing was written."
        )
    cause = faults.diagnose(Path(path), exc)
    if cause is not None:
        return cause
    if name.startswith("SQLITE_READONLY") or "readonly" in text or "read-only" in text:
        return StoreReadOnly(f"{path} cannot be written by this account ({text}); nothing was written.")
    if name.startswith("SQLITE_FULL") or "full" in text:
        return faults.disk_full(Path(path), certain=True)
    if name.startswith("SQLITE_IOERR") or "disk I/O" in text:
        return StoreError(f"Reading or writing {path} failed ({text}); nothing was written. Check the disk.")
    return StoreError(f"Database error on {path}: {text}")


# --- statements on the connection itself (the engine's modules call these, never SQL) ------------

def rekey(conn: Conn, new_key: bytes) -> None:
    """Re-encrypt every page under `new_key` (SQLCipher's PRAGMA rekey)."""
    conn.execute(f"PRAGMA rekey = \"x'{_check_key(new_key)}'\"")


def still_opens(conn: Conn) -> None:
    """Read the schema, which needs the key: raises DbError when the key no longer opens the file."""
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()


def data_version(conn: Conn) -> int:
    """SQLite's data_version: changes when another connection commits (a cheap "did anything change")."""
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


def begin(conn: Conn, *, immediate: bool = False) -> None:
    """A read snapshot (BEGIN) or the write lock (BEGIN IMMEDIATE: two writers never interleave)."""
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")


def commit(conn: Conn) -> None:
    conn.execute("COMMIT")


def rollback(conn: Conn) -> None:
    conn.execute("ROLLBACK")
