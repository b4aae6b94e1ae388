"""What other people changed since the last look: requests newly waiting for this user, and
decisions on this user's own requests. The accessible desk says each as a line between
commands, in core's wording (core/notices.py), the same the full-screen desk notifies with.

Cheap when nothing happened: one `PRAGMA data_version`, which changes only when ANOTHER
connection commits. Only then are the new audit entries read (at most MAX_SCAN per look), and
only the requests they touched are loaded; whether one concerns this user is core's rule
(notices.arrival / notices.outcome, on rbac), never decided here.
"""

from __future__ import annotations

from ..core import notices
from ..core.errors import HitlError
from ..core.models import AuditEntry

#: audit entries read per look; beyond this the rest is skipped (a `list` shows the state)
MAX_SCAN = 2_000
#: requests loaded per look to decide what to announce
MAX_CHECKS = 50


class ChangeFeed:
    def __init__(self, service, username: str) -> None:
        self.service = service
        self.username = username
        self._version = service.data_version()
        self._seq = service.audit_size()

    def poll(self) -> list[notices.Notice]:
        svc = self.service
        version = svc.data_version()
        if version == self._version:
            return []
        self._version = version
        size = svc.audit_size()
        latest: dict[str, AuditEntry] = {}
        if size > self._seq:
            for entry in svc.iter_audit(start=self._seq + 1, stop=min(size, self._seq + MAX_SCAN)):
                if entry.workflow_id and entry.actor != self.username:
                    latest.pop(entry.workflow_id, None)  # ordered by each request's latest entry
                    latest[entry.workflow_id] = entry
        self._seq = max(size, self._seq)
        if not latest:
            return []
        user = svc.get_user(self.username)  # the role may have changed meanwhile
        found: list[notices.Notice] = []
        for wid, entry in list(latest.items())[-MAX_CHECKS:]:
            try:
                req = svc.get_workflow(wid)
            except HitlError:  # gone, or unreadable: nothing to announce
                continue
            notice = notices.outcome(user, entry, req) or notices.arrival(svc.policy, user, entry, req)
            if notice is not None:
                found.append(notice)
        return found
