"""require_approval: a function or a tool that runs only once a human approved exactly its call.

    @require_approval(desk, type="tool_call", title="Refund an order", timeout=600,
                      payload=lambda order_id, amount: {"tool": "refund", "order_id": order_id, "amount": amount})
    async def refund(order_id: str, amount: str) -> str: ...

A call files a request bound to the payload made from its arguments and waits for the outcome.
Approved: the payload is made again from the arguments just before the function runs and must
hash to what was approved, with a receipt that verifies for it (Desk.check_approved); then the
function runs, once, with exactly those arguments. Anything else (rejected, changes requested,
expired, cancelled, a changed payload, a bad receipt, the service unreachable) runs nothing: the
caller gets ApprovalRefused, or with on_refusal="return" its message as the result, which is
what a tool framework hands back to the model ("A human rejected this: <their reason>").

A reviewer who asks for changes may propose revised arguments: the refusal shows them, and
nothing runs on them. Calling the function again with exactly those arguments is how the caller
(a model) accepts the revision explicitly: that call resubmits the same request with them
(Desk.resubmit), and it runs only once a human approves the revision.

Both async and plain functions are gated; a plain one waits on a loop of its own (run_sync), so
a framework that calls tools synchronously, on a worker thread or not, gets the same gate.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Literal, TypeVar

from ..core.errors import HitlError
from ..core.payloads import sha256_of
from .desk import GRACE, ApprovalRefused, Desk, run_sync

F = TypeVar("F", bound=Callable[..., Any])
Maker = Callable[..., Any]


def default_payload(fn: Callable[..., Any]) -> Maker:
    """{"tool": the function's name, "arguments": its arguments by name, defaults filled in}."""
    signature = inspect.signature(fn)

    def make(*args: Any, **kwargs: Any) -> dict[str, Any]:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return {"tool": fn.__name__, "arguments": dict(bound.arguments)}
    return make


def require_approval(desk: Desk, *, type: str = "tool_call", title: str | Maker | None = None,
                     timeout: float = 600, payload: Maker | None = None, justification: str | Maker = "",
                     agent: str | None = None, on_refusal: Literal["raise", "return"] = "raise") -> Callable[[F], F]:
    """Gate the decorated function behind a human's approval of exactly its call (see above).
    `title` and `justification` may be text or functions of the call's arguments, like `payload`."""
    if on_refusal not in ("raise", "return"):
        raise ValueError('on_refusal is "raise" (ApprovalRefused) or "return" (its message as the result)')

    def decorate(fn: F) -> F:
        make = payload or default_payload(fn)
        #: proposed revisions not yet accepted: their payload's sha256 -> the request they revise
        proposals: dict[str, str] = {}

        def said(value: str | Maker | None, args: tuple[Any, ...], kwargs: dict[str, Any], default: str) -> str:
            if value is None:
                return default
            return str(value(*args, **kwargs)) if callable(value) else value

        async def approved(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            asked = make(*args, **kwargs)
            revises = proposals.pop(sha256_of(asked), None)
            if revises is not None:  # the call accepts a reviewer's revision: that request, resubmitted
                decision = await desk.resubmit(revises, asked, comments="accepted the reviewer's revision",
                                               wait=float(timeout) + GRACE)
            else:
                decision = await desk.request_approval(
                    type=type, title=said(title, args, kwargs, f"Run {fn.__name__}"), payload=asked,
                    justification=said(justification, args, kwargs, ""), timeout=timeout, agent=agent)
            if decision.proposed_payload_sha256 is not None:
                proposals[decision.proposed_payload_sha256] = decision.request_id
            await desk.check_approved(decision, make(*args, **kwargs))  # the arguments as they are now

        def refused(exc: Exception) -> Any:
            if on_refusal == "raise":
                if isinstance(exc, ApprovalRefused):
                    raise exc
                raise ApprovalRefused(f"Not run: {exc}") from exc
            return str(exc) if isinstance(exc, ApprovalRefused) else f"Not run: {exc}"

        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def gated_async(*args: Any, **kwargs: Any) -> Any:
                try:
                    await approved(args, kwargs)
                except (ApprovalRefused, HitlError) as exc:
                    return refused(exc)
                return await fn(*args, **kwargs)
            return gated_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def gated(*args: Any, **kwargs: Any) -> Any:
            try:
                run_sync(lambda: approved(args, kwargs))
            except (ApprovalRefused, HitlError) as exc:
                return refused(exc)
            return fn(*args, **kwargs)
        return gated  # type: ignore[return-value]
    return decorate
