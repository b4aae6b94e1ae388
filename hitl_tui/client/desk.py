"""Desk: an agent's or a system's way to ask a human and wait, in either mode.

In team mode (HITL_SERVER, the server setting, or the system socket: chosen as the CLI chooses,
remote/choice.py) the Desk is a connection to `hitl-tui serve` as this OS account,
which the directory knows as an integration; a waiter sleeps until the service pushes a change
to its request (RemoteService.on_change), so waiting costs no requests. In embedded mode it
opens the database here and polls `PRAGMA data_version` (a counter in memory, no page read),
backing off to POLL_MAX, and sweeps expiry itself at the request's deadline.

Every call works from async code; `desk.sync` offers the same calls to synchronous code (many
agent frameworks call tools synchronously). A Desk holds no state tied to one event loop: each
wait makes its own asyncio.Event in the loop it runs in.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, TypeVar

from ..core.approvals import ApprovalDecision
from ..core.audit import os_login
from ..core.errors import HitlError
from ..core.models import ApprovalOutcome
from ..core.payloads import sha256_of
from ..remote.protocol import ServiceUnavailable

if TYPE_CHECKING:
    from ..core.settings import Settings

_T = TypeVar("_T")

#: embedded mode: the first and the longest pause between two looks at data_version
POLL_MIN = 0.01
POLL_MAX = 0.5
#: however a change is told, a waiter reads its request again at least this often (a missed push,
#: a connection the service closed when idle)
HEARTBEAT = 60.0
#: past a request's own deadline, how long a waiter gives the expiry to be recorded
GRACE = 5.0


class ApprovalRefused(Exception):
    """The gated call did not run: a human did not approve it (or not this payload). Its message
    is written to be shown to the model: "A human rejected this: <their reason>"."""

    def __init__(self, message: str, decision: ApprovalDecision | None = None) -> None:
        super().__init__(message)
        self.decision = decision

    @property
    def outcome(self) -> ApprovalOutcome | None:
        return None if self.decision is None else self.decision.outcome


def refusal_of(decision: ApprovalDecision) -> ApprovalRefused:
    """Why an outcome other than approved runs nothing, in words a model can be shown."""
    who = decision.decided_by or "a human"
    role = f", {decision.decider_role.label}" if decision.decider_role is not None else ""
    said = f": {decision.comments}" if decision.comments else "."
    text = {
        ApprovalOutcome.REJECTED: f"A human rejected this ({who}{role}){said}",
        ApprovalOutcome.CHANGES_REQUESTED: f"A human asked for changes before this may run ({who}{role}){said}",
        ApprovalOutcome.EXPIRED: (f"Nobody approved this before its deadline"
                                  f"{' ' + decision.expires_at.isoformat() if decision.expires_at else ''}; it "
                                  f"expired and did not run."),
        ApprovalOutcome.CANCELLED: "The request for approval was cancelled; this did not run.",
        ApprovalOutcome.PENDING: "No human decided in time; this did not run.",
    }.get(decision.outcome, f"This was {decision.outcome.value}; it did not run.")
    if decision.outcome is ApprovalOutcome.CHANGES_REQUESTED and decision.proposed_payload is not None:
        import json

        text += (f" They propose this revision instead: {json.dumps(decision.proposed_payload, sort_keys=True)}."
                 f" Nothing runs on it unless you accept it: make the same call again with exactly those "
                 f"arguments (that files the revision for approval), or leave it.")
    return ApprovalRefused(f"{text} (request {decision.request_id})", decision)


class Desk:
    """One account's way in: file requests for approval, wait for decisions, check receipts."""

    def __init__(self, engine: Any, *, team: bool, receipt_key: bytes | None = None) -> None:
        self._engine = engine
        self.team = team
        #: who the requests are filed as: the OS account (team mode: as the service knows it)
        self.username: str = engine.username if team else (os_login() or "unknown")
        self._receipt_key = receipt_key
        self._lock = threading.Lock()
        self._waiters: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        #: team mode: done once this connection receives the service's pushes
        self._subscribed: Future[bool] | None = None
        self._closed = False

    @classmethod
    def open(cls, db: Path | str | None = None, *, server: Path | str | None = None, key: bytes | None = None,
             settings: "Settings | None" = None, receipt_key: str | bytes | None = None) -> "Desk":
        """Team mode when a service is named (`server`, HITL_SERVER, the server setting) or the
        system service's socket exists and no database was named; else the database `db` (or
        the db_path setting) opened here, its key found as every command finds it (`key` to
        give it). `receipt_key`: the checkpoint key to trust for receipts (the verifier key
        `hitl-tui checkpoint` prints); by default the one that signs them here."""
        from ..remote.choice import choose_server, leave_team_mode
        from ..core.receipts import parse_key
        from ..core.settings import Settings

        settings = settings or Settings.load(db_path=str(db) if db is not None else None, given_by="Desk.open(db=...)")
        pinned = None if receipt_key is None else parse_key(receipt_key)
        team = None if key is not None else choose_server(settings, server, db_named=db is not None)
        if team is not None:
            from ..remote.client import RemoteService

            socket, chosen_by = team
            return cls(RemoteService.connect(socket, settings=settings, unset_hint=leave_team_mode(chosen_by)),
                       team=True, receipt_key=pinned)
        from ..core.paths import default_db_path
        from ..core.service import WorkflowService

        path = Path(db).expanduser() if db is not None else default_db_path(settings)
        service = WorkflowService.open(path, key, create=False, operator=os_login(), settings=settings)
        return cls(service, team=False, receipt_key=pinned)

    # --- asking --------------------------------------------------------------------------------

    async def request_approval(self, *, type: str, title: str, payload: dict[str, Any], justification: str = "",
                               timeout: float = 600, agent: str | None = None,
                               description: str = "") -> ApprovalDecision:
        """File a request bound to `payload` and wait until a human settles it or its deadline
        (`timeout` seconds from now) passes, when it expires (fail closed, audited)."""
        request_id = await self.file(type=type, title=title, payload=payload, justification=justification,
                                     timeout=timeout, agent=agent, description=description)
        return await self.get_decision(request_id, wait=float(timeout) + GRACE)

    async def file(self, *, type: str, title: str, payload: dict[str, Any], justification: str = "",
                   timeout: float = 600, agent: str | None = None, description: str = "") -> str:
        """File without waiting: the request's id (get_decision waits for it later)."""
        return await self._call(self._engine.approvals.file, self.username, type, title, payload,
                                justification=justification, timeout=timeout, agent=agent, description=description)

    async def get_decision(self, request_id: str, wait: float = 0.0) -> ApprovalDecision:
        """Where `request_id` stands; with `wait` > 0, once it is settled (or changes are asked
        for), or when `wait` seconds have passed, whichever comes first."""
        if wait <= 0:
            return await self._decision(request_id)
        deadline = time.monotonic() + wait
        event = await self._listen(request_id)
        try:
            pause = POLL_MIN
            while True:
                event.clear()
                found = await self._decision(request_id)
                if found.outcome is not ApprovalOutcome.PENDING:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    return found
                if found.expires_at is not None:
                    overdue = (datetime.now(timezone.utc) - found.expires_at).total_seconds()
                    if overdue >= 0:  # its deadline passed: record the expiry now, then read it
                        await self._sweep()
                        if overdue > GRACE:  # nothing records it (a read-only database): fail closed here
                            return found
                        await asyncio.sleep(min(left, 0.05))
                        continue
                    left = min(left, -overdue + 0.001)
                if self.team:
                    await self._woken(event, min(left, HEARTBEAT))
                else:
                    pause = await self._polled(min(left, HEARTBEAT), pause)
        finally:
            self._unlisten(request_id, event)

    async def resubmit(self, request_id: str, payload: dict[str, Any], *, justification: str | None = None,
                       comments: str = "", wait: float = 0.0) -> ApprovalDecision:
        """After a human asked for changes: file a new revision of `request_id` with `payload`
        (what is to be approved now: the reviewer's proposal, or another), which the policy
        assesses again; with `wait` > 0, wait for its decision as get_decision does."""
        await self._call(self._engine.approvals.resubmit, self.username, request_id, payload,
                         justification=justification, comments=comments)
        return await self.get_decision(request_id, wait=wait)

    async def accept_revision(self, decision: ApprovalDecision, *, comments: str = "",
                              wait: float = 0.0) -> ApprovalDecision:
        """Accept the revision a reviewer proposed with `decision` (changes_requested): resubmit
        exactly that payload. Nothing is accepted without this call: a proposal alone runs nothing."""
        if decision.outcome is not ApprovalOutcome.CHANGES_REQUESTED or decision.proposed_payload is None:
            raise HitlError(f"{decision.request_id} has no proposed revision to accept (it is "
                            f"{decision.outcome.value}).")
        return await self.resubmit(decision.request_id, decision.proposed_payload,
                                   comments=comments or "accepted the reviewer's revision", wait=wait)

    async def list_my_requests(self, limit: int = 100) -> list[ApprovalDecision]:
        """What this account filed for approval, newest first."""
        return await self._call(self._engine.approvals.mine, self.username, limit=limit)

    async def cancel_request(self, request_id: str, reason: str = "") -> ApprovalDecision:
        """Withdraw a pending request this account filed (outcome cancelled, audited)."""
        await self._call(self._engine.withdraw_workflow, request_id, self.username, reason)
        return await self._decision(request_id)

    # --- receipts and the exact action ----------------------------------------------------------

    async def receipt_keys(self) -> list[bytes]:
        """The keys receipts are checked against: the pinned one, else the one that signs them here."""
        if self._receipt_key is not None:
            return [self._receipt_key]
        return [bytes.fromhex(k) for k in await self._call(self._engine.approvals.receipt_keys)]

    async def check_approved(self, decision: ApprovalDecision, payload: dict[str, Any]) -> None:
        """Raise ApprovalRefused unless `decision` approved exactly `payload` (its hash taken now)
        and carries a receipt that verifies against receipt_keys() for that payload."""
        from ..core import receipts

        if decision.outcome is not ApprovalOutcome.APPROVED:
            raise refusal_of(decision)
        digest = sha256_of(payload)
        if digest != decision.payload_sha256:
            raise ApprovalRefused(f"The arguments changed after a human approved them (approved payload sha256 "
                                  f"{str(decision.payload_sha256)[:16]}..., now {digest[:16]}...); this did not run. "
                                  f"Ask for approval of the new arguments. (request {decision.request_id})", decision)
        keys = await self.receipt_keys()
        problems = [receipts.problem(decision.receipt, key, digest) for key in keys]
        if decision.receipt is None or None not in problems:
            why = problems[0] if problems else "no key to check it against"
            raise ApprovalRefused(f"The approval's receipt does not verify ({why}); this did not run. "
                                  f"(request {decision.request_id})", decision)
        if decision.receipt.get("request_id") != decision.request_id:
            raise ApprovalRefused(f"The receipt is for {decision.receipt.get('request_id')}, not for "
                                  f"{decision.request_id}; this did not run.", decision)

    # --- the engine, off the event loop --------------------------------------------------------

    async def _call(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        if self._closed:
            raise HitlError("This Desk is closed.")
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except ServiceUnavailable:
            if not self.team or not await asyncio.to_thread(self._reconnected):
                raise
            return await asyncio.to_thread(fn, *args, **kwargs)

    def _reconnected(self) -> bool:
        try:
            self._engine.reconnect()
        except HitlError:
            return False
        return True

    async def _decision(self, request_id: str) -> ApprovalDecision:
        found: ApprovalDecision = await self._call(self._engine.approvals.decision, self.username, request_id)
        return found

    # --- waiting ---------------------------------------------------------------------------------

    async def _sweep(self) -> None:
        """Expire what is past its deadline (the service does it in team mode, asked here too so
        nobody waits for its clock); a database this account cannot write is left as it is."""
        try:
            await self._call(self._engine.approvals.sweep)
        except HitlError:
            pass

    async def _listen(self, request_id: str) -> asyncio.Event:
        """A waiter's event, registered before its first read, so no change can slip between."""
        event = asyncio.Event()
        with self._lock:
            self._waiters.setdefault(request_id, []).append((asyncio.get_running_loop(), event))
            start = self.team and self._subscribed is None
            if start:
                self._subscribed = Future()
            subscribed = self._subscribed
        if subscribed is None:
            return event  # embedded: data_version polls
        if not start:  # another waiter is subscribing this connection: its pushes start with that
            await asyncio.wrap_future(subscribed)
            return event
        try:  # the first waiter subscribes this connection to the service's pushes
            self._engine.on_link(lambda _why: self._wake_all())
            await asyncio.to_thread(self._engine.on_change, self._changed)
        except BaseException as exc:
            with self._lock:
                self._subscribed = None
            subscribed.set_exception(exc)
            raise
        subscribed.set_result(True)
        return event

    def _unlisten(self, request_id: str, event: asyncio.Event) -> None:
        with self._lock:
            left = [w for w in self._waiters.get(request_id, []) if w[1] is not event]
            if left:
                self._waiters[request_id] = left
            else:
                self._waiters.pop(request_id, None)

    def _changed(self, params: dict[str, Any]) -> None:
        """On the connection's reader thread: wake the waiters of the requests a change names."""
        ids = params.get("workflow_ids") or []
        with self._lock:
            woken = [w for wid in ids if isinstance(wid, str) for w in self._waiters.get(wid, [])]
        for loop, event in woken:
            _set_soon(loop, event)

    def _wake_all(self) -> None:
        with self._lock:
            woken = [w for waiters in self._waiters.values() for w in waiters]
        for loop, event in woken:
            _set_soon(loop, event)

    async def _woken(self, event: asyncio.Event, timeout: float) -> None:
        try:
            await asyncio.wait_for(event.wait(), max(0.0, timeout))
        except asyncio.TimeoutError:
            pass
        if not self._engine.connected:  # lost: try again in a moment, and read again
            await asyncio.sleep(min(1.0, max(0.0, timeout)))

    async def _polled(self, timeout: float, pause: float) -> float:
        """Embedded: until another connection commits (data_version moves) or `timeout`; the
        next pause (longer while nothing happens, back to POLL_MIN after a change)."""
        version = await self._call(self._engine.data_version)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            await asyncio.sleep(min(pause, max(0.0, end - time.monotonic())))
            if await self._call(self._engine.data_version) != version:
                return POLL_MIN
            pause = min(POLL_MAX, pause * 1.5)
        return pause

    # --- synchronous callers, and closing ---------------------------------------------------------

    @property
    def sync(self) -> "SyncDesk":
        """The same calls for synchronous code: desk.sync.request_approval(...)."""
        return SyncDesk(self)

    def close(self) -> None:
        """Close the connection (team mode) or the database (embedded: sealed with a checkpoint)."""
        if self._closed:
            return
        self._closed = True
        self._wake_all()
        self._engine.close()

    def __enter__(self) -> "Desk":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> "Desk":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.close)


