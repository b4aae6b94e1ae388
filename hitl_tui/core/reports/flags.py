"""Compliance flags for a request, as `request show` and the reports present them.

The checks themselves live in core/compliance.py; this module only gathers what they need: for
the split-purchase check, the requester's other requests of the same type around the same dates.
Nothing is cached across requests, so a report with hundreds of timelines over a log of a
million entries loads a few requests at a time, never the log's whole history.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from ..errors import HitlError
from ..models import WorkflowRequest

MAX_RELATED = 1000


class ComplianceLookup:
    """Runs compliance.check_request with `related` filled in."""

    def __init__(self, service) -> None:
        from ..compliance import check_request, split_window, zone_from_env

        self._check, self._window = check_request, split_window
        self.service = service
        self.tz = zone_from_env(settings=service.settings)  # the session's timezone setting

    def flags(self, req: WorkflowRequest) -> list[dict[str, Any]]:
        return [f.model_dump(mode="json") for f in self._check(self.service.policy, req, self._related(req), tz=self.tz)]

    def _related(self, req: WorkflowRequest) -> list[WorkflowRequest]:
        """The requester's other requests of this type within the split window (the newest
        1,000 they filed), or none when the request cannot be part of a split purchase."""
        if not _near_a_threshold(self.service.policy, req):
            return []
        try:  # the requester's own view: what they filed
            mine = self.service.list_requests(req.requester, "mine", sort="newest", limit=MAX_RELATED)
        except HitlError:  # a requester no longer in the directory
            return []
        start, end = self._window(self.service.policy, req)
        return [self.service.get_workflow(s.id) for s in mine
                if s.id != req.id and s.workflow_type == req.workflow_type and start <= s.created_at <= end]


def _near_a_threshold(policy, req: WorkflowRequest) -> bool:
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


def visible_related(service, viewer: str, req: WorkflowRequest, limit: int = 50) -> list[WorkflowRequest]:
    """The requester's other requests of the same type inside the split window, as far as
    `viewer` may see them: what the desk and the assistant check a split purchase against (they
    must not learn of requests the viewer may not see)."""
    from ..compliance import split_window
    from ..filter_query import Condition, Filter
    from ..models import InboxView

    if not _near_a_threshold(service.policy, req):
        return []
    start, end = split_window(service.policy, req)
    # built, not parsed: a user name is data, never filter syntax
    theirs = Filter(terms=(), conditions=(Condition("requester", "=", (req.requester,), exact=True),
                                          Condition("type", "=", (req.workflow_type,))))
    rows = service.list_requests(viewer, InboxView.VISIBLE, search=theirs, sort="newest", limit=limit)
    return [service.get_workflow_for(viewer, r.id) for r in rows if r.id != req.id and start <= r.created_at <= end]
