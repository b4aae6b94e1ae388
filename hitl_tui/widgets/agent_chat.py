"""The assistant pane: a transcript and an input. It only shows and asks; the screen owns the
assistant and routes its events here (and proposals to the decision modal)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Input, Static

from ..messages import ChatAsked
from ..render.text import plain


class AgentChat(Vertical):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
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
        self.post_message(ChatAsked(text))