def _set_soon(loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
    try:
        loop.call_soon_threadsafe(event.set)
    except RuntimeError:  # that loop has closed: its waiter is gone
        pass


def run_sync(make: Callable[[], Awaitable[_T]]) -> _T:
    """Run the coroutine `make()` to its end from synchronous code: on a loop of its own here, or
    (called from inside a running loop) on a thread of its own."""
    async def main() -> _T:
        return await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with ThreadPoolExecutor(1, thread_name_prefix="hitl-client-sync") as pool:
        return pool.submit(asyncio.run, main()).result()


class SyncDesk:
    """Desk's calls for synchronous code (each runs to its end before it returns)."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def request_approval(self, **kwargs: Any) -> ApprovalDecision:
        return run_sync(lambda: self.desk.request_approval(**kwargs))

    def file(self, **kwargs: Any) -> str:
        return run_sync(lambda: self.desk.file(**kwargs))

    def get_decision(self, request_id: str, wait: float = 0.0) -> ApprovalDecision:
        return run_sync(lambda: self.desk.get_decision(request_id, wait))

    def resubmit(self, request_id: str, payload: dict[str, Any], **kwargs: Any) -> ApprovalDecision:
        return run_sync(lambda: self.desk.resubmit(request_id, payload, **kwargs))

    def accept_revision(self, decision: ApprovalDecision, **kwargs: Any) -> ApprovalDecision:
        return run_sync(lambda: self.desk.accept_revision(decision, **kwargs))

    def list_my_requests(self, limit: int = 100) -> list[ApprovalDecision]:
        return run_sync(lambda: self.desk.list_my_requests(limit))

    def cancel_request(self, request_id: str, reason: str = "") -> ApprovalDecision:
        return run_sync(lambda: self.desk.cancel_request(request_id, reason))

    def check_approved(self, decision: ApprovalDecision, payload: dict[str, Any]) -> None:
        run_sync(lambda: self.desk.check_approved(decision, payload))


__all__ = ["ApprovalRefused", "Desk", "SyncDesk", "refusal_of", "run_sync"]
