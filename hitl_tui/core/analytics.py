"""The desk's and the reports' analytics (issue 14): how long decisions take, how they go, where
requests wait, which due dates were missed, who carries the load, and the risk week by week.

One place computes the figures; the desk's view 5, `hitl-tui stats` and the HTML report's
Analytics section show them. Everything is over the requests the reader may see (the inbox's
"all I may see"), read from the tables, which are a replay of the audit trail; the SQL is in
store/analytics.py.

Definitions (the same wherever a figure is shown):
- time to decision: from filing to the decision that closed it (approved or rejected), for the
  requests closed in the period;
- decision rates: the stage decisions made in the period (approve, reject, request changes);
- stage wait: from the moment a stage started waiting (the request filed, or the stage before it
  approved) to a decision on it, for decisions in the period. The first stage of a resubmitted
  revision is left out: the tables do not keep when it was resubmitted;
- bottleneck: the stage role with the longest median wait, and the one with the most waiting now;
- SLA breaches: requests with a due date (core/due.py) that are overdue now, or were closed
  (decided or expired) after it within the period;
- workload: decisions in the period per approver, and what waits for each now;
- risk by week: the requests filed in the period, per ISO week (Monday, UTC) and risk level.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, NamedTuple

from . import rbac, stage_rules
from .audit import iso, utc_now
from .errors import ValidationFailed
from .filter_query import _DURATION, _UNITS  # the filter language's durations (age:>2d), one spelling
from .models import Decision, RiskLevel, Role, User
from .store import analytics as sql
from .store import users as user_sql
from .store.connection import Conn, DbError, begin, commit, translate

if TYPE_CHECKING:
    from .service import WorkflowService

DEFAULT_PERIOD = "30d"
RISKS = tuple(level.value for level in RiskLevel)
DECISIONS = tuple(d.value for d in Decision)
_CLOSED = ("approved", "rejected")
#: periods longer than this are refused (ten years of weeks would not chart anyway)
MAX_DAYS = 3660


def parse_period(text: str | None) -> timedelta:
    """"30d", "2w", "12h", "1d12h": the filter language's durations; None or "" is the default."""
    raw = (text or DEFAULT_PERIOD).strip().lower().replace(" ", "")
    parts = _DURATION.findall(raw)
    if not parts or "".join(n + u for n, u in parts) != raw:
        raise ValidationFailed(f"--since {text!r} is not a duration: a number and a unit, s m h d or w "
                               f"(30d, 2w, 12h, 1d12h).", "since")
    seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    if not 0 < seconds <= MAX_DAYS * 86400:
        raise ValidationFailed(f"--since {text!r} must be more than 0 and at most {MAX_DAYS} days.", "since")
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class Spread:
    """How long something took: how many, the median and the 90th percentile (nearest rank), in seconds."""

    count: int
    median: float | None
    p90: float | None

    @classmethod
    def of(cls, values: list[float]) -> "Spread":
        if not values:
            return cls(0, None, None)
        ordered = sorted(values)
        n = len(ordered)
        mid = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
        return cls(n, mid, ordered[max(0, math.ceil(0.9 * n) - 1)])

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "median_seconds": _round(self.median), "p90_seconds": _round(self.p90)}


class Decided(NamedTuple):
    """One stage decision, as the figures need it (store.analytics.DECISION_COLS)."""

    workflow_id: str
    revision: int
    stage: int
    role: str
    approver: str
    decision: str
    decided_at: datetime


@dataclass(frozen=True)
class Load:
    """One approver's part: decisions made in the period, and requests waiting for them now."""

    username: str
    role: str
    decisions: int
    waiting: int


