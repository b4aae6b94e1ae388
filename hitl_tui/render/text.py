"""Turning engine values into safe, short, readable text for the panes.

Every string that came from a person (titles, descriptions, comments, names, chat) passes
through `clean()` and is wrapped in `rich.text.Text`, never parsed as markup: a title like
`[@click=app.quit]Pay me[/]` must show as those characters and do nothing, and an ANSI escape
byte must show as `\\x1b`, not recolour the terminal.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from rich.text import Text

from ..core.models import RiskLevel, Role, WorkflowStatus

# C0 controls except \n and \t, DEL, and C1 controls (0x80-0x9f: some terminals treat 0x9b
# as CSI, so it is as dangerous as ESC). Bidi overrides can disguise a title, so they are
# made visible too.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

RISK_STYLES = {
    RiskLevel.LOW: "bold #0b1f0b on #7cc47c",
    RiskLevel.MEDIUM: "bold #2b1d00 on #e0b84c",
    RiskLevel.HIGH: "bold #ffffff on #d9622b",
    RiskLevel.CRITICAL: "bold #ffffff on #b3122e",
}
STATUS_STYLES = {
    WorkflowStatus.AWAITING_APPROVAL: "",
    WorkflowStatus.APPROVED: "#6cc46c",
    WorkflowStatus.REJECTED: "#ff6b6b",
    WorkflowStatus.CHANGES_REQUESTED: "#e0b84c",
    WorkflowStatus.WITHDRAWN: "dim",
}
ROLE_SHORT = {
    Role.EMPLOYEE: "Emp", Role.MANAGER: "Mgr", Role.DIRECTOR: "Dir", Role.EXECUTIVE: "Exec",
    Role.COMPLIANCE: "Compl", Role.SECURITY: "Sec", Role.IT_ADMIN: "IT",
}


def clean(value: object, *, single_line: bool = False) -> str:
    """The text with control characters made visible (`\\x1b`), tabs as spaces and, for a
    one-line context, line breaks as ' ⏎ '."""
    text = "" if value is None else str(value)
    text = _CONTROL.sub(lambda m: _escape(m.group()), text).replace("\t", "    ")
    if single_line:
        text = text.replace("\r\n", "\n").replace("\n", " ⏎ ")
    return text


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def plain(value: object, style: str = "", *, single_line: bool = True) -> Text:
    """User text as a Text that is never interpreted as markup."""
    return Text(clean(value, single_line=single_line), style=style, no_wrap=single_line, end="")


def fit(value: object, width: int, style: str = "", *, align: str = "left") -> Text:
    """One line of user text cut to `width` cells with an ellipsis, never silently."""
    text = plain(value, style)
    if width <= 0:
        return Text("")
    if text.cell_len > width:
        text.truncate(width - 1)
        text.append("…", style=style)
    if align == "right":
        text = Text(" " * (width - text.cell_len)) + text
    return text


def risk_badge(level: RiskLevel, width: int = 10) -> Text:
    """The risk word on its colour: colour carries meaning, the word carries it too."""
    word = level.value
    if width < len(word) + 2:
        width = len(word) + 2
    return Text(word.center(width), style=RISK_STYLES[level], end="")


def format_value(value: object, kind: str = "", currency: str = "") -> str:
    """Money with thousands separators (cents only when there are some); other values as text."""
    if kind == "money":
        try:
            amount = Decimal(str(value))
        except (InvalidOperation, ValueError):
            return clean(value, single_line=True)
        text = f"{amount:,.0f}" if amount == amount.to_integral_value() else f"{amount:,.2f}"
        return f"{text} {currency}".strip()
    if kind == "integer" and isinstance(value, int):
        return f"{value:,}"
    return clean(value, single_line=True).replace("_", " ")


def relative_age(then: datetime, now: datetime, *, compact: bool = False) -> str:
    """'just now', '45 s ago', '12 min ago', '2 h ago', '3 d ago', '5 wk ago', '4 mo ago';
    compact ('12m ago', '2h ago') for narrow columns."""
    seconds = (now - then).total_seconds()
    if seconds < 0:
        return "just now" if seconds > -60 else "future"
    units = ((60, 1, "s", "s"), (3600, 60, "min", "m"), (86400, 3600, "h", "h"), (14 * 86400, 86400, "d", "d"),
             (60 * 86400, 7 * 86400, "wk", "w"), (730 * 86400, 30 * 86400, "mo", "mo"))
    for limit, size, unit, short in units:
        if seconds < limit:
            if unit == "s" and seconds < 10:
                return "just now"
            n = int(seconds // size)
            return f"{n}{short} ago" if compact else f"{n} {unit} ago"
    n = int(seconds // (365 * 86400))
    return f"{n}y ago" if compact else f"{n} y ago"


def local_time(ts: datetime, *, micro: bool = True, date: bool = True) -> str:
    """Absolute local time; microseconds for the audit timeline (the seed's precision)."""
    local = ts.astimezone()
    fmt = ("%Y-%m-%d " if date else "") + "%H:%M:%S"
    text = local.strftime(fmt)
    return f"{text}.{local.microsecond:06d}" if micro else text


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def status_words(status: WorkflowStatus, role: Role | None, stage: int, stages: int, *, short: bool) -> Text:
    """'2/3 Director' while awaiting; the outcome otherwise."""
    if status is WorkflowStatus.AWAITING_APPROVAL and role is not None:
        name = ROLE_SHORT[role] if short else role.label
        return Text(f"{stage + 1}/{stages} {name}", end="")
    label = "changes" if status is WorkflowStatus.CHANGES_REQUESTED and short else status.label
    return Text(label, style=STATUS_STYLES[status], end="")
