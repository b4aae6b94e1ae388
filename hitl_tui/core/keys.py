"""Finding (and first storing) the 32-byte key of the encrypted database.

Resolution order, first that applies wins:
  1. the key file      - the db_key_file setting (HITL_DB_KEY_FILE or the config file): a 0600/0400
                         file holding 64 hex characters or 32 raw bytes
  2. HITL_DB_KEY       - 64 hex characters in the environment
  3. the OS keyring    - service "hitl-tui", username = the database's absolute path
  4. a passphrase      - HITL_DB_PASSPHRASE or an interactive prompt, stretched once with scrypt
                         and a salt file beside the database

SQLCipher is always given a raw key (`x'...'`), so opening stays fast; the slow stretching of a
passphrase happens here, once per process (SQLCipher would otherwise run PBKDF2, ~0.1 s, on every open).

The keyring itself is reached through os_keyring.py (trusted backends only, time-limited).

A key rotation in progress (WorkflowService.rekey) keeps the new key durably next to the current
one before the database is re-keyed (key_rotation.py: the pending key, storing the rotated key,
the rotation lock). resolve_key returns it beside the main key (ResolvedKey.pending), so opening
can finish an interrupted rotation or discard one that never happened. Key and salt files are
written all or nothing by safe_files.py.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from hitl_tui.core.crashpoints import crash_point
from hitl_tui.core.os_keyring import keyring_call
from hitl_tui.core.safe_files import O_BINARY, write_new_file
from hitl_tui.core.errors import (
    InsecureKeyFile,
    KeyExists,
    KeyInvalid,
    KeyMissing,
    StoreError,
    StoreLocked,
)

if TYPE_CHECKING:
    from hitl_tui.core.settings import Settings

KEYRING_SERVICE = "hitl-tui"
KEY_BYTES = 32
SALT_BYTES = 16

ENV_KEY_FILE = "HITL_DB_KEY_FILE"  # the db_key_file setting's variable (settings.py)
# Secrets, and so env-only facts rather than settings: read from the environment here, never from
# the config file (settings.py refuses them there) nor kept in the Settings object that is
# passed around, printed by `locate --json` and shown in reprs.
ENV_KEY = "HITL_DB_KEY"
ENV_PASSPHRASE = "HITL_DB_PASSPHRASE"

# scrypt cost: n * r * 128 bytes = 32 MiB of memory, ~0.1 s. Changing any of these makes every
# existing passphrase database unreadable, so they are fixed, not configurable.
_SCRYPT_N = 2**15
_SCRYPT_R = 8
_SCRYPT_P = 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024  # OpenSSL refuses n=2**15,r=8 at its 32 MiB default

_HOW_TO_SUPPLY = (
    "set HITL_DB_KEY_FILE (or db_key_file in the config file) to a 0600 file holding the key, unlock "
    "the OS keyring that holds it, or set HITL_DB_PASSPHRASE if the database was created with a passphrase"
)


@dataclass(frozen=True)
class ResolvedKey:
    key: bytes  # raw 32 bytes
    source: str  # "key-file" | "env" | "keyring" | "passphrase"
    detail: str  # human text; for "key-file" it is the absolute path of the file
    #: for "key-file": the setting that named it, as messages say it ("HITL_DB_KEY_FILE",
    #: "db_key_file in /home/ann/.config/hitl-tui/config.toml")
    named_by: str = field(default=ENV_KEY_FILE, compare=False)
    #: the new key of a rotation that was interrupted (or never happened), kept beside the main
    #: key; None when there is none (see WorkflowService.open)
    pending: bytes | None = field(default=None, compare=False)

    def __repr__(self) -> str:  # never let the key reach a log or a traceback
        return f"ResolvedKey(source={self.source!r}, detail={self.detail!r})"


# --- small helpers ---------------------------------------------------------------------------

def keyring_username(db_path: Path) -> str:
    return str(Path(db_path).expanduser().resolve())


def salt_path(db_path: Path) -> Path:
    return Path(f"{Path(db_path).expanduser()}.salt")


def _parse_hex_key(text: str, where: str) -> bytes:
    text = text.strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(text) != 2 * KEY_BYTES or len(key) != KEY_BYTES:
        raise KeyInvalid(f"{where} must hold exactly 64 hexadecimal characters (a 32-byte key).")
    return key


# 0 where it does not exist: O_NONBLOCK so that a FIFO given as the key file is refused (it is
# not a regular file) instead of hanging in open().
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


# --- key file --------------------------------------------------------------------------------

def read_key_file(path: Path, named_by: str = ENV_KEY_FILE) -> bytes:
    """The key in `path`; `named_by` is the setting that named the file, for the messages."""
    try:
        fd = os.open(path, os.O_RDONLY | _O_NONBLOCK | O_BINARY)
    except FileNotFoundError:
        raise KeyMissing(f"{named_by} points at {path}, which does not exist.") from None
    except OSError as exc:
        raise KeyMissing(
            f"Cannot read key file {path} ({named_by}): {exc.strerror}."
        ) from None
    try:
        st = os.fstat(fd)  # fstat the open file: no window between checking and reading
        if not stat.S_ISREG(st.st_mode):
            raise KeyMissing(f"Key file {path} ({named_by}) is not a regular file.")
        if os.name == "posix" and st.st_mode & 0o077:
            raise InsecureKeyFile(
                f"Key file {path} can be read by other users (mode {st.st_mode & 0o777:04o}); "
                f"run `chmod 600 {path}` and try again."
            )
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    if len(data) == KEY_BYTES:  # raw bytes; checked before stripping, raw keys may hold spaces
        return data
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        text = "not hex"
    return _parse_hex_key(text, f"Key file {path} ({named_by})")


def key_file_setting(settings: "Settings | None" = None) -> tuple[Path | None, str]:
    """(the db_key_file setting as an absolute path, or None; how messages name the setting)."""
    from hitl_tui.core.settings import given_or_loaded

    settings = given_or_loaded(settings)
    value = settings.db_key_file
    return (None if value is None else value.absolute()), settings.where("db_key_file")


def _env_key() -> bytes | None:
    value = os.environ.get(ENV_KEY)  # a secret: env-only (see ENV_KEY)
    return None if value is None else _parse_hex_key(value, "HITL_DB_KEY")


def keyring_set_and_check(username: str, value: str) -> Callable[[Any], bool]:
    def op(backend: Any) -> bool:
        backend.set_password(KEYRING_SERVICE, username, value)
        return bool(backend.get_password(KEYRING_SERVICE, username) == value)  # read back

    return op


# --- passphrase ------------------------------------------------------------------------------

def derive_passphrase_key(db_path: Path, passphrase: str, *, create_salt: bool = False) -> bytes:
    """scrypt(passphrase, salt) -> 32 bytes. With create_salt, write a new salt file first."""
    if not passphrase:
        raise KeyInvalid("An empty passphrase is not allowed.")
    spath = salt_path(db_path)
    if create_salt:
        salt = secrets.token_bytes(SALT_BYTES)
        # a brand-new account has no data directory yet: the salt is the first file in it
        spath.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            write_new_file(spath, salt)
        except FileExistsError:
            raise KeyExists(
                f"Salt file {spath} already exists, so a passphrase database was created here "
                f"before; refusing to overwrite it. Delete it only if no database uses it."
            ) from None
    else:
        try:
            salt = spath.read_bytes()
        except FileNotFoundError:
            raise KeyMissing(
                f"No salt file {spath}: this database was not created with a passphrase; "
                f"supply its key with HITL_DB_KEY_FILE or the OS keyring."
            ) from None
        if len(salt) != SALT_BYTES:
            raise KeyInvalid(f"Salt file {spath} is damaged (expected {SALT_BYTES} bytes).")
    # NFC: the same passphrase typed on another system may arrive in another Unicode form.
    secret = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    return hashlib.scrypt(
        secret, salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P,
        maxmem=_SCRYPT_MAXMEM, dklen=KEY_BYTES,
    )


def _passphrase(prompt: Callable[[], str] | None) -> str | None:
    if ENV_PASSPHRASE in os.environ:  # a secret: env-only (see ENV_KEY)
        return os.environ[ENV_PASSPHRASE]
    return prompt() if prompt is not None else None


# --- public entry points ---------------------------------------------------------------------

def resolve_key(
    db_path: Path,
    *,
    passphrase_prompt: Callable[[], str] | None = None,
    keyring_timeout: float = 5.0,
    settings: "Settings | None" = None,
) -> ResolvedKey:
    """Find the key of an existing database (see the module docstring for the order).
    `settings` names the key file (default: this process's settings)."""
    # key_rotation builds on this module (ResolvedKey, the key file reader): imported here
    from hitl_tui.core.key_rotation import pending_keyring_username, read_pending_file

    key_file, named_by = key_file_setting(settings)
    if key_file is not None:
        return ResolvedKey(read_key_file(key_file, named_by), "key-file", str(key_file),
                           pending=read_pending_file(key_file), named_by=named_by)
    env_key = _env_key()
    if env_key is not None:
        return ResolvedKey(env_key, "env", "HITL_DB_KEY environment variable")

    username = keyring_username(db_path)
    pending_name = pending_keyring_username(db_path)
    try:  # both entries in one keyring round trip
        found, values, description = keyring_call(
            lambda b: (b.get_password(KEYRING_SERVICE, username), b.get_password(KEYRING_SERVICE, pending_name)),
            keyring_timeout,
        )
    except StoreLocked:
        # A salt file means this database was made with a passphrase (create_key never puts
        # such a key in the keyring): a locked keyring must not stand in its way.
        if not salt_path(db_path).exists():
            raise
        found, values, description = False, None, "keyring unreachable"
    value, pending_value = values if values is not None else (None, None)
    if found and value is not None:
        where = f"{description} entry {KEYRING_SERVICE!r} / {username!r}"
        pending = None
        if pending_value is not None:
            pending = _parse_hex_key(pending_value, f"{description} entry {KEYRING_SERVICE!r} / {pending_name!r}")
        return ResolvedKey(_parse_hex_key(value, where), "keyring", description, pending=pending)

    # Check the salt before asking: never make someone type a passphrase that cannot work.
    if salt_path(db_path).exists() or ENV_PASSPHRASE in os.environ:
        passphrase = _passphrase(passphrase_prompt)
        if passphrase is not None:
            key = derive_passphrase_key(db_path, passphrase)
            return ResolvedKey(key, "passphrase", f"passphrase (salt {salt_path(db_path)})")
    raise KeyMissing(f"No key found for {db_path}: {_HOW_TO_SUPPLY}.")


def create_key(
    db_path: Path,
    *,
    passphrase_prompt: Callable[[], str] | None = None,
    keyring_timeout: float = 5.0,
    settings: "Settings | None" = None,
) -> ResolvedKey:
    """Make and keep the key for a database about to be created. Never overwrites a key.
    `settings` names the key file (default: this process's settings)."""
    key_file, named_by = key_file_setting(settings)
    if key_file is not None:
        key = secrets.token_bytes(KEY_BYTES)
        crash_point("create_key.after_generate")
        try:
            write_new_file(key_file, key.hex().encode("ascii") + b"\n")
            crash_point("create_key.after_write")
        except FileExistsError:  # an existing key file is used, never replaced
            key = read_key_file(key_file, named_by)
        except OSError as exc:
            raise KeyMissing(f"Cannot create key file {key_file} ({named_by}): {exc.strerror}.") from None
        return ResolvedKey(key, "key-file", str(key_file), named_by=named_by)
    env_key = _env_key()
    if env_key is not None:
        return ResolvedKey(env_key, "env", "HITL_DB_KEY environment variable")

    username = keyring_username(db_path)
    found, existing, description = keyring_call(
        lambda b: b.get_password(KEYRING_SERVICE, username), keyring_timeout
    )
    if found:
        if existing is not None:
            raise KeyExists(
                f"The {description} already holds a key for {username}; refusing to overwrite "
                f"it. If that database is gone, remove the entry with "
                f"`python -m keyring del {KEYRING_SERVICE} {username}`."
            )
        key = secrets.token_bytes(KEY_BYTES)
        crash_point("create_key.after_generate")
        _, stored, _ = keyring_call(keyring_set_and_check(username, key.hex()), keyring_timeout)
        if not stored:
            raise StoreError(f"The {description} did not keep the new key for {username}.")
        crash_point("create_key.after_write")
        return ResolvedKey(key, "keyring", description)

    passphrase = _passphrase(passphrase_prompt)
    if passphrase is not None:
        key = derive_passphrase_key(db_path, passphrase, create_salt=True)
        return ResolvedKey(key, "passphrase", f"passphrase (salt {salt_path(db_path)})")
    raise KeyMissing(
        f"No safe place to keep a new key ({description}): set HITL_DB_KEY_FILE (or db_key_file in "
        f"the config file) to a path for "
        f"a new 0600 key file, run inside a desktop session with a keyring, or set "
        f"HITL_DB_PASSPHRASE."
    )
