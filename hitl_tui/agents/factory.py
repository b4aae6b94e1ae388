"""Where the UIs get an assistant from. Imported lazily (inside a worker), never at start-up."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core.service import WorkflowService
    from .events import Assistant
    from .settings import ModelSettings


def create_assistant(service: "WorkflowService", username: str,
                     settings: "ModelSettings | None" = None) -> "Assistant":
    """The assistant for `username`'s session: the configured model (HITL_LLM_BASE_URL and
    HITL_LLM_MODEL), else the offline assistant. Slow (imports tframex, ~0.6 s) and may touch the
    keyring: call it from a worker. Raises HitlError for an unknown user or a half-configured model.
    """
    from .session import AgentSession  # deferred: imports tframex
    from .settings import load_model_settings

    if settings is None:  # the session's [llm] settings (core/settings.py)
        settings = load_model_settings(settings=service.settings)
    return AgentSession(service, username, settings)
