"""The Python client: agents and systems ask a human, and wait (issue 12).

    from hitl_tui.client import Desk, Outcome, ApprovalDecision, ApprovalRefused, require_approval

    desk = Desk.open()          # team mode as the CLI chooses it (HITL_SERVER...), else the database here
    d = await desk.request_approval(type="tool_call", title="Refund order 1234",
                                    payload={"tool": "refund", "order_id": "1234", "amount": "25.00"},
                                    justification="the customer was charged twice", timeout=600,
                                    agent="billing-bot")
    d.outcome                   # Outcome.APPROVED, REJECTED, CHANGES_REQUESTED, EXPIRED, CANCELLED, PENDING
    verify_receipt(d.receipt, public_key, payload)   # offline: no database, no service

Imports no user interface (and no agent framework): an agent's process loads only the engine or
the service's client.
"""

from __future__ import annotations

from typing import Any

from ..core.approvals import ApprovalDecision
from ..core.models import ApprovalOutcome as Outcome
from .desk import ApprovalRefused, Desk, SyncDesk, refusal_of, run_sync
from .gate import require_approval


def verify_receipt(receipt: Any, public_key: str | bytes, payload: dict[str, Any] | None = None) -> bool:
    """Is `receipt` genuine: signed by `public_key` (the verifier key `hitl-tui checkpoint`
    prints, ed25519:HEX, or 32 raw bytes) over exactly what it says, and, when `payload` is
    given, for exactly that payload? Offline: nothing is opened. A key that is not one raises
    ValueError; every other problem is False."""
    from ..core import receipts
    from ..core.errors import ValidationFailed
    from ..core.payloads import sha256_of

    key = receipts.parse_key(public_key)
    try:
        digest = None if payload is None else sha256_of(payload)
    except ValidationFailed:
        return False  # not a payload anything could have been approved for
    return receipts.problem(receipt, key, digest) is None


def receipt_problem(receipt: Any, public_key: str | bytes, payload: dict[str, Any] | None = None) -> str | None:
    """Why `receipt` is not genuine (None when it is): verify_receipt's answer in words."""
    from ..core import receipts
    from ..core.payloads import sha256_of

    return receipts.problem(receipt, receipts.parse_key(public_key), None if payload is None else sha256_of(payload))


__all__ = ["ApprovalDecision", "ApprovalRefused", "Desk", "Outcome", "SyncDesk", "receipt_problem", "refusal_of",
           "require_approval", "run_sync", "verify_receipt"]
