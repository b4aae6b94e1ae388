"""Each person's own Ed25519 signing key, kept where only this OS account can read it.

One store entry per (database id, username): a 0600 file `<data dir>/personal-keys/<database
id>/<username>.keys`, or, with the setting `personal_keys = "keyring"`, the OS keyring entry
service "hitl-tui-personal-key", username "<database id>/<username>". Never the database, never
printed. An entry holds one line per key, newest last (a rotation adds one; signatures made by an
older key keep verifying by the public key registered in the trail):

    v1 <key id> ed25519:<64 hex public key> raw <64 hex private key>
    v1 <key id> ed25519:<64 hex public key> pkcs8 <base64 of the PKCS#8 DER, encrypted by a passphrase>

A key protected by a passphrase (`hitl-tui key passphrase`) is unlocked with it; that is what
the policy's re-authentication at signing asks for (21 CFR 11.200).
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from .errors import PersonalKeyError, ReauthRequired
from .paths import data_dir
from .safe_files import replace_file, write_new_file
from .signatures import key_id, public_key_text

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from .settings import Settings

_T = TypeVar("_T")

KEYRING_SERVICE = "hitl-tui-personal-key"
_LINE = re.compile(r"^v1 ([0-9a-f]{16}) ed25519:([0-9a-f]{64}) (raw|pkcs8) (\S+)$")


def store_dir() -> Path:
    return data_dir() / "personal-keys"


@dataclass(frozen=True)
class PersonalKey:
    """One key of one person; the private half stays in here (repr never shows it)."""

    username: str
    key_id: str
    public_raw: bytes
    form: str  # "raw" | "pkcs8"
    secret: str

    def __repr__(self) -> str:
        return f"PersonalKey({self.username!r}, {self.key_id}, {'protected' if self.protected else 'plain'})"

    @property
    def public_key(self) -> str:
        return public_key_text(self.public_raw)

    @property
    def protected(self) -> bool:
        return self.form == "pkcs8"

    def unlock(self, passphrase: str | None = None) -> Ed25519PrivateKey:
        """The Ed25519PrivateKey. A protected key needs its passphrase (ReauthRequired if it is
        missing or wrong); a plain key ignores one."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_der_private_key

        if self.form == "raw":
            key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(self.secret))
        else:
            if not passphrase:
                raise ReauthRequired(f"{self.username}'s signing key {self.key_id} is protected by a passphrase; "
                                     f"give it to sign.")
            try:
                loaded = load_der_private_key(base64.b64decode(self.secret), passphrase.encode("utf-8"))
            except (ValueError, TypeError):
                raise ReauthRequired(f"Wrong passphrase for {self.username}'s signing key {self.key_id}; "
                                     f"nothing was signed.") from None
            if not isinstance(loaded, Ed25519PrivateKey):  # PKCS#8 holds any algorithm; ours are Ed25519 only
                raise PersonalKeyError(f"{self.username}'s stored key {self.key_id} is not an Ed25519 key: "
                                       f"the key store was damaged.")
            key = loaded
        if key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw) != self.public_raw:
            raise PersonalKeyError(f"{self.username}'s stored key {self.key_id} does not match its public key: "
                                   f"the key store was damaged.")
        return key

    def line(self) -> str:
        return f"v1 {self.key_id} {self.public_key} {self.form} {self.secret}"


def new_key(username: str) -> PersonalKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

    private = Ed25519PrivateKey.generate()
    raw_pub = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    secret = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()).hex()
    return PersonalKey(username, key_id(raw_pub), raw_pub, "raw", secret)


def with_passphrase(key: PersonalKey, private: Ed25519PrivateKey, passphrase: str | None) -> PersonalKey:
    """The same key, stored encrypted by `passphrase` (PKCS#8, cryptography's best available
    encryption), or in the clear when `passphrase` is empty."""
    from cryptography.hazmat.primitives.serialization import (BestAvailableEncryption, Encoding, NoEncryption,
                                                              PrivateFormat)

    if not passphrase:
        raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()).hex()
        return PersonalKey(key.username, key.key_id, key.public_raw, "raw", raw)
    der = private.private_bytes(Encoding.DER, PrivateFormat.PKCS8, BestAvailableEncryption(passphrase.encode("utf-8")))
    return PersonalKey(key.username, key.key_id, key.public_raw, "pkcs8", base64.b64encode(der).decode())


