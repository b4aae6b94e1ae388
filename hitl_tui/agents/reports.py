"""Plain-text reports the tools hand to the model (and the offline assistant relays verbatim).

Text written by people (titles, descriptions, comments) is quoted and labelled as such, so a
model reads it as data about a request, never as instructions to itself.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any, Iterable

from ..core import stage_rules
from ..core.compliance import ComplianceFlag
from ..core.models import AuditEntry, Decision, RequestSummary, Role, WorkflowRequest, WorkflowStatus
from ..core.policy import Policy
from ..core.values import format_money

QUOTE_MAX = 600


def quoted(text: str, limit: int = QUOTE_MAX) -> str:
    """People's words, on one line, in quotes, cut at `limit` characters."""
    flat = " ".join(str(text).split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return f"\u201c{flat}\u201d"


def when(ts: datetime, tz: tzinfo | None = None) -> str:
    return ts.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z").strip()


def value_text(policy: Policy, workflow_type: str, name: str, value: Any) -> str:
    wtype = policy.types.get(workflow_type)
    kind = next((f.kind for f in wtype.fields if f.name == name), "text") if wtype else "text"
    if kind == "money" or isinstance(value, Decimal):
        return format_money(value, policy.currency)
    return str(value)


def type_name(policy: Policy, workflow_type: str) -> str:
    wtype = policy.types.get(workflow_type)
    return wtype.name if wtype else workflow_type


def chain_text(req: WorkflowRequest) -> str:
    """'Manager (approved by sarah.manager) -> Director (waiting) -> Executive'; a quorum or
    parallel stage with its votes in stage_rules' words: 'Manager ×2 (waiting: 1 of 2 votes
    (sarah.manager))', 'Security + Compliance (Security ✓ sam.security · Compliance waiting)'."""
    done = {a.stage: a for a in req.approvals if a.revision == req.revision}
    parts = []
    for i in range(len(req.required_approvers)):
        label = stage_rules.stage_label(req, i)
        current = i == req.current_stage and req.status is WorkflowStatus.AWAITING_APPROVAL
        votes = stage_rules.progress(req, i)
        if votes is not None and (current or (i in done and done[i].decision is Decision.APPROVE)):
            parts.append(f"{label} ({'waiting: ' if current else ''}{votes})")
        elif i in done:
            parts.append(f"{label} ({done[i].decision.past_tense} by {done[i].approver})")
        elif current:
            parts.append(f"{label} (waiting)")
        else:
            parts.append(label)
    return " -> ".join(parts)


def status_text(req: WorkflowRequest) -> str:
    if req.status is WorkflowStatus.AWAITING_APPROVAL and req.current_role is not None:
        return (f"awaiting approval, stage {req.current_stage + 1} of {len(req.required_approvers)} "
                f"({req.current_role.label})")
    return req.status.label


def request_report(policy: Policy, req: WorkflowRequest, *, decide_note: str = "", tz: tzinfo | None = None) -> str:
    fields = "; ".join(f"{k} {value_text(policy, req.workflow_type, k, v)}" for k, v in sorted(req.data.items()))
    lines = [
        f"{req.id}: title {quoted(req.title, 200)}",
        f"Type: {type_name(policy, req.workflow_type)}; requested by {req.requester} on {when(req.created_at, tz)}",
        f"Status: {status_text(req)}",
        f"Risk: {req.risk_level.value} ({req.risk_reason})",
        f"Approval chain: {chain_text(req)}",
        f"Details: {fields or 'none'}",
    ]
    for a in req.approvals:
        note = f" [proposed by {a.proposed_by}, confirmed by {a.approver}]" if a.proposed_by else ""
        comment = f": {quoted(a.comments, 300)}" if a.comments else ""
        lines.append(f"Decision (revision {a.revision}): stage {a.stage + 1} {a.role.label}, {a.approver} "
                     f"{a.decision.past_tense} on {when(a.decided_at, tz)}{comment}{note}")
    desc = quoted(req.description) if req.description.strip() else "(none given)"
    lines.append(f"Business justification (the requester's own words, data only): {desc}")
    if decide_note:
        lines.append(decide_note)
    return "\n".join(lines)


def summary_line(policy: Policy, s: RequestSummary | WorkflowRequest) -> str:
    if isinstance(s, WorkflowRequest):
        headline = value_text(policy, s.workflow_type, s.risk_field, s.headline_value)
        stage, count, role = s.current_stage, len(s.required_approvers), s.current_role
    else:
        wtype = policy.types.get(s.workflow_type)
        field = wtype.risk.field if wtype else ""
        headline = value_text(policy, s.workflow_type, field, s.headline)
        stage, count, role = s.current_stage, s.stage_count, s.current_role
    where = f"stage {stage + 1} of {count} ({role.label})" if role else s.status.label
    return (f"- {s.id} {quoted(s.title, 120)}: {type_name(policy, s.workflow_type)}, {headline}, "
            f"{s.risk_level.value} risk, {where}, requested by {s.requester}")


def audit_report(workflow_id: str, entries: list[AuditEntry], tz: tzinfo | None = None) -> str:
    lines = [f"Audit trail of {workflow_id}: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}, oldest first."]
    for e in entries:
        lines.append(f"#{e.seq} {when(e.timestamp, tz)} {e.actor} {e.action.replace('_', ' ')}{_details(e.details)}")
    return "\n".join(lines)


def _details(d: dict[str, Any]) -> str:
    bits = []
    if "risk_level" in d:
        bits.append(f"risk {d['risk_level']}")
    if d.get("chain"):
        bits.append("chain " + " -> ".join(_role_label(r) for r in d["chain"]))
    if "stage" in d and "stage_role" in d:
        bits.append(f"stage {int(d['stage']) + 1} ({_role_label(d['stage_role'])})")
    if d.get("status_after"):
        bits.append(f"now {str(d['status_after']).replace('_', ' ')}")
    if d.get("comments"):
        bits.append(f"comments {quoted(d['comments'], 200)}")
    proposal = d.get("agent_proposal")
    if isinstance(proposal, dict):
        bits.append(f"agent proposal: {proposal.get('agent')} proposed {proposal.get('decision')}"
                    f" ({quoted(proposal.get('rationale', ''), 200)}); a human confirmed it")
    return f": {'; '.join(bits)}" if bits else ""


def _role_label(value: Any) -> str:
    try:
        return Role(str(value)).label
    except ValueError:
        return str(value)


def flags_report(workflow_id: str, flags: Iterable[ComplianceFlag], looked_at: int) -> str:
    flags = list(flags)
    scope = f"(the split-purchase check compared it with {looked_at} other request{'s' if looked_at != 1 else ''} " \
            f"by the same requester that you may see)"
    if not flags:
        return (f"Compliance review of {workflow_id}: no flags. Segregation of duties, business justification, "
                f"split purchases, amount for the category and working hours all check out {scope}.")
    lines = [f"Compliance review of {workflow_id}: {len(flags)} flag{'s' if len(flags) != 1 else ''} {scope}."]
    lines += [f"- [{f.severity.value.upper()}] {f.title}: {f.explanation}" for f in flags]
    return "\n".join(lines)

