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
from typing import Callable

from rich.text import Text

from ..core.erased import is_placeholder
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
    WorkflowStatus.EXPIRED: "dim",
}
# Short forms for narrow columns: the badge and the stage are never cut, they shorten to these
# instead (the help screen explains each, from these same maps).
ROLE_SHORT = {
    Role.EMPLOYEE: "Emp", Role.MANAGER: "Mgr", Role.DIRECTOR: "Dir", Role.EXECUTIVE: "Exec",
    Role.COMPLIANCE: "Compl", Role.SECURITY: "Sec", Role.IT_ADMIN: "IT",
}
RISK_SHORT = {RiskLevel.LOW: "LOW", RiskLevel.MEDIUM: "MED", RiskLevel.HIGH: "HIGH", RiskLevel.CRITICAL: "CRIT"}
STATUS_SHORT = {WorkflowStatus.CHANGES_REQUESTED: "changes", WorkflowStatus.WITHDRAWN: "wdrawn"}
#: cells a risk badge needs: the short word with a space each side / the full word likewise
RISK_WIDTH_SHORT = max(len(w) for w in RISK_SHORT.values()) + 2
RISK_WIDTH_FULL = max(len(level.value) for level in RiskLevel) + 2
#: cells the stage needs so that no status is cut: short roles ('4/4 Compl', 'withdrawn'); full
#: roles ('4/4 Compliance') with 'changes'; everything in full ('changes requested'). One-digit
#: stage counts: no policy chain has ten stages.
STAGE_WIDTH_SHORT = max(max(len(n) for n in ROLE_SHORT.values()) + 4,
                        *(len(s.label) for s in WorkflowStatus if s not in STATUS_SHORT
                          and s is not WorkflowStatus.AWAITING_APPROVAL), *(len(w) for w in STATUS_SHORT.values()))
STAGE_WIDTH_ROLES = max(max(len(r.label) for r in Role) + 4, STAGE_WIDTH_SHORT)
STAGE_WIDTH_FULL = max(STAGE_WIDTH_ROLES, *(len(s.label) for s in WorkflowStatus
                                            if s is not WorkflowStatus.AWAITING_APPROVAL))
#: the widest age relative_age() writes ("just now", "59m ago", "24mo ago")
AGE_WIDTH = 8


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
    """User text as a Text that is never interpreted as markup. An erased personal value
    (`erased on DATE`, core/erased.py) is shown dim and italic, so nobody takes it for text
    someone wrote."""
    if is_placeholder(value):
        style = f"{style} dim italic".strip()
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


def risk_badge(level: RiskLevel, width: int = RISK_WIDTH_FULL) -> Text:
    """The risk word on its colour: colour carries meaning, the word carries it too. The full
    word when it fits `width`, else its short form (CRIT); a badge is never cut, it grows."""
    word = level.value if len(level.value) <= width else RISK_SHORT[level]
    return Text(word.center(max(width, len(word))), style=RISK_STYLES[level], end="")


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


def relative_age(then: datetime, now: datetime) -> str:
    """How long ago, in the one spelling every pane uses and that fits the narrowest column
    (AGE_WIDTH cells): 'just now', '45s ago', '12m ago', '2h ago', '3d ago', '5w ago',
    '4mo ago', '2y ago'."""
    seconds = (now - then).total_seconds()
    if seconds < 0:
        return "just now" if seconds > -60 else "future"
    if seconds < 10:
        return "just now"
    units = ((60, 1, "s"), (3600, 60, "m"), (86400, 3600, "h"), (14 * 86400, 86400, "d"),
             (60 * 86400, 7 * 86400, "w"), (730 * 86400, 30 * 86400, "mo"))
    for limit, size, unit in units:
        if seconds < limit:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds // (365 * 86400))}y ago"


def local_time(ts: datetime, *, micro: bool = True, date: bool = True) -> str:
    """Absolute local time; microseconds for the audit timeline (the seed's precision)."""
    local = ts.astimezone()
    fmt = ("%Y-%m-%d " if date else "") + "%H:%M:%S"
    text = local.strftime(fmt)
    return f"{text}.{local.microsecond:06d}" if micro else text


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class TickClock:
    """One reading of the time shared by every pane until the next `tick()`: the inbox renders a
    page and the detail a request moments apart, and each asking the real clock made them
    disagree ("48s ago" beside "57s ago"). Pass one TickClock as both widgets' clock and tick it
    on a timer, then hand the tick's time to their refresh_ages()."""

    def __init__(self, source: Callable[[], datetime] = utc_now) -> None:
        self._source = source
        self._now = source()

    def __call__(self) -> datetime:
        return self._now

    def tick(self) -> datetime:
        self._now = self._source()
        return self._now


def status_words(status: WorkflowStatus, role: Role | None, stage: int, stages: int,
                 width: int | None = None) -> Text:
    """'2/3 Director' while awaiting, the outcome otherwise: the longest form that fits `width`
    cells ('2/3 Dir', 'changes'), the full form when `width` is None."""
    if status is WorkflowStatus.AWAITING_APPROVAL and role is not None:
        forms, style = [f"{stage + 1}/{stages} {role.label}", f"{stage + 1}/{stages} {ROLE_SHORT[role]}"], ""
    else:
        forms, style = [status.label, STATUS_SHORT.get(status, status.label)], STATUS_STYLES[status]
    word = next((f for f in forms if width is None or len(f) <= width), forms[-1])
    return Text(word, style=style, end="")


def short_forms() -> list[tuple[str, str, str]]:
    """Every short form a narrow column may show: (form, which column, what it stands for)."""
    out = [(short, "Risk", f"{level.value} risk") for level, short in RISK_SHORT.items() if short != level.value]
    out += [(short, "Stage", role.label) for role, short in ROLE_SHORT.items()]
    out += [(short, "Stage", status.label) for status, short in STATUS_SHORT.items()]
    out += [("1/3 Mgr", "Stage", "stage 1 of 3, awaiting a Manager"),
            ("12m ago", "Age", "minutes; s seconds, h hours, d days, w weeks, mo months, y years")]
    return out
