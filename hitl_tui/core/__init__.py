"""hitl_tui.core: the approval engine, with no user interface.

Never import textual or rich here (enforced by import-linter and tests/core/test_layering.py).
The names below are loaded on first use: `hitl-tui` imports hitl_tui.core.errors before it
knows whether it will open the TUI, and start-up time should not pay for the whole engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "HitlError": "errors",
    "WorkflowService": "service",
    "WorkflowSystem": "system",
    **{name: "models" for name in (
        "AgentProposal", "Approval", "AuditEntry", "Checkpoint", "Decision", "InboxView", "RequestSummary",
        "RiskLevel", "Role", "User", "VerifyResult", "WorkflowRequest", "WorkflowStatus",
    )},
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hitl_tui.core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .errors import HitlError
    from .models import (
        AgentProposal, Approval, AuditEntry, Checkpoint, Decision, InboxView, RequestSummary, RiskLevel, Role,
        User, VerifyResult, WorkflowRequest, WorkflowStatus,
    )
    from .service import WorkflowService
    from .system import WorkflowSystem
