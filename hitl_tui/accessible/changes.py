"""What other people changed since the last look: requests newly waiting for this user, and
decisions on this user's own requests. The accessible desk says each as a line between
commands, in core's wording (core/notices.py), the same the full-screen desk notifies with.

Cheap when nothing happened: one `PRAGMA data_version`, which changes only when ANOTHER
connection commits (in team mode: when the service has pushed a change). Only then are the new
entries looked at, by core/news.py; whether one concerns this user is core's rule, never
decided here.
"""

from __future__ import annotations

from ..core import notices


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
        changes = svc.changes_since(self.username, self._seq)  # core/news.py: what this user may see
        self._seq = max(changes.size, self._seq)
        return list(changes.news)
