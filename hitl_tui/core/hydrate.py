"""Turning stored rows back into models, and models' data into stored JSON."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from .models import Approval, Filing, RiskLevel, Role, WorkflowRequest, WorkflowStatus, trusted
from .policy import Policy
from .stage_rules import decode as decode_stage_rules
from .store.requests import decode_chain


def data_to_json(data: dict[str, Any]) -> str:
    return json.dumps({k: (str(v) if isinstance(v, Decimal) else v) for k, v in data.items()},
                      sort_keys=True, ensure_ascii=False)


def data_from_json(policy: Policy, workflow_type: str, text: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(text)
    wtype = policy.types.get(workflow_type)
    if wtype is None:  # a type since removed from the policy: keep the stored text as it is
        return data
    for spec in wtype.fields:
        if spec.kind == "money" and isinstance(data.get(spec.name), str):
            data[spec.name] = Decimal(data[spec.name])
    return data


def request_from_row(policy: Policy, row: dict[str, Any], approvals: list[Approval]) -> WorkflowRequest:
    return cast(WorkflowRequest, trusted(WorkflowRequest,
        id=row["id"], workflow_type=row["workflow_type"], title=row["title"], description=row["description"],
        requester=row["requester"], data=data_from_json(policy, row["workflow_type"], row["data"]),
        risk_level=RiskLevel(row["risk_level"]), risk_field=row["risk_field"], risk_reason=row["risk_reason"],
        required_approvers=decode_chain(row["chain"]), current_stage=row["current_stage"],
        status=WorkflowStatus(row["status"]), approvals=approvals, revision=row["revision"],
        created_at=datetime.fromisoformat(row["created_at"]), updated_at=datetime.fromisoformat(row["updated_at"]),
        filing=filing_from_row(row),
        due_at=datetime.fromisoformat(row["due_at"]) if row.get("due_at") else None, due_left=row.get("due_left"),
        escalated_to=Role(row["escalated_to"]) if row.get("escalated_to") else None, reminded=row.get("reminded"),
        stage_rules=decode_stage_rules(row.get("stage_rules")),
    ))


def filing_from_row(row: dict[str, Any]) -> Filing | None:
    """What was filed for approval beside the fields (None for a request filed without a payload)."""
    if row.get("payload") is None:
        return None
    return cast(Filing, trusted(Filing,
        payload_text=row["payload"], payload_sha256=row["payload_sha256"], justification=row["justification"] or "",
        agent=row["agent"], owner=row["owner"],
        expires_at=datetime.fromisoformat(row["expires_at"]) if row["expires_at"] else None,
        policy_version=row["policy_version"], proposed_payload_text=row.get("proposed_payload"),
    ))

