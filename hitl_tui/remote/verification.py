"""The whole trail's verification, shared by every client of the service.

Every desk asks for it at start and again after changes (the header's badge), and over a
million entries it takes minutes of CPU. On the engine thread it would hold every other
client's call for that long; run once per desk it would multiply the cost by the number of
desks. So: one run at a time, on a thread of its own (verify_audit reads from a snapshot
connection of its own, so writers carry on meanwhile); everyone who asks while it runs shares
its answer; and the answer is kept while the trail's head has not moved, for at most KEEP_S
(a rewrite of old rows that leaves the head alone is caught by the next run).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from ..core.models import VerifyResult
    from ..core.service import WorkflowService

#: how long a verification of an unchanged head is given again without a new run
KEEP_S = 300.0


class SharedVerification:
    def __init__(self, service: "WorkflowService", on_run: "Callable[[VerifyResult], None] | None" = None) -> None:
        self._service = service
        #: told of each run's result (the service logs it: one line per run, not per asker)
        self._on_run = on_run
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="hitl-verify")
        self._running: Future[VerifyResult] | None = None
        #: (head it covered, when it finished, the result)
        self._kept: tuple[tuple[int, str], float, VerifyResult] | None = None

    def result(self) -> "Future[VerifyResult]":
        """The verification of the trail as it is now: kept, running, or started here."""
        head = self._service.audit_head()
        with self._lock:
            kept = self._kept
            if kept is not None and kept[0] == head and time.monotonic() - kept[1] < KEEP_S:
                done: Future[VerifyResult] = Future()
                done.set_result(kept[2])
                return done
            if self._running is None:
                self._running = self._pool.submit(self._run)
            return self._running

    def _run(self) -> "VerifyResult":
        try:
            head = self._service.audit_head()  # before: if it moves meanwhile, the next ask runs again
            result = self._service.verify_audit()
            with self._lock:
                self._kept = (head, time.monotonic(), result)
            if self._on_run is not None:
                self._on_run(result)
            return result
        finally:
            with self._lock:
                self._running = None

    def close(self) -> None:
        """Wait for a run in progress (the database closes after this), start no other."""
        self._pool.shutdown(wait=True, cancel_futures=True)
