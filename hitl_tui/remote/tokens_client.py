"""Team mode's side of the bearer tokens (core/tokens.py), answered by the service (tokens.py).

RemoteTokens: the administrators' token commands through the service, as this OS account (the
methods of core.tokens.Tokens, with the same signatures); making and revoking one are signed by
this account's own key, as every administrator's change is.

BearerService: what `hitl-tui http` holds for one token. A RemoteService whose calls of the
bearer methods carry the token ("bearer.<method>"), so the service answers them as the token's
account; it signs what it files with that account's key, which this OS account must hold in its
own key store (`hitl-tui key show --as ACCOUNT` makes it here), and hears the changes that
account may see. Everything else about the connection (answers, pushes, reconnecting) is
RemoteService's own, so hitl_tui.client.Desk waits on it exactly as on any other.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import TokenRefused
from ..core.tokens import TokenInfo
from .account_signer import AccountSigner
from .client import RemoteService
from .connection import ServiceConnection, _open_socket
from .tokens import BEARER_METHODS, PREFIX, SUBSCRIBE as BEARER_SUBSCRIBE, WHOAMI

if TYPE_CHECKING:
    from ..core.settings import Settings


class RemoteTokens:
    def __init__(self, remote: RemoteService) -> None:
        self._remote = remote

    def create(self, username: str, name: str | None = None, *, actor: str | None = None) -> tuple[str, TokenInfo]:
        self._remote._as_me(actor, "make tokens")
        # signed on this account; the wire calls the token's name `label`, `name` being _signed's own
        got = self._remote._signed("tokens.create", None, username=username, label=name)
        return str(got["token"]), TokenInfo.model_validate(got["info"])

    def revoke(self, token: str, reason: str = "", *, actor: str | None = None) -> TokenInfo:
        self._remote._as_me(actor, "revoke tokens")
        revoked = self._remote._signed("tokens.revoke", None, which=token, reason=reason or "")
        return TokenInfo.model_validate(revoked["info"])

    def listing(self, viewer: str) -> list[TokenInfo]:
        self._remote._as_me(viewer, "list tokens")
        return [TokenInfo.model_validate(t) for t in self._remote.call("tokens.list")]


def whoami(connection: ServiceConnection, token: str) -> dict[str, Any]:
    """Whom `token` stands for, as the service says (TokenRefused when it stands for nobody)."""
    found: dict[str, Any] = connection.call(WHOAMI, token=token)
    return found


class BearerConnection(ServiceConnection):
    """A connection whose bearer calls carry one token (see the module docstring)."""

    def __init__(self, sock: Any, socket_path: Path, unset_hint: str, token: str) -> None:
        self._token = token  # first: the hello of ServiceConnection.__init__ goes through call()
        super().__init__(sock, socket_path, unset_hint)

    def call(self, method: str, **params: Any) -> Any:
        if method in BEARER_METHODS:
            return super().call(PREFIX + method, token=self._token, **params)
        return super().call(method, **params)

    def subscribe(self) -> None:
        """Hear what the token's account may see; a refused token subscribes nothing (the next
        call is refused the same way, and says so), so a reconnection never fails over it."""
        if self._subscribed:
            return
        try:
            super().call(BEARER_SUBSCRIBE, token=self._token)
        except TokenRefused:
            return
        self._subscribed = True


class BearerService(RemoteService):
    """One token's RemoteService: it acts as the token's account, signs with its key held here."""

    def __init__(self, connection: BearerConnection, bound: dict[str, Any], settings: "Settings | None" = None) -> None:
        super().__init__(connection, settings)
        #: the account the service says the token stands for (not this OS account)
        self.username = str(bound["username"])
        self.role = bound.get("role")
        self.token_id = str(bound["token_id"])
        self._signer = AccountSigner(self.database_id, self.username, self.settings)

    @classmethod
    def open(cls, socket: Path | str, token: str, *, settings: "Settings | None" = None,
             unset_hint: str = "unset HITL_SERVER") -> "BearerService":
        """Connect for `token`; TokenRefused when it stands for nobody, ServiceUnavailable when the
        service cannot be reached (each one line)."""
        path = Path(socket)
        sock = _open_socket(path, unset_hint)
        try:
            connection = BearerConnection(sock, path, unset_hint, token)
        except BaseException:
            sock.close()
            raise
        try:
            return cls(connection, whoami(connection, token), settings)
        except BaseException:
            connection.close()
            raise


__all__ = ["BearerConnection", "BearerService", "RemoteTokens", "whoami"]
