"""The service's side of the HTTP API's bearer tokens (core/tokens.py).

The administrators' methods, as the CONNECTION's user like every other (methods.py). Making and
revoking a token are signed writes (`token_created`, `token_revoked`: signatures.SIGNED_ACTIONS),
so each comes in two methods, prepare and commit (core/two_phase.py), and the administrator's
own account signs the statement; the commit answers the token, once, to this caller only:

    tokens.create.prepare(username, label) / .commit(ticket, signatures)   a new token for `username`
    tokens.list()                                                         every token (never a token, never a hash)
    tokens.revoke.prepare(which, reason) / .commit(ticket, signatures)    by id (or the token itself);
                                                                          connections listening through it are closed

Bearer calls. `hitl-tui http` runs on an account of its own and serves callers on other hosts,
each with a token. It sends the token with each call, "bearer.<method>"; the service (which
holds the key) resolves it and runs <method> as the account the token stands for, for that call
only: no parameter names who acts here either. Only the methods an integration needs are offered
(BEARER_METHODS: file a request for approval and sign it, read where it stands, list its own,
withdraw it, the receipt key); none decides, and the engine refuses an integration a decision on
every path anyway. A signed write is signed by the bound account's key, which the HTTP API's own
account must hold (`hitl-tui key show --as ACCOUNT` there makes it), never by the token.

    bearer.whoami(token)       whom the token stands for
    bearer.subscribe(token)    this connection hears the changes the bound account may see (the
                               "changed" pushes, as `subscribe` for one's own); a revocation of
                               the token closes the connection, so a waiter hears of it at once
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core import tokens

if TYPE_CHECKING:
    from collections.abc import Callable

    from .methods import Call, Method
    from .server import Connection, Done

PREFIX = "bearer."
#: what a bearer token may do through the service, as its account (methods.py's own methods)
BEARER_METHODS = ("approval.file.prepare", "approval.file.commit", "approval.decision", "approval.mine",
                  "approval.sweep", "receipt.keys", "withdraw.prepare", "withdraw.commit", "policy.show")
WHOAMI = PREFIX + "whoami"
SUBSCRIBE = PREFIX + "subscribe"
#: the method whose answer closes the revoked token's connections (after())
REVOKE = "tokens.revoke.commit"


def _creation(call: "Call") -> "Callable[[], tuple[str, tokens.TokenInfo]]":
    p, service, me = call.params, call.service, call.username
    return lambda: tokens.create(service, p["username"], p["label"], actor=me)


def _created(made: tuple[str, tokens.TokenInfo]) -> dict[str, Any]:
    token, info = made
    return {"token": token, "info": info.model_dump(mode="json")}


def _revocation(call: "Call") -> "Callable[[], tokens.TokenInfo]":
    p, service, me = call.params, call.service, call.username
    return lambda: tokens.revoke(service, p["which"], p["reason"], actor=me)


def _revoked(info: tokens.TokenInfo) -> dict[str, Any]:
    return {"token_id": info.id, "info": info.model_dump(mode="json")}


def _whoami(call: "Call") -> dict[str, Any]:
    bound = tokens.resolve(call.service, call.params["token"])
    user = call.service.get_user(bound.username)
    return {"token_id": bound.token_id, "name": bound.name, "username": user.username, "role": user.role.value,
            "integration": user.integration, "active": user.active}


def _subscribed(call: "Call") -> dict[str, Any]:
    from .methods import head

    bound = tokens.resolve(call.service, call.params["token"])
    return {"subscribed": True, "token_id": bound.token_id, "username": bound.username, **head(call.service)}


def _as_bearer(inner: "Method") -> "Method":
    """bearer.<inner>: inner's parameters and a token; runs inner as the token's account."""
    from .methods import Call, Method, _p

    def run_bound(call: Call) -> Any:
        from .methods import run  # defined after the table this is built for

        bound = tokens.resolve(call.service, call.params["token"])
        params = {k: v for k, v in call.params.items() if k != "token"}
        return run(inner, Call(call.service, bound.username, call.uid, params, call.two_phase, call.tickets))

    return Method(PREFIX + inner.name, run_bound, {**inner.params, "token": _p(str, required=True)},
                  members_only=False, writes=inner.writes)


def token_methods(table: dict[str, "Method"]) -> list["Method"]:
    """The methods above, for methods._table() (built there from its own table: no import cycle)."""
    from .methods import Method, _p, _signed_method, dump

    token = {"token": _p(str, required=True)}
    return [
        *_signed_method("tokens.create", _creation, {"username": _p(str, required=True), "label": _p(str)}, _created),
        Method("tokens.list", lambda c: dump(tokens.listing(c.service, c.username))),
        *_signed_method("tokens.revoke", _revocation, {"which": _p(str, required=True), "reason": _p(str, default="")},
                        _revoked),
        Method(WHOAMI, _whoami, token, members_only=False),
        Method(SUBSCRIBE, _subscribed, token, members_only=False),
        *(_as_bearer(table[name]) for name in BEARER_METHODS),
    ]


def after(conn: "Connection", name: str, done: "Done") -> None:
    """On the loop, once answered (server.Connection.after): a bearer subscription starts; a
    revoked token's connections close (their waiters then ask again, and hear it refused)."""
    if not done.ok or not isinstance(done.result, dict):
        return
    if name == SUBSCRIBE:
        conn.bearer = (str(done.result["token_id"]), str(done.result["username"]))
        conn.subscribed = True
    elif name == REVOKE:
        revoked = done.result["token_id"]
        for other in list(conn.server._connections):
            if other.bearer is not None and other.bearer[0] == revoked:
                other.close()
