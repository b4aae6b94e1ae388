"""A yes/no question with an optional reason, e.g. withdrawing a request. Returns the reason
("" when none was given) or None when cancelled; it never calls the engine itself."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from ..render.text import plain


class ConfirmModal(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="modal.cancel")]

    def __init__(self, title: str, body: str, *, verb: str, reason_prompt: str = "Reason (optional)") -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.body = body
        self.verb = verb
        self.reason_prompt = reason_prompt

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog", classes="dialog") as box:
            box.border_title = "Confirm"
            yield Static(plain(self.title_text, "bold"), id="confirm-title")
            yield Static(plain(self.body, single_line=False), id="confirm-body")
            yield Static(self.reason_prompt, id="confirm-prompt", markup=False)
            yield Input(id="confirm-reason", compact=True, placeholder="type here")
            yield Static(Text.assemble(("enter", "bold"), f" {self.verb}  ·  ", ("escape", "bold"), " keep it"),
                         id="confirm-keys")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _confirm(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
