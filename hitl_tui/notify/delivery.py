"""Draining the outbox: claim what is due, send it, record how it went.

A round has three steps, so that in the service the engine thread only ever does the quick
database parts and the network waits elsewhere (remote/notify_loop.py):

    claim()    one write: the due rows are claimed by this session (claim, attempts + 1,
               next_attempt_at = now + lease) and turned into jobs, each with its message made
               from what the recipient may see now (core/notifications.notice_for)
    send()     the network: webhooks over one httpx client, email over one SMTP session
    record()   one write: sent, or failed with the reason and the next attempt after an
               exponential back-off, or gave_up once the attempts are spent (or at once, when
               trying again cannot help: the recipient may no longer see the request)

Delivery is at-least-once on the wire and exactly-once to a receiver that deduplicates by the
event id: a process killed between send() and record() leaves its claim, and the row is sent
again once the lease has passed (a service starting releases every claim at once: it is the
only process that opens the database). Quiet hours hold a person's email back without counting
an attempt.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Callable

from ..core import notifications as nt
from ..core.audit import iso, utc_now
from ..core.store import notify as sql
from ..core.store import users as user_sql
from . import render
from .channels import Mailer, SendFailed, Webhooks

if TYPE_CHECKING:
    from ..core.service import WorkflowService

#: rows one round claims at most
BATCH = 200


@dataclass
class Job:
    row: sql.OutboxRow
    notice: nt.Notice | None = None
    #: why nothing may be sent (then the row gives up at once)
    refused: str = ""
    #: a webhook's address and secret, or a person's email address
    url: str = ""
    secret: str | None = None
    address: str = ""
    error: str = ""
    permanent: bool = False
    sent: bool = False


@dataclass
class Round:
    """What one round did."""

    sent: int = 0
    failed: int = 0
    gave_up: int = 0
    held: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def tried(self) -> int:
        return self.sent + self.failed + self.gave_up


class Deliverer:
    def __init__(self, service: "WorkflowService", *, session: str | None = None,
                 halted: Callable[[], bool] = lambda: False) -> None:
        self.service = service
        self.session = session or uuid.uuid4().hex
        #: asked before each send: a stopping service attempts no more (each send may wait for a
        #: timeout), and what it did not attempt is handed back untouched (record())
        self.halted = halted
        self._webhooks: Webhooks | None = None

    # --- the database steps (the engine thread, in the service) ---------------------------------

    def release_stale(self) -> int:
        """Take back every claim (a starting service: whoever made them has gone)."""
        with self.service._write() as conn:
            return sql.release_claims(conn, iso(utc_now()))

    def next_due(self) -> str | None:
        return self.service._read(sql.next_due)

    def claim(self, limit: int = BATCH) -> tuple[list[Job], int]:
        """Claim the due rows; (the jobs to send, how many were held for quiet hours)."""
        svc = self.service
        retry = nt.retry_of(svc)
        now = utc_now()
        with svc._write() as conn:
            rows = sql.due(conn, iso(now), limit)
            if not rows:
                return [], 0
            sql.claim(conn, [r.id for r in rows], self.session, iso(now + timedelta(seconds=retry.lease)))
            held = 0
            jobs: list[Job] = []
            for row in rows:
                if row.channel == nt.EMAIL:
                    until = nt.held_until(sql.prefs(conn, row.recipient), now, svc.settings.zone)
                    if until is not None:
                        sql.postpone(conn, row.id, self.session, iso(until))
                        held += 1
                        continue
                jobs.append(self._job(row))
        return jobs, held

    def _job(self, row: sql.OutboxRow) -> Job:
        job = Job(row)
        notice, why = nt.notice_for(self.service, row)
        if notice is None:
            job.refused = why
            return job
        job.notice = notice
        if row.channel == nt.EMAIL:
            pref = self.service._read(sql.prefs, row.recipient)
            person = self.service._read(user_sql.get, row.recipient)
            job.address = (pref.email if pref and pref.email else None) or (person.email if person else None) or ""
            if not job.address:
                job.refused = f"{row.recipient} has no email address"
        else:
            hook = self.service._read(sql.webhook, row.recipient)
            assert hook is not None  # notice_for checked it
            job.url, job.secret = hook.url, hook.secret
        return job

    def record(self, jobs: list[Job]) -> Round:
        """The outcome of each job, in one write."""
        svc = self.service
        retry = nt.retry_of(svc)
        done = Round()
        now = utc_now()
        with svc._write() as conn:
            for job in jobs:
                row = job.row
                if not (job.sent or job.error or job.refused):  # never attempted: due again, uncounted
                    sql.postpone(conn, row.id, self.session, iso(now))
                    continue
                if job.sent:
                    sql.mark_sent(conn, row.id, self.session, iso(now))
                    done.sent += 1
                    continue
                made = row.attempts + 1
                reason = job.refused or job.error
                if job.refused or job.permanent or made >= retry.attempts:
                    why = reason if job.refused or job.permanent else f"gave up after {made} attempts: {reason}"
                    sql.mark_failed(conn, row.id, self.session, why, None)
                    done.gave_up += 1
                else:
                    at = now + timedelta(seconds=retry.delay(made))
                    sql.mark_failed(conn, row.id, self.session, reason, iso(at))
                    done.failed += 1
                done.errors.append(f"{row.id} to {row.recipient}: {reason}")
        return done

    # --- the network step (any thread) ---------------------------------------------------------

    def send(self, jobs: list[Job]) -> None:
        mailer: Mailer | None = None
        try:
            for job in jobs:
                if self.halted():
                    return
                if job.refused or job.notice is None:
                    continue
                try:
                    if job.row.channel == nt.EMAIL:
                        if mailer is None:
                            smtp = nt.smtp_of(self.service)
                            if smtp is None:
                                raise SendFailed("no SMTP server is configured (`hitl-tui notify email set`)")
                            mailer = Mailer(smtp)
                        mailer.send(render.email_message(job.notice, mailer.smtp.sender, job.address))
                    else:
                        self._post(job)
                    job.sent = True
                except SendFailed as exc:
                    job.error, job.permanent = str(exc), exc.permanent
                except Exception as exc:  # noqa: BLE001 - one bad message must not stop the others
                    job.error = f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        finally:
            if mailer is not None:
                mailer.close()

    def _post(self, job: Job) -> None:
        assert job.notice is not None
        n, kind = job.notice, job.row.channel
        headers = {render.EVENT_HEADER: n.event_id}
        if kind == nt.SLACK:
            body = render.slack_body(n)
        elif kind == nt.TEAMS:
            body = render.teams_body(n)
        else:
            body = render.generic_body(n, self.service.database_id)
            if job.secret:
                headers[render.SIGNATURE_HEADER] = render.signature(job.secret, body)
        if self._webhooks is None:
            self._webhooks = Webhooks()
        self._webhooks.post(job.url, body, headers)

    def close(self) -> None:
        if self._webhooks is not None:
            self._webhooks.close()
            self._webhooks = None

    # --- embedded mode: `hitl-tui notify flush` ------------------------------------------------

    def run_once(self) -> Round:
        jobs, held = self.claim()
        self.send(jobs)
        done = self.record(jobs) if jobs else Round()
        done.held = held
        return done

    def flush(self) -> Round:
        """Deliver everything due now (rounds until none is left); retries scheduled later wait."""
        total = Round()
        try:
            while True:
                done = self.run_once()
                total.sent += done.sent
                total.failed += done.failed
                total.gave_up += done.gave_up
                total.held += done.held
                total.errors += done.errors
                if done.tried + done.held == 0:
                    return total
        finally:
            self.close()

