"""The OS account running hitl-tui is not in the user directory: say how to fix it, calmly, and
open the desk by itself once an administrator has added the account.

Noticing the addition uses the same mechanism as the desk's "changes made elsewhere" polling:
`service.data_version()` (one PRAGMA, which changes only when another connection commits) every
`app.poll_interval` seconds in a thread worker; the directory is read only when it changed.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Vertical
from textual.screen import Screen
from textual.message import Message
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState

from ..core.models import Role
from ..messages import forward_failure
from ..render.text import plain
from ..widgets.status_header import short_path


def add_user_command(username: str) -> str:
    """What an administrator types (the role is an option, not an argument)."""
    return f"hitl-tui users add {shlex.quote(username)} --role ROLE"


class UnknownUserScreen(Screen[bool]):
    """Dismissed with True when the account appears in the directory: the app then opens the
    session exactly as at start-up."""

    BINDINGS = [
        Binding("q", "app.quit", "Quit", id="unknown.quit"),
        Binding("escape", "app.quit", "Quit", show=False),
    ]

    def __init__(self, username: str, db_path: Path) -> None:
        super().__init__()
        self.username = username
        self.db_path = db_path
        self._data_version: int | None = None
        self._polling = False

    def on_mount(self) -> None:
        if self.app.service is not None and self.app.poll_interval:
            self._baseline(self.app.service)

    @work(thread=True, group="poll", exit_on_error=False, description="change baseline")
    def _baseline(self, service) -> None:
        self.post_message(self.Looked(service.data_version(), False))

    def poll(self) -> None:
        if self._polling or self._data_version is None:
            return
        self._polling = True
        self._look(self.app.service, self._data_version)

    @work(thread=True, group="poll", exit_on_error=False, description="look for the account")
    def _look(self, service, last: int) -> None:
        version = service.data_version()
        added = version != last and service.find_user(self.username) is not None
        self.post_message(self.Looked(version, added))

    @dataclass
    class Looked(Message):
        """What a poll found: the data version now, and whether the account exists."""

        version: int
        added: bool

    @on(Looked)
    def _looked(self, msg: Looked) -> None:
        first = self._data_version is None
        self._polling = False
        self._data_version = msg.version
        if first:
            self.set_interval(self.app.poll_interval, self.poll)
        if msg.added and self.is_current:
            self.dismiss(True)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The app says what went wrong; polling tries again at the next tick."""
        if event.state is WorkerState.ERROR:
            self._polling = False
        forward_failure(self, event)

    def compose(self) -> ComposeResult:
        roles = ", ".join(r.value for r in Role)
        with Center():
            with Vertical(id="unknown-box", classes="dialog") as box:
                box.border_title = "Not in the user directory"
                text = Text(end="")
                text.append("You are signed in to this computer as ")
                text.append_text(plain(self.username, "bold"))
                text.append(", and the database\n")
                text.append_text(plain(short_path(self.db_path), "bold"))
                text.append(" has no user by that name.\n\n")
                text.append("An administrator can add you with:\n\n")
                text.append_text(plain(f"    {add_user_command(self.username)}", "bold cyan"))
                text.append(f"\n\nwhere ROLE is one of: {roles}.\n\n")
                text.append("Your desk opens here as soon as you are added: no need to restart.\n\n")
                text.append("hitl-tui knows you by your operating-system account, never by $USER, so nobody can "
                            "act in a colleague's name.", style="dim")
                yield Static(text)
        yield Footer()
