"""The OS account running hitl-tui is not in the user directory: say how to fix it, calmly, and
open the desk by itself once an administrator has added the account.

Noticing the addition uses the same mechanism as the desk's "changes made elsewhere" polling:
`service.data_version()` (one PRAGMA, which changes only when another connection commits) every
`app.poll_interval` seconds in an app.db() worker; the directory is read only when it changed.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from ..core.models import Role
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
        service, interval = self.app.service, self.app.poll_interval
        if service is None or not interval:
            return

        def ready(version: int) -> None:
            self._data_version = version
            self.set_interval(interval, self.poll)

        self.app.db(service.data_version, group="poll", done=ready, description="change baseline")

    def poll(self) -> None:
        if self._polling or self._data_version is None:
            return
        self._polling = True
        service, username, last = self.app.service, self.username, self._data_version

        def work() -> tuple[int, bool] | None:
            version = service.data_version()
            if version == last:
                return None
            return version, service.find_user(username) is not None

        self.app.db(work, group="poll", done=self.polled, description="look for the account")

    def polled(self, found: tuple[int, bool] | None) -> None:
        self._polling = False
        if found is None:
            return
        self._data_version, added = found
        if added and self.is_current:
            self.dismiss(True)

    def work_failed(self, worker, error) -> None:
        """The app's error handler has said what went wrong; try again at the next tick."""
        if worker.group == "poll":
            self._polling = False

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
