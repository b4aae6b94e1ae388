"""What the HTTP API takes and answers, as pydantic models: they check bodies, and the OpenAPI
description (openapi.py) is made from their JSON schemas, so the two cannot drift apart.

The bounds of what may be filed (payload size and depth, timeout, text lengths) are the engine's
and are checked by it (core/approvals.py, core/payloads.py): these models check only shapes.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..core.approvals import MAX_TIMEOUT, MIN_TIMEOUT, ApprovalDecision
from ..core.payloads import MAX_BYTES, MAX_DEPTH

#: the default and longest long poll of GET /v1/requests/{id}/wait, in seconds (kept under the
#: 60 s after which many proxies and clients give up on a response)
DEFAULT_WAIT = 30.0
MAX_WAIT = 55.0
LIST_MAX = 1000


class NewRequest(BaseModel):
    """POST /v1/requests: a request for a human's approval of exactly `payload`."""

    model_config = ConfigDict(extra="forbid", strict=True)

    type: str = Field(description="The policy's request type, e.g. tool_call (`hitl-tui request types` lists them).")
    title: str = Field(description="One line the approver reads in their inbox.")
    payload: dict[str, Any] = Field(description=f"Exactly what is to be approved, as a JSON object: at most "
                                                f"{MAX_BYTES // 1024} KiB of canonical JSON, {MAX_DEPTH} levels "
                                                f"deep. The policy rates the risk from its fields.")
    justification: str = Field("", description="Why the action is needed (shown to the approver as your words).")
    description: str = Field("", description="More detail for the approver.")
    timeout_seconds: float = Field(3600, description=f"How long a human has to decide before the request expires "
                                                     f"undecided, from {MIN_TIMEOUT:g} s to {MAX_TIMEOUT:,.0f} s "
                                                     f"(30 days).")
    agent: str | None = Field(None, description="The agent's or system's name, shown to the approver.")


class Revision(BaseModel):
    """POST /v1/requests/{id}/resubmit: after a human asked for changes, the payload to approve now."""

    model_config = ConfigDict(extra="forbid", strict=True)

    payload: dict[str, Any] = Field(description="Exactly what is to be approved now: the reviewer's "
                                                "`proposed_payload` to accept their revision, or another. The "
                                                "policy rates it afresh and the approvals start over.")
    justification: str | None = Field(None, description="Why (your words); leave it out to keep the one filed.")
    comments: str = Field("", description="What changed, for the approver.")


class Cancel(BaseModel):
    """POST /v1/requests/{id}/cancel (the body is optional)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    reason: str = Field("", description="Why it is no longer needed (audited).")


class Decision(ApprovalDecision):
    """Where a request filed for approval stands; `receipt` once it is final."""

    final: bool = Field(description="True once nothing changes the outcome any more.")


class DecisionList(BaseModel):
    requests: list[Decision]
    count: int


class ReceiptKey(BaseModel):
    key: str = Field(description="The public key receipts are signed with (ed25519:HEX): check one offline with "
                                 "`hitl-tui verify-receipt FILE --key KEY` or hitl_tui.client.verify_receipt.")
    keys: list[str]


class Error(BaseModel):
    error: str = Field(description="One line: what was refused, and why.")


def decision_json(found: ApprovalDecision) -> dict[str, Any]:
    """A decision as the API answers it (Decision's members)."""
    return {**found.model_dump(mode="json"), "final": found.outcome.is_final}
