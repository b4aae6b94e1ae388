"""The desk's database side: every engine call it makes, each in a thread worker (app.db), each
answered by a typed result handled back on the UI thread. Kept apart from desk.py so that the
layout and keys read on their own.

Loading order at start-up is chosen for a fast first paint: the first page of the inbox, then
the counts, then (after that has painted) the full audit-chain verification.
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual.worker import get_current_worker

from ..core import rbac
from ..core.errors import PermissionDenied, UnknownWorkflow
from ..core.models import InboxView
from ..messages import AuditProgress, AuditVerified, CountsLoaded, ExternalChange, PageLoaded, RequestLoaded, \
    RequestVanished
from ..widgets.request_list import PAGE_SIZE

#: entries read per poll to find what changed; beyond this a change is reported as a whole
MAX_SCAN = 2_000
#: requests looked at per poll to announce arrivals in "awaiting me"
MAX_ARRIVAL_CHECKS = 50
#: after a change, verify the chain again at most this often (a million entries take seconds)
REVERIFY_EVERY_S = 15.0
ARRIVAL_ACTIONS = ("created", "approved", "resubmitted")


class _Stopped(Exception):
    """Raised from verify's progress callback when the app is closing."""


#: the requester's other requests looked at for split-purchase checks
MAX_RELATED = 50


def compliance_flags(svc: Any, viewer: str, req: Any) -> list:
    """The engine's compliance flags for `req`, with the requester's nearby requests (as far as
    the viewer may see them) so that split purchases show up too."""
    from ..core import compliance  # only once a request is opened, not at start-up

    start, end = compliance.split_window(svc.policy, req)
    related = []
    for s in svc.list_requests(viewer, InboxView.VISIBLE, search=req.requester, sort="newest", limit=MAX_RELATED):
        if s.requester == req.requester and s.id != req.id and start <= s.created_at <= end:
            related.append(svc.get_workflow(s.id))
    return compliance.check_request(svc.policy, req, related)


