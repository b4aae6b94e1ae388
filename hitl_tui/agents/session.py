"""AgentSession: one conversation with the three agents, bound to one logged-in human.

Implements the Assistant protocol (events.py). A turn streams the agent's reply as TextDelta,
reports tool use as ToolActivity while it happens, and ends with the proposals and drafts the
tools raised (for the human to confirm), then TurnDone; or TurnFailed if the model could not
answer. A final answer with no words in it gives way to the tools' own reports (small models
often end a turn that way); with no tool run either, it is a TurnFailed. A comment the human typed
in the question goes to the tools, so that a proposal carries the human's words, not the
model's. Nothing in here decides or files anything.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import AsyncIterator

from ..core.errors import HitlError
from ..core.service import WorkflowService
from .checked_llm import CheckedOpenAIChatLLM, ModelUnavailable
from .events import ChatEvent, DecisionProposal, DraftRequest, TextDelta, TurnDone, TurnFailed
from .memory import RecentMemoryStore
from .names import AGENT_NAMES, resolve_agent, route
from .offline.llm import OfflineAssistantLLM
from .offline.parser import typed_words
from .registry import register_agents, register_tools
from .settings import ModelSettings
from .tfx import Message, TFrameXApp
from .tools import EventSink, SessionTools

log = logging.getLogger("tframex.hitl.session")  # under `tframex`: goes to agents.log only


class AgentSession:
    agents: tuple[str, ...] = AGENT_NAMES

    def __init__(self, service: WorkflowService, username: str, settings: ModelSettings | None = None) -> None:
        self.settings = settings or ModelSettings()
        self._sink = EventSink()
        self.tools = SessionTools(service, username, self._sink)  # UnknownUser raised here
        self.user = service.get_user(self.tools.username)
        self.memory = RecentMemoryStore()
        if self.settings.configured:
            self.llm = CheckedOpenAIChatLLM(
                self.settings.model, self.settings.base_url, self.settings.api_key,
                timeout=self.settings.timeout, max_retries=self.settings.max_retries,
                temperature=self.settings.temperature, context=self.settings.context)
        else:
            self.llm = OfflineAssistantLLM(service.policy)
        # mcp_config_file=None: never load or spawn MCP servers from whatever directory we run in
        self.app = TFrameXApp(default_llm=self.llm, mcp_config_file=None)
        register_tools(self.app, self.tools, service.policy)
        register_agents(self.app, self.memory, self.user)
        self._context = None
        self._turn_lock = asyncio.Lock()

    @property
    def offline(self) -> bool:
        return not self.settings.configured

    def describe(self) -> str:
        return f"{self.settings.describe()} · as {self.user.username} ({self.user.role.label})"

    async def _runtime(self):
        if self._context is None:
            # Entered once for the session: leaving a run_context closes the model's HTTP client.
            self._context = await self.app.run_context().__aenter__()
        return self._context

    async def ask(self, text: str, agent: str | None = None) -> AsyncIterator[ChatEvent]:
        try:
            name = resolve_agent(agent) or route(text)
        except HitlError as exc:
            yield TurnFailed(str(agent), str(exc))
            yield TurnDone(str(agent))
            return
        async with self._turn_lock:
            async for event in self._turn(name, text):
                yield event

    async def _turn(self, name: str, text: str) -> AsyncIterator[ChatEvent]:
        typed = typed_words(text, self.tools.policy)
        self.tools.start_turn(name, typed.comment, typed.reference)
        self._sink.drain()
        mark = self.memory.mark()
        held: list[ChatEvent] = []  # proposals and drafts: shown after the reply that explains them
        said = ""
        try:
            context = await self._runtime()
            if self.settings.stream or self.offline:
                async for chunk in context.call_agent_stream(name, Message(role="user", content=text)):
                    for event in self._pending(held):
                        yield event
                    if chunk.content:
                        said += chunk.content
                        yield TextDelta(name, chunk.content)
            else:
                reply = await context.call_agent(name, Message(role="user", content=text))
                for event in self._pending(held):
                    yield event
                if reply.content:
                    said = reply.content
                    yield TextDelta(name, reply.content)
        except ModelUnavailable as exc:
            self.memory.rollback(mark)
            yield TurnFailed(name, str(exc))
            yield TurnDone(name)
            return
        except Exception as exc:  # a bug or an unexpected library failure: say so, never crash the pane
            log.exception("turn failed")
            self.memory.rollback(mark)
            yield TurnFailed(name, f"The assistant failed unexpectedly ({type(exc).__name__}: {exc}); "
                                   f"nothing was changed.")
            yield TurnDone(name)
            return
        for event in self._pending(held):
            yield event
        if not _says_something(said):
            if not self.tools.reports:  # nothing computed, nothing said: not an answer
                self.memory.rollback(mark)
                yield TurnFailed(name, f"The model ({self.settings.describe()}) gave an empty answer; ask again "
                                       f"or rephrase. Nothing was changed.")
                yield TurnDone(name)
                return
            # Small models often end a turn with nothing after the tools ran: the tools' own
            # reports (the pending list, the status, the trail) are the answer.
            reports = dict.fromkeys(self.tools.reports)  # a model that repeats a call gets one copy
            yield TextDelta(name, ("\n" if said else "") + "\n\n".join(reports) + "\n")
        elif (listed := _ids_left_out(said, self.tools.reports)):
            # "You have 6 pending approvals." with none of them named: the list the tools made is the
            # answer the user asked for, so it follows the model's words
            yield TextDelta(name, "\n\n" + "\n\n".join(dict.fromkeys(listed)) + "\n")
        for event in held:
            yield event
        yield TurnDone(name)

    def _pending(self, held: list[ChatEvent]) -> list[ChatEvent]:
        """Tool activity now; proposals and drafts kept for the end of the turn."""
        now = []
        for event in self._sink.drain():
            (held if isinstance(event, (DecisionProposal, DraftRequest)) else now).append(event)
        return now

    async def aclose(self) -> None:
        context, self._context = self._context, None
        if context is not None:
            await context.__aexit__(None, None, None)
        elif hasattr(self.llm, "close"):
            await self.llm.close()


def _ids_left_out(said: str, reports: list[str]) -> list[str]:
    """The tools' reports that list requests, when the answer names none of those requests."""
    listing = [r for r in reports if not r.startswith("Refused")
               and len({m.upper() for m in _WORKFLOW_ID.findall(r)}) >= 2]  # a list, not one refusal
    named = {m.upper() for m in _WORKFLOW_ID.findall(said or "")}
    found = {m.upper() for r in listing for m in _WORKFLOW_ID.findall(r)}
    return listing if listing and not named & found else []


_WORKFLOW_ID = re.compile(r"WF-\d+-\d+", re.IGNORECASE)


def _says_something(text: str) -> bool:
    """An answer worth showing has at least a word in it (not "", "." or a stray fence)."""
    return any(ch.isalnum() for ch in text)


__all__ = ["AgentSession"]
