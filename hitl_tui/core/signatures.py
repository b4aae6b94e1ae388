"""Every human decision signed by the person who made it: the statement, the signature, the key
history, and the signature as 21 CFR Part 11 wants it shown.

The formats are the trail contract's part A (docs/VERIFY.md specifies them for the standalone
verifier):
- a signed record carries `"sig": {"alg": "ed25519", "key": KEY_ID, "value": HEX}` inside its
  hashed bytes;
- the signature is over STATEMENT_PREFIX + canonical_bytes({database_id, action, actor,
  workflow_id, ts, details}): not seq, prev_hash nor the session fields, so a signer needs no
  write lock and a later service can ask a client to sign a statement it prepared;
- a public key is written "ed25519:<64 hex>", KEY_ID = the first 16 hex of sha256(raw key).

The key valid for an actor at entry n is the latest registered, not revoked key before n
(KeyHistory, built from the trail while verifying). This module imports only the standard
library, audit.py and cryptography (lazily), because verify-audit's worker processes load it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from .audit import canonical_bytes
from .erased import is_placeholder

if TYPE_CHECKING:  # cryptography is imported lazily at run time
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

STATEMENT_PREFIX = b"hitl-tui signed statement v1\n"
ALG = "ed25519"
KEY_PREFIX = "ed25519:"

#: the actions a person signs (the one list: the engine signs these, verify-audit demands them)
SIGNED_ACTIONS = frozenset({
    "created", "approved", "rejected", "changes_requested", "resubmitted", "withdrawn",
    "user_added", "user_role_changed", "user_deactivated", "user_reactivated", "user_admin_changed",
    "policy_applied", "user_key_registered", "user_key_revoked",
    "erasure_requested", "erasure_cancelled", "personal_data_erased", "personal_data_expired",
    "token_created", "token_revoked",
    # notifications (core/notifications.py): an administrator's channels, a person's preferences
    "notify_webhook_added", "notify_webhook_removed", "notify_email_set", "notify_retry_set", "notify_prefs_set",
    # delegation (core/delegation.py): the delegator's own, or an administrator's for them
    "delegation_granted", "delegation_ended",
    # reassignment (core/assignment.py): an administrator's, a director's or an executive's
    "reassigned",
})
#: entries that change who holds which key, or whether the directory has an administrator
#: (which decides whether an entry is bootstrap): verify-audit reads these in order
KEY_ACTIONS = frozenset({"user_added", "user_key_registered", "user_key_revoked", "user_admin_changed",
                         "user_deactivated", "user_reactivated"})
#: what only an active administrator may do once the directory has one (rbac.check_admin): a
#: signature alone does not make such an entry genuine, its signer must have been an administrator
#: at that point of the trail, or anyone holding a key could add themselves an administrator.
ADMIN_ACTIONS = frozenset({"user_added", "user_role_changed", "user_deactivated", "user_reactivated",
                           "user_admin_changed", "policy_applied", "user_key_registered", "user_key_revoked",
                           "erasure_requested", "erasure_cancelled", "personal_data_erased",
                           "personal_data_expired", "token_created", "token_revoked",
                           "notify_webhook_added", "notify_webhook_removed", "notify_email_set", "notify_retry_set"})
#: an HTTP API bearer token is made and revoked by an active administrator even while the directory
#: has none (core/tokens.py: a credential is never part of setting a directory up), so no
#: bootstrap lets anyone else's entry, signed or not, pass for one
ALWAYS_ADMIN_ACTIONS = frozenset({"token_created", "token_revoked", "notify_webhook_added", "notify_webhook_removed", "notify_email_set", "notify_retry_set"})
#: the actions whose signature check needs the key history's state (parsed in full when verified)
HISTORY_ACTIONS = KEY_ACTIONS | ADMIN_ACTIONS
DECISIONS = {"approved": "approved", "rejected": "rejected", "changes_requested": "requested changes"}


# --- keys ----------------------------------------------------------------------------------------

def key_id(raw_public: bytes) -> str:
    return hashlib.sha256(raw_public).hexdigest()[:16]


def public_key_text(raw_public: bytes) -> str:
    return KEY_PREFIX + raw_public.hex()


def parse_public_key(text: str) -> bytes:
    """The raw 32 bytes of "ed25519:<64 hex>"; ValueError (saying what is expected) otherwise."""
    value = str(text).strip()
    hexpart = value[len(KEY_PREFIX):] if value.startswith(KEY_PREFIX) else None
    try:
        raw = bytes.fromhex(hexpart) if hexpart is not None else b""
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ValueError(f"{value[:80]!r} is not a public key: expected ed25519: and 64 hex digits, "
                         f"as `hitl-tui key show` prints it")
    return raw


# --- statements and signatures ---------------------------------------------------------------------

def statement(database_id: str, action: str | None, actor: str | None, workflow_id: str | None, ts: str | None,
              details: Mapping[str, Any] | None) -> bytes:
    """The exact bytes a person signs (contract A); a field a record lacks is signed as null."""
    return STATEMENT_PREFIX + canonical_bytes({
        "database_id": database_id, "action": action, "actor": actor, "workflow_id": workflow_id,
        "ts": ts, "details": details,
    })


def statement_of(record: Mapping[str, Any], database_id: str) -> bytes:
    return statement(database_id, record.get("action"), record.get("actor"), record.get("workflow_id"),
                     record.get("ts"), record.get("details"))


def sign(private_key: "Ed25519PrivateKey", record: Mapping[str, Any], database_id: str) -> dict[str, str]:
    """The "sig" member for `record`, signed by `private_key` (an Ed25519PrivateKey)."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    value = private_key.sign(statement_of(record, database_id))
    return {"alg": ALG, "key": key_id(raw), "value": value.hex()}


