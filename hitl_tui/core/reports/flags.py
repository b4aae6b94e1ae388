"""Compliance flags for a request, as `request show` and the reports present them.

The checks themselves live in core/compliance.py; this module only gathers what they need (the
requester's other requests around the same dates, for split purchases) and caches it across the
many requests of one report.
"""

from __future__ import annotations

from typing import Any

from ..errors import HitlError
from ..models import WorkflowRequest


class ComplianceLookup:
    """Runs compliance.check_request with `related` filled in; one instance per report."""

    def __init__(self, service) -> None:
        from ..compliance import check_request, split_window, zone_from_env

        self._check, self._window = check_request, split_window
        self.service = service
        self.tz = zone_from_env()  # a bad HITL_TIMEZONE is refused before anything is written
        self._mine: dict[str, list] = {}
        self._loaded: dict[str, WorkflowRequest] = {}

    def flags(self, req: WorkflowRequest) -> list[dict[str, Any]]:
        return [f.model_dump(mode="json") for f in self._check(self.service.policy, req, self._related(req), tz=self.tz)]

    def _related(self, req: WorkflowRequest) -> list[WorkflowRequest]:
        if req.requester not in self._mine:
            try:  # the requester's own view: every request they filed (up to the newest 1,000)
                self._mine[req.requester] = self.service.list_requests(req.requester, "mine", sort="newest",
                                                                       limit=1000)
            except HitlError:  # a requester no longer in the directory
                self._mine[req.requester] = []
        start, end = self._window(self.service.policy, req)
        out = []
        for summary in self._mine[req.requester]:
            if summary.id == req.id or not start <= summary.created_at <= end:
                continue
            if summary.id not in self._loaded:
                self._loaded[summary.id] = self.service.get_workflow(summary.id)
            out.append(self._loaded[summary.id])
        return out
