"""Bearer tokens for the HTTP API (issue 12): a credential that stands for one directory account.

A token is `hitl_` and 32 random bytes (base64url), shown once when it is made and stored only
as its sha256 (store/tokens.py), with a public id (`tk-` and the first 12 hex digits of that
hash) for lists, logs and revocation. It is a credential, not a name: whoever holds the
database key (this engine, or in team mode the service) resolves it to its account, and the
HTTP API then acts as that account through the engine's own rules, so the token adds no power
of its own. It never stands for a directory administrator, and an integration bound to one
still decides nothing (rbac.check_decide).

Making and revoking a token are an active administrator's, always (no bootstrap exception: a
credential is never part of setting up a directory), each recorded in the audit trail as an
entry filed under no request, `token_created` (with the hash, never the token) and
`token_revoked`, written in the transaction that changes the table, so the table is a replay of
the trail (TokenReplay, run by verify-audit with the other tables: replay.py). Both are signed
by their administrator like every other change an administrator makes (signatures.SIGNED_ACTIONS
and ALWAYS_ADMIN_ACTIONS): whoever holds only the database key could otherwise rewrite whom a
token stands for without a trace a verifier sees. In team mode the administrator's own account
signs the dry run's statement (two_phase.py), so the token's random bytes are drawn through
draws.py: the commit must draw the very token the signed statement hashes.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from . import draws, rbac
from .audit import iso
from .errors import InvalidTransition, PermissionDenied, TokenRefused, UnknownUser, ValidationFailed
from .models import User
from .store import tokens as sql
from .store import users as user_sql
from .store.connection import Conn
from .text import check_inputs, check_text

if TYPE_CHECKING:
    from .service import WorkflowService

PREFIX = "hitl_"
#: what a token looks like: the prefix and 43 base64url characters (32 bytes)
SHAPE = re.compile(r"hitl_[A-Za-z0-9_-]{43}\Z")
ID_PREFIX = "tk-"
CREATED = "token_created"
REVOKED = "token_revoked"
ACTIONS = frozenset({CREATED, REVOKED})
NAME_MAX = 80
REASON_MAX = 500


class TokenInfo(BaseModel):
    """A token as lists show it: never the token, never its hash."""

    model_config = ConfigDict(frozen=True)

    id: str
    username: str
    name: str | None = None
    created_at: str
    created_by: str
    revoked_at: str | None = None
    revoked_by: str | None = None
    revoke_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class Bound:
    """Whom a presented token stands for."""

    token_id: str
    username: str
    name: str | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def id_of(digest: str) -> str:
    return ID_PREFIX + digest[:12]


def _info(row: sql.TokenRow) -> TokenInfo:
    return TokenInfo(id=row.id, username=row.username, name=row.name, created_at=row.created_at,
                     created_by=row.created_by, revoked_at=row.revoked_at, revoked_by=row.revoked_by,
                     revoke_reason=row.revoke_reason)


def check_bindable(user: User) -> None:
    """Who a token may stand for: an active account that does not administer the directory
    (normally an integration: an AI agent or a system)."""
    if not user.active:
        raise PermissionDenied(f"{user.username} is deactivated; a token for it would be refused at every call. "
                               f"Reactivate it first.")
    if user.admin:
        raise PermissionDenied(f"{user.username} is a directory administrator: a bearer token never stands for one "
                               f"(whoever holds it would act as them). Bind it to an integration account "
                               f"(`hitl-tui users add NAME --integration --owner PERSON ...`).")


# --- the engine's side (embedded mode, and the service in team mode) ----------------------------

def create(service: "WorkflowService", username: str, name: str | None = None, *,
           actor: str | None = None) -> tuple[str, TokenInfo]:
    """Make a token for `username`, as the administrator `actor`: (the token, shown only now; its info)."""
    check_inputs(username=username, name=name, actor=actor)
    label = check_text(name, "name", NAME_MAX, required=False, single_line=True) or None
    with service._write() as conn:
        actor_name, actor_user = service._actor(conn, actor)
        rbac.check_admin(actor_user, True)
        bound = user_sql.get(conn, username)
        if bound is None:
            raise UnknownUser(username, "a token stands for an account of the directory; add it first "
                                        "(`hitl-tui users add NAME --integration --owner PERSON ...`).")
        check_bindable(bound)
        token, digest = _new(conn)
        when = draws.now()
        seq = service._audit(conn, actor_name, CREATED, None, {
            "token_id": id_of(digest), "token_hash": digest, "username": bound.username, "name": label}, ts=when)
        row = sql.TokenRow(id_of(digest), digest, bound.username, label, iso(when), actor_name, seq)
        sql.insert(conn, row)
    return token, _info(row)


def _new(conn: Conn) -> tuple[str, str]:
    """A fresh token and its hash, whose id no other token has."""
    while True:
        token = PREFIX + base64.urlsafe_b64encode(draws.token_bytes(32)).decode("ascii").rstrip("=")
        digest = token_hash(token)
        if not sql.exists(conn, id_of(digest)):
            return token, digest


def revoke(service: "WorkflowService", token: str, reason: str = "", *, actor: str | None = None) -> TokenInfo:
    """Revoke a token (by its id, or the token itself), as the administrator `actor`."""
    check_inputs(token=token, reason=reason, actor=actor)
    why = check_text(reason or "", "reason", REASON_MAX, required=False, single_line=True)
    wanted = id_of(token_hash(token)) if token.startswith(PREFIX) else token.strip()
    with service._write() as conn:
        actor_name, actor_user = service._actor(conn, actor)
        rbac.check_admin(actor_user, True)
        row = sql.get(conn, wanted)
        if row is None:
            raise ValidationFailed(f"There is no token {wanted[:40]!r}; `hitl-tui token list` shows them.", "token")
        if not row.active:
            raise InvalidTransition(f"Token {row.id} ({row.username}) was already revoked at {row.revoked_at} by "
                                    f"{row.revoked_by}; nothing was changed.")
        when = draws.now()
        seq = service._audit(conn, actor_name, REVOKED, None,
                             {"token_id": row.id, "username": row.username, "reason": why}, ts=when)
        sql.revoke(conn, row.id, iso(when), actor_name, why, seq)
        done = sql.get(conn, row.id)
    assert done is not None
    return _info(done)


def listing(service: "WorkflowService", viewer: str) -> list[TokenInfo]:
    """Every token, oldest first: for the directory's administrators."""
    rbac.check_admin(service.find_user(viewer), True)
    return [_info(r) for r in service._read(sql.list_all)]