@dataclass
class Figures:
    viewer: str
    sees_everything: bool
    since: datetime
    now: datetime
    filed: int = 0
    time_to_decision: Spread = Spread(0, None, None)
    decision_time_by_type: dict[str, Spread] = field(default_factory=dict)
    decision_time_by_risk: dict[str, Spread] = field(default_factory=dict)
    decisions: Counter[str] = field(default_factory=Counter)
    stage_wait: dict[str, Spread] = field(default_factory=dict)
    waiting_now: Counter[str] = field(default_factory=Counter)
    overdue_now: int = 0
    closed_late: int = 0
    breaches_by_type: Counter[str] = field(default_factory=Counter)
    workload: list[Load] = field(default_factory=list)
    risk_by_week: list[tuple[date, Counter[str]]] = field(default_factory=list)
    decisions_by_day: list[int] = field(default_factory=list)

    @property
    def decided(self) -> int:
        return sum(self.decisions.values())

    def rate(self, decision: str) -> float | None:
        return self.decisions[decision] / self.decided if self.decided else None

    @property
    def breaches(self) -> int:
        return self.overdue_now + self.closed_late

    @property
    def slowest_stage(self) -> tuple[str, float] | None:
        """The stage role with the longest median wait (ties: the role's name)."""
        timed = [(s.median, role) for role, s in self.stage_wait.items() if s.median is not None]
        if not timed:
            return None
        median, role = max(timed, key=lambda x: (x[0], x[1]))
        return role, median

    @property
    def busiest_stage(self) -> tuple[str, int] | None:
        """The stage role with the most requests waiting now."""
        if not self.waiting_now:
            return None
        role, count = max(self.waiting_now.items(), key=lambda x: (x[1], x[0]))
        return role, count

    def to_json(self) -> dict[str, Any]:
        slow, busy = self.slowest_stage, self.busiest_stage
        return {
            "viewer": self.viewer, "sees_everything": self.sees_everything,
            "since": iso(self.since), "until": iso(self.now), "filed": self.filed,
            "time_to_decision": {"all": self.time_to_decision.to_json(),
                                 "by_type": {k: v.to_json() for k, v in sorted(self.decision_time_by_type.items())},
                                 "by_risk": {k: v.to_json() for k, v in self.decision_time_by_risk.items()}},
            "decisions": {"total": self.decided, **{d: self.decisions[d] for d in DECISIONS}},
            "rates": {d: _round(self.rate(d), 4) for d in DECISIONS},
            "stage_wait": {k: v.to_json() for k, v in sorted(self.stage_wait.items())},
            "waiting_now": dict(sorted(self.waiting_now.items())),
            "bottleneck": {"slowest_stage": None if slow is None else {"role": slow[0], "median_seconds": _round(slow[1])},
                           "most_waiting": None if busy is None else {"role": busy[0], "waiting": busy[1]}},
            "sla": {"breaches": self.breaches, "overdue_now": self.overdue_now, "closed_late": self.closed_late,
                    "by_type": dict(sorted(self.breaches_by_type.items()))},
            "workload": [{"username": w.username, "role": w.role, "decisions": w.decisions, "waiting": w.waiting}
                         for w in self.workload],
            "risk_by_week": [{"week": d.isoformat(), **{r: c[r] for r in RISKS}} for d, c in self.risk_by_week],
            "decisions_by_day": self.decisions_by_day,
        }


def from_json(data: dict[str, Any]) -> Figures:
    """Figures back from to_json() (team mode: the service computes them, the desk draws them)."""
    def spread(d: dict[str, Any]) -> Spread:
        return Spread(int(d["count"]), d["median_seconds"], d["p90_seconds"])

    times, sla = data["time_to_decision"], data["sla"]
    out = Figures(str(data["viewer"]), bool(data["sees_everything"]), datetime.fromisoformat(data["since"]),
                  datetime.fromisoformat(data["until"]), filed=int(data["filed"]),
                  time_to_decision=spread(times["all"]),
                  decision_time_by_type={k: spread(v) for k, v in times["by_type"].items()},
                  decision_time_by_risk={k: spread(v) for k, v in times["by_risk"].items()},
                  decisions=Counter({d: int(data["decisions"][d]) for d in DECISIONS if data["decisions"][d]}),
                  stage_wait={k: spread(v) for k, v in data["stage_wait"].items()},
                  waiting_now=Counter({k: int(v) for k, v in data["waiting_now"].items()}),
                  overdue_now=int(sla["overdue_now"]), closed_late=int(sla["closed_late"]),
                  breaches_by_type=Counter({k: int(v) for k, v in sla["by_type"].items()}),
                  workload=[Load(str(w["username"]), str(w["role"]), int(w["decisions"]), int(w["waiting"]))
                            for w in data["workload"]],
                  risk_by_week=[(date.fromisoformat(w["week"]), Counter({r: int(w[r]) for r in RISKS if w[r]}))
                                for w in data["risk_by_week"]],
                  decisions_by_day=[int(n) for n in data["decisions_by_day"]])
    return out


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def figures(service: "WorkflowService", viewer: str, period: timedelta | str | None = None,
            now: datetime | None = None) -> Figures:
    """The figures over what `viewer` may see, for the `period` up to `now` (default 30 days)."""
    span = period if isinstance(period, timedelta) else parse_period(period)
    user = service.get_user(viewer)
    policy = service.policy
    when = now or utc_now()
    since = when - span
    decidable, oversight = rbac.decidable_by(policy, user), rbac.sees_everything(policy, user)

    def read(conn: Conn) -> tuple[list[dict[str, Any]], dict[str, list[Decided]], list[Load]]:
        rows = sql.period_rows(conn, user.username, decidable, oversight, iso(since))
        approvals: dict[str, list[Decided]] = {}
        for row in sql.period_decisions(conn, user.username, decidable, oversight, iso(since)):
            d = Decided(row[0], row[1], row[2], row[3], row[4], row[5], datetime.fromisoformat(row[6]))
            approvals.setdefault(d.workflow_id, []).append(d)
        people = [u for u in user_sql.list_all(conn, False) if not u.integration]
        done = Counter(a.approver for these in approvals.values() for a in these if a.decided_at >= since)
        loads = [Load(u.username, u.role.value, done[u.username],
                      sql.waiting_for(conn, user.username, decidable, oversight, u.username,
                                      rbac.decidable_by(policy, u), _segregated(policy, conn, u)))
                 for u in people if rbac.decidable_by(policy, u)]
        return rows, approvals, loads

    # a connection of its own, in one read snapshot: over a large database this reads for a
    # while, and the desk's page and detail (on the shared connection) must not queue behind it
    try:
        conn = service._reader()
    except DbError as exc:
        raise translate(exc, service.path) from None
    try:
        begin(conn)
        rows, approvals, loads = read(conn)
        commit(conn)
    except DbError as exc:
        raise translate(exc, service.path) from None
    finally:
        conn.close()
    out = Figures(user.username, oversight, since, when)
    out.workload = sorted((w for w in loads if w.decisions or w.waiting),
                          key=lambda w: (-w.decisions - w.waiting, w.username))
    _tally(out, rows, approvals)
    return out


