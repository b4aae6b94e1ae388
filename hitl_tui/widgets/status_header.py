"""Top line: who you are, which database, and whether the audit chain verifies.

Rendered to the width at hand: the audit state is never cut; the database path gives way first,
elided in the middle so both its start and its file name stay readable.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from .display import clean


def short_path(path: Path) -> str:
    """~ for the home directory: shorter, and the same on every machine."""
    text = str(path)
    home = str(Path.home())
    if home not in ("", "/") and (text == home or text.startswith(home + "/")):
        text = "~" + text[len(home):]
    return text


def elide_middle(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    # keep the file name and as much of its folder as fits: that is what tells databases apart
    return "…" + text[len(text) - (width - 1):]


class StatusHeader(Widget):
    DEFAULT_CSS = "StatusHeader { height: 1; }"

    who = reactive("", layout=False)
    audit = reactive(Text("audit: verifying…", style="italic"), layout=False)

    def __init__(self, db_path: Path, **kwargs) -> None:
        super().__init__(**kwargs)
        self.db_label = short_path(db_path)

    def render(self) -> Text:
        width = self.size.width or 80
        name = Text(" hitl-tui ", style="bold reverse", end="")
        who = Text(f"  {clean(self.who, single_line=True)}", style="bold", end="")
        audit = self.audit.copy()
        room = width - name.cell_len - who.cell_len - audit.cell_len - 4 - len("db: ")
        line = Text(end="")
        line.append_text(name)
        line.append_text(who)
        if room >= 8:
            line.append("   db: ", style="dim")
            line.append(elide_middle(clean(self.db_label, single_line=True), room))
        gap = width - line.cell_len - audit.cell_len - 1
        line.append(" " * max(1, gap))
        line.append_text(audit)
        line.truncate(width, overflow="ellipsis")
        return line
