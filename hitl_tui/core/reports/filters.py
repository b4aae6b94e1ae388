"""Which audit entries an export covers: a time window, workflow ids, workflow types, actors.

The filter is written into every export as absolute values (a relative `--since 7d` becomes a
timestamp), so verifying the export later re-runs exactly the same selection on the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from ..audit import iso, utc_now
from ..errors import ValidationFailed
from ..policy import Policy
from ..text import check_inputs

_RELATIVE = re.compile(r"^\s*([0-9]+)\s*([mhdw])\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(text: str, field: str, *, end_of_day: bool = False, now: datetime | None = None) -> datetime:
    """An ISO date or date-time, or an age such as 7d / 12h / 30m / 2w (that long before now).

    Times without an offset are UTC, like the audit log. A bare date means the start of that
    day, or with `end_of_day` the start of the next one, so `--until 2025-03-31` covers the 31st.
    """
    raw = str(text).strip()
    try:
        return _when(raw, end_of_day, now)
    except ValueError:
        raise ValidationFailed(
            f"{field} {raw[:60]!r} is not a date: use 2025-03-31, 2025-03-31T14:00, 2025-03-31T14:00+02:00 or 7d.",
            field,
        ) from None
    except OverflowError:  # 99999999999d, or an offset that pushes 9999-12-31 past the calendar
        raise ValidationFailed(f"{field} {raw[:60]!r} is outside the calendar (years 1 to 9999).", field) from None


def _when(raw: str, end_of_day: bool, now: datetime | None) -> datetime:
    match = _RELATIVE.match(raw)
    if match:
        amount, unit = int(match[1]), _UNITS[match[2].lower()]
        return (now or utc_now()) - timedelta(**{unit: amount})
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
        day = date.fromisoformat(raw) + (timedelta(days=1) if end_of_day else timedelta())
        return datetime.combine(day, time(), tzinfo=timezone.utc)
    value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    # in UTC now, so that an offset that leaves the calendar fails here, with its own message
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class ExportFilter:
    since: datetime | None = None
    until: datetime | None = None
    workflow_ids: tuple[str, ...] = ()
    workflow_types: tuple[str, ...] = ()
    actors: tuple[str, ...] = ()

    @classmethod
    def build(cls, policy: Policy, *, since: str | None = None, until: str | None = None,
              workflow_ids: tuple[str, ...] = (), workflow_types: tuple[str, ...] = (),
              actors: tuple[str, ...] = ()) -> "ExportFilter":
        """Parse and check command-line values; unknown workflow types are refused by name."""
        check_inputs(since=since, until=until, data={"workflow": list(workflow_ids), "type": list(workflow_types),
                                                     "user": list(actors)})
        start = parse_when(since, "since") if since else None
        stop = parse_when(until, "until", end_of_day=True) if until else None
        if start and stop and start >= stop:
            raise ValidationFailed(f"--since ({iso(start)}) must be before --until ({iso(stop)}).", "since")
        types = tuple(sorted({policy.workflow_type(t).key for t in workflow_types}))
        return cls(since=start, until=stop, workflow_ids=_clean(workflow_ids), workflow_types=types,
                   actors=_clean(actors))

    @property
    def empty(self) -> bool:
        return not (self.since or self.until or self.workflow_ids or self.workflow_types or self.actors)

    def query_args(self) -> dict[str, Any]:
        """Keyword arguments for WorkflowService.iter_audit_rows."""
        return {
            "since": iso(self.since) if self.since else None, "until": iso(self.until) if self.until else None,
            "workflow_ids": self.workflow_ids, "workflow_types": self.workflow_types, "actors": self.actors,
        }

    def to_json(self) -> dict[str, Any]:
        args = self.query_args()
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in args.items()}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> "ExportFilter":
        data = data or {}
        try:
            return cls(
                since=datetime.fromisoformat(data["since"]) if data.get("since") else None,
                until=datetime.fromisoformat(data["until"]) if data.get("until") else None,
                workflow_ids=tuple(str(x) for x in data.get("workflow_ids") or ()),
                workflow_types=tuple(str(x) for x in data.get("workflow_types") or ()),
                actors=tuple(str(x) for x in data.get("actors") or ()),
            )
        except (TypeError, ValueError, AttributeError) as exc:
            raise ValidationFailed(f"the export's filter record is malformed ({exc}).", "filters") from None

    def describe(self) -> str:
        parts = []
        if self.since:
            parts.append(f"since {iso(self.since)}")
        if self.until:
            parts.append(f"before {iso(self.until)}")
        for label, values in (("workflow", self.workflow_ids), ("type", self.workflow_types),
                              ("actor", self.actors)):
            if values:
                parts.append(f"{label} {', '.join(values)}")
        return "; ".join(parts) if parts else "none (the whole audit log)"


def _clean(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted({str(v).strip() for v in values if str(v).strip()}))
