"""The service's delivery loop: drains the notification outbox while `hitl-tui serve` runs.

Started by the server beside the expiry clock (approvals.expiry_clock is its model). It first
releases every claim a previous run left (the service is the only process that opens the
database, so whoever made them has gone: a kill -9 in the middle of a send), then goes round:
claim on the engine thread, send off it (the network never holds the engine up), record on the
engine thread; with nothing due it sleeps until the next retry is due, at most POLL (a change
committed meanwhile writes its rows, which the next look finds). See hitl_tui/notify/delivery.py
for the rounds themselves. It logs one line per failed or abandoned delivery (ids and the
reason, never request text).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ..core.errors import HitlError
from ..notify.delivery import Deliverer

if TYPE_CHECKING:
    from .server import Server

#: the longest the loop sleeps before looking at the outbox again
POLL = 0.25


async def delivery_loop(server: "Server") -> None:
    from .server import log

    deliverer = Deliverer(server.service, halted=lambda: server.stopping)
    loop = asyncio.get_running_loop()
    try:
        try:
            released = await server.engine(deliverer.release_stale)
        except RuntimeError:
            return
        except HitlError as exc:  # a full disk, say: the claims' leases run out and they are taken anyway
            released = 0
            log("warning", f"notifications: could not take back the last run's deliveries: {exc}")
        if released:
            log("info", f"notifications: {released} deliveries left unfinished by the last run are due again")
        while not _stopping(server):
            due: str | None = None
            try:
                jobs, _held = await server.engine(deliverer.claim)
                if jobs:
                    await loop.run_in_executor(None, deliverer.send, jobs)
                    done = await server.engine(deliverer.record, jobs)
                    for line in done.errors:
                        log("warning", f"notification {line}")
                    continue
                due = await loop.run_in_executor(None, deliverer.next_due)
            except RuntimeError:  # the engine has stopped: the service is going
                return
            except HitlError as exc:
                if _stopping(server):
                    return  # the database closed under it; a claim left is released at the next start
                log("warning", f"notifications: the delivery round failed: {exc}")
            except Exception as exc:  # noqa: BLE001 - the loop outlives any one round's surprise
                log("error", f"notifications: the delivery round failed unexpectedly: {type(exc).__name__}: {exc}")
            wait = POLL if due is None else (datetime.fromisoformat(due) - datetime.now(timezone.utc)).total_seconds()
            await asyncio.sleep(min(POLL, max(0.01, wait)))
    finally:
        deliverer.close()


def _stopping(server: "Server") -> bool:
    """Asked afresh after each wait (a property read once would look settled to a type checker)."""
    return server.stopping
