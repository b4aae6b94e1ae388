"""The signing side of WorkflowService: whose key signs an entry, registering and revoking keys.

Embedded mode: this OS account acts for everyone its service names, so a person added here gets
a key in this account's store (personal_keys.py). A person whose registered key lives on another
account signs there; here they are refused, in one line saying how to register the key they hold.
Held by the service as `_keys`; the service's `_audit` calls `prepare` and `sign` for every
signed action (signatures.SIGNED_ACTIONS), inside the action's write transaction.
Team mode (two_phase.py) sets OUTSIDE_SIGNER: the person signs on their own account instead, and
nothing here enrols or makes a key for anyone.
"""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

from . import rbac
from .errors import PermissionDenied, ReauthRequired, SigningRefused, UnknownUser, ValidationFailed
from .personal_keys import KeyStore, PersonalKey, reauthenticated, unlocked
from .signatures import SIGNED_ACTIONS, key_id, parse_public_key, public_key_text, sign
from .store import user_keys
from .store import users as user_sql
from .store.connection import Conn
from .text import check_inputs, check_text

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from .models import WorkflowRequest
    from .service import WorkflowService

REASON_MAX = 500


class OutsideSigner(Protocol):
    """Signs for people whose keys are on their own OS accounts (team mode: two_phase.py)."""

    def sign(self, record: dict[str, Any], registered: user_keys.KeyRow) -> dict[str, str]:
        """The "sig" member for `record`, whose actor signs with `registered`."""
        ...

    def reauth_asked(self) -> None:
        """The policy asks for re-authentication at this signing (the person's own account asks)."""
        ...


#: who signs the entries written in this context (thread, task) instead of this account's key
#: store; None: the store (embedded mode). Such a signer never enrols a key on first use.
OUTSIDE_SIGNER: ContextVar[OutsideSigner | None] = ContextVar("hitl_tui_outside_signer", default=None)


def _register_hint(username: str) -> str:
    return (f"on {username}'s own OS account run `hitl-tui key show`, then an administrator runs "
            f"`hitl-tui users key register {username} KEY --reason ...` with the key it prints")