class DeskData:
    """Mixed into DeskScreen; relies on its attributes (service, user, view, sort, search...)."""

    # --- inbox pages and counts ----------------------------------------------------------------

    def load_page(self, *, append: bool = False) -> None:
        svc, me, view, sort = self.service, self.user.username, self.view, self.sort
        search, token = self.search or None, self.token
        offset = len(self.inbox.rows) if append else 0

        def work() -> PageLoaded:
            rows = svc.list_requests(me, view, search=search, sort=sort, limit=PAGE_SIZE + 1, offset=offset)
            return PageLoaded(token, rows[:PAGE_SIZE], offset, len(rows) > PAGE_SIZE)

        self.app.db(work, group="page-more" if append else "page", exclusive=not append, done=self.page_loaded,
                    description="inbox page")

    def load_counts(self) -> None:
        svc, me, search, token = self.service, self.user.username, self.search or None, self.token

        def work() -> CountsLoaded:
            counts = {}
            for view in InboxView:
                if get_current_worker().is_cancelled:
                    break
                counts[view] = svc.count_requests(me, view, search=search)
            return CountsLoaded(token, counts)

        self.app.db(work, group="counts", exclusive=True, done=self.counts_loaded, description="inbox counts")

    # --- the selected request ------------------------------------------------------------------

    def load_request(self, workflow_id: str) -> None:
        svc, me = self.service, self.user.username

        def work() -> RequestLoaded | RequestVanished:
            try:
                req = svc.get_workflow_for(me, workflow_id)
                trail = svc.get_audit_trail_for(me, workflow_id)
            except (PermissionDenied, UnknownWorkflow) as exc:  # it left this user's sight meanwhile
                return RequestVanished(workflow_id, str(exc))
            return RequestLoaded(req, trail)

        self.app.db(work, group="detail", exclusive=True, done=self.request_loaded, description="request detail")

    def load_flags(self, req: Any) -> None:
        """Compliance flags come second: the split-purchase check searches the requester's other
        requests, which should not hold up the detail (or, at start-up, the first paint)."""
        svc, me = self.service, self.user.username

        def work() -> tuple[str, int, list]:
            return req.id, req.revision, compliance_flags(svc, me, req)

        self.app.db(work, group="flags", exclusive=True, done=self.flags_loaded, description="compliance flags")

    # --- audit chain ---------------------------------------------------------------------------

    def verify_chain(self) -> None:
        svc, screen = self.service, self
        self._verify_started = time.monotonic()

        def work() -> AuditVerified | None:
            worker = get_current_worker()

            def progress(done: int, total: int) -> None:
                if worker.is_cancelled:
                    raise _Stopped
                screen.post_message(AuditProgress(done, total))

            try:
                return AuditVerified(svc.verify_audit(progress=progress))
            except _Stopped:
                return None

        self.app.db(work, group="verify", exclusive=True, done=self.chain_verified, description="verify audit")

    def on_audit_progress(self, msg: AuditProgress) -> None:
        if msg.total and self._verify_started is not None:
            pct = 100 * msg.done // msg.total
            self.header.audit = Text(f"audit: verifying… {pct}%", style="italic")

    def chain_verified(self, msg: AuditVerified | None) -> None:
        self._verify_started = None
        self._verified_at = time.monotonic()
        if msg is None:
            return
        result = msg.result
        if result.ok:
            badge = Text(f"audit ✔ verified, {result.entries:,} entries", style="bold green")
            self.header.audit = badge
            self.timeline.set_chain_state(Text(f"chain ✔ verified ({result.entries:,} entries)", style="green"))
        else:
            self.header.audit = Text(f" AUDIT CHAIN BROKEN at entry {result.first_bad_seq} ",
                                     style="bold white on red")
            self.timeline.set_chain_state(
                Text(f"chain ✘ BROKEN at entry {result.first_bad_seq}: {result.problem}", style="bold red"),
                result.first_bad_seq)
            self.app.say(result.summary(), "error", timeout=30)

    # --- changes made by others ----------------------------------------------------------------

    def start_polling(self) -> None:
        svc = self.service

        def baseline() -> tuple[int, int]:
            return svc.data_version(), svc.audit_size()

        def ready(found: tuple[int, int]) -> None:
            self._data_version, self._audit_seq = found
            interval = self.app.poll_interval
            if interval:
                self.set_interval(interval, self.poll)

        self.app.db(baseline, group="poll", done=ready, description="change baseline")

    def poll(self) -> None:
        """Cheap: one PRAGMA per tick; the audit log is read only when something changed."""
        if self._polling or self._data_version is None:
            return
        self._polling = True
        svc, user, policy = self.service, self.user, self.policy
        last_version, last_seq = self._data_version, self._audit_seq

        def work() -> tuple[int, int, ExternalChange] | None:
            version = svc.data_version()
            if version == last_version:
                return None
            size = svc.audit_size()
            latest: dict[str, tuple[str, str]] = {}
            entries = 0
            if size > last_seq:
                for entry in svc.iter_audit(start=last_seq + 1, stop=min(size, last_seq + MAX_SCAN)):
                    entries += 1
                    if entry.workflow_id:
                        latest[entry.workflow_id] = (entry.action, entry.actor)
            arrivals = []
            for wid, (action, actor) in list(latest.items())[:MAX_ARRIVAL_CHECKS]:
                if action not in ARRIVAL_ACTIONS or actor == user.username:
                    continue
                try:
                    req = svc.get_workflow(wid)
                except UnknownWorkflow:
                    continue
                if rbac.may_decide(policy, user, req):
                    arrivals.append(req)
            return version, size, ExternalChange(set(latest), arrivals, entries + max(0, size - last_seq - MAX_SCAN))

        self.app.db(work, group="poll", done=self.polled, description="poll for changes")

    def polled(self, found: tuple[int, int, ExternalChange] | None) -> None:
        self._polling = False
        if found is None:
            return
        version, size, change = found
        self._data_version, self._audit_seq = version, max(size, self._audit_seq or 0)
        self.post_message(change)

    def on_external_change(self, change: ExternalChange) -> None:
        # the page and counts are one query each; the detail only if its request was touched
        self.reload(detail=self.highlighted is not None and self.highlighted.id in change.touched)
        for req in change.arrivals[:3]:
            self.app.say(f"New in Awaiting me: {req.id} “{req.title}” from {req.requester} "
                         f"({req.risk_level.value}, {req.current_role.label if req.current_role else ''} stage)",
                         timeout=10)
        if len(change.arrivals) > 3:
            self.app.say(f"…and {len(change.arrivals) - 3} more now await you.", timeout=10)
        if change.entries:
            self.schedule_reverify()

    def schedule_reverify(self) -> None:
        since = time.monotonic() - (self._verified_at or 0)
        if self._verify_started is not None:
            return
        if since >= REVERIFY_EVERY_S:
            self.verify_chain()
        elif self._reverify_timer is None:
            def again() -> None:
                self._reverify_timer = None
                self.verify_chain()
            self._reverify_timer = self.set_timer(REVERIFY_EVERY_S - since, again)

    def work_failed(self, worker: Any, error: BaseException | None) -> None:
        """The app's error handler tells us, so a failed poll or verify does not stay 'running'."""
        if worker.group == "poll":
            self._polling = False
        elif worker.group == "verify":
            self._verify_started = None
            self.header.audit = Text("audit: could not verify", style="bold yellow")
