"""Team mode's side of `hitl-tui delegate` (core/delegation.py), answered by the service
(delegation_methods.py): the methods of core.delegation.Delegations, with the same signatures, as
this OS account; grants and ends are signed on this account."""

from __future__ import annotations

from datetime import datetime, timezone

from ..core.assignment import Assignment
from ..core.delegation import Covering, Delegation
from .client import RemoteService
from .delegation_methods import of_wire


class RemoteAssignments:
    def __init__(self, remote: RemoteService) -> None:
        self._remote = remote

    def reassign(self, workflow_id: str, assignee: str | None, reason: str, *,
                 actor: str | None = None) -> Assignment:
        self._remote._as_me(actor, "reassign")
        got = self._remote._signed("assignment.set", None, workflow_id=workflow_id, assignee=assignee, reason=reason)
        return Assignment(**got)


class RemoteDelegations:
    def __init__(self, remote: RemoteService) -> None:
        self._remote = remote

    def grant(self, delegator: str, delegate: str, until: str, reason: str, *, types: list[str] | None = None,
              actor: str | None = None) -> Delegation:
        self._remote._as_me(actor, "delegate")
        return of_wire(self._remote._signed("delegation.grant", None, delegator=delegator, delegate=delegate,
                                            until=until, reason=reason, types=types))

    def end(self, delegator: str, reason: str = "", *, actor: str | None = None) -> Delegation:
        self._remote._as_me(actor, "end a delegation")
        return of_wire(self._remote._signed("delegation.end", None, delegator=delegator, reason=reason))

    def covering(self, username: str) -> list[Covering]:
        """The running delegations to `username`, with their delegators (ReadsMixin.covering_for)."""
        now = datetime.now(timezone.utc)
        return [Covering(d, self._remote.get_user(d.delegator)) for d in self.listing(username)
                if d.delegate == username and d.running(now)]

    def listing(self, viewer: str, *, everyone: bool = False) -> list[Delegation]:
        self._remote._as_me(viewer, "list delegations")
        return [of_wire(d) for d in self._remote.call("delegation.list", everyone=everyone)]
