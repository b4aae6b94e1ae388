"""? / F1: every key binding, grouped by where it works. Built from the bindings themselves (and
the user's keymap over them), so it cannot drift from what the keys do; then the short forms a
narrow inbox uses (CRIT, '1/3 Mgr', 'changes'), from the same maps the inbox reads."""

from __future__ import annotations

import re
from typing import Mapping

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..render.text import short_forms

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
#: the key column is at least this wide, so that a short list does not look cramped
KEY_MIN = 12


def active_label(binding: Binding, keymap: Mapping[str, str]) -> tuple[str, bool]:
    """The key(s) that run `binding` now, and whether the user's keymap chose them: the keymap
    maps binding ids to keys (Textual's App.set_keymap), and replaces the default keys."""
    override = keymap.get(binding.id) if binding.id else None
    if override:
        return key_label(Binding(override, binding.action)), True
    return key_label(binding), False


def rows(sections: list[Section], keymap: Mapping[str, str]) -> list[tuple[str, list[tuple[str, bool, Binding]]]]:
    """Each section's bindings with their active keys, without repeats or undescribed ones."""
    out = []
    for title, bindings in sections:
        seen, shown = set(), []
        for b in bindings:
            if (b.key, b.action) in seen or not b.description:
                continue
            seen.add((b.key, b.action))
            shown.append((*active_label(b, keymap), b))
        out.append((title, shown))
    return out


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark,f1", "close", "Close help", id="help.close"),
        Binding("j,down", "scroll(1)", "Scroll down", show=False),
        Binding("k,up", "scroll(-1)", "Scroll up", show=False),
    ]

    def __init__(self, sections: list[Section], keymap: Mapping[str, str] | None = None) -> None:
        """`keymap`: the binding id -> keys mapping the app applied (App.set_keymap), so each
        row shows the key that works, marked when it is the user's own."""
        super().__init__(classes="dialog-screen")
        self.sections = sections
        self.keymap = dict(keymap or {})

    def compose(self) -> ComposeResult:
        listed = rows(self.sections, self.keymap)
        forms = short_forms()
        # one set of column widths for every section: the descriptions start at the same place
        key_width = max([KEY_MIN, *(len(label) + (2 if mine else 0) for _, r in listed for label, mine, _ in r),
                         *(len(form) for form, _, _ in forms)])
        what_width = max([len(b.description) for _, r in listed for _, _, b in r] or [0])
        overridden = any(mine for _, r in listed for _, mine, _ in r)
        with Vertical(id="help-dialog", classes="dialog") as box:
            box.border_title = "Keys"
            box.border_subtitle = "esc / q close · ctrl+p finds any command by name"
            with VerticalScroll(id="help-body"):
                if overridden:
                    note = Text("* ", style="bold yellow", end="")
                    note.append("your keymap's key; the default key follows the binding's id", style="dim")
                    yield Static(note, classes="help-title")
                for title, shown in listed:
                    yield Static(Text(title, style="bold underline"), classes="help-title")
                    table = self._table(key_width, what_width)
                    for label, mine, b in shown:
                        key = Text(label, style="bold yellow" if mine else "bold cyan")
                        if mine:
                            key.append(" *", style="bold yellow")
                        why = Text(b.tooltip or "", style="dim")
                        if b.id:  # what a keymap in the config file names ("desk.approve" = "A")
                            why.append(" · " if b.tooltip else "", style="dim")
                            why.append(b.id, style="italic #7f8fa6")
                        if mine:
                            why.append(f" · default {key_label(b)}", style="yellow")
                        table.add_row(key, Text(b.description, style="bold"), why)
                    yield Static(table, classes="help-table")
                yield Static(Text("Short forms in narrow columns", style="bold underline"), classes="help-title")
                table = self._table(key_width, what_width)
                for form, column, meaning in forms:
                    table.add_row(Text(form, style="bold cyan"), Text(column, style="bold"), Text(meaning, style="dim"))
                yield Static(table, classes="help-table")

    @staticmethod
    def _table(key_width: int, what_width: int) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(no_wrap=True, width=key_width)
        table.add_column(no_wrap=True, min_width=what_width)
        table.add_column(ratio=1)
        return table

    def action_scroll(self, lines: int) -> None:
        self.query_one("#help-body", VerticalScroll).scroll_relative(y=lines, animate=False)

    def action_close(self) -> None:
        self.dismiss(None)
