"""The same prompts through the desk's chat pane, driven by Textual's Pilot.

The desk runs headless on its own copy of the database, with the real assistant talking to the
local server. What the assistant yields is recorded on the way to the pane. A proposal or a
draft opens the desk's dialog or form; the harness presses escape there (the pane's "n"; `d` when
the form asks whether to discard the draft), so the pane measures the gate and the proposal's
content, and the ask runs measure what `y` records.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator

from hitl_tui.agents.events import DecisionProposal, DraftRequest, TextDelta, ToolActivity, TurnFailed
from hitl_tui.agents.factory import create_assistant
from hitl_tui.agents.settings import ModelSettings

from .outcome import Outcome, Proposed
from .prepare import Prepared, snapshot, writes_since
from .prompts import Prompt

SIZE = (120, 40)


class Recorded:
    """The real assistant, with each event it yields also written into the Outcome."""

    def __init__(self, inner: Any, out: Outcome) -> None:
        self.inner, self.out = inner, out

    def describe(self) -> str:
        return str(self.inner.describe())

    async def ask(self, text: str, agent: str | None = None) -> AsyncIterator[Any]:
        async for event in self.inner.ask(text, agent):
            record(self.out, event)
            yield event

    async def aclose(self) -> None:
        await self.inner.aclose()


def record(out: Outcome, event: Any) -> None:
    if isinstance(event, TextDelta):
        out.answer += event.text
    elif isinstance(event, ToolActivity):
        out.activity.append(event.summary)
    elif isinstance(event, DecisionProposal):
        out.proposals.append(Proposed(event.workflow_id, event.decision.value, event.comments))
    elif isinstance(event, DraftRequest):
        out.drafts.append({"workflow_type": event.workflow_type, "data": dict(event.data)})
    elif isinstance(event, TurnFailed):
        out.failed = event.message


async def run_pane(prep: Prepared, prompt: Prompt, settings: ModelSettings, timeout: float) -> Outcome:
    from hitl_tui.app import make_app  # the desk: only when the pane runs

    text = prompt.text(prep.targets)
    out = Outcome("pane", prompt, text, "n", targets=dict(prep.targets))
    service = prep.open()
    try:
        before = snapshot(service, prep.me)
        app = make_app(service, prep.me, poll_interval=None, verify_on_start=False,
                       assistant_factory=lambda svc, user: Recorded(create_assistant(svc, user, settings), out))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            desk = app.screen
            desk.action_show_lower("chat")
            await pilot.pause()
            chat = desk.chat
            chat.focus()
            chat.input.value = text
            started = time.monotonic()
            await pilot.press("enter")
            while not chat.busy and time.monotonic() - started < 5:
                await pilot.pause(0.05)
            while chat.busy and time.monotonic() - started < timeout:
                await pilot.pause(0.2)
            out.latency = time.monotonic() - started
            if chat.busy:
                out.failed = f"no answer within {timeout:.0f} s"
            for _ in range(20):  # the dialog or form opens after a worker loads the request
                await pilot.pause(0.05)
            errors = [str(w.render()) for w in chat.query(".chat-error")]
            if errors and not out.failed:
                out.failed = errors[-1].strip()
            for _ in range(10):  # the human says no: escape in the dialog or form (bounded)
                if app.screen is desk:
                    break
                # the form asks before throwing a draft away: d discards (escape there keeps editing)
                await pilot.press("d" if type(app.screen).__name__ == "DiscardModal" else "escape")
                await pilot.pause(0.2)
            if app.screen is not desk:
                out.failed = out.failed or f"could not dismiss {type(app.screen).__name__}"
        out.writes = writes_since(service, prep.me, before)
    finally:
        service.close()
    return out


def run_pane_sync(prep: Prepared, prompt: Prompt, settings: ModelSettings, timeout: float) -> Outcome:
    with prep.active():
        return asyncio.run(run_pane(prep, prompt, settings, timeout))
