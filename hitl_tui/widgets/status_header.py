"""Top line: who you are, which database, and whether the audit chain verifies.

Rendered to the width at hand: the audit state is never cut (a broken chain must be seen on an
80-column terminal, whatever the user's name), nor the database's file name; the database's
folder gives way first, then the name of who you are, elided at its end.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ..render.text import clean


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
    #: team mode: why the service cannot be reached ("" while it can); shown in the audit's place
    link = reactive("", layout=False)

    def __init__(self, db_path: Path, **kwargs) -> None:
        super().__init__(**kwargs)
        self.db_label = short_path(db_path)

    def render(self) -> Text:
        """What gives way on a narrow line, last kept first: the audit state (never cut while the
        line can hold it), the database's file name ("db: hitl.db": which database you are
        deciding in), who you are (elided at its end), the app's name, then the folder of the
        database (elided in the middle, so the file name stays)."""
        width = self.size.width or 80
        audit = Text(f" {self.link} ", style="bold white on dark_red") if self.link else self.audit.copy()
        audit.truncate(max(1, width - 1), overflow="ellipsis")  # only when it is wider than the line
        room = width - audit.cell_len - 1  # at least one space before the audit state
        path = clean(self.db_label, single_line=True)
        file_name = path.rsplit("/", 1)[-1] or path
        db_prefix = "   db: "
        db_min = min(len(db_prefix) + len(file_name), room)  # the file name, elided only past that
        room -= db_min
        line = Text(end="")
        who = clean(self.who, single_line=True)
        name = Text(" hitl-tui ", style="bold reverse", end="")
        if room >= name.cell_len + (2 + 8 if who else 0):  # the name only beside a readable "who"
            line.append_text(name)
            room -= name.cell_len
        if who and room >= 2 + 6:
            shown = Text(f"  {who}", style="bold", end="")
            shown.truncate(room, overflow="ellipsis")
            line.append_text(shown)
            room -= shown.cell_len
        db_room = room + db_min - len(db_prefix)
        if db_room >= 4:
            line.append(db_prefix if line.cell_len else db_prefix.lstrip(), style="dim")
            # the whole path, else its tail ("…b/hitl.db"), else the file name alone
            line.append(elide_middle(path, db_room) if db_room > len(file_name) else elide_middle(file_name, db_room))
        line.append(" " * max(1, width - line.cell_len - audit.cell_len - 1))  # and the last column free
        line.append_text(audit)
        line.truncate(width, overflow="ellipsis")
        return line
