"""Compliance flags for a request: the one gatherer the desk, the accessible desk, the agents,
`request show` and the exports all use, so they all show the same list.

The checks themselves live in core/compliance.py (pure functions); this module gathers what
they need, one way: the requester's other requests of the same type inside the split window as
far as the viewer may see them (a viewer must not learn of requests hidden from them, and a
request they cannot see cannot be what they act on), at most `RELATED_LIMIT` of them, newest
first, and the working hours judged in the session's time zone setting (HITL_TIMEZONE or the
config file, as the service was opened with). Nothing is cached across requests, so a report
with hundreds of timelines over a log of a million entries loads a few requests at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from ..compliance import ComplianceFlag, check_request, deciders_zone, split_window
from ..errors import HitlError
from ..filter_query import Condition, Filter
from ..models import InboxView, WorkflowRequest
from ..policy import Policy

if TYPE_CHECKING:
    from ..service import WorkflowService

#: the most of the requester's other requests a split-purchase check compares (a split purchase is
#: a few requests within days; this only bounds the work for a requester who files hundreds a week)
RELATED_LIMIT = 500


@dataclass(frozen=True)
class FlagCheck:
    """The flags for one request, and how many other requests the split-purchase check saw."""

    flags: list[ComplianceFlag]
    related: int

    def as_json(self) -> list[dict[str, Any]]:
        return [f.model_dump(mode="json") for f in self.flags]


def session_zone(service: "WorkflowService") -> tzinfo | None:
    """The deciders' time zone of this session (None: the machine's zone)."""
    return deciders_zone(service.settings)


def gather_flags(service: "WorkflowService", viewer: str, req: WorkflowRequest) -> FlagCheck:
    """Every compliance flag for `req` as `viewer` may know it, most severe first."""
    related = related_requests(service, viewer, req)
    return FlagCheck(check_request(service.policy, req, related, tz=session_zone(service)), len(related))


def related_requests(service: "WorkflowService", viewer: str, req: WorkflowRequest) -> list[WorkflowRequest]:
    """The requester's other requests of the same type inside the split window that `viewer` may
    see (none when `req` cannot be part of a split purchase, or its requester is gone)."""
    policy = service.policy
    if not near_a_threshold(policy, req):
        return []
    start, end = split_window(policy, req)
    # built, not parsed: a user name is data, never filter syntax
    theirs = Filter(terms=(), conditions=(Condition("requester", "=", (req.requester,), exact=True),
                                          Condition("type", "=", (req.workflow_type,))))
    try:
        rows = service.list_requests(viewer, InboxView.VISIBLE, search=theirs, sort="newest", limit=RELATED_LIMIT)
        return [service.get_workflow_for(viewer, r.id) for r in rows
                if r.id != req.id and start <= r.created_at <= end]
    except HitlError:  # the viewer left the directory meanwhile: nothing to compare with
        return []


def near_a_threshold(policy: Policy, req: WorkflowRequest) -> bool:
    """Only a value just under a band threshold can be part of a split purchase (the rule in
    compliance.py); checking that first spares loading neighbours for every other request."""
    wtype = policy.types.get(req.workflow_type)
    if wtype is None or not wtype.risk.bands:
        return False
    try:
        value = Decimal(str(req.data.get(wtype.risk.field)))
    except (InvalidOperation, ValueError):
        return False
    margin = policy.compliance.split_margin
    return any(t * (1 - margin) <= value < t for t in wtype.risk.thresholds)


__all__ = ["FlagCheck", "RELATED_LIMIT", "gather_flags", "near_a_threshold", "related_requests", "session_zone"]
