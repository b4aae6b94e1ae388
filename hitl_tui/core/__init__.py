"""hitl_tui.core: the approval engine, with no user interface.

Never import textual or rich here (enforced by import-linter and tests/core/test_layering.py).
"""

from .errors import HitlError
from .models import (
    AgentProposal, Approval, AuditEntry, Checkpoint, Decision, InboxView, RequestSummary, RiskLevel, Role, User,
    VerifyResult, WorkflowRequest, WorkflowStatus,
)
from .service import WorkflowService
from .system import WorkflowSystem

__all__ = [
    "AgentProposal", "Approval", "AuditEntry", "Checkpoint", "Decision", "HitlError", "InboxView",
    "RequestSummary", "RiskLevel", "Role", "User", "VerifyResult", "WorkflowRequest", "WorkflowService",
    "WorkflowStatus", "WorkflowSystem",
]