class KeyStore:
    """This OS account's personal keys for one database."""

    def __init__(self, database_id: str, settings: "Settings | None" = None, *, root: Path | None = None) -> None:
        """`root`: files in this directory instead of the setting's store (the demo's own)."""
        from .settings import given_or_loaded

        self.database_id = database_id
        self.backend = "file" if root is not None else given_or_loaded(settings).personal_keys
        #: resolved once: the session keeps the store it started with, as it keeps its settings
        self.root = root if root is not None else store_dir()

    # --- reading ---------------------------------------------------------------------------

    def keys(self, username: str) -> list[PersonalKey]:
        text = self._read(username)
        if text is None:
            return []
        keys = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            m = _LINE.match(line.strip())
            if m is None or key_id(bytes.fromhex(m[2])) != m[1]:
                raise PersonalKeyError(f"{self._where(username)} line {number} is not a hitl-tui personal key: the "
                                       f"store was damaged or edited; move it aside and register a new key.")
            keys.append(PersonalKey(username, m[1], bytes.fromhex(m[2]), m[3], m[4]))
        return keys

    def find(self, username: str, kid: str) -> PersonalKey | None:
        return next((k for k in self.keys(username) if k.key_id == kid), None)

    def newest(self, username: str) -> PersonalKey | None:
        keys = self.keys(username)
        return keys[-1] if keys else None

    # --- writing -----------------------------------------------------------------------------

    def ensure(self, username: str) -> PersonalKey:
        """The newest key of `username` here, made (and kept) on first need."""
        return self.newest(username) or self.add(username)

    def add(self, username: str) -> PersonalKey:
        """A new key for `username`, kept after any older ones (a rotation)."""
        key = new_key(username)
        self._write(username, [*self.keys(username), key])
        found = self.newest(username)  # another process may have made one at the same moment: use it
        assert found is not None
        return found

    def replace(self, key: PersonalKey) -> None:
        """Store `key` instead of the key with its id (a passphrase set, changed or removed)."""
        keys = self.keys(key.username)
        if not any(k.key_id == key.key_id for k in keys):
            raise PersonalKeyError(f"{self._where(key.username)} holds no key {key.key_id}.")
        self._write(key.username, [key if k.key_id == key.key_id else k for k in keys])

    def _where(self, username: str) -> str:
        if self.backend == "keyring":
            return f"The keyring entry {KEYRING_SERVICE} {self.database_id}/{username}"
        return str(self.path(username))

    def path(self, username: str) -> Path:
        return self.root / self.database_id / f"{username}.keys"

    def _read(self, username: str) -> str | None:
        if self.backend == "keyring":
            name = f"{self.database_id}/{username}"
            stored: str | None = self._keyring(lambda b: b.get_password(KEYRING_SERVICE, name))
            return stored
        path = self.path(username)
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            return None
        if mode & 0o077:
            raise PersonalKeyError(f"Personal key file {path} is readable by others (mode {mode:o}); "
                                   f"run `chmod 600 {path}`.")
        try:
            return path.read_text("ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise PersonalKeyError(f"Cannot read personal key file {path}: {exc}") from None

    def _write(self, username: str, keys: list[PersonalKey]) -> None:
        text = "".join(k.line() + "\n" for k in keys)
        if self.backend == "keyring":
            name = f"{self.database_id}/{username}"

            def put(backend: Any) -> bool:
                backend.set_password(KEYRING_SERVICE, name, text)
                return bool(backend.get_password(KEYRING_SERVICE, name) == text)
            if not self._keyring(put):
                raise PersonalKeyError(f"The keyring did not keep {username}'s signing key; nothing was signed.")
            return
        path = self.path(username)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path.parent.parent, 0o700)
        try:
            if path.exists():
                replace_file(path, text.encode("ascii"))
            else:
                write_new_file(path, text.encode("ascii"), crash_label="personal_key")
        except FileExistsError:
            pass  # another process made this person's first key at the same moment: keep theirs
        except OSError as exc:
            raise PersonalKeyError(f"Cannot write personal key file {path}: {exc.strerror or exc}; "
                                   f"nothing was signed.") from None

    def _keyring(self, op: Callable[[Any], _T]) -> _T | None:
        from .os_keyring import keyring_call

        found, value, description = keyring_call(op, 5.0)
        if not found:
            raise PersonalKeyError(f"personal_keys = \"keyring\", but there is no usable OS keyring ({description}); "
                                   f"set personal_keys = \"file\" or run inside a desktop session.")
        return value


#: the keys a session has unlocked, by (username, key id): a protected key is asked for once
UnlockedKeys = dict[tuple[str, str], "Ed25519PrivateKey"]


def unlocked(key: PersonalKey, cache: UnlockedKeys, ask: "Callable[[str], str] | None") -> "Ed25519PrivateKey":
    """`key`'s private half, from `cache` when this session unlocked it already; a protected key
    asks its passphrase with ask(username), and is refused in one line when nothing can ask."""
    from .errors import SigningRefused

    cached = cache.get((key.username, key.key_id))
    if cached is not None:
        return cached
    passphrase = None
    if key.protected:
        if ask is None:
            raise SigningRefused(f"{key.username}'s signing key is protected by a passphrase and nothing here can "
                                 f"ask for it; run the command on a terminal.")
        passphrase = ask(key.username)
    private = key.unlock(passphrase)
    cache[(key.username, key.key_id)] = private
    return private


def reauthenticated(key: PersonalKey, ask: "Callable[[], str] | None", what: str,
                    no_prompt: str = "run the command on a terminal, where it asks for it") -> "Ed25519PrivateKey":
    """`key` unlocked with a passphrase typed for this one signing (21 CFR 11.200, reauth_at):
    `what` says why it is asked; a key with no passphrase, or nothing that can ask, is refused."""
    from .errors import ReauthRequired

    if not key.protected:
        raise ReauthRequired(f"{what}, and {key.username}'s key has none; set one with `hitl-tui key passphrase` "
                             f"(on a terminal), then decide again.")
    if ask is None:
        raise ReauthRequired(f"{what}; {no_prompt}.")
    return key.unlock(ask())
