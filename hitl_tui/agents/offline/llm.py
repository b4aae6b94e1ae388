"""The offline assistant: a tframex model (BaseLLMWrapper) that needs no network.

It behaves like a real model on the wire: given the conversation and the advertised tools, it
answers a user message with a tool call (parser.py decides which), and answers the tool results
with a reply built from their reports. So the whole tframex path runs (agent, memory, engine,
tool dispatch in worker threads) exactly as it does with a configured model.
"""

from __future__ import annotations

import json
import re
from typing import Any, AsyncGenerator

from ...core.policy import Policy
from ..names import agent_for_tool
from ..tfx import BaseLLMWrapper, FunctionCall, Message, MessageChunk, ToolCall
from .parser import HELP, plan

MODEL_ID = "offline-assistant"
INTRO = "(Offline assistant: no language model is configured; say \"help\" for what I understand.)"


class OfflineAssistantLLM(BaseLLMWrapper):
    def __init__(self, policy: Policy) -> None:
        super().__init__(model_id=MODEL_ID)
        self._policy = policy
        self._calls = 0
        self._introduced = False

    async def chat_completion(self, messages: list[Message], stream: bool = False, **kwargs: Any):
        advertised = {t.get("function", {}).get("name") for t in kwargs.get("tools") or []}
        reply = self._respond(messages, advertised)
        return self._stream(reply) if stream else reply

    def _respond(self, messages: list[Message], advertised: set[str]) -> Message:
        last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
        if last_user is None:
            return self._say(HELP)
        results = [m for m in messages[last_user + 1:] if m.role == "tool"]
        if results:  # the tools have answered: relay what they found
            return self._say("\n\n".join(_relay(m.content or "") for m in results))
        step = plan(messages[last_user].content or "", self._policy)
        if step.tool is None:
            return self._say(step.reply or HELP)
        if step.tool not in advertised:
            owner = agent_for_tool(step.tool) or "another agent"
            return self._say(f"That is a job for the {owner}: pick it in the agent selector, or leave the "
                             f"selector on auto, and ask again.")
        self._calls += 1
        call = ToolCall(id=f"offline-{self._calls}",
                        function=FunctionCall(name=step.tool, arguments=json.dumps(step.args)))
        return Message(role="assistant", content=None, tool_calls=[call])

    def _say(self, text: str) -> Message:
        if not self._introduced:
            self._introduced = True
            if not text.startswith(HELP[:20]):
                text = f"{INTRO}\n{text}"
        return Message(role="assistant", content=text)

    async def _stream(self, reply: Message) -> AsyncGenerator[MessageChunk, None]:
        if reply.tool_calls:
            yield MessageChunk(role="assistant", content=None, tool_calls=reply.tool_calls)
            return
        for piece in re.findall(r"\S+\s*|\s+", reply.content or ""):
            yield MessageChunk(role="assistant", content=piece)


def _relay(content: str) -> str:
    """A tool's report as the reply; a refusal in plain words."""
    try:
        payload = json.loads(content)
    except ValueError:
        return content
    if isinstance(payload, dict):
        if "refused" in payload:
            return f"I could not do that: {payload['refused']}"
        if "report" in payload:
            return str(payload["report"])
    return content