def _segregated(policy: Any, conn: Conn, user: User) -> bool:
    return bool(policy.access.segregate_owners) and user_sql.owns_integration(conn, user.username)


def _tally(out: Figures, rows: list[dict[str, Any]], approvals: dict[str, list[Decided]]) -> None:
    since, now = out.since, out.now
    to_decision: dict[str, list[float]] = {}
    by_risk: dict[str, list[float]] = {}
    waits: dict[str, list[float]] = {}
    weeks: dict[date, Counter[str]] = {}
    days = [0] * max(1, math.ceil((now - since).total_seconds() / 86400))
    for row in rows:
        created = datetime.fromisoformat(row["created_at"])
        updated = datetime.fromisoformat(row["updated_at"])
        these = approvals.get(row["id"], [])
        if created >= since:
            out.filed += 1
            week = _monday(created)
            weeks.setdefault(week, Counter())[row["risk_level"]] += 1
        for a in these:
            if a.decided_at < since:
                continue
            out.decisions[a.decision] += 1
            days[min(len(days) - 1, int((a.decided_at - since).total_seconds() // 86400))] += 1
            opened = _stage_opened(a, these, created)
            if opened is not None:
                waits.setdefault(a.role, []).append((a.decided_at - opened).total_seconds())
        last = max((a.decided_at for a in these), default=None)
        closed_at = last if row["status"] in _CLOSED else updated if row["status"] == "expired" else None
        if row["status"] in _CLOSED and last is not None and last >= since:
            seconds = (last - created).total_seconds()
            to_decision.setdefault(row["workflow_type"], []).append(seconds)
            by_risk.setdefault(row["risk_level"], []).append(seconds)
        if row["status"] == "awaiting_approval" and row["current_role"]:  # an `all` stage: each role it awaits
            for role in stage_rules.decode_roles(row["awaited"]) or (row["current_role"],):
                out.waiting_now[role] += 1
        if row["due_at"]:
            due = datetime.fromisoformat(row["due_at"])
            late_now = row["status"] == "awaiting_approval" and due < now
            late_closed = closed_at is not None and closed_at >= since and closed_at > due
            out.overdue_now += late_now
            out.closed_late += late_closed
            if late_now or late_closed:
                out.breaches_by_type[row["workflow_type"]] += 1
    out.time_to_decision = Spread.of([s for v in to_decision.values() for s in v])
    out.decision_time_by_type = {k: Spread.of(v) for k, v in to_decision.items()}
    out.decision_time_by_risk = {r: Spread.of(by_risk[r]) for r in RISKS if r in by_risk}
    out.stage_wait = {k: Spread.of(v) for k, v in waits.items()}
    first = _monday(since)
    out.risk_by_week = []
    week = first
    while week <= _monday(now):
        out.risk_by_week.append((week, weeks.get(week, Counter())))
        week += timedelta(days=7)
    out.decisions_by_day = days


def _stage_opened(decision: Decided, these: list[Decided], created: datetime) -> datetime | None:
    """When the decided stage started waiting: the request filed (stage 1 of revision 1), or the
    last approval of the stage before it in the same revision; None when the tables cannot say."""
    if decision.stage == 0:
        return created if decision.revision == 1 else None
    before = [a.decided_at for a in these if a.revision == decision.revision and a.stage == decision.stage - 1
              and a.decision == Decision.APPROVE.value and a.decided_at <= decision.decided_at]
    return max(before) if before else None


def _monday(when: datetime) -> date:
    day = when.astimezone(timezone.utc).date()
    return day - timedelta(days=day.weekday())


def duration_text(seconds: float | None) -> str:
    """"-", "850 ms", "42 s", "12 min", "3.5 h", "2.1 d": short enough for a chart's label."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def role_label(value: str) -> str:
    try:
        return Role(value).label
    except ValueError:
        return value


__all__ = ["DEFAULT_PERIOD", "Figures", "Load", "Spread", "duration_text", "figures", "from_json", "parse_period",
           "role_label"]
