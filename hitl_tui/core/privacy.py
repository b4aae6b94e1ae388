"""Personal data in the trail, sealed so that it can be erased without breaking the trail.

A personal value in an entry's details (a title, a description, a comment, a name or an email in
the directory, a data field the policy marks personal) is replaced, before the entry is signed
and hashed, by {"key": KEY_ID, "sealed": DIGEST}: DIGEST = sha256(PREFIX || salt || canonical
bytes of the value), salt 16 random bytes. The value and its salt are kept apart, encrypted with
AES-256-GCM under a data key of one person for one request (store/privacy.py). The hashed bytes
commit to the value through the digest; destroying the key (erasure.py) leaves every hash, proof
and signature as it was, and the value reads `erased on DATE` from then on, in the tables too.
docs/VERIFY.md section 10 specifies the format for auditors.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Iterator, Mapping

from . import draws
from .audit import canonical_bytes
from .erased import is_placeholder, placeholder
from .store import privacy as sql
from .store.connection import Conn

PREFIX = b"hitl-tui sealed value v1\n"
_HEX32 = re.compile(r"[0-9a-f]{32}\Z")
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")

#: the actions whose comments (or reason) are the actor's own words
_COMMENTED = frozenset({"approved", "rejected", "changes_requested", "withdrawn", "created", "resubmitted"})
_FILED = frozenset({"created", "resubmitted"})
_DIRECTORY = frozenset({"user_added", "user_role_changed", "user_deactivated", "user_reactivated",
                        "user_admin_changed"})
_ERASURE_WORDS = frozenset({"erasure_requested", "erasure_cancelled"})
#: the entries that destroy data keys, with the keys they list
ERASING_ACTIONS = frozenset({"personal_data_erased", "personal_data_expired"})
__all__ = ["ERASING_ACTIONS", "Opened", "Opener", "PREFIX", "Sealer", "digest_of", "has_seals", "is_placeholder",
           "is_sealed", "personal_positions", "placeholder", "sealed_in", "seals_of"]


def is_sealed(value: Any) -> bool:
    # the first test turns away every other value at once (verification asks this of every member)
    return (type(value) is dict and len(value) == 2 and "sealed" in value and isinstance(value.get("key"), str)
            and isinstance(value.get("sealed"), str) and bool(_HEX32.match(value["key"]))
            and bool(_HEX64.match(value["sealed"])))


def digest_of(salt: bytes, value: Any) -> str:
    return hashlib.sha256(PREFIX + box_plaintext(salt, value)).hexdigest()


def box_plaintext(salt: bytes, value: Any) -> bytes:
    """What a box encrypts: the 16-byte salt, then the value's canonical bytes: exactly what the
    digest is taken over after its prefix, so opening needs no re-encoding."""
    return salt + canonical_bytes(value)


def box_contents(plain: bytes) -> tuple[bytes, Any]:
    """(salt, value) of an opened box; ValueError when it is not one."""
    if len(plain) < 17:
        raise ValueError("too short for a salt and a value")
    return plain[:16], json.loads(plain[16:])


Path = tuple[str, ...]


def personal_positions(action: str, actor: str, details: Mapping[str, Any],
                       personal_fields: Iterable[str] = ()) -> list[tuple[Path, str]]:
    """(path in details, whose data it is) of each personal value of an entry (the one list;
    VERIFY.md section 10 repeats it). Only non-empty strings are sealed."""
    found: list[tuple[Path, str]] = []
    if action in _FILED:
        found += [(("title",), actor), (("description",), actor)]
        # a request filed for approval, or resubmitted as a new revision: the action's payload, the caller's words
        found += [((name,), actor) for name in ("payload", "justification") if name in details]
        data = details.get("data")
        if isinstance(data, Mapping):
            found += [(("data", name), actor) for name in sorted(personal_fields) if name in data]
    if action in _COMMENTED:
        found.append((("comments",), actor))
    if action == "changes_requested" and "proposed_payload" in details:  # the reviewer's revision
        found.append((("proposed_payload",), actor))
    if action in _DIRECTORY:
        person = details.get("username")
        if isinstance(person, str):
            for part in ((), ("before",), ("after",)):
                found += [((*part, name), person) for name in ("email", "display_name")]
    if action in _ERASURE_WORDS:
        found.append((("reason",), actor))
    return found


def _get(details: Mapping[str, Any], path: Path) -> Any:
    node: Any = details
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _set(details: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    """A copy of `details` with the value at `path` replaced (the nested objects copied on the way)."""
    out = dict(details)
    if len(path) == 1:
        out[path[0]] = value
    else:
        out[path[0]] = _set(dict(out[path[0]]), path[1:], value)
    return out


def _aead(secret: bytes) -> Any:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(secret)


class Sealer:
    """Seals the personal values of entries written in one transaction (service._audit)."""

    def __init__(self, conn: Conn, created_at: str) -> None:
        self.conn, self.created_at = conn, created_at

    def seal(self, seq: int, action: str, actor: str, workflow_id: str | None, details: dict[str, Any],
             personal_fields: Iterable[str] = ()) -> dict[str, Any]:
        """`details` with its personal values sealed, their boxes written for entry `seq`."""
        for path, person in personal_positions(action, actor, details, personal_fields):
            value = _get(details, path)
            if isinstance(value, str) and value and not is_sealed(value):
                scope = None if action in _DIRECTORY or action in _ERASURE_WORDS else workflow_id
                details = _set(details, path, self._seal_one(seq, person, scope, value))
        return details

    def _seal_one(self, seq: int, person: str, workflow_id: str | None, value: str) -> dict[str, str]:
        key_id, secret = self._key(person, workflow_id)
        salt = draws.token_bytes(16)
        opened = box_plaintext(salt, value)
        digest = hashlib.sha256(PREFIX + opened).hexdigest()
        nonce = os.urandom(12)  # never signed, and fresh for every encryption: not a draw
        sql.insert_box(self.conn, seq, digest, key_id, nonce + _aead(secret).encrypt(nonce, opened, digest.encode()))
        return {"key": key_id, "sealed": digest}

    def _key(self, person: str, workflow_id: str | None) -> tuple[str, bytes]:
        found = sql.key_for(self.conn, person, workflow_id)
        if found is not None and found[1] is not None:
            return found[0], found[1]
        if found is not None:  # erased: later values about them get a key of their own
            from .errors import PermissionDenied
            raise PermissionDenied(f"The personal data of {person} was erased; nothing more can be recorded about "
                                   f"them{' in ' + workflow_id if workflow_id else ''}.")
        # the id starts with the time of the entry that made the key (microseconds), so keys are
        # stored in the order they are first needed and a verification reads them in turn; the
        # rest is random. Not the entry's number: a statement never depends on it (two_phase.py)
        micros = int(datetime.fromisoformat(self.created_at).timestamp() * 1_000_000)
        key_id, secret = f"{micros:016x}{draws.token_hex(8)}", draws.token_bytes(32)
        sql.insert_key(self.conn, key_id, person, workflow_id, secret, self.created_at)
        return key_id, secret


@dataclass
class Opened:
    """One sealed value as the database can open it: its value, or the erasure that ended it."""

    value: Any = None
    salt: str | None = None
    erased_on: str | None = None
    erased_seq: int | None = None
    problem: str | None = None

    @property
    def shown(self) -> Any:
        return placeholder(self.erased_on) if self.erased_on is not None else self.value

    def opening(self) -> dict[str, Any] | None:
        if self.erased_on is not None:
            return {"erased": self.erased_on[:10], "by": self.erased_seq}
        if self.salt is not None:
            return {"salt": self.salt, "value": self.value}
        return None


def sealed_in(node: Any) -> Iterator[dict[str, str]]:
    """Every sealed value inside `node` (objects and lists, walked in full): for checking what an
    export holds. The engine reads sealed values where they are written (seals_of)."""
    if isinstance(node, dict):
        if is_sealed(node):
            yield node
            return
        for value in node.values():
            yield from sealed_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from sealed_in(value)


#: the details members that hold an object of named values (the request's data, a directory
#: change's before/after), whose members may be sealed; every other sealed value is a member of
#: details itself (personal_positions: title, description, comments, reason, email, display_name)
_NESTED = ("data", "before", "after")


def seals_of(details: Any) -> list[dict[str, str]]:
    """The sealed values of an entry's details, at the places personal values are written."""
    if not isinstance(details, dict):
        return []
    # `type(v) is dict` first: most members are strings and numbers, and this runs for every entry
    found = [v for v in details.values() if type(v) is dict and is_sealed(v)]
    for name in _NESTED:
        inner = details.get(name)
        if isinstance(inner, dict):
            found += [v for v in inner.values() if type(v) is dict and is_sealed(v)]
    return found


