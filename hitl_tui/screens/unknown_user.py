"""The OS account running hitl-tui is not in the user directory: say how to fix it, calmly."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from ..core.models import Role
from ..widgets.display import plain
from ..widgets.status_header import short_path


class UnknownUserScreen(Screen[None]):
    BINDINGS = [
        Binding("q", "app.quit", "Quit", id="unknown.quit"),
        Binding("escape", "app.quit", "Quit", show=False),
    ]

    def __init__(self, username: str, db_path: Path) -> None:
        super().__init__()
        self.username = username
        self.db_path = db_path

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
                text.append_text(plain(f"    hitl-tui users add {self.username} ROLE", "bold cyan"))
                text.append(f"\n\nwhere ROLE is one of: {roles}.\n\n")
                text.append("hitl-tui knows you by your operating-system account, never by $USER, so nobody can "
                            "act in a colleague's name.", style="dim")
                yield Static(text)
        yield Footer()
