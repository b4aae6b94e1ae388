"""? / F1: every key binding, grouped by where it works. Built from the bindings themselves, so
it cannot drift from what the keys do."""

from __future__ import annotations

import re

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEY_NAMES = {"question_mark": "?", "slash": "/", "escape": "esc", "enter": "enter", "tab": "tab",
             "shift+tab": "shift+tab", "space": "space", "up": "↑", "down": "↓", "pageup": "pgup",
             "pagedown": "pgdn", "home": "home", "end": "end"}


def key_label(binding: Binding) -> str:
    """'question_mark,f1' -> '? / F1'."""
    if binding.key_display:
        return binding.key_display
    parts = []
    for key in binding.key.split(","):
        key = key.strip()
        if key in KEY_NAMES:
            parts.append(KEY_NAMES[key])
        elif re.fullmatch(r"f\d+", key):
            parts.append(key.upper())
        else:
            parts.append(key)
    return " / ".join(parts)


Section = tuple[str, list[Binding]]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark,f1", "close", "Close help", id="help.close"),
        Binding("j,down", "scroll(1)", "Scroll down", show=False),
        Binding("k,up", "scroll(-1)", "Scroll up", show=False),
    ]

    def __init__(self, sections: list[Section]) -> None:
        super().__init__(classes="dialog-screen")
        self.sections = sections

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog") as box:
            box.border_title = "Keys"
            box.border_subtitle = "esc / q close · ctrl+p finds any command by name"
            with VerticalScroll(id="help-body"):
                for title, bindings in self.sections:
                    yield Static(Text(title, style="bold underline"), classes="help-title")
                    table = Table.grid(padding=(0, 2))
                    table.add_column(style="bold cyan", no_wrap=True, min_width=12)
                    table.add_column(style="bold", no_wrap=True)
                    table.add_column(style="dim")
                    seen = set()
                    for b in bindings:
                        if (b.key, b.action) in seen or not b.description:
                            continue
                        seen.add((b.key, b.action))
                        table.add_row(Text(key_label(b)), Text(b.description), Text(b.tooltip))
                    yield Static(table, classes="help-table")

    def action_scroll(self, lines: int) -> None:
        self.query_one("#help-body", VerticalScroll).scroll_relative(y=lines, animate=False)

    def action_close(self) -> None:
        self.dismiss(None)