def _replace(details: dict[str, Any], opened: Mapping[str, "Opened"]) -> dict[str, Any]:
    def shown(seal: dict[str, str]) -> Any:
        got = opened.get(seal["sealed"])
        return UNREADABLE if got is None or got.problem else got.shown

    out = {k: shown(v) if is_sealed(v) else v for k, v in details.items()}
    for name in _NESTED:
        inner = out.get(name)
        if isinstance(inner, dict) and any(is_sealed(v) for v in inner.values()):
            out[name] = {k: shown(v) if is_sealed(v) else v for k, v in inner.items()}
    return out


#: what a value reads as when the database cannot open it (its box or key was deleted behind the
#: application's back: verify-audit names it)
UNREADABLE = "(sealed value missing)"

#: (seq, the sealed values it holds) of one entry, as Opener.load takes them
Sealed = tuple[int, list[dict[str, str]]]


@dataclass
class Opener:
    """Opens sealed values for one read snapshot, a batch of entries at a time: load() reads the
    batch's encrypted values in one query (clustered by entry, so the pages are read in turn),
    then open() and openings() answer from memory. Each load() replaces the last batch, so a
    million entries never sit in memory."""

    conn: Conn
    cache: dict[str, Opened] = field(default_factory=dict)

    def load(self, entries: Iterable[Sealed]) -> None:
        entries = [(seq, seals) for seq, seals in entries if seals]
        wanted = {s["sealed"]: s["key"] for _, seals in entries for s in seals}
        if not wanted:
            self.cache = {}
            return
        boxes = sql.boxes_of(self.conn, [seq for seq, _ in entries])
        keyless = {kid for digest, kid in wanted.items() if digest not in boxes}
        keys = sql.keys(self.conn, keyless) if keyless else {}
        aeads: dict[str, Any] = {}
        self.cache = {digest: self._open(digest, kid, boxes.get(digest), keys.get(kid), aeads)
                      for digest, kid in wanted.items()}

    def _open(self, digest: str, kid: str, box: sql.BoxRow | None, key: sql.KeyRow | None,
              aeads: dict[str, Any]) -> Opened:
        if box is None:
            if key is None:
                return Opened(problem=f"its data key {kid} is not in the database, and no erasure in the trail "
                                      f"destroyed it")
            if key[1] is None:
                return Opened(erased_on=key[3] or "", erased_seq=key[2])
            return Opened(problem="its encrypted value was deleted from the database behind the application's back")
        box_key, sealed_box, secret, erased_seq, erased_on, key_found = box
        if box_key != kid:
            return Opened(problem="its encrypted value was replaced by one sealed under another key")
        if not key_found:
            return Opened(problem=f"its data key {kid} is not in the database, and no erasure in the trail destroyed it")
        if secret is None:
            return Opened(erased_on=erased_on or "", erased_seq=erased_seq)
        from cryptography.exceptions import InvalidTag

        aead = aeads.get(kid)
        if aead is None:
            aead = aeads[kid] = _aead(secret)
        try:
            plain = aead.decrypt(sealed_box[:12], sealed_box[12:], digest.encode())
        except (InvalidTag, ValueError):
            return Opened(problem="its encrypted value does not open under its key: it was replaced")
        try:
            if hashlib.sha256(PREFIX + plain).hexdigest() != digest:
                raise ValueError("not the value the entry sealed")
            salt, value = box_contents(plain)
        except ValueError:
            return Opened(problem="its stored value is not the value the entry sealed: it was replaced")
        return Opened(value=value, salt=salt.hex())

    def open(self, details: Any, seals: list[dict[str, str]] | None = None) -> Any:
        """`details` (of an entry of the batch loaded last) as it reads now: each sealed value
        replaced by its value, or `erased on DATE`. `seals`: seals_of(details), when known."""
        if not isinstance(details, dict) or not (seals_of(details) if seals is None else seals):
            return details
        return _replace(details, self.cache)

    def open_entry(self, seq: int, details: Any) -> Any:
        """open() for one entry on its own (loads it first)."""
        self.load([(seq, seals_of(details))])
        return self.open(details)

    def openings(self, seals: Iterable[Mapping[str, str]]) -> dict[str, dict[str, Any]]:
        """digest -> opening (VERIFY.md 10.3) of each of `seals` (of the batch loaded last)."""
        out: dict[str, dict[str, Any]] = {}
        for seal in seals:
            got = self.cache.get(seal["sealed"])
            opening = None if got is None else got.opening()
            if opening is not None:
                out[seal["sealed"]] = opening
        return out

    def problems(self, seals: Iterable[Mapping[str, str]]) -> list[tuple[Mapping[str, str], Opened]]:
        """The seals (of the batch loaded last) that cannot be read, or whose key was erased."""
        found = []
        for seal in seals:
            got = self.cache.get(seal["sealed"], _NOT_LOADED)
            if got.problem or got.erased_on is not None:
                found.append((seal, got))
        return found


def has_seals(body: bytes) -> bool:
    """A cheap look at the hashed bytes: does this entry hold any sealed value?"""
    return b'"sealed":"' in body


_NOT_LOADED = Opened(problem="it was not read with its entry")