def resolve(service: "WorkflowService", token: Any) -> Bound:
    """Whom `token` stands for; TokenRefused (one line) for one that is malformed, unknown or revoked."""
    row = service._read(sql.by_hash, token_hash(checked_shape(token)))
    if row is None:
        raise TokenRefused("That bearer token is not one this desk issued (mistyped, or from another desk); an "
                           "administrator makes one with `hitl-tui token create ACCOUNT`.")
    if not row.active:
        raise TokenRefused(f"Bearer token {row.id} was revoked at {row.revoked_at}; ask an administrator for a new "
                           f"one (`hitl-tui token create {row.username}`).")
    bound = service.find_user(row.username)
    if bound is not None and bound.admin:  # made an administrator since: check_bindable holds at every use
        raise TokenRefused(f"Bearer token {row.id} stands for {row.username}, who is a directory administrator now, "
                           f"and a token never stands for one; revoke it and bind a new one to an integration.")
    return Bound(row.id, row.username, row.name)


def checked_shape(token: Any) -> str:
    """`token` if it looks like one of ours (checked before anything is looked up), else TokenRefused."""
    if not isinstance(token, str) or not SHAPE.match(token):
        raise TokenRefused("That is not a hitl-tui bearer token (hitl_ and 43 letters, digits, - or _); an "
                           "administrator makes one with `hitl-tui token create ACCOUNT`.")
    return token


class Tokens:
    """The functions above on one engine (what the CLI holds; team mode's is remote/tokens_client.py)."""

    def __init__(self, service: "WorkflowService") -> None:
        self.service = service

    def create(self, username: str, name: str | None = None, *, actor: str | None = None) -> tuple[str, TokenInfo]:
        return create(self.service, username, name, actor=actor)

    def revoke(self, token: str, reason: str = "", *, actor: str | None = None) -> TokenInfo:
        return revoke(self.service, token, reason, actor=actor)

    def listing(self, viewer: str) -> list[TokenInfo]:
        return listing(self.service, viewer)


# --- the table is a replay of the trail (run by replay.Comparison) -----------------------------

@dataclass
class TokenReplay:
    """The api_tokens rows the trail's token entries make, to compare with the table."""

    rows: dict[str, list[Any]] = field(default_factory=dict)
    #: a revocation of a token the trail never created: (seq, token id)
    strays: list[tuple[int, str]] = field(default_factory=list)

    def step(self, seq: int, rec: dict[str, Any]) -> None:
        d = rec.get("details") if isinstance(rec.get("details"), dict) else {}
        assert isinstance(d, dict)
        tid = d.get("token_id")
        if not isinstance(tid, str):
            self.strays.append((seq, str(tid)))
            return
        if rec.get("action") == CREATED:
            self.rows[tid] = [d.get("token_hash"), d.get("username"), d.get("name"), rec.get("ts"), rec.get("actor"),
                              seq, None, None, None, None]
            return
        row = self.rows.get(tid)
        if row is None:
            self.strays.append((seq, tid))
            return
        row[6:] = [rec.get("ts"), rec.get("actor"), d.get("reason"), seq]

    def first_difference(self, conn: Conn) -> tuple[int | None, str] | None:
        """(seq of the entry concerned, what differs) of the earliest difference, or None."""
        if self.strays:
            seq, tid = self.strays[0]
            return seq, f"entry {seq} revokes token {tid}, which the trail never created"
        table = {row.id: row.values() for row in sql.list_all(conn)}
        for tid, expected in sorted(self.rows.items(), key=lambda item: item[1][5]):
            found = table.pop(tid, None)
            if found is None:
                return expected[5], f"token {tid} is in the trail but missing from the table"
            for col, want, got in zip(sql.COLS, expected, found):
                if want != got:
                    return expected[5], (f"token {tid} {col.replace('_', ' ')} is {_shown(got)} in the table, "
                                         f"{_shown(want)} in the trail")
        if table:
            return None, f"token {sorted(table)[0]} is in the table but not in the trail"
        return None


def _shown(value: Any) -> str:
    return "empty" if value is None else repr(value)[:80]


__all__ = ["ACTIONS", "Bound", "CREATED", "PREFIX", "REVOKED", "TokenInfo", "TokenReplay", "Tokens",
           "check_bindable", "checked_shape", "create", "id_of", "listing", "resolve", "revoke", "token_hash"]
