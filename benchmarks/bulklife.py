"""The simulated history behind bulkdata.py: who works here, what they ask for, and how each
request's life goes (arrival in working hours, one decision per stage after plausible delays,
rejections, changes requested, withdrawals, resubmissions). Pure Python, no database: bulkdata.py
turns these events into rows and audit entries."""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
import random
from datetime import datetime, timezone

from hitl_tui.core.audit import iso
from hitl_tui.core.hydrate import data_to_json
from hitl_tui.core.models import Role
from hitl_tui.core.store import requests as req_sql

UTC = timezone.utc
_at = datetime.fromtimestamp

#: how requests' lives end (the rest are approved); "resubmitted" is drawn on its own: sent back
#: once, resubmitted as revision 2, which then ends in one of the ways above
SHARES = {"pending": 0.02, "rejected": 0.10, "changes_requested": 0.03, "withdrawn": 0.04, "resubmitted": 0.05}
END = datetime(2026, 10, 1, tzinfo=timezone.utc).timestamp()  # fixed, so that a seed gives the same data
DAY, HOUR = 86_400, 3_600
OPEN, CLOSE = 8 * HOUR, 19 * HOUR  # working hours (UTC), Monday to Friday, as in the default policy
WORK_YEAR = 261 * (CLOSE - OPEN)
DECIDE, REACT = math.log(3 * HOUR), math.log(DAY)  # median delays: a decision, a requester's answer

#: the directory for 100,000 requests: it grows with the desk, so that a decider's year holds
#: some thousands of decisions, not a million ('awaiting me' must leave out what they decided)
STAFF = {"manager": ("sarah.manager", 24), "director": ("mike.director", 6), "executive": ("lisa.executive", 3),
         "compliance": ("carol.compliance", 3), "security": ("sam.security", 4), "it_admin": ("ian.itadmin", 4),
         "employee": ("john.doe", 300)}
