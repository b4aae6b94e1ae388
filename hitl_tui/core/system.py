"""WorkflowSystem: the seed's "Direct API", async, over the synchronous WorkflowService.

Every call runs on one dedicated worker thread, so the event loop (a Textual app, the agents)
never blocks on SQLCipher and calls from one system keep their order.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, ParamSpec, TypeVar

from .errors import AuditChainBroken, StoreError
from .filter_query import Filter
from .models import AgentProposal, AuditEntry, Checkpoint, Decision, InboxView, RequestSummary, Role, User, VerifyResult, WorkflowRequest
from .policy import Policy
from .policy_store import StoredPolicy
from .service import WorkflowService

_P = ParamSpec("_P")
_T = TypeVar("_T")


class WorkflowSystem:
    def __init__(self, service: WorkflowService) -> None:
        self.service = service
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hitl-db")
        self._closed = False

    @classmethod
    async def open(cls, db_path: Path | str, key: bytes | None = None, *, create: bool | None = None,
                   passphrase_prompt: Callable[[], str] | None = None,
                   operator: str | None = None) -> "WorkflowSystem":
        service = await asyncio.to_thread(
            WorkflowService.open, db_path, key, create=create,
            passphrase_prompt=passphrase_prompt, operator=operator,
        )
        return cls(service)

    async def _run(self, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        if self._closed:
            raise StoreError("The database is closed.")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    async def close(self, *, raise_if_unsealed: bool = True) -> None:
        """Seal the session (a signed checkpoint, when the chain grew) and close. Calling it
        again does nothing, as with files and sqlite3 connections.

        Raises AuditChainBroken (after closing) when the seal was refused because the chain
        does not verify from this account's last trusted checkpoint: nothing was signed, and
        the message names the first bad entry. Other reasons the seal failed (no usable
        signing key, a full disk) do not raise; they are in `service.seal_error`."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._pool, self.service.close)
        finally:
            self._pool.shutdown(wait=True)
        if raise_if_unsealed and self.service.seal_refused_reason:
            raise AuditChainBroken(self.service.seal_refused_reason)

    async def __aenter__(self) -> "WorkflowSystem":
        return self

    async def __aexit__(self, exc_type: Any, *exc: Any) -> None:
        # an exception already on its way out is the one the caller must see; the refusal is
        # still in service.seal_refused_reason
        await self.close(raise_if_unsealed=exc_type is None)

    @property
    def policy(self) -> Policy:
        return self.service.policy

    # --- the seed's API ------------------------------------------------------------------------

    async def add_user(self, username: str, role: Role | str, email: str | None = None, **kw: Any) -> User:
        return await self._run(self.service.add_user, username, role, email, **kw)

    async def create_workflow_request(self, workflow_type: str, title: str, description: str, requester: str,
                                      data: dict[str, Any] | None = None) -> str:
        return await self._run(self.service.create_workflow_request, workflow_type, title, description,
                               requester, data)

    async def get_pending_approvals(self, username: str, limit: int | None = None) -> list[WorkflowRequest]:
        return await self._run(self.service.get_pending_approvals, username, limit)

    async def decide(self, workflow_id: str, username: str, decision: Decision | str, comments: str = "",
                     proposal: AgentProposal | None = None) -> WorkflowRequest:
        """Approve, reject or request changes (WorkflowService.decide): one entry for all three."""
        return await self._run(self.service.decide, workflow_id, username, decision, comments, proposal)

    async def approve_workflow(self, workflow_id: str, approver: str, comments: str = "",
                               proposal: AgentProposal | None = None) -> WorkflowRequest:
        return await self._run(self.service.approve_workflow, workflow_id, approver, comments, proposal)

    async def reject_workflow(self, workflow_id: str, rejector: str, reason: str,
                              proposal: AgentProposal | None = None) -> WorkflowRequest:
        return await self._run(self.service.reject_workflow, workflow_id, rejector, reason, proposal)

    async def request_changes(self, workflow_id: str, approver: str, comments: str,
                              proposal: AgentProposal | None = None) -> WorkflowRequest:
        return await self._run(self.service.request_changes, workflow_id, approver, comments, proposal)

    async def withdraw_workflow(self, workflow_id: str, requester: str, reason: str = "") -> WorkflowRequest:
        return await self._run(self.service.withdraw_workflow, workflow_id, requester, reason)

    async def resubmit(self, workflow_id: str, requester: str, **changes: Any) -> WorkflowRequest:
        return await self._run(self.service.resubmit, workflow_id, requester, **changes)

    async def get_workflow(self, workflow_id: str) -> WorkflowRequest:
        return await self._run(self.service.get_workflow, workflow_id)

    async def get_audit_trail(self, workflow_id: str) -> list[AuditEntry]:
        return await self._run(self.service.get_audit_trail, workflow_id)

    def verify_audit(self, checkpoints: list[Checkpoint] | None = None) -> VerifyResult:
        """Synchronous, as in the seed; it reads through its own connection and snapshot."""
        return self.service.verify_audit(checkpoints)

    # --- more of the engine, for the UI and agents ---------------------------------------------

    async def get_user(self, username: str) -> User:
        return await self._run(self.service.get_user, username)

    async def list_users(self) -> list[User]:
        return await self._run(self.service.list_users)

    async def list_requests(self, viewer: str, view: InboxView | str = InboxView.AWAITING_ME,
                            **kw: Any) -> list[RequestSummary]:
        return await self._run(self.service.list_requests, viewer, view, **kw)

    async def count_requests(self, viewer: str, view: InboxView | str = InboxView.AWAITING_ME, **kw: Any) -> int:
        return await self._run(self.service.count_requests, viewer, view, **kw)

    def parse_filter(self, search: str | None) -> Filter:
        """The filter language checked against the policy in force, without the database: no
        thread hop, so the desk may call it on every keystroke (FilterError when it is bad)."""
        return self.service.parse_filter(search)

    async def checkpoint(self) -> Checkpoint | None:
        return await self._run(self.service.checkpoint)

    async def policy_in_force(self) -> StoredPolicy:
        return await self._run(self.service.policy_in_force)

    async def apply_policy(self, text: str, **kw: Any) -> tuple[StoredPolicy, str | None]:
        return await self._run(self.service.apply_policy, text, **kw)
