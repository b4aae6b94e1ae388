"""The assistant pane: a transcript and an input, and the assistant itself (started the first time
someone asks). What the assistant proposes or drafts goes up to the desk as a message: only the
desk's dialogs, confirmed by a person, ever record anything."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Static

from ..agents.events import DecisionProposal, DraftRequest, TextDelta, ToolActivity, TurnDone, TurnFailed
from ..core.errors import HitlError
from ..render.text import plain

if TYPE_CHECKING:
    from ..core.service import WorkflowService


class AgentChat(Vertical):
    @dataclass
    class ProposalMade(Message):
        """An agent proposes a decision: the desk opens the decision dialog for a human."""

        proposal: DecisionProposal

    @dataclass
    class Drafted(Message):
        """An agent drafted a request: the desk opens the form, prefilled, for a human to file."""

        draft: DraftRequest

    def __init__(self, service: "WorkflowService", username: str, factory: Callable[[Any, str], Any] | None = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.service, self.username, self.factory = service, username, factory
        self.assistant: Any = None
        self.busy = False
        self._reply: Static | None = None
        self._reply_text = Text(end="")

    def compose(self) -> ComposeResult:
        yield Static(Text("Not started yet: it starts when you ask something below.", style="dim italic"),
                     id="chat-status")
        yield VerticalScroll(id="chat-log", can_focus=False)
        yield Input(placeholder="Ask the assistant… (enter sends)", id="chat-input", compact=True)

    @property
    def input(self) -> Input:
        return self.query_one("#chat-input", Input)

    def focus(self, scroll_visible: bool = True):
        self.input.focus(scroll_visible)
        return self

    def set_status(self, text: str, style: str = "dim italic") -> None:
        self.query_one("#chat-status", Static).update(plain(text, style))

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.input.placeholder = "…waiting for the assistant" if busy else "Ask the assistant… (enter sends)"

    # --- transcript ----------------------------------------------------------------------------

    def _add(self, text: Text, classes: str = "") -> Static:
        line = Static(text, classes=f"chat-line {classes}".strip())
        log = self.query_one("#chat-log", VerticalScroll)
        log.mount(line)
        log.scroll_end(animate=False)
        return line

    def add_user(self, text: str) -> None:
        line = Text("you  ", style="bold cyan", end="")
        line.append_text(plain(text, single_line=False))
        self._add(line, "chat-user")
        self._reply = None

    def append_delta(self, agent: str, text: str) -> None:
        """Streamed reply text: appended to the current answer, shown literally."""
        if self._reply is None:
            self._reply_text = Text(end="")
            self._reply_text.append_text(plain(agent, "bold green"))
            self._reply_text.append("  ")
            self._reply = self._add(self._reply_text.copy(), "chat-agent")
        self._reply_text.append_text(plain(text, single_line=False))
        self._reply.update(self._reply_text.copy())
        self.query_one("#chat-log", VerticalScroll).scroll_end(animate=False)

    def add_tool(self, agent: str, summary: str) -> None:
        line = Text("  ⚙ ", style="dim", end="")
        line.append_text(plain(f"{agent}: {summary}", "dim italic"))
        self._add(line, "chat-tool")

    def add_error(self, agent: str, message: str) -> None:
        line = Text("  ⚠ ", style="bold red", end="")
        line.append_text(plain(f"{agent} could not answer: {message}", "red"))
        self._add(line, "chat-error")
        self._reply = None

    def add_note(self, text: str) -> None:
        line = Text("  → ", style="magenta", end="")
        line.append_text(plain(text, "magenta"))
        self._add(line, "chat-note")

    def end_turn(self) -> None:
        self._reply = None

    @on(Input.Submitted, "#chat-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            return
        if self.busy:
            self.app.notify("The assistant is still answering; wait for it to finish.", markup=False)
            return
        event.input.value = ""
        self.ask(text)

    # --- the assistant -------------------------------------------------------------------------

    def ask(self, text: str) -> None:
        self.add_user(text)
        self.set_busy(True)
        self._converse(text)

    @work(exclusive=True, group="chat", exit_on_error=False, description="assistant")
    async def _converse(self, text: str) -> None:
        try:
            if self.assistant is None:
                self.set_status("Assistant: starting…")
                # the agents import tframex (~0.6 s): in a thread, only once someone asks
                self.assistant = await asyncio.to_thread(self._create_assistant)
                self.set_status(f"Assistant: {self.assistant.describe()}")
            async for event in self.assistant.ask(text):
                self._route(event)
        except HitlError as exc:
            self.add_error("assistant", str(exc))
        except Exception as exc:  # a broken assistant must not take the desk down
            where = self.app.log_failure("assistant", exc)
            self.add_error("assistant", f"{type(exc).__name__}: {exc} (details in {where})")
        finally:
            self.set_busy(False)
            self.end_turn()

    def _create_assistant(self) -> Any:
        factory = self.factory
        if factory is None:
            from ..agents.factory import create_assistant as factory
        return factory(self.service, self.username)

    def _route(self, event: Any) -> None:
        if isinstance(event, TextDelta):
            self.append_delta(event.agent, event.text)
        elif isinstance(event, ToolActivity):
            self.add_tool(event.agent, event.summary)
        elif isinstance(event, DecisionProposal):
            self.add_note(f"{event.agent} proposes to {event.decision.value.replace('_', ' ')} {event.workflow_id}; "
                          f"review it in the dialog: nothing is recorded until you confirm.")
            self.post_message(self.ProposalMade(event))
        elif isinstance(event, DraftRequest):
            self.add_note(f"{event.agent} drafted a request; check it in the form, ctrl+s files it.")
            self.post_message(self.Drafted(event))
        elif isinstance(event, TurnFailed):
            self.add_error(event.agent, event.message)
        elif isinstance(event, TurnDone):
            self.end_turn()

    async def on_unmount(self) -> None:
        if self.assistant is not None:
            try:
                await self.assistant.aclose()
            except Exception:
                pass  # closing a broken assistant's connections must not stop the desk closing
