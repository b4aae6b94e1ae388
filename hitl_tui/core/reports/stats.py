"""Streaming statistics over audit entries, for the HTML and Markdown reports.

Everything is computed from the audit log itself (the tamper-evident record), not from the
mutable request tables. Memory is bounded by the number of requests still open in the exported
window, not by the number of entries: a request's state is folded into the totals and dropped
when it reaches a final status. Durations go into log-scale histograms (2% buckets), so medians
and 90th percentiles are approximate to within 2% and cost constant memory.
"""

from __future__ import annotations

import json
import math
from sys import intern
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .. import rbac
from ..decisions import DECISION_ACTIONS, AuditAction
from ..models import Role, WorkflowStatus
from ..policy import Policy

#: statuses after which nothing happens (a request's state, not an audit action)
FINAL = tuple(s.value for s in WorkflowStatus if s.is_final)
RISKS = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
MAX_LISTED_FLAGS = 200


class Histogram:
    RATIO = 1.02
    FLOOR = 0.001  # seconds; anything faster shares the first bucket

    def __init__(self) -> None:
        self.buckets: Counter[int] = Counter()
        self.count, self.total, self.max = 0, 0.0, 0.0

    def add(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        idx = 0 if seconds <= self.FLOOR else int(math.log(seconds / self.FLOOR, self.RATIO)) + 1
        self.buckets[idx] += 1
        self.count += 1
        self.total += seconds
        self.max = max(self.max, seconds)

    def quantile(self, q: float) -> float | None:
        if not self.count:
            return None
        rank, seen = q * self.count, 0
        for idx in sorted(self.buckets):
            seen += self.buckets[idx]
            if seen >= rank:
                return 0.0 if idx == 0 else min(self.max, self.FLOOR * self.RATIO ** (idx - 0.5))
        return self.max

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None


class _Open:
    """What is remembered about a request until it reaches a final status. Kept small (slots,
    interned strings, no dict until someone decides): a log may hold many open requests."""

    __slots__ = ("wtype", "risk", "requester", "created", "status", "deciders", "since", "stages")

    def __init__(self) -> None:
        self.wtype = "(created before this window)"
        self.risk = "unknown"
        self.requester: str | None = None
        self.created: float | None = None
        self.status = "unknown"
        self.deciders: dict[str, int] | None = None
        self.since: float | None = None  # when the current stage started waiting
        self.stages = 0  # length of the approval chain, when known


@dataclass
class Stats:
    policy: Policy
    timeline_limit: int = 200
    entries: int = 0
    unreadable: int = 0
    first_ts: str | None = None
    last_ts: str | None = None
    actions: Counter[str] = field(default_factory=Counter)
    actors: dict[str, Counter[str]] = field(default_factory=dict)  # actor -> Counter(action)
    requests: int = 0
    outcomes: dict[str, Counter[str]] = field(default_factory=dict)  # type -> Counter(status)
    risk: dict[str, Counter[str]] = field(default_factory=dict)  # type -> Counter(risk)
    decision_time: dict[str, Histogram] = field(default_factory=dict)  # risk -> Histogram (creation -> each decision)
    stage_wait: dict[str, Histogram] = field(default_factory=dict)  # stage role -> Histogram (stage opened -> decided)
    to_final: dict[str, Histogram] = field(default_factory=dict)  # type -> Histogram (creation -> approved/rejected)
    flags: list[dict[str, Any]] = field(default_factory=list)
    flag_count: int = 0

    def __post_init__(self) -> None:
        self._open: dict[str, _Open] = {}
        self.recent: deque[str] = deque(maxlen=max(0, self.timeline_limit))

    # --- feeding -------------------------------------------------------------------------------

    def feed_row(self, seq: int, body: bytes) -> None:
        try:
            rec = json.loads(body)
            if not isinstance(rec, dict):
                raise ValueError
        except ValueError:
            self.entries += 1
            self.unreadable += 1
            return
        self.feed(seq, rec)

    def feed(self, seq: int, rec: dict[str, Any]) -> None:
        self.entries += 1
        action, actor, ts = str(rec.get("action")), str(rec.get("actor")), str(rec.get("ts"))
        self.first_ts = self.first_ts or ts
        self.last_ts = ts
        self.actions[action] += 1
        self.actors.setdefault(actor, Counter())[action] += 1
        wid = rec.get("workflow_id")
        if not wid:
            return
        try:
            when = datetime.fromisoformat(ts).timestamp()
        except ValueError:
            when = None
        raw = rec.get("details")
        details: dict[str, Any] = raw if isinstance(raw, dict) else {}
        st = self._open.get(wid)
        if st is None:  # first sight (a request is dropped from memory only once it is final)
            st = self._open[wid] = _Open()
            self.requests += 1
            self.recent.append(wid)
        if action in (AuditAction.CREATED, AuditAction.RESUBMITTED):
            if action == AuditAction.CREATED:
                st.wtype, st.requester, st.created = intern(str(details.get("workflow_type"))), intern(actor), when
            st.risk, st.status, st.deciders, st.since = intern(str(details.get("risk_level"))), "awaiting_approval", None, when
            chain = details.get("chain")
            st.stages = len(chain) if isinstance(chain, list) else 0
        elif action in DECISION_ACTIONS:
            self._decision(seq, wid, action, actor, when, details, st)
        elif action in (AuditAction.WITHDRAWN, AuditAction.EXPIRED):
            st.status = str(action)
        if st.status in FINAL:
            if st.status not in ("withdrawn", "expired") and st.created is not None and when is not None:
                self.to_final.setdefault(st.wtype, Histogram()).add(when - st.created)
            self._fold(st)
            del self._open[wid]

    def _decision(self, seq: int, wid: str, action: str, actor: str, when: float | None, d: dict[str, Any], st: _Open) -> None:
        stage, stage_role, decider_role = d.get("stage"), str(d.get("stage_role")), str(d.get("decider_role"))
        if st.created is not None and when is not None:
            self.decision_time.setdefault(st.risk, Histogram()).add(when - st.created)
        if st.since is not None and when is not None:
            self.stage_wait.setdefault(stage_role, Histogram()).add(when - st.since)
        number = stage + 1 if isinstance(stage, int) else "?"
        if st.requester is not None and actor == st.requester:
            self._flag("sod_requester_decided", seq, wid,
                       f"{actor} requested {wid} and also decided stage {number} ({stage_role}).")
        if st.deciders and actor in st.deciders:
            self._flag("sod_same_person_two_stages", seq, wid,
                       f"{actor} decided stages {st.deciders[actor]} and {number} of the same revision of {wid}.")
        try:
            eligible = rbac.role_may_decide(self.policy, Role(decider_role), Role(stage_role))
        except ValueError:
            eligible = False
        if not eligible and not d.get("on_behalf_of"):  # decided for a delegator: verify-audit checks that it ran
            self._flag("decider_not_eligible", seq, wid,
                       f"Stage {number} of {wid} needed a {stage_role}; {actor} decided it as {decider_role}.")
        if st.deciders is None:
            st.deciders = {}
        st.deciders[intern(actor)] = number if isinstance(number, int) else 0
        st.status, st.since = _status_after(d, action, stage, st.stages), when

    def _flag(self, code: str, seq: int, wid: str, text: str) -> None:
        self.flag_count += 1
        if len(self.flags) < MAX_LISTED_FLAGS:
            self.flags.append({"code": code, "severity": "high", "seq": seq, "workflow_id": wid, "explanation": text})

    def _fold(self, st: _Open) -> None:
        self.outcomes.setdefault(st.wtype, Counter())[st.status] += 1
        self.risk.setdefault(st.wtype, Counter())[st.risk] += 1

    def finish(self) -> "Stats":
        """Fold the requests still open at the end of the window (pending, changes requested)."""
        for st in self._open.values():
            self._fold(st)
        self._open.clear()
        return self

    # --- derived figures -----------------------------------------------------------------------

    def totals(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for counts in self.outcomes.values():
            total.update(counts)
        return total

    def risk_totals(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for counts in self.risk.values():
            total.update(counts)
        return total


def _status_after(d: dict[str, Any], action: str, stage: object, stages: int) -> str:
    """The status a decision left, from the record; older or foreign records may lack it."""
    if d.get("status_after"):
        return intern(str(d["status_after"]))
    if action != AuditAction.APPROVED:
        return action
    last = isinstance(stage, int) and stages and stage + 1 >= stages
    return "approved" if last else "awaiting_approval"


def approval_rate(counts: Counter[str]) -> float | None:
    decided = counts.get("approved", 0) + counts.get("rejected", 0)
    return counts.get("approved", 0) / decided if decided else None


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.1f} s"
