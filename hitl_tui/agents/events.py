"""What an assistant turn yields to whoever shows it (the TUI's chat pane, `hitl-tui ask`).

This module is the seam between the agents and the user interfaces: it imports neither
tframex nor textual, so the TUI can import it at start-up for free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Protocol

from ..core.models import Decision


@dataclass(frozen=True)
class TextDelta:
    """A piece of the agent's reply (streamed), shown as plain text, never as markup."""

    agent: str
    text: str


@dataclass(frozen=True)
class ToolActivity:
    """A one-line note of what the agent looked up or did: 'looked up WF-...'."""

    agent: str
    summary: str


@dataclass(frozen=True)
class DecisionProposal:
    """The agent suggests a decision. Nothing is decided: the UI shows the same confirmation a
    key press would, and only the human's keystroke commits it (with this proposal recorded)."""

    agent: str
    workflow_id: str
    decision: Decision
    rationale: str
    comments: str = ""
    #: the comment is the human's own, typed in the question (not the model's suggestion)
    comment_typed: bool = False


@dataclass(frozen=True)
class DraftRequest:
    """The agent drafted a request; the UI opens the new-request form pre-filled with it."""

    agent: str
    workflow_type: str
    title: str
    description: str
    data: dict[str, Any] = field(default_factory=dict)
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class TurnFailed:
    """The turn could not complete (network down, model error): shown as an error, not an answer."""

    agent: str
    message: str


@dataclass(frozen=True)
class TurnDone:
    agent: str


ChatEvent = TextDelta | ToolActivity | DecisionProposal | DraftRequest | TurnFailed | TurnDone


class Assistant(Protocol):
    """One conversation, bound to one logged-in human."""

    #: agent names the user may pick from (the pane's selector)
    agents: tuple[str, ...]

    def describe(self) -> str:
        """One line for the pane header: which model, or 'offline assistant'."""

    def ask(self, text: str, agent: str | None = None) -> AsyncIterator[ChatEvent]:
        """Run one turn; `agent=None` routes by intent."""

    async def aclose(self) -> None:
        ...
