"""The HTTP API's way to the engine: one hitl_tui.client.Desk per bearer token, in either mode.

Identity stays with whoever holds the database key. Embedded, this process holds it: every call
of a token's Desk resolves the token again on the database (core/tokens.resolve) and then asks
the engine's own approvals as the account it stands for (BoundEngine). In team mode the service
holds it: a token's Desk is a connection of this OS account to the service whose bearer calls
carry the token (remote/tokens_client.BearerService), and the service resolves it at each call.
Either way a token revoked meanwhile is refused at the very next call, and the Desk's waiting,
expiry and receipts are the client's own: nothing here is a second copy of a rule.

A waiter wakes when the token is revoked, too: embedded, a revocation is a commit of another
process, which moves SQLite's data_version that the Desk polls; in team mode the service closes
the connections listening through the revoked token, and the Desk asks again at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..client import Desk
from ..core import tokens
from ..core.approvals import ApprovalDecision
from ..core.errors import PermissionDenied

if TYPE_CHECKING:
    from ..core.service import WorkflowService
    from ..core.settings import Settings


class _Writes:
    """Counts this process's own writes: SQLite's data_version moves only with other connections'
    commits, so a waiter must also hear of a cancel made through this very process."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def bump(self) -> None:
        with self._lock:
            self.count += 1


class BoundEngine:
    """Embedded: the engine as one token's account sees it, for a Desk (its `approvals` too)."""

    def __init__(self, service: "WorkflowService", token: str, writes: _Writes) -> None:
        self.service = service
        self._token = token
        self._writes = writes
        bound = tokens.resolve(service, token)
        self.username, self.token_id = bound.username, bound.token_id

    @property
    def approvals(self) -> "BoundEngine":
        return self

    def _me(self, named: str | None = None) -> str:
        """The account, with the token checked again now (TokenRefused once it is revoked)."""
        account = tokens.resolve(self.service, self._token).username
        if named is not None and named != account:  # the Desk names its own account: never anyone else
            raise PermissionDenied(f"This token stands for {account}, not {named}; nothing was done.")
        return account

    def file(self, requester: str, workflow_type: str, title: str, payload: Any, **options: Any) -> str:
        found = self.service.approvals.file(self._me(requester), workflow_type, title, payload, **options)
        self._writes.bump()
        return found

    def resubmit(self, requester: str, workflow_id: str, payload: Any, **options: Any) -> ApprovalDecision:
        found = self.service.approvals.resubmit(self._me(requester), workflow_id, payload, **options)
        self._writes.bump()
        return found

    def decision(self, viewer: str, workflow_id: str, *, receipt: bool = True) -> ApprovalDecision:
        return self.service.approvals.decision(self._me(viewer), workflow_id, receipt=receipt)

    def mine(self, viewer: str, *, limit: int = 100) -> list[ApprovalDecision]:
        return self.service.approvals.mine(self._me(viewer), limit=limit)

    def receipt_keys(self) -> list[str]:
        self._me()
        return self.service.approvals.receipt_keys()

    def sweep(self) -> list[str]:
        self._me()
        done = self.service.approvals.sweep()
        if done:
            self._writes.bump()
        return done

    def withdraw_workflow(self, workflow_id: str, requester: str, reason: str = "") -> Any:
        done = self.service.withdraw_workflow(workflow_id, self._me(requester), reason)
        self._writes.bump()
        return done

    def data_version(self) -> tuple[int, int]:
        return self.service.data_version(), self._writes.count

    def close(self) -> None:
        """Nothing of its own to close: the gateway closes the engine it shares."""


@dataclass
class Held:
    desk: Desk
    token_id: str


class Gateway:
    """Desks by token: opened at a token's first call, dropped once it is refused."""

    def __init__(self, *, service: "WorkflowService | None" = None, socket: Path | None = None,
                 settings: "Settings | None" = None, unset_hint: str = "unset HITL_SERVER") -> None:
        assert (service is None) != (socket is None)
        self.service, self.socket, self.settings, self._unset_hint = service, socket, settings, unset_hint
        self._writes = _Writes()
        self._held: dict[str, Held] = {}
        self._lock = asyncio.Lock()

    @property
    def where(self) -> str:
        if self.service is not None:
            return f"on the database {self.service.path}"
        return f"through the service at {self.socket} (team mode)"

    async def desk_for(self, token: str) -> Held:
        """The Desk of `token` (TokenRefused, one line, when it stands for nobody)."""
        key = hashlib.sha256(token.encode("utf-8")).hexdigest()
        held = self._held.get(key)
        if held is not None:
            return held
        async with self._lock:
            held = self._held.get(key)
            if held is None:
                held = self._held[key] = await asyncio.to_thread(self._open, token)
        return held

    def _open(self, token: str) -> Held:
        tokens.checked_shape(token)  # nothing is looked up, nor connected, for what is no token
        if self.service is not None:
            engine = BoundEngine(self.service, token, self._writes)
            desk = Desk(engine, team=False)
            desk.username = engine.username  # who its calls name: the token's account, not this OS login
            return Held(desk, engine.token_id)
        from ..remote.tokens_client import BearerService

        assert self.socket is not None
        remote = BearerService.open(self.socket, token, settings=self.settings, unset_hint=self._unset_hint)
        return Held(Desk(remote, team=True), remote.token_id)

    async def forget(self, token: str) -> None:
        """Drop a refused token's Desk (closing its connection in team mode)."""
        held = self._held.pop(hashlib.sha256(token.encode("utf-8")).hexdigest(), None)
        if held is not None:
            await asyncio.to_thread(held.desk.close)

    def close(self) -> None:
        """Close every Desk, then (embedded) the database: its session sealed with a checkpoint."""
        held, self._held = list(self._held.values()), {}
        for one in held:
            one.desk.close()
        if self.service is not None:
            self.service.close()