CUSTOMERS = ["Acme Corp", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises"]
SYSTEMS = ["payments-db", "crm", "data-warehouse", "vpn", "k8s-prod", "billing-api", "hr-portal"]
DEPARTMENTS = ["engineering", "sales", "finance", "support", "marketing", "operations"]


def _money(lo: float, hi: float):
    """Log-uniform amounts rounded to two significant figures, as people ask for them."""
    def draw(rng: random.Random) -> str:
        x = math.exp(rng.uniform(math.log(lo), math.log(hi)))
        step = 10 ** max(0, int(math.log10(x)) - 1)
        return str(int(x // step * step))
    return draw


def _pick(*values, weights=None):
    if weights is None:
        return lambda rng: rng.choice(values)
    cumulative = list(itertools.accumulate(weights))
    return lambda rng: values[bisect.bisect(cumulative, rng.random() * cumulative[-1])]


LEVELS, ACCESS = ("low", "medium", "high", "critical"), ("read", "write", "admin", "root")
ENVIRONMENTS = ("development", "staging", "production", "production_freeze")
CATEGORIES = ("travel", "software", "equipment", "training", "meals", "services", "other")
# (type, weight, {field: draw}, titles): the default policy's nine types, expenses the commonest
KINDS = [
    ("expense_approval", 34, {"amount": _money(40, 150_000), "category": _pick(*CATEGORIES),
                              "cost_center": _pick(*(f"CC-{4400 + 10 * i}" for i in range(8)))},
     ["Conference travel", "Travel to Berlin", "Laptop refresh", "Team offsite", "Software licence",
      "Training course", "Client dinner", "Monitor for the new hire", "Cloud budget top-up"]),
    ("refund_approval", 12, {"amount": _money(20, 60_000), "customer": _pick(*CUSTOMERS)},
     ["Refund for a duplicate charge", "Damaged on arrival", "Cancelled subscription", "Goodwill refund"]),
    ("infrastructure_change", 10, {"impact": _pick(*LEVELS, weights=[50, 30, 15, 5]), "system": _pick(*SYSTEMS)},
     ["Database migration", "Firewall rule change", "Kernel upgrade", "Storage expansion", "DNS cut-over"]),
    ("access_request", 10, {"access_level": _pick(*ACCESS, weights=[50, 30, 15, 5]), "system": _pick(*SYSTEMS)},
     ["Access for the quarterly audit", "On-call access", "Read access for reporting", "Break-glass access"]),
    ("deployment_approval", 10, {"environment": _pick(*ENVIRONMENTS, weights=[30, 30, 35, 5]),
                                 "service": _pick(*SYSTEMS)},
     ["Release 4.2", "Hotfix for the login bug", "Feature flag roll-out", "Dependency upgrade"]),
    ("contract_approval", 8, {"contract_value": _money(5_000, 5_000_000), "counterparty": _pick(*CUSTOMERS),
                              "term_months": _pick(12, 24, 36)},
     ["Vendor contract renewal", "Cloud hosting renewal", "Consulting agreement", "Office lease"]),
    ("customer_escalation", 8, {"severity": _pick(*LEVELS, weights=[40, 35, 20, 5]), "customer": _pick(*CUSTOMERS)},
     ["Outage credit", "SLA breach", "Data export request", "Billing dispute"]),
    ("budget_allocation", 5, {"amount": _money(5_000, 3_000_000), "department": _pick(*DEPARTMENTS),
                              "fiscal_year": _pick(2026, 2027)},
     ["Quarterly budget", "Headcount budget", "Tooling budget", "Marketing campaign"]),
    ("hiring_approval", 3, {"annual_salary": _money(40_000, 400_000), "department": _pick(*DEPARTMENTS),
                            "position": _pick("Engineer", "Analyst", "Account executive", "Support lead")},
     ["Backfill", "New position", "Contractor conversion"]),
]
#: decision -> (its audit action, which is also the status it leaves unless approving; comments)
OUTCOMES = {
    "approve": ("approved", ["", "OK", "Approved.", "Within budget.", "Looks right to me", "Thanks for the detail."]),
    "reject": ("rejected", ["Not in this quarter's budget.", "Duplicate of an earlier one.", "Not business."]),
    "request_changes": ("changes_requested", ["Attach the quote.", "Which cost center?", "Add the rollback plan."]),
}
class Random(random.Random):
    """random.Random with a cheaper choice(): a million requests make some ten million draws,
    and the stock one (rejection sampling on random bits) costs several times more."""

    def choice(self, seq):
        return seq[int(self.random() * len(seq))]


def people(n_requests: int) -> dict[str, list[str]]:
    """Role -> usernames of the generated directory for n_requests (the OS login aside)."""
    scale = max(1, round(n_requests / 100_000))
    return {role: [first, *(f"{role.replace('_', '')}{i}" for i in range(1, size * scale))]
            for role, (first, size) in STAFF.items()}


def timeline(n: int, rng: random.Random, policy, shares: dict):
    """Heap items (time, tie-break, event) for every event of n requests' lives, in time order:
    requests arrive in working hours (a Poisson stream over a year); each one's events are drawn
    when it is created and wait in a heap until their time comes."""
    years = max(1.0, 1.2 * n / WORK_YEAR)  # a year, or as long as a second between requests needs
    first = int((END - years * 365 * DAY) // DAY)
    monday = (first - (first + 3) % 7) * DAY  # 1970-01-01 was a Thursday
    gap = years * WORK_YEAR / n - 1  # mean working seconds between two requests, beyond the one
    cumulative = list(itertools.accumulate(k[1] for k in KINDS))
    # who else may decide a stage (a director may take a manager's): now and then one does
    seniors = {r.value: sorted(x.value for x in policy.stage_deciders(r) if x is not r) for r in Role}
    staff = people(n)
    assessed: dict = {}
    heap: list = []
    order = itertools.count()
    work = 0.0
    for _ in range(n):
        work += 1 + rng.expovariate(1 / gap)  # at least a second apart: ids by the second stay unique
        days, sec = divmod(work, CLOSE - OPEN)  # working time -> a weekday's working hours
        weeks, weekday = divmod(days, 5)
        t = monday + (weeks * 7 + weekday) * DAY + OPEN + sec
        while heap and heap[0][0] <= t:
            yield heapq.heappop(heap)
        wtype, _, fields, titles = KINDS[bisect.bisect(cumulative, rng.random() * cumulative[-1])]
        data = {name: draw(rng) for name, draw in fields.items()}
        known = assessed.get((wtype, *data.values()))
        if known is None:  # tens of thousands of distinct inputs: assess each once
            a = policy.assess(wtype, data)
            known = assessed[(wtype, *data.values())] = (
                a.workflow_type, data_to_json(a.data), _plain(a.data), req_sql.encode_chain(a.chain),
                [r.value for r in a.chain], a.risk_level.value, a.risk_level.rank, a.risk_field, a.risk_reason,
                str(a.data[a.risk_field]))
        creation, *later = _life(rng, t, known, rng.choice(titles), shares, seniors, staff)
        yield creation[0], 0, creation[1]  # nothing in the heap is due before it
        for when, event in later:
            heapq.heappush(heap, (when, next(order), event))
    while heap:
        yield heapq.heappop(heap)


def _plain(data: dict) -> dict:
    """The data as canonical_bytes writes it (money as text), sparing it the per-value fallback."""
    return {k: (v if isinstance(v, (int, str)) else str(v)) for k, v in data.items()}


def _later(t: float, rng: random.Random, log_median: float) -> float:
    """The next step: minutes to days later (log-normal, capped); moved into working hours but
    now and then (what the compliance flags look for)."""
    t += min(math.exp(rng.gauss(log_median, 1.2)), 5 * DAY)
    if rng.random() < 0.05:
        return t
    day, sec = divmod(t, DAY)
    weekday = (int(day) + 3) % 7  # Monday = 0
    if weekday < 5 and OPEN <= sec < CLOSE:
        return t
    if weekday >= 5 or sec >= CLOSE:
        day, weekday = day + 1, (weekday + 1) % 7
    if weekday >= 5:
        day += 7 - weekday
    return day * DAY + OPEN + rng.uniform(0, 2 * HOUR)  # early on the next working morning


def _life(rng: random.Random, t: float, known: tuple, title: str, shares: dict, seniors: dict, staff: dict) -> list:
    """One request's events as (time, (datetime, actor, action, id, details, request row, approval
    row)); the creation carries the request row, in its final state. Rows lack their last column
    (created_at, decided_at): the entry's own time, added when it is built."""
    wtype, as_json, data, chain_text, chain, risk, rank, field, reason, headline = known
    wid = f"WF-{int(t)}-{int(rng.random() * 10_000):04d}"
    requester = rng.choice(staff["employee"])
    created, events = (t, _at(t, UTC)), []
    revision = 1
    if rng.random() < shares["resubmitted"]:
        t, _, _ = _revision(events, rng, t, wid, chain, 1, "changes_requested", seniors, staff)
        t, revision = _later(t, rng, REACT), 2
        events.append((t, (_at(t, UTC), requester, "resubmitted", wid, {
            "comments": rng.choice(["Quote attached.", "Split as asked.", "Updated."]), "revision": 2,
            "title": title, "data": data, "risk_before": risk, "risk_level": risk, "risk_reason": reason,
            "chain": chain, "status_before": "changes_requested", "status_after": "awaiting_approval",
            "stage_after": 0}, None, None)))
    x, fate = rng.random(), "approved"
    for name in ("pending", "rejected", "changes_requested", "withdrawn"):
        if x < shares[name]:
            fate = name
            break
        x -= shares[name]
    t, status, stage = _revision(events, rng, t, wid, chain, revision, fate, seniors, staff)
    if fate == "withdrawn":
        t, status = _later(t, rng, REACT), "withdrawn"
        events.append((t, (_at(t, UTC), requester, "withdrawn", wid, {
            "comments": rng.choice(["No longer needed", "", "Bought it another way"]),
            "status_before": "awaiting_approval", "status_after": status, "revision": revision}, None, None)))
    last = events[-1][1][0] if events else created[1]
    row = (wid, wtype, title, f"{title}, filed through the desk.", requester, as_json, risk, rank, field, reason,
           headline, chain_text, stage, chain[stage] if status == "awaiting_approval" else None, status, revision,
           iso(last))
    events.insert(0, (created[0], (created[1], requester, "created", wid, {
        "workflow_type": wtype, "title": title, "data": data, "risk_level": risk, "risk_reason": reason,
        "chain": chain, "status_after": "awaiting_approval", "stage_after": 0}, row, None)))
    return events


def _revision(events: list, rng: random.Random, t: float, wid: str, chain: list, revision: int, fate: str,
              seniors: dict, staff: dict) -> tuple[float, str, int]:
    """One revision's stage decisions, as far as `fate` lets it go: (time, status, stage) after."""
    stages = len(chain)
    approved = stages if fate == "approved" else int(rng.random() * stages)
    last = {"rejected": "reject", "changes_requested": "request_changes"}.get(fate)
    used: set = set()  # segregation of duties: nobody decides two stages of one revision
    status, stage = "awaiting_approval", 0
    for stage in range(approved + (last is not None)):
        t = _later(t, rng, DECIDE)
        role = chain[stage]
        decider_role = rng.choice(seniors[role]) if seniors[role] and rng.random() < 0.04 else role
        approver = rng.choice(staff[decider_role])
        while approver in used:
            approver = rng.choice(staff[decider_role])
        used.add(approver)
        decision = "approve" if stage < approved else last
        action, notes = OUTCOMES[decision]
        status = action if decision != "approve" else "approved" if stage + 1 == stages else "awaiting_approval"
        after, comments, ts = stage + (decision == "approve"), rng.choice(notes), _at(t, UTC)
        events.append((t, (ts, approver, action, wid, {
            "decision": decision, "stage": stage, "stage_role": role, "decider_role": decider_role,
            "comments": comments, "revision": revision, "status_before": "awaiting_approval",
            "status_after": status, "stage_after": after},
            None, (wid, revision, stage, role, approver, decider_role, decision, comments))))
        stage = after
    return t, status, stage
