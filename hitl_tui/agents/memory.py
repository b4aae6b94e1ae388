"""Conversation memory that keeps the RECENT messages.

tframex's InMemoryMemoryStore.get_history(limit=10) returns the FIRST ten messages, so from the
third exchange on the model never sees the new question (measured with tframex 1.1.0). This store returns the last
`limit` messages, cut only at a user message: a tool result is never separated from the
assistant message that asked for it (OpenAI-compatible servers reject an orphaned tool result).
"""

from __future__ import annotations

from typing import List, Optional

from .tfx import BaseMemoryStore, Message

#: messages sent to the model per call (system prompt not counted)
HISTORY_WINDOW = 60
#: messages kept at all; older turns are dropped whole
MAX_KEPT = 400


class RecentMemoryStore(BaseMemoryStore):
    def __init__(self, max_kept: int = MAX_KEPT) -> None:
        self._messages: list[Message] = []
        self._max_kept = max_kept

    async def add_message(self, message: Message) -> None:
        self._messages.append(message)
        if len(self._messages) > self._max_kept:
            self._messages = self._messages[self._turn_start(len(self._messages) - self._max_kept):]

    async def get_history(self, limit: Optional[int] = None, offset: int = 0,
                          roles: Optional[List[str]] = None) -> List[Message]:
        messages = self._messages[: len(self._messages) - offset] if offset else self._messages
        if roles:  # a role filter cannot keep pairs together; it is for inspection, not prompts
            return [m for m in messages if m.role in roles][-limit:] if limit else \
                [m for m in messages if m.role in roles]
        if limit is None or len(messages) <= limit:
            return list(messages)
        return list(messages[self._turn_start(len(messages) - limit, messages):])

    def _turn_start(self, index: int, messages: list[Message] | None = None) -> int:
        """The first user message at or after `index`; if the current turn alone is longer than
        the window, the start of the current turn (the window grows rather than break a pair)."""
        messages = self._messages if messages is None else messages
        for i in range(index, len(messages)):
            if messages[i].role == "user":
                return i
        for i in range(min(index, len(messages)) - 1, -1, -1):
            if messages[i].role == "user":
                return i
        return 0

    async def clear(self) -> None:
        self._messages = []

    # --- turn bookkeeping for the session ------------------------------------------------------

    def mark(self) -> int:
        return len(self._messages)

    def rollback(self, mark: int) -> None:
        """Forget a turn that failed, so a retry does not leave the question in twice."""
        del self._messages[mark:]
