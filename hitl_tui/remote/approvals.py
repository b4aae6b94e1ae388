"""The service's side of requests filed for approval (core/approvals.py), and its expiry clock.

Methods, each as the CONNECTION's user like every other (methods.py):

    approval.file.prepare / .commit   file a request bound to a payload (signed on the caller's
                                      own account, like request.create)
    approval.resubmit.prepare / .commit   a new revision after changes were requested: the
                                      payload to approve now (the reviewer's proposal, or another)
    approval.decision(workflow_id)    where it stands: an ApprovalDecision, with its receipt once final
    approval.mine(limit)              what the caller filed for approval, newest first
    approval.sweep()                  expire what is past its deadline now (a waiter at its
                                      deadline asks; the clock below does it anyway)
    receipt.keys                      the key receipts are signed with (the service's checkpoint key)
    users.add_integration.prepare / .commit   an administrator adds an integration account

An integration cancels with withdraw.prepare / .commit, as any requester withdraws.

Expiry runs on the service's own clock (expiry_clock, started by the server): it sleeps until
the next deadline (at most CHECK_EVERY), reads it off the engine thread, and only when one is due
sweeps on the engine thread and pushes "changed" for what expired, so waiters and desks hear it
at once. Reads then leave expiry to it (Approvals.swept_elsewhere), so that every expiry is pushed.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from ..core.errors import HitlError

if TYPE_CHECKING:
    from .methods import Call, Method
    from .server import Server

#: the longest the clock sleeps between two looks at the next deadline (a request filed meanwhile
#: with a shorter one is expired at most this late)
CHECK_EVERY = 1.0


def _file(call: "Call") -> Callable[[], Any]:
    p, approvals, me = call.params, call.service.approvals, call.username
    return lambda: approvals.file(me, p["workflow_type"], p["title"], p["payload"], justification=p["justification"],
                                  timeout=p["timeout"], agent=p["agent"], description=p["description"])


def _resubmitted(call: "Call") -> Callable[[], Any]:
    p, approvals, me = call.params, call.service.approvals, call.username
    return lambda: approvals.resubmit(me, p["workflow_id"], p["payload"], justification=p["justification"],
                                      comments=p["comments"])


def _integration_added(call: "Call") -> Callable[[], Any]:
    p, approvals, me = call.params, call.service.approvals, call.username
    return lambda: approvals.add_integration(p["username"], p["role"], p["owner"], email=p["email"],
                                             display_name=p["display_name"], actor=me, public_key=p["public_key"],
                                             admin=p["admin"])


def _decision(call: "Call") -> Any:
    from .methods import dump

    return dump(call.service.approvals.decision(call.username, call.params["workflow_id"],
                                                receipt=call.params["receipt"]))


def _mine(call: "Call") -> Any:
    from .methods import dump

    return dump(call.service.approvals.mine(call.username, limit=max(1, min(call.params["limit"], 1000))))


def approval_methods() -> list["Method"]:
    """The methods above, for methods._table() (built there, once Method exists: no import cycle)."""
    from .methods import Method, _p, _signed_method

    return [
        *_signed_method("approval.file", _file, {
            "workflow_type": _p(str, required=True), "title": _p(str, required=True),
            "payload": _p(dict, required=True), "justification": _p(str, default=""),
            "timeout": _p(int, float, default=3600), "agent": _p(str), "description": _p(str, default="")},
            lambda wid: {"workflow_id": wid}),
        *_signed_method("approval.resubmit", _resubmitted, {
            "workflow_id": _p(str, required=True), "payload": _p(dict, required=True), "justification": _p(str),
            "comments": _p(str, default="")}),
        Method("approval.decision", _decision, {"workflow_id": _p(str, required=True),
                                                "receipt": _p(bool, default=True)}),
        Method("approval.mine", _mine, {"limit": _p(int, default=100)}),
        Method("approval.sweep", lambda c: {"requests": c.service.approvals.sweep()}, writes=True),
        Method("receipt.keys", lambda c: c.service.approvals.receipt_keys()),
        *_signed_method("users.add_integration", _integration_added, {
            "username": _p(str, required=True), "role": _p(str, required=True), "owner": _p(str, required=True),
            "email": _p(str), "display_name": _p(str), "public_key": _p(str), "admin": _p(bool, default=False)}),
    ]


async def expiry_clock(server: "Server") -> None:
    """Expire requests at their deadline while the server runs (see the module docstring)."""
    from .server import log

    approvals = server.service.approvals
    approvals.swept_elsewhere = True
    loop = asyncio.get_running_loop()
    while not _stopping(server):
        try:
            due = await loop.run_in_executor(None, approvals.next_deadline)  # a read: the engine thread stays free
            if due is not None and due <= datetime.now(timezone.utc):
                expired = await server.engine(approvals.sweep)
                if expired:
                    log("info", f"expired {' '.join(expired)}: the deadline passed undecided")
                    server.spawn(server.changed(expired))
                # then at once the next deadline; never a busy loop over one the sweep does not take
                await asyncio.sleep(0.005 if expired else CHECK_EVERY)
                continue
        except RuntimeError:  # the engine has stopped: the service is going
            return
        except HitlError as exc:  # a full disk, say: said once a round, tried again at the next
            if _stopping(server):
                return  # the database closed under it: nothing is wrong
            log("warning", f"the expiry sweep failed: {exc}")
            due = None
        wait = CHECK_EVERY if due is None else (due - datetime.now(timezone.utc)).total_seconds()
        await asyncio.sleep(min(CHECK_EVERY, max(0.005, wait)))


def _stopping(server: "Server") -> bool:
    """Asked afresh after each wait (a property read once would look settled to a type checker)."""
    return server.stopping