def signature_valid(message: bytes, raw_public: bytes, sig_hex: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(raw_public).verify(bytes.fromhex(sig_hex), message)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


# --- the key history ---------------------------------------------------------------------------------

@dataclass
class KeyPeriod:
    """One key of one person: registered by entry `since`, valid until `until` (exclusive: the
    entry that replaced or revoked it), `ended` = "replaced" | "revoked" | None."""

    username: str
    key_id: str
    public_key: bytes
    since: int
    until: int | None = None
    ended: str | None = None


@dataclass
class KeyHistory:
    """Who held which key from which entry, and whether the directory had an administrator,
    built by applying the trail's entries in order (apply)."""

    periods: list[KeyPeriod] = field(default_factory=list)
    current: dict[str, KeyPeriod] = field(default_factory=dict)
    ever: set[str] = field(default_factory=set)
    #: username -> (admin, active), as far as the trail says
    people: dict[str, list[bool]] = field(default_factory=dict)
    #: the first entry that registered a key: before it the trail is from before signatures
    first_key_seq: int | None = None

    def is_admin(self, username: str) -> bool:
        admin, active = self.people.get(username, (False, False))
        return bool(admin and active)

    @property
    def bootstrap(self) -> bool:
        """No active administrator: rbac.check_admin lets anyone change the directory."""
        return not any(admin and active for admin, active in self.people.values())

    def key_of(self, username: str) -> KeyPeriod | None:
        return self.current.get(username)

    def apply(self, seq: int, rec: Mapping[str, Any]) -> None:
        action, d = rec.get("action"), rec.get("details")
        if action not in KEY_ACTIONS or not isinstance(d, dict):
            return
        name = d.get("username")
        if not isinstance(name, str):
            return
        if action == "user_added":
            self.people[name] = [bool(d.get("admin")), True]
            if d.get("public_key"):
                self._register(seq, name, d["public_key"])
        elif action == "user_key_registered":
            self._register(seq, name, d.get("public_key", ""))
        elif action == "user_key_revoked":
            held = self.current.pop(name, None)
            if held is not None:
                held.until, held.ended = seq, "revoked"
        else:
            raw = d.get("after")
            after: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
            state = self.people.setdefault(name, [False, True])
            if "admin" in after:
                state[0] = bool(after["admin"])
            if "active" in after:
                state[1] = bool(after["active"])

    def _register(self, seq: int, name: str, text: str) -> None:
        try:
            raw = parse_public_key(text)
        except ValueError:
            return  # such an entry was never written by hitl-tui; its signature check reports it
        held = self.current.get(name)
        if held is not None:
            held.until, held.ended = seq, "replaced"
        period = KeyPeriod(name, key_id(raw), raw, seq)
        self.periods.append(period)
        self.current[name] = period
        self.ever.add(name)
        if self.first_key_seq is None:
            self.first_key_seq = seq


@dataclass
class Expectation:
    """What entry `seq` must carry: a signature by `key` (None: none can be checked), and how an
    unsigned one counts ("bootstrap", "legacy") or why it is a forgery."""

    key: KeyPeriod | None
    unsigned_ok: str | None
    first_use: bool = False
    why_no_key: str = ""
    #: why the entry is a forgery whatever its signature (its actor had no right to make it)
    forged: str = ""


def expectation(history: KeyHistory, seq: int, rec: Mapping[str, Any]) -> Expectation:
    """The rule of contract A for one signed action, given the history BEFORE entry `seq`."""
    actor, action = str(rec.get("actor")), rec.get("action")
    raw = rec.get("details")
    d: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    bootstrap = history.bootstrap
    if action == "user_key_registered" and d.get("first_use") is True and d.get("username") == actor:
        if actor in history.ever:
            return Expectation(None, None, why_no_key=f"it enrols a first key for {actor}, who already had one")
        return Expectation(_own_key(actor, d, seq), None, first_use=True)
    if action in ADMIN_ACTIONS and not bootstrap and not history.is_admin(actor):
        return Expectation(None, None, forged=f"{actor} was not an active administrator at that point of the trail")
    if action in ALWAYS_ADMIN_ACTIONS and not history.is_admin(actor):
        return Expectation(None, None, forged=f"{actor} was not an active administrator at that point of the trail, "
                                              f"and only one makes or revokes a token")
    held = history.key_of(actor)
    if held is None and bootstrap and action == "user_added" and d.get("username") == actor and d.get("public_key"):
        held = _own_key(actor, d, seq)  # self-signed: the first person adds themselves (bootstrap only)
    unsigned = "bootstrap" if bootstrap else ("legacy" if history.first_key_seq is None else None)
    why = "" if held else (f"{actor}'s key was revoked" if actor in history.ever else f"{actor} has no registered key")
    return Expectation(held, unsigned, why_no_key=why)


def _own_key(actor: str, d: Mapping[str, Any], seq: int) -> KeyPeriod | None:
    try:
        raw = parse_public_key(d.get("public_key", ""))
    except ValueError:
        return None
    return KeyPeriod(actor, key_id(raw), raw, seq)


def check_entry(database_id: str, seq: int, rec: Mapping[str, Any], key: bytes | None, kid: str | None,
                unsigned_ok: str | None, why_no_key: str, forged: str = "") -> tuple[str, str | None]:
    """("checked" | "bootstrap" | "legacy", None) for a good entry, ("", problem) for a forgery."""
    sig = rec.get("sig")
    what = f"entry {seq} ({rec.get('action')} {rec.get('workflow_id') or ''} by {rec.get('actor')})".replace("  ", " ")
    if forged:
        return "", f"{what} is a forgery: {forged}"
    if sig is None:
        if unsigned_ok:
            return unsigned_ok, None
        return "", f"{what} is a forgery: it carries no signature" + (f" ({why_no_key})" if why_no_key else "")
    if key is None:
        if unsigned_ok:  # bootstrap: nobody's key to check it by, as contract A allows
            return unsigned_ok, None
        return "", f"{what} is a forgery: its signature cannot be {rec.get('actor')}'s ({why_no_key})"
    if not isinstance(sig, dict) or sig.get("alg") != ALG or not isinstance(sig.get("value"), str):
        return "", f"{what} is a forgery: its signature is malformed"
    if sig.get("key") != kid:
        return "", (f"{what} is a forgery: it is signed by key {str(sig.get('key'))[:16]}, not by "
                    f"{rec.get('actor')}'s key {kid}")
    if not signature_valid(statement_of(rec, database_id), key, sig["value"]):
        return "", (f"{what} is a forgery: its signature does not verify against {rec.get('actor')}'s key {kid}")
    return "checked", None


#: one entry for verify_batch: (seq, body, key, key id, unsigned_ok, why_no_key)
BatchItem = tuple[int, bytes, bytes | None, str | None, str | None, str]
#: what verify_batch returns: counts by kind, and the first forgery (seq, problem) or None
BatchOutcome = tuple[dict[str, int], tuple[int, str] | None]


def verify_batch(database_id: str, items: list[BatchItem]) -> BatchOutcome:
    """Check (seq, body, key, key id, unsigned_ok, why_no_key) items: counts by kind, and the
    first forgery (seq, problem). Runs in verify-audit's worker processes."""
    counts = {"checked": 0, "bootstrap": 0, "legacy": 0}
    for seq, body, key, kid, unsigned_ok, why in items:
        try:
            rec = json.loads(body)
        except ValueError:
            return counts, (seq, f"entry {seq} is not a readable record, so its signature cannot be checked")
        kind, problem = check_entry(database_id, seq, rec, key, kid, unsigned_ok, why)
        if problem:
            return counts, (seq, problem)
        counts[kind] += 1
    return counts, None


# --- the manifestation (21 CFR 11.50) -------------------------------------------------------------

def meaning(rec: Mapping[str, Any]) -> str:
    """What the signer meant, in words, from the entry's own (signed) details."""
    action, actor = str(rec.get("action")), rec.get("actor")
    raw = rec.get("details")
    d: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    if action in DECISIONS:
        role = _role_label(d.get("decider_role"))
        stage = d.get("stage")
        where = ""
        if isinstance(stage, int):
            where = f", stage {stage + 1}" + (f" of {d['stages']}" if isinstance(d.get("stages"), int) else "")
        return f"{DECISIONS[action]} as {role}{on_behalf_words(d.get('on_behalf_of'), d.get('delegated_until'))}{where}"
    if action == "created":
        return f"requested {rec.get('workflow_id')}"
    if action == "resubmitted":
        return f"resubmitted {rec.get('workflow_id')} as revision {d.get('revision')}"
    if action == "withdrawn":
        return f"withdrew {rec.get('workflow_id')}"
    if action == "user_added":
        return f"added {d.get('username')} as {_role_label(d.get('role'))}" + (" (administrator)" if d.get("admin") else "")
    if action == "user_key_registered":
        if d.get("first_use"):
            return f"enrolled key {d.get('key_id')} on first use"
        return f"registered key {d.get('key_id')} for {d.get('username')}"
    if action == "user_key_revoked":
        return f"revoked {d.get('username')}'s key {d.get('key_id')}"
    if action == "policy_applied":
        return f"applied policy version {d.get('version')}"
    if action == "token_created":
        return f"made bearer token {d.get('token_id')} for {d.get('username')}"
    if action == "token_revoked":
        return f"revoked bearer token {d.get('token_id')} of {d.get('username')}"
    if action == "reassigned":
        stage = d.get("stage")
        where = f"stage {stage + 1} ({_role_label(d.get('stage_role'))})" if isinstance(stage, int) else "a stage"
        if d.get("assignee") is None:
            return f"cleared the assignment of {where} of {rec.get('workflow_id')}"
        return f"assigned {where} of {rec.get('workflow_id')} to {d.get('assignee')}"
    if action == "delegation_granted":
        kinds = f" for {', '.join(d['types'])}" if isinstance(d.get("types"), list) else ""
        return f"delegated {d.get('delegator')}'s decisions to {d.get('delegate')} until {d.get('until')}{kinds}"
    if action == "delegation_ended":
        return f"ended {d.get('delegator')}'s delegation to {d.get('delegate')}"
    if action == "notify_prefs_set":
        return f"set the notification preferences of {d.get('username')}"
    if action.startswith("notify_"):
        return f"changed the notifications: {action.removeprefix('notify_').replace('_', ' ')}"
    if action.startswith("user_"):
        return f"{action.removeprefix('user_').replace('_', ' ')} {d.get('username')}"
    return f"{action.replace('_', ' ')} by {actor}"


def manifestation(rec: Mapping[str, Any], *, names: Mapping[str, str | None] | None = None,
                  zone: tzinfo | None = None) -> str | None:
    """"Signed by Lisa Director (lisa.director), 2026-12-01 14:03:22 UTC: approved as Director,
    stage 2 of 3", or None for an unsigned entry. Printed name: the display name in `names`
    (username -> display name), else the username; time in `zone` (None: this machine's)."""
    if not isinstance(rec.get("sig"), dict):
        return None
    actor = str(rec.get("actor"))
    shown = (names or {}).get(actor)
    # an erased display name is no printed name: the username alone still says who signed
    who = f"{shown} ({actor})" if shown and shown != actor and not is_placeholder(shown) else actor
    try:
        when = datetime.fromisoformat(str(rec.get("ts")))
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        stamp = (when.astimezone(zone) if zone is not None else when.astimezone()).strftime("%Y-%m-%d %H:%M:%S %Z")
    except ValueError:
        stamp = str(rec.get("ts"))
    return f"Signed by {who}, {stamp}: {meaning(rec)}"


def on_behalf_words(on_behalf_of: Any, until: Any) -> str:
    """" for lisa.executive (delegated until 2026-12-20)": the one wording of a decision made under
    a delegation (core/delegation.py), for the signed line, the timeline, `request show` and the
    exports; empty for a decision made in one's own right."""
    if not on_behalf_of:
        return ""
    return f" for {on_behalf_of}" + (f" (delegated until {until})" if until else " (delegated)")


def entry_manifestation(entry: Any, *, names: Mapping[str, str | None] | None = None,
                        zone: tzinfo | None = None) -> str | None:
    """manifestation() of an AuditEntry (models.py) rather than a raw record."""
    rec = {"action": entry.action, "actor": entry.actor, "workflow_id": entry.workflow_id,
           "details": entry.details, "ts": entry.timestamp.isoformat(), "sig": getattr(entry, "sig", None)}
    return manifestation(rec, names=names, zone=zone)


def display_names(people: Iterable[Any]) -> dict[str, str | None]:
    return {p.username: p.display_name for p in people}


def _role_label(value: Any) -> str:
    from .models import Role

    try:
        return Role(value).label
    except ValueError:
        return str(value)
