"""The desk's eye on the database: changes committed by others, and the audit chain's
verification. It draws nothing; it owns its timers and workers and reports in typed messages,
which the desk turns into a reloaded inbox, notifications and the header's audit badge.

Embedded, it polls: one `PRAGMA data_version` per tick (it changes only when ANOTHER connection
commits); the audit log is read only when something changed. The desk's own writes do not move
that number, so the desk calls `own_write()` after each one.

In team mode the service pushes every commit (remote/client.py on_change): each push starts a
look at once, with no timer. A lost connection is reported (ServiceLink) and retried every
RECONNECT_EVERY_S until the service is back; the look that follows catches up on what changed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on, work
from textual.message import Message
from textual.widget import Widget
from textual.worker import Worker, WorkerState, get_current_worker

from ..core.models import User
from ..messages import AuditProgress, AuditVerified, ExternalChange, ServiceLink, WorkFailed

if TYPE_CHECKING:
    from ..core.service import WorkflowService

#: after a change, verify the chain again at most this often (a million entries take seconds)
REVERIFY_EVERY_S = 15.0
#: team mode: how often to try the service again once the connection is lost
RECONNECT_EVERY_S = 1.0


class _Stopped(Exception):
    """Raised from verify's progress callback when the worker was cancelled."""


class ChangeWatcher(Widget):
    DEFAULT_CSS = "ChangeWatcher { display: none; }"

    def __init__(self, service: "WorkflowService", user: User, *, poll_interval: float | None) -> None:
        super().__init__()
        self.service, self.user, self.poll_interval = service, user, poll_interval
        self.data_version: int | None = None
        #: the audit chain's length as this desk last knew it (its own writes included)
        self.audit_size = 0
        #: the length the last completed verification covered
        self.verified_size: int | None = None
        self.verifying = False
        self._verified_at: float | None = None
        self._reverify_timer = None
        self._polling = False
        #: a push came while a look was running: look again when it ends
        self._again = False
        self._reconnect_timer = None

    def start(self, *, verify: bool) -> None:
        """Once the first page is on screen: these compete with it for the CPU."""
        self._baseline()
        if verify:
            self.verify()

    # --- team mode: pushed changes, a lost and found connection ----------------------------------

    @property
    def pushed(self) -> bool:
        """Does the service tell of changes itself (team mode)?"""
        return getattr(self.service, "on_change", None) is not None

    @work(thread=True, group="link", exit_on_error=False, description="subscribe to changes")
    def _subscribe(self) -> None:
        # both callbacks run on the connection's reader thread: post_message is safe there
        self.service.on_link(lambda problem: self.post_message(ServiceLink(None if problem is None else str(problem))))
        self.service.on_change(lambda _params: self.post_message(self.Pushed()))

    class Pushed(Message):
        """The service committed a change (anyone's): look at what it was."""

    @on(Pushed)
    def _pushed(self, msg: Pushed) -> None:
        msg.stop()
        self.poll()

    @on(ServiceLink)
    def _link(self, msg: ServiceLink) -> None:
        # goes on up to the desk, which says it; this keeps trying until the service is back
        if msg.problem is None or msg.final:
            if self._reconnect_timer is not None:
                self._reconnect_timer.stop()
                self._reconnect_timer = None
            if msg.problem is None:
                self.poll()
                self.schedule_verify()
        elif self._reconnect_timer is None:
            self._reconnect_timer = self.set_interval(RECONNECT_EVERY_S, self._reconnect)

    @work(thread=True, exclusive=True, group="reconnect", exit_on_error=False, description="reconnect")
    def _reconnect(self) -> None:
        from ..core.errors import HitlError
        from ..remote.protocol import ServiceUnavailable

        try:
            self.service.reconnect()  # on success the link callback posts ServiceLink(None)
        except ServiceUnavailable:
            pass  # still away: the timer tries again
        except HitlError as exc:  # back as another database or account: say it, stop trying
            self.post_message(ServiceLink(str(exc), final=True))

    # --- polling -------------------------------------------------------------------------------

    @work(thread=True, group="poll", exit_on_error=False, description="change baseline")
    def _baseline(self) -> None:
        svc = self.service
        if self.pushed:
            self._subscribe()
        self.post_message(self.Baseline(svc.data_version(), svc.audit_size()))

    @dataclass
    class Baseline(Message):
        """Where polling starts from: the data version and chain length at start-up."""

        version: int
        size: int

    @on(Baseline)
    def _baseline_ready(self, msg: Baseline) -> None:
        msg.stop()
        self.data_version, self.audit_size = msg.version, max(msg.size, self.audit_size)
        if self.poll_interval and not self.pushed:
            self.set_interval(self.poll_interval, self.poll)

    def poll(self) -> None:
        if self.data_version is None:
            return
        if self._polling:
            self._again = True
            return
        self._polling = True
        self._look(self.data_version, self.audit_size)

    @work(thread=True, group="poll", exit_on_error=False, description="poll for changes")
    def _look(self, last_version: int, last_size: int) -> None:
        svc = self.service
        version = svc.data_version()
        if version == last_version:
            self.post_message(ExternalChange(version=version, size=last_size))
            return
        changes = svc.changes_since(self.user.username, last_size)  # core/news.py: what this user may see
        if not get_current_worker().is_cancelled:
            self.post_message(ExternalChange(set(changes.touched), list(changes.news), changes.entries,
                                             version=version, size=changes.size))

    @on(ExternalChange)
    def _changed(self, change: ExternalChange) -> None:
        # the message goes on up to the desk; this only keeps the watcher's own bookkeeping
        self._polling = False
        self.data_version = change.version
        self.audit_size = max(change.size, self.audit_size)
        if change.entries:
            self.schedule_verify()
        if not change.touched and not change.entries:
            change.stop()  # nothing happened: the desk need not hear of it
        if self._again:
            self._again = False
            self.call_later(self.poll)

    def own_write(self) -> None:
        """The desk wrote an entry itself: count it, and verify the longer chain soon."""
        self.audit_size += 1
        self.schedule_verify()

    # --- verification --------------------------------------------------------------------------

    def verify(self) -> None:
        self.verifying = True
        self._verify()

    @work(thread=True, exclusive=True, group="verify", exit_on_error=False, description="verify audit")
    def _verify(self) -> None:
        worker, watcher = get_current_worker(), self

        def progress(done: int, total: int) -> None:
            if worker.is_cancelled:
                raise _Stopped
            watcher.post_message(AuditProgress(done, total))

        try:
            result = self.service.verify_audit(progress=progress)
        except _Stopped:
            return
        self.post_message(AuditVerified(result))

    @on(AuditVerified)
    def _verified(self, msg: AuditVerified) -> None:
        self.verifying = False
        self._verified_at = time.monotonic()
        self.verified_size = msg.result.entries
        self.audit_size = max(self.audit_size, msg.result.entries)

    def schedule_verify(self) -> None:
        """At most every REVERIFY_EVERY_S: a million entries take seconds to hash."""
        if self.verifying or self._verified_at is None:
            return  # running now, or never asked for (verification off): nothing to repeat
        since = time.monotonic() - self._verified_at
        if since >= REVERIFY_EVERY_S:
            self.verify()
        elif self._reverify_timer is None:
            def again() -> None:
                self._reverify_timer = None
                self.verify()
            self._reverify_timer = self.set_timer(REVERIFY_EVERY_S - since, again)

    # --- failures ------------------------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is not WorkerState.ERROR:
            return
        if event.worker.group == "poll":
            self._polling = False
        elif event.worker.group == "verify":
            self.verifying = False
        self.post_message(WorkFailed(event.worker))
