"""Team mode's side of core/approvals.py: the same methods on a RemoteService (service.approvals),
answered by the service (remote/approvals.py) as this OS account.

Filing is signed on this account, as every request is (RemoteService._signed); the payload is
checked here first by the engine's own rules (approvals.Draft), so a bad one is refused in the
same line before anything is sent, and checked again by the service.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core.approvals import ApprovalDecision, Draft, Revision
from ..core.models import Role, User

if TYPE_CHECKING:
    from datetime import datetime

    from .client import RemoteService


class RemoteApprovals:
    def __init__(self, remote: "RemoteService") -> None:
        self._remote = remote
        #: the service sweeps on its own clock and pushes each expiry (remote/approvals.py)
        self.swept_elsewhere = True

    def file(self, requester: str, workflow_type: str, title: str, payload: Any, *, justification: str = "",
             timeout: float | int = 3600, agent: str | None = None, description: str = "") -> str:
        self._remote._as_me(requester, "file a request")
        draft = Draft.make(payload, justification=justification, agent=agent, timeout=timeout)
        done = self._remote._signed("approval.file", None, workflow_type=workflow_type, title=title,
                                    payload=draft.payload_object(), justification=draft.justification,
                                    timeout=draft.timeout, agent=draft.agent, description=description or "")
        return str(done["workflow_id"])

    def resubmit(self, requester: str, workflow_id: str, payload: Any, *, justification: str | None = None,
                 comments: str = "") -> ApprovalDecision:
        self._remote._as_me(requester, "resubmit requests")
        revision = Revision.make(payload, justification)
        self._remote._signed("approval.resubmit", None, workflow_id=workflow_id, payload=revision.payload_object(),
                             justification=revision.justification, comments=comments or "")
        return self.decision(requester, workflow_id, receipt=False)

    def add_integration(self, username: str, role: Role | str, owner: str, *, email: str | None = None,
                        display_name: str | None = None, actor: str | None = None,
                        public_key: str | None = None, admin: bool = False) -> User:
        self._remote._as_me(actor, "change the user directory")
        return User.model_validate(self._remote._signed(
            "users.add_integration", None, username=username, role=role.value if isinstance(role, Role) else str(role),
            owner=owner, email=email, display_name=display_name, public_key=public_key, admin=bool(admin)))

    def decision(self, viewer: str, workflow_id: str, *, receipt: bool = True) -> ApprovalDecision:
        self._remote._as_me(viewer, "look at requests")
        return ApprovalDecision.model_validate(self._remote.call("approval.decision", workflow_id=workflow_id,
                                                                 receipt=bool(receipt)))

    def mine(self, viewer: str, *, limit: int = 100) -> list[ApprovalDecision]:
        self._remote._as_me(viewer, "list requests")
        return [ApprovalDecision.model_validate(d) for d in self._remote.call("approval.mine", limit=int(limit))]

    def receipt(self, viewer: str, workflow_id: str) -> dict[str, Any] | None:
        return self.decision(viewer, workflow_id).receipt

    def receipt_keys(self) -> list[str]:
        """The service's checkpoint key: the one its receipts are signed with."""
        return [str(k) for k in self._remote.call("receipt.keys")]

    def sweep(self) -> list[str]:
        """Have the service expire what is past its deadline now (it pushes each expiry)."""
        return [str(w) for w in self._remote.call("approval.sweep")["requests"]]

    def sweep_on_read(self) -> None:
        """Nothing to do: the service sweeps on its own clock."""

    def next_deadline(self) -> "datetime | None":
        return None  # the service keeps the clock
