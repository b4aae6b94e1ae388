"""What changed in the trail after a position, as one person may see it: the requests whose entries
are new, and what that person should be told (core/notices.py: arrivals in their queue,
outcomes of their own requests).

One rule for every listener: the full-screen desk's watcher, the accessible desk's feed and a
team-mode client (which asks the service, where this runs as the connection's user). A request
the person may not see is neither named nor announced (rbac.may_view), so a client of the
service learns nothing about other people's requests from the changes it is told of.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import notices, rbac
from .models import AuditEntry

if TYPE_CHECKING:
    from .reads import ReadsMixin

#: entries read per look; the rest of a larger batch is counted, not read (the inbox reloads)
MAX_SCAN = 2_000
#: requests looked at per look for something to announce (the newest ones)
MAX_CHECKS = 50


@dataclass(frozen=True)
class Changes:
    #: the trail's length now (the position to ask from next time)
    size: int
    #: requests with new entries that this person may see, oldest change first
    touched: tuple[str, ...] = ()
    news: tuple[notices.Notice, ...] = ()
    #: entries appended after the position asked from (read or not)
    entries: int = 0


def changes_since(service: "ReadsMixin", username: str, after: int) -> Changes:
    """What entries after `after` changed, for `username` (who must be in the directory)."""
    size = service.audit_size()
    if size <= after:
        return Changes(size)
    latest: dict[str, AuditEntry] = {}  # request -> its newest entry, ordered by that entry
    for entry in service.iter_audit(start=after + 1, stop=min(size, after + MAX_SCAN)):
        if entry.workflow_id:
            latest.pop(entry.workflow_id, None)
            latest[entry.workflow_id] = entry
    user = service.get_user(username)  # read now: the role may have changed in this very batch
    policy = service.policy
    requests = service.get_workflows(list(latest))
    covering = service.covering_for(user.username)  # out of office: a delegate sees what they may decide
    visible = [wid for wid in latest if wid in requests and rbac.may_view(policy, user, requests[wid], covering)]
    news: list[notices.Notice] = []
    for wid in visible[-MAX_CHECKS:]:
        entry, req = latest[wid], requests[wid]
        notice = notices.outcome(user, entry, req) or notices.arrival(policy, user, entry, req)
        if notice is not None:
            news.append(notice)
    return Changes(size, tuple(visible), tuple(news), size - after)
