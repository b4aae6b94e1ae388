"""Due dates (issue 14): how long a request may wait for its approvers, and what happens after.

The policy gives each type a due time per risk level, as ISO 8601 durations (`[types.NAME.due]`,
`HIGH = "P2D"`), and what to do once it has passed (`on_overdue`: "remind", "escalate" or
"expire", for the whole type or per level). With a `[calendar]` table the durations count
business time: the days part in business days (skipping weekends and holidays, at the same time
of day), the rest in business hours. Without one, they are wall-clock time (seconds allowed,
"PT3S", so tests need not wait).

The clock pauses while a request waits for its requester (changes requested): what was left is
kept (`due_left`, in the calendar's seconds) and the resubmission resumes it, whatever the new
revision's risk. The due date is in the signed `created`, `changes_requested` and `resubmitted`
entries, so the tables are a replay of the trail as for every other column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from typing import TYPE_CHECKING

from .audit import iso
from .errors import PolicyError
from .models import RiskLevel

if TYPE_CHECKING:
    from .models import WorkflowRequest
    from .policy import Policy

OVERDUE_ACTIONS = ("remind", "escalate", "expire")
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Span:
    """A policy duration: its days (business days under a calendar) and the rest, as spelled."""

    days: int
    rest: timedelta
    text: str

    @property
    def wall(self) -> timedelta:
        return timedelta(days=self.days) + self.rest


def parse_span(value: Any, where: str) -> Span:
    """"P2D", "PT4H", "P1DT12H", "PT3S": a positive ISO 8601 duration (no years or months: their
    length depends on the date)."""
    from pydantic import TypeAdapter, ValidationError

    text = str(value).strip().upper() if isinstance(value, str) else ""
    try:
        span = TypeAdapter(timedelta).validate_python(text) if text.startswith("P") else None
    except ValidationError:
        span = None
    head = text.split("T", 1)[0]
    if span is None or span <= timedelta(0) or "Y" in head or "M" in head or "W" in head:
        raise PolicyError(f"{where} {value!r} is not a positive ISO 8601 duration in days, hours, minutes or "
                          f"seconds, such as \"P2D\", \"PT4H\" or \"PT30S\".")
    days = span.days if "D" in head else 0
    return Span(days, span - timedelta(days=days), text)


@dataclass(frozen=True)
class Calendar:
    """Business time: the days of the week, the hours of each, the holidays, in one time zone."""

    days: frozenset[int]
    start: time
    end: time
    holidays: frozenset[date]
    zone: str = "UTC"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    def is_business_day(self, day: date) -> bool:
        return day.weekday() in self.days and day not in self.holidays

    def _window(self, day: date) -> tuple[datetime, datetime]:
        return (datetime.combine(day, self.start, self.tz), datetime.combine(day, self.end, self.tz))

    def add(self, start: datetime, span: Span) -> datetime:
        """`start` plus `span` in business time (UTC)."""
        at = start.astimezone(self.tz)
        day, clock = at.date(), at.timetz()
        for _ in range(span.days):
            day += timedelta(days=1)
            while not self.is_business_day(day):
                day += timedelta(days=1)
        moved = datetime.combine(day, clock.replace(tzinfo=None), self.tz) if span.days else at
        return self.add_seconds(moved, span.rest.total_seconds())

    def add_seconds(self, start: datetime, seconds: float) -> datetime:
        """`start` plus `seconds` of business hours (UTC)."""
        at, left = start.astimezone(self.tz), max(0.0, seconds)
        for _ in range(3660):  # ten years of days: a calendar with no business time is refused when parsed
            opens, closes = self._window(at.date())
            if self.is_business_day(at.date()) and at < closes:
                at = max(at, opens)
                room = (closes - at).total_seconds()
                if left <= room:
                    return (at + timedelta(seconds=left)).astimezone(timezone.utc)
                left -= room
            at = datetime.combine(at.date() + timedelta(days=1), self.start, self.tz)
        raise PolicyError("the [calendar] has no business time in the next ten years.")

    def seconds_between(self, start: datetime, end: datetime) -> float:
        """The business seconds from `start` to `end` (0 when `end` is not later)."""
        at, until, total = start.astimezone(self.tz), end.astimezone(self.tz), 0.0
        while at < until:
            opens, closes = self._window(at.date())
            if self.is_business_day(at.date()):
                lo, hi = max(at, opens), min(until, closes)
                if hi > lo:
                    total += (hi - lo).total_seconds()
            at = datetime.combine(at.date() + timedelta(days=1), time(0), self.tz)
        return total


def parse_calendar(table: Any) -> Calendar | None:
    """The policy's `[calendar]`: `days = ["mon", ...]`, `hours = "09:00-17:00"`, `holidays =
    ["2026-12-25", ...]`, `time_zone = "Europe/Berlin"`; None when the policy has none."""
    if table is None:
        return None
    if not isinstance(table, dict):
        raise PolicyError("[calendar] must be a table.")
    unknown = sorted(set(table) - {"days", "hours", "holidays", "time_zone"})
    if unknown:
        raise PolicyError(f"[calendar] has unknown key {unknown[0]!r}; it takes days, hours, holidays and time_zone.")
    names = table.get("days", list(DAY_NAMES[:5]))
    if not isinstance(names, list) or not names or any(str(n).lower()[:3] not in DAY_NAMES for n in names):
        raise PolicyError(f"[calendar] days must list days of the week such as [\"mon\", \"tue\"], not {names!r}.")
    hours = str(table.get("hours", "09:00-17:00"))
    try:
        first, last = (time.fromisoformat(h.strip()) for h in hours.split("-", 1))
    except ValueError:
        first = last = time(0)
    if not first < last:
        raise PolicyError(f"[calendar] hours must be \"HH:MM-HH:MM\" with the start first, not {hours!r}.")
    try:
        holidays = frozenset(date.fromisoformat(str(d)) for d in table.get("holidays", []))
    except ValueError as exc:
        raise PolicyError(f"[calendar] holidays must be dates such as \"2026-12-25\" ({exc}).") from None
    zone = str(table.get("time_zone", "UTC"))
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise PolicyError(f"[calendar] time_zone {zone!r} is not a time zone such as \"Europe/Berlin\".") from None
    return Calendar(frozenset(DAY_NAMES.index(str(n).lower()[:3]) for n in names), first, last, holidays, zone)


@dataclass(frozen=True)
class DueRules:
    """A type's due times per risk level and what happens once one has passed."""

    spans: Mapping[RiskLevel, Span] = field(default_factory=dict)
    on_overdue: Mapping[RiskLevel, str] = field(default_factory=dict)
    #: remind_before: the approvers hear "due soon" this long (wall-clock) before the due date
    remind_before: Span | None = None

    def for_level(self, level: RiskLevel) -> tuple[Span, str] | None:
        span = self.spans.get(level)
        return None if span is None else (span, self.on_overdue.get(level, "remind"))


def parse_due(where: str, spec: Mapping[str, Any]) -> DueRules:
    """`[types.NAME.due]` (level = duration) and the type's `on_overdue` (one action, or a table
    of them per level)."""
    table = spec.get("due", {})
    if not isinstance(table, dict):
        raise PolicyError(f"{where}: due must be a table of risk levels, e.g. [types.NAME.due] HIGH = \"P2D\".")
    spans = {_level(where, "due", k): parse_span(v, f"{where}: due {k}") for k, v in table.items()}
    raw = spec.get("on_overdue", "remind")
    given = raw if isinstance(raw, dict) else {level.value: raw for level in RiskLevel}
    actions = {}
    for key, action in given.items():
        if action not in OVERDUE_ACTIONS:
            raise PolicyError(f"{where}: on_overdue {action!r} is not one of {', '.join(OVERDUE_ACTIONS)} "
                              f"(nothing is ever approved for being late).")
        actions[_level(where, "on_overdue", key)] = str(action)
    ahead = spec.get("remind_before")
    return DueRules(spans, actions, None if ahead is None else parse_span(ahead, f"{where}: remind_before"))


def _level(where: str, what: str, key: Any) -> RiskLevel:
    try:
        return RiskLevel(str(key).upper())
    except ValueError:
        raise PolicyError(f"{where}: {what} names {key!r}, which is not a risk level (LOW, MEDIUM, HIGH, "
                          f"CRITICAL).") from None


def due_at(start: datetime, span: Span, calendar: Calendar | None) -> datetime:
    return start + span.wall if calendar is None else calendar.add(start, span)


def left_at(now: datetime, due: datetime, calendar: Calendar | None) -> float:
    """What is left of the due time at `now`, in the calendar's seconds (0 once passed)."""
    if calendar is None:
        return max(0.0, (due - now).total_seconds())
    return calendar.seconds_between(now, due)


def resumed(now: datetime, left: float, calendar: Calendar | None) -> datetime:
    """The due date of a resubmitted request: what was left when changes were asked for, from now."""
    return now + timedelta(seconds=left) if calendar is None else calendar.add_seconds(now, left)


# --- the columns and entry members the engine writes (service.py) ---------------------------------

def filed(policy: "Policy", workflow_type: str, risk: RiskLevel, when: datetime) -> dict[str, Any]:
    """A new request's due date: {"due_at": ISO} when its type and risk have one, else {}."""
    rule = policy.due_rule(workflow_type, risk)
    return {} if rule is None else {"due_at": iso(due_at(when, rule[0], policy.calendar))}


def paused(req: "WorkflowRequest", when: datetime, policy: "Policy") -> dict[str, Any]:
    """Changes requested: the clock stops, keeping what was left ({} when it has no due date)."""
    if req.due_at is None:
        return {}
    return {"due_at": None, "due_left": round(left_at(when, req.due_at, policy.calendar), 6)}


def restarted(req: "WorkflowRequest", when: datetime, policy: "Policy", risk: RiskLevel) -> dict[str, Any]:
    """A resubmission: the paused clock resumes with what was left; a request that had none
    starts one if its new risk has a due date."""
    if req.due_left is not None:
        return {"due_at": iso(resumed(when, req.due_left, policy.calendar))}
    return filed(policy, req.workflow_type, risk, when)


def describe(req: "WorkflowRequest", now: datetime) -> str | None:
    """'due in 3h (2026-12-03 09:00 UTC)', 'overdue by 2h', 'due clock paused (4h left)'; None without one."""
    if req.due_left is not None and req.due_at is None:
        return f"due clock paused while the requester has it ({short_span(req.due_left)} left)"
    if req.due_at is None or req.status.is_final:
        return None
    seconds = (req.due_at - now).total_seconds()
    when = req.due_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    if seconds < 0:
        escalated = f"; escalated to {req.escalated_to.label}" if req.escalated_to is not None else ""
        return f"overdue by {short_span(-seconds)} (was due {when}){escalated}"
    return f"due in {short_span(seconds)} ({when})"


_THEN = {"remind": "then its approvers are reminded", "escalate": "then it escalates to a more senior role",
         "expire": "then it expires undecided"}


def due_line(req: "WorkflowRequest", policy: "Policy", now: datetime) -> str | None:
    """The due date and what happens when it passes, in words (the desk, request show, the
    accessible desk); None for a request with no due date."""
    said = describe(req, now)
    if said is None:
        return None
    rule = policy.due_rule(req.workflow_type, req.risk_level)
    if rule is None or req.escalated_to is not None:
        return said
    return f"{said}; {_THEN[rule[1]]} ({req.risk_level.value}: {rule[0].text})"


def short_span(seconds: float) -> str:
    """"3h", "2d", "45s": the largest whole unit."""
    seconds = int(seconds)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


__all__ = ["Calendar", "DueRules", "OVERDUE_ACTIONS", "Span", "due_at", "left_at", "parse_calendar", "parse_due",
           "parse_span", "resumed", "filed", "paused", "restarted", "describe", "due_line", "short_span"]
