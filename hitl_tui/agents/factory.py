"""Where the UIs get an assistant from. Imported lazily (inside a worker), never at start-up."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core.service import WorkflowService
    from .events import Assistant


def create_assistant(service: "WorkflowService", username: str) -> "Assistant":
    """The assistant for `username`'s session. Until the agents exist this is the placeholder."""
    from .placeholder import PlaceholderAssistant

    return PlaceholderAssistant()
