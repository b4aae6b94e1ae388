"""The assistant used until the real agents are configured: it says so, honestly, in one turn.

It implements the same `Assistant` protocol as the real agents (events.py), so the chat pane's
routing is exercised end to end today.
"""

from __future__ import annotations

from typing import AsyncIterator

from .events import ChatEvent, TextDelta, TurnDone

NAME = "assistant"
MESSAGE = (
    "The assistant is not set up yet, so I cannot look at requests or propose decisions. "
    "Everything else works without me: a/r/c decide the selected request, n files a new one, "
    "? lists every key."
)


class PlaceholderAssistant:
    agents: tuple[str, ...] = (NAME,)

    def describe(self) -> str:
        return "not set up (placeholder)"

    async def ask(self, text: str, agent: str | None = None) -> AsyncIterator[ChatEvent]:
        who = agent or NAME
        yield TextDelta(agent=who, text=MESSAGE)
        yield TurnDone(agent=who)

    async def aclose(self) -> None:
        return None
