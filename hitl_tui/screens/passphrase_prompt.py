"""Re-authentication at signing (21 CFR 11.200): the signing key's passphrase, typed for this one
decision because the policy asks for it (reauth_at). Returns the passphrase, or None when
cancelled; it never calls the engine itself (the desk's decide worker does, with it)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from ..render.text import plain


class PassphrasePrompt(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="passphrase.cancel")]
    DEFAULT_CSS = """
    #passphrase-dialog { width: 64; }
    #passphrase-why { height: auto; margin-bottom: 1; }
    #passphrase-label { text-style: bold; }
    #passphrase-input { background: $boost; }
    #passphrase-error { height: auto; min-height: 1; }
    #passphrase-keys { color: $foreground-muted; }
    """

    def __init__(self, workflow_id: str, risk: str, username: str, verb: str, *, reauth: bool = True) -> None:
        super().__init__(classes="dialog-screen")
        self.workflow_id, self.risk, self.username, self.verb = workflow_id, risk, username, verb
        #: False: not a re-authentication, the key is protected and locked in this session
        self.reauth = reauth

    def compose(self) -> ComposeResult:
        with Vertical(id="passphrase-dialog", classes="dialog") as box:
            box.border_title = "Sign with your key"
            why = (f"{self.workflow_id} is {self.risk}: the policy asks you to re-authenticate for this signature."
                   if self.reauth else "Your signing key is protected by a passphrase; type it once for this session.")
            yield Static(plain(why, single_line=False), id="passphrase-why")
            yield Static(plain(f"Passphrase of {self.username}'s signing key:"), id="passphrase-label")
            yield Input(password=True, id="passphrase-input", compact=True)
            yield Static("", id="passphrase-error", markup=False)
            yield Static(Text.assemble(("enter", "bold"), f" sign and {self.verb}  ·  ", ("escape", "bold"),
                                       " cancel (nothing is recorded)"), id="passphrase-keys")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value:
            self.query_one("#passphrase-error", Static).update(Text("Type the passphrase first.", style="yellow"))
            return
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
