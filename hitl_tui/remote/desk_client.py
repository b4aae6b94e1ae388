"""The desk's analytics and claims in either mode, with one answer: the engine's own calls
(core/analytics.py, core/claims.py) on a database opened here, the service's (desk_methods.py)
in team mode, as this OS account. The desk, its inbox and `hitl-tui stats` call these."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..core import analytics, claims
from ..core.models import Role
from .client import RemoteService


def _claim(got: dict[str, Any]) -> claims.Claim:
    return claims.Claim(str(got["workflow_id"]), str(got["username"]), Role(str(got["role"])),
                        datetime.fromisoformat(str(got["claimed_at"])), datetime.fromisoformat(str(got["expires_at"])))


def figures(service: Any, viewer: str, since: str | None = None) -> analytics.Figures:
    if isinstance(service, RemoteService):
        service._as_me(viewer, "see analytics")
        return analytics.from_json(service.call("analytics", since=since))
    return analytics.figures(service, viewer, since)


def claim(service: Any, username: str, workflow_id: str) -> claims.Claim:
    if isinstance(service, RemoteService):
        service._as_me(username, "claim a request")
        return _claim(service.call("claim.take", workflow_id=workflow_id))
    return claims.claim(service, username, workflow_id)


def release(service: Any, username: str, workflow_id: str) -> None:
    if isinstance(service, RemoteService):
        service._as_me(username, "release a claim")
        service.call("claim.release", workflow_id=workflow_id)
        return
    claims.release(service, username, workflow_id)


def shown(service: Any, viewer: str, workflow_ids: list[str]) -> dict[str, claims.Claim]:
    if not workflow_ids:
        return {}
    if isinstance(service, RemoteService):
        service._as_me(viewer, "see claims")
        return {w: _claim(c) for w, c in service.call("claim.shown", workflow_ids=list(workflow_ids)).items()}
    return claims.shown(service, viewer, workflow_ids)