class KeyDirectory:
    def __init__(self, service: "WorkflowService") -> None:
        self.service = service
        self._store: KeyStore | None = None
        #: keys unlocked in this session: (username, key id) -> Ed25519PrivateKey
        self._unlocked: dict[tuple[str, str], Ed25519PrivateKey] = {}
        #: a key unlocked by its passphrase for ONE signing (re-authentication): (username, key)
        self._armed: tuple[str, Ed25519PrivateKey] | None = None
        #: the session's way to ask for a protected key's passphrase: unlock(username) -> str
        self.unlock: Callable[[str], str] | None = None

    def use_directory(self, root: Path) -> None:
        """Keep this session's personal keys in `root` (a throwaway database's own directory)."""
        self._store = KeyStore(self.service.database_id, self.service.settings, root=root)

    @property
    def store(self) -> KeyStore:
        if self._store is None:
            self._store = KeyStore(self.service.database_id, self.service.settings)
        return self._store

    # --- signing (called by WorkflowService._audit) --------------------------------------------

    def prepare(self, conn: Conn, actor: str, action: str, details: dict[str, Any]) -> None:
        """Before a signed action's entry: a person in the directory who never had a key (from
        before signatures) enrols one on first use, in an entry of their own signed by it."""
        if action not in SIGNED_ACTIONS or self._armed_for(actor) or user_keys.valid(conn, actor) is not None:
            return
        if action == "user_added" and details.get("username") == actor:
            return  # the first person adding themselves signs with the key the entry registers
        if user_sql.get(conn, actor) is None or user_keys.ever_had(conn, actor):
            return  # bootstrap by someone outside the directory, or refused by sign()
        if OUTSIDE_SIGNER.get() is not None:  # their key is theirs to make, on their own account
            raise SigningRefused(f"{actor} has no registered signing key; {_register_hint(actor)}.")
        key = self.store.ensure(actor)
        details = {"username": actor, "public_key": key.public_key, "key_id": key.key_id, "replaces": None,
                   "reason": "first use", "first_use": True}
        self._armed = (actor, self._private(key))
        seq = self.service._audit(conn, actor, "user_key_registered", None, details)
        user_keys.register(conn, actor, key.key_id, key.public_key, seq)

    def sign(self, conn: Conn, record: dict[str, Any]) -> dict[str, str] | None:
        """The "sig" member for a signed action's record, or None where contract A allows an
        unsigned one (the directory's bootstrap by someone outside it). SigningRefused when the
        actor's registered key cannot sign here (nothing is then written)."""
        actor = record["actor"]
        details = record.get("details") or {}
        if (record["action"] == "user_key_registered" and details.get("first_use")
                and (enrolling := self._take_armed(actor)) is not None):
            return sign(enrolling, record, self.service.database_id)  # prepare's enrolment
        valid = user_keys.valid(conn, actor)
        if valid is None and record["action"] == "user_added" and details.get("username") == actor:
            valid = user_keys.KeyRow(actor, details["key_id"], details["public_key"], 0, None, None)  # self-signed
        if valid is None:
            if user_sql.get(conn, actor) is None:
                return None  # only the bootstrap lets someone outside the directory act (rbac.check_admin)
            if user_keys.ever_had(conn, actor):
                raise SigningRefused(f"{actor}'s signing key was revoked, so {actor} cannot sign; an administrator "
                                     f"registers a new one: {_register_hint(actor)}.")
            raise SigningRefused(f"{actor} has no registered signing key; {_register_hint(actor)}.")
        if (outside := OUTSIDE_SIGNER.get()) is not None:
            return outside.sign(record, valid)
        armed = self._take_armed(actor)
        if armed is not None:
            private = armed
            if key_id(_raw_public(private)) != valid.key_id:
                raise ReauthRequired(f"The key you unlocked is not {actor}'s registered key {valid.key_id}; "
                                     f"nothing was signed.")
        elif (cached := self._unlocked.get((actor, valid.key_id))) is not None:
            private = cached  # unlocked earlier in this session: no key store read per signature
        else:
            key = self.store.find(actor, valid.key_id)
            if key is None:
                raise SigningRefused(f"{actor}'s registered signing key {valid.key_id} is not in this OS account's "
                                     f"key store, so {actor} cannot sign here; {_register_hint(actor)}.")
            private = self._private(key)
        return sign(private, record, self.service.database_id)

    def _private(self, key: PersonalKey) -> Ed25519PrivateKey:
        return unlocked(key, self._unlocked, self.unlock)

    def locked(self, username: str) -> bool:
        """Is `username`'s registered key here protected by a passphrase not yet given in this
        session? (The desk then asks for it before deciding.)"""
        valid = self.service._read(user_keys.valid, username)
        key = self.store.find(username, valid.key_id) if valid is not None else None
        return key is not None and key.protected and (username, key.key_id) not in self._unlocked

    def _armed_for(self, actor: str) -> bool:
        return self._armed is not None and self._armed[0] == actor

    def _take_armed(self, actor: str) -> Ed25519PrivateKey | None:
        if self._armed is not None and self._armed[0] == actor:
            private, self._armed = self._armed[1], None
            return private
        return None

    # --- re-authentication at signing (21 CFR 11.200) ------------------------------------------

    def reauth_key(self, workflow_id: str, username: str,
                   unlock: Callable[[], str] | None) -> Ed25519PrivateKey | None:
        """Before a decision's transaction: the key unlocked by its passphrase when the policy asks
        for re-authentication at this signing, else None. Asks `unlock` (a prompt) only then."""
        self._armed = None
        if OUTSIDE_SIGNER.get() is not None:
            return None  # the person re-authenticates on their own account, when arm() says so
        policy = self.service.policy
        if not policy.asks_reauth:  # no rule at all: no extra read on the common path
            return None
        req = self.service.get_workflow(workflow_id)
        if not policy.reauth_required(req.workflow_type, req.risk_level):
            return None
        what = f"{req.id} is {req.risk_level.value}: the policy asks for your signing key's passphrase at this signing"
        return reauthenticated(self._registered_here(username), unlock, what,
                               "run the command on a terminal, where it asks for it, or decide at the desk")

    def arm(self, req: "WorkflowRequest", username: str, fresh: Ed25519PrivateKey | None) -> None:
        """Inside the transaction, right before the decision's entry: the request as read there
        may need re-authentication although it did not a moment ago (a new policy, a resubmission)."""
        if fresh is None and self.service._policies.cached.policy.reauth_required(req.workflow_type, req.risk_level):
            if (outside := OUTSIDE_SIGNER.get()) is not None:
                outside.reauth_asked()  # their own account asks for the passphrase before signing
                self._armed = None
                return
            raise ReauthRequired(f"{req.id} now needs your signing key's passphrase (it changed meanwhile); "
                                 f"nothing was written, decide again.")
        self._armed = (username, fresh) if fresh is not None else None

    def _registered_here(self, username: str) -> PersonalKey:
        valid = self.service._read(user_keys.valid, username)
        if valid is None:
            raise SigningRefused(f"{username} has no registered signing key; {_register_hint(username)}.")
        key = self.store.find(username, valid.key_id)
        if key is None:
            raise SigningRefused(f"{username}'s registered signing key {valid.key_id} is not in this OS account's "
                                 f"key store; {_register_hint(username)}.")
        return key

    # --- the directory of keys -----------------------------------------------------------------

    def for_new_user(self, conn: Conn, username: str, public_key: str | None) -> tuple[str, str]:
        """(public key text, key id) for a person being added: the key they gave, or a new one
        made in this account's store (embedded mode)."""
        if public_key is None:
            if OUTSIDE_SIGNER.get() is not None:  # this account holds no one's key in team mode
                raise ValidationFailed(f"{username}'s signing key is made on their own OS account: run `hitl-tui key "
                                       f"show` there, then add them with the key it prints (--key).", "public_key")
            key = self.store.ensure(username)
            return key.public_key, key.key_id
        text, kid = _checked_key(public_key)
        _refuse_taken(conn, kid, username)
        return text, kid

    def register_user_key(self, username: str, public_key: str, reason: str, actor: str | None) -> str:
        check_inputs(username=username, public_key=public_key, reason=reason)
        reason = check_text(reason or "", "reason", REASON_MAX, single_line=True, required=True,
                            hint="say why, e.g. \"new laptop\" or \"key rotation\"")
        text, kid = _checked_key(public_key)
        svc = self.service
        with svc._write() as conn:
            actor_name, actor_user = svc._actor(conn, actor)
            rbac.check_admin(actor_user, user_sql.has_admin(conn))
            if user_sql.get(conn, username) is None:
                raise UnknownUser(username)
            current = user_keys.valid(conn, username)
            if current is not None and current.key_id == kid:
                raise ValidationFailed(f"{kid} is already {username}'s registered key; nothing was written.", "public_key")
            _refuse_taken(conn, kid, username)
            seq = svc._audit(conn, actor_name, "user_key_registered", None, {
                "username": username, "public_key": text, "key_id": kid,
                "replaces": current.key_id if current else None, "reason": reason,
            })
            user_keys.register(conn, username, kid, text, seq)
        return kid

    def revoke_user_key(self, username: str, reason: str, actor: str | None) -> str:
        check_inputs(username=username, reason=reason)
        reason = check_text(reason or "", "reason", REASON_MAX, single_line=True, required=True,
                            hint="say why, e.g. \"laptop lost\"")
        svc = self.service
        with svc._write() as conn:
            actor_name, actor_user = svc._actor(conn, actor)
            rbac.check_admin(actor_user, user_sql.has_admin(conn))
            if user_sql.get(conn, username) is None:
                raise UnknownUser(username)
            current = user_keys.valid(conn, username)
            if current is None:
                raise PermissionDenied(f"{username} has no registered signing key to revoke.")
            seq = svc._audit(conn, actor_name, "user_key_revoked", None, {
                "username": username, "key_id": current.key_id, "reason": reason,
            })
            user_keys.revoke(conn, username, current.key_id, seq)
        return current.key_id


def _checked_key(public_key: str) -> tuple[str, str]:
    try:
        raw = parse_public_key(public_key)
    except ValueError as exc:
        raise ValidationFailed(f"{exc}.", "public_key") from None
    return public_key_text(raw), key_id(raw)


def _refuse_taken(conn: Conn, kid: str, username: str) -> None:
    holder = user_keys.holder_of(conn, kid)
    if holder is not None and holder != username:
        raise ValidationFailed(f"Key {kid} is {holder}'s; each person signs with a key of their own.", "public_key")


def _raw_public(private: Ed25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
