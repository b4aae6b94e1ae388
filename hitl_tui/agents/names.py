"""The three agents' names, which tools each advertises, and routing a message by intent.

No tframex here: the TUI's selector and `hitl-tui ask --agent` use these names without paying
for the library's import.
"""

from __future__ import annotations

import re

from ..core.errors import ValidationFailed

COORDINATOR = "WorkflowCoordinator"
APPROVALS = "ApprovalManager"
COMPLIANCE = "ComplianceOfficer"
AGENT_NAMES: tuple[str, ...] = (COORDINATOR, APPROVALS, COMPLIANCE)

# What each agent advertises to its model. tframex runs ANY registered tool by name whatever
# this says (tframex 1.1.0 dispatches by name), so these lists shape behaviour; the tools themselves enforce permissions.
AGENT_TOOLS: dict[str, tuple[str, ...]] = {
    COORDINATOR: ("draft_request", "list_workflow_types", "get_workflow_status", "get_audit_trail",
                  "list_requests"),
    APPROVALS: ("list_pending_approvals", "get_workflow_status", "propose_decision", "get_audit_trail"),
    COMPLIANCE: ("check_compliance", "get_workflow_status", "get_audit_trail", "list_requests"),
}

_ALIASES = {
    "workflowcoordinator": COORDINATOR, "coordinator": COORDINATOR, "workflow": COORDINATOR,
    "approvalmanager": APPROVALS, "approvals": APPROVALS, "approval": APPROVALS, "approver": APPROVALS,
    "complianceofficer": COMPLIANCE, "compliance": COMPLIANCE,
}

_DECISION_START = re.compile(
    r"^\s*(?:please\s+)?(?:approve|reject|decline|deny|request\s+changes|send\s+back)\b", re.I)
_APPROVAL_WORDS = re.compile(r"\b(?:pending|awaiting|inbox|queue|waiting\s+for\s+me|my\s+approvals)\b", re.I)
_COMPLIANCE_WORDS = re.compile(
    r"\b(?:complian\w*|flags?|segregation|split\s+purchases?|policy\s+check|red\s+flags?|sod)\b", re.I)


def agent_for_tool(tool: str) -> str | None:
    """The first agent that advertises `tool` (where to send someone who asked the wrong one)."""
    return next((name for name, tools in AGENT_TOOLS.items() if tool in tools), None)


def resolve_agent(name: str | None) -> str | None:
    """'compliance', 'ApprovalManager', 'approval-manager' -> the canonical name; None = route."""
    if name is None or not str(name).strip() or str(name).strip().lower() == "auto":
        return None
    key = re.sub(r"[\s_-]+", "", str(name)).lower()
    if key in _ALIASES:
        return _ALIASES[key]
    raise ValidationFailed(f"Unknown agent {name!r}; choose one of: {', '.join(AGENT_NAMES)} (or auto).", "agent")


def route(text: str) -> str:
    """Pick the agent for a message: decisions and queues go to the ApprovalManager, reviews to
    the ComplianceOfficer, everything else (drafting, status, audit trails) to the coordinator."""
    if _DECISION_START.search(text):  # first: a comment may well mention compliance
        return APPROVALS
    if _COMPLIANCE_WORDS.search(text):
        return COMPLIANCE
    if _APPROVAL_WORDS.search(text):
        return APPROVALS
    return COORDINATOR
