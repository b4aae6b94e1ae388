"""Signing on this OS account, for a team-mode client: the statements a service prepared are
checked to be this account's own about this database (never a blank cheque), then signed with
the account's own personal key (core/personal_keys.py), which never leaves it.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any, Callable

from ..core.errors import SigningRefused

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ..core.personal_keys import KeyStore, PersonalKey
    from ..core.settings import Settings


class AccountSigner:
    def __init__(self, database_id: str, username: str, settings: "Settings") -> None:
        self.database_id, self.username, self.settings = database_id, username, settings
        self._store: KeyStore | None = None
        self._unlock: Callable[[str], str] | None = None
        #: keys unlocked on this connection: no key file read and parsed again per signing
        self._unlocked: dict[tuple[str, str], Ed25519PrivateKey] = {}

    @property
    def store(self) -> "KeyStore":
        """This OS account's store of personal signing keys for the service's database."""
        if self._store is None:
            from ..core.personal_keys import KeyStore

            self._store = KeyStore(self.database_id, self.settings)
        return self._store

    def set_unlock(self, unlock: Callable[[str], str] | None) -> None:
        """How a passphrase-protected signing key's passphrase is asked for: unlock(username)."""
        self._unlock = unlock

    def locked(self, key_id: Any) -> bool:
        """Is the registered key `key_id` here protected and not unlocked in this session?"""
        key = self.store.find(self.username, key_id) if isinstance(key_id, str) else None
        return key is not None and key.protected and (self.username, key.key_id) not in self._unlocked

    def sign(self, prepared: dict[str, Any], reauth: Callable[[], str] | None) -> list[str]:
        """One signature (hex) per statement the service prepared."""
        statements = [base64.b64decode(s, validate=True) for s in prepared.get("statements") or []]
        if not statements:
            return []
        for statement in statements:
            self._check_statement(statement)
        me, kid = self.username, prepared.get("key_id")
        if not prepared.get("reauth") and (private := self._unlocked.get((me, str(kid)))) is not None:
            return [private.sign(statement).hex() for statement in statements]
        key = self.store.find(me, kid) if isinstance(kid, str) else None
        if key is None:
            raise SigningRefused(f"{me}'s registered signing key {kid} is not in this OS account's key store, so "
                                 f"{me} cannot sign here; on this account run `hitl-tui key show`, then an "
                                 f"administrator registers the key it prints; nothing was written.")
        private = self._reauthenticated(key, reauth) if prepared.get("reauth") else self._private(key)
        return [private.sign(statement).hex() for statement in statements]

    def _check_statement(self, statement: bytes) -> None:
        from ..core.signatures import STATEMENT_PREFIX

        try:
            body = json.loads(statement[len(STATEMENT_PREFIX):]) if statement.startswith(STATEMENT_PREFIX) else None
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("actor") != self.username \
                or body.get("database_id") != self.database_id:
            raise SigningRefused(f"The service asked {self.username} to sign a statement that is not their own about "
                                 f"this database; nothing was signed.")

    def _private(self, key: "PersonalKey") -> "Ed25519PrivateKey":
        from ..core.personal_keys import unlocked

        return unlocked(key, self._unlocked, self._unlock)

    def _reauthenticated(self, key: "PersonalKey", reauth: Callable[[], str] | None) -> "Ed25519PrivateKey":
        from ..core.personal_keys import reauthenticated

        return reauthenticated(key, reauth, "The policy asks for your signing key's passphrase at this signing")
