"""Shown instead of a crash when the database key is wrong, missing or out of reach.

The screen only asks; the app tries the passphrase (or the key sources again) in a worker and
reports back with `show_error` or by replacing this screen with the desk.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from ..render.text import plain
from ..widgets.status_header import short_path

OTHER_WAYS = ("Other ways to supply the key: HITL_DB_KEY_FILE (a 0600 file holding the 64-hex-digit key), "
              "the OS keyring that holds it, or HITL_DB_PASSPHRASE.")


class UnlockScreen(Screen[None]):
    BINDINGS = [
        Binding("ctrl+r", "retry", "Retry key sources", id="unlock.retry",
                tooltip="Look for the key again (after unlocking the keyring or fixing HITL_DB_KEY_FILE)"),
        Binding("ctrl+q", "app.quit", "Quit", id="unlock.quit"),
        Binding("escape", "app.quit", "Quit", show=False),
    ]

    class Attempted(Message):
        """A passphrase to try (empty: look in the usual key sources again)."""

        def __init__(self, passphrase: str) -> None:
            super().__init__()
            self.passphrase = passphrase

    def __init__(self, db_path: Path, problem: str, *, passphrase_possible: bool) -> None:
        super().__init__()
        self.db_path = db_path
        home = str(Path.home())
        # the engine's message names the file in full; ~ keeps it short (and the same everywhere)
        self.problem = problem.replace(home + "/", "~/") if home not in ("", "/") else problem
        self.passphrase_possible = passphrase_possible

    def compose(self) -> ComposeResult:
        with Center():
            with Vertical(id="unlock-box", classes="dialog") as box:
                box.border_title = "Database locked"
                yield Static(Text("hitl-tui cannot open the database yet.", style="bold"))
                yield Static(plain(f"Database: {short_path(self.db_path)}", "dim"))
                yield Static(plain(self.problem, "yellow", single_line=False), id="unlock-problem")
                if self.passphrase_possible:
                    yield Static("Passphrase (enter unlocks):", markup=False)
                    yield Input(password=True, id="unlock-passphrase", compact=True)
                else:
                    yield Static(plain("This database was not created with a passphrase, so typing one cannot "
                                       "open it.", single_line=False))
                yield Static("", id="unlock-error", markup=False)
                yield Static(plain(OTHER_WAYS, "dim", single_line=False))
        yield Footer()

    def on_mount(self) -> None:
        if self.passphrase_possible:
            self.query_one("#unlock-passphrase", Input).focus()

    @on(Input.Submitted, "#unlock-passphrase")
    def _submit(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value:
            self.show_error("Type the passphrase first.")
            return
        self.show_error("Unlocking…", style="italic")
        event.input.disabled = True
        self.post_message(self.Attempted(event.value))

    def action_retry(self) -> None:
        self.show_error("Looking for the key again…", style="italic")
        self.post_message(self.Attempted(""))

    def show_error(self, message: str, style: str = "bold red") -> None:
        self.query_one("#unlock-error", Static).update(plain(message, style, single_line=False))
        if style == "bold red" and self.passphrase_possible:
            field = self.query_one("#unlock-passphrase", Input)
            field.disabled = False
            field.value = ""
            field.focus()
