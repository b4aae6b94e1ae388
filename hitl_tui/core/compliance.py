"""Deterministic compliance checks: what a compliance officer would flag on one request.

`check_request(policy, request, related)` is a pure function of its arguments (plus the time zone
it is given): no I/O, no clock. `related` is the caller's job: the requester's recent requests as
the viewer may see them (`split_window` says which dates matter). The service already refuses
segregation-of-duties violations; these checks look again, independently, because data can
arrive by other routes (an imported database, a policy that changed after the fact).

Flags never block anything. They explain, in plain words, what deserves a second look; the TUI's
detail pane, the ComplianceOfficer agent and export-audit all show the same list, gathered
for them in one place (reports/flags.gather_flags: the related requests and the time zone).
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Iterable, Mapping

from pydantic import BaseModel, ConfigDict

from . import rbac
from .erased import is_placeholder
from .models import RiskLevel, WorkflowRequest, WorkflowStatus
from .policy import Policy
from .values import format_money, format_threshold

if TYPE_CHECKING:
    from .settings import Settings

#: a justification with fewer words than this is flagged as thin
MIN_JUSTIFICATION_WORDS = 5
TIMEZONE_ENV = "HITL_TIMEZONE"  # the timezone setting's variable (settings.py)
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class Severity(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        return {"high": 0, "medium": 1, "low": 2}[self.value]


class ComplianceFlag(BaseModel):
    model_config = ConfigDict(frozen=True)

    #: stable machine name: sod_requester_decided, split_purchase, ...
    code: str
    severity: Severity
    #: a few words for a list row
    title: str
    #: the finding in plain words, with the numbers that support it
    explanation: str
    #: the requests involved (more than one for split purchases)
    workflow_ids: tuple[str, ...] = ()


def check_request(policy: Policy, request: WorkflowRequest, related: Iterable[WorkflowRequest] = (),
                  *, tz: tzinfo | None = None) -> list[ComplianceFlag]:
    """Every flag for `request`, most severe first. `tz` is the deciders' zone (None: this
    machine's local zone)."""
    flags = [
        *_segregation_of_duties(policy, request),
        *_justification(request),
        *_split_purchase(policy, request, list(related)),
        *_unusual_amount(policy, request),
        *_outside_working_hours(policy, request, tz),
    ]
    return sorted(flags, key=lambda f: f.severity.rank)


def split_window(policy: Policy, request: WorkflowRequest) -> tuple[datetime, datetime]:
    """The creation dates whose requests `check_request` may need in `related`."""
    days = timedelta(days=policy.compliance.split_window_days)
    return request.created_at - days, request.created_at + days


def deciders_zone(settings: "Settings | None" = None) -> tzinfo | None:
    """The deciders' time zone: the timezone setting (HITL_TIMEZONE, the config file; an IANA
    name such as Europe/Berlin), or None for the machine's zone. Without `settings`, this
    process's. A zone that does not exist was refused when the settings were loaded
    (SettingsInvalid, a ValidationFailed)."""
    from .settings import given_or_loaded

    return given_or_loaded(settings).zone


def zone_from_env(env: Mapping[str, str] | None = None, *, settings: "Settings | None" = None) -> tzinfo | None:
    """deciders_zone() of `settings`, or of the settings that the environment `env` (a mapping,
    e.g. from a test) gives; with neither, this process's."""
    if env is not None and settings is None:
        from .settings import Settings

        settings = Settings.load(environ=env)
    return deciders_zone(settings)


# --- segregation of duties -------------------------------------------------------------------

def _segregation_of_duties(policy: Policy, req: WorkflowRequest) -> list[ComplianceFlag]:
    flags = []
    for a in req.approvals:
        if a.approver == req.requester:
            flags.append(ComplianceFlag(
                code="sod_requester_decided", severity=Severity.HIGH, title="Requester decided own request",
                explanation=(f"{a.approver} requested {req.id} and also {a.decision.past_tense} stage "
                             f"{a.stage + 1} ({a.role.label}); a requester must never decide their own request."),
                workflow_ids=(req.id,)))
        if a.on_behalf_of is not None:  # under a delegation (core/delegation.py; verify-audit checks it ran)
            flags.append(ComplianceFlag(
                code="decided_under_delegation", severity=Severity.LOW, title="Decided under a delegation",
                explanation=(f"{a.approver} ({a.approver_role.label}) {a.decision.past_tense} stage {a.stage + 1} "
                             f"({a.role.label}) for {a.on_behalf_of}, who had delegated their decisions to them."),
                workflow_ids=(req.id,)))
        elif not rbac.role_may_decide(policy, a.approver_role, a.role):
            flags.append(ComplianceFlag(
                code="decider_not_eligible", severity=Severity.HIGH, title="Decided by an ineligible role",
                explanation=(f"Stage {a.stage + 1} needed a {a.role.label}, but {a.approver} decided it as "
                             f"{a.approver_role.label}, a role the policy does not allow for that stage."),
                workflow_ids=(req.id,)))
    stages: dict[tuple[int, str], list[int]] = {}
    for a in req.approvals:
        stages.setdefault((a.revision, a.approver), []).append(a.stage + 1)
    for (revision, approver), numbers in sorted(stages.items()):
        if len(numbers) > 1:
            listed = " and ".join(str(n) for n in sorted(numbers))
            flags.append(ComplianceFlag(
                code="sod_same_person_two_stages", severity=Severity.HIGH, title="One person decided two stages",
                explanation=(f"{approver} decided stages {listed} of revision {revision} of {req.id}; "
                             f"each stage needs a different person."),
                workflow_ids=(req.id,)))
    return flags


# --- justification ---------------------------------------------------------------------------

def _justification(req: WorkflowRequest) -> list[ComplianceFlag]:
    if is_placeholder(req.description):
        return []  # erased (privacy.py): what it said can no longer be judged, and was judged then
    words = len(req.description.split())
    if words == 0:
        severe = req.risk_level.rank >= RiskLevel.HIGH.rank
        return [ComplianceFlag(
            code="missing_justification", severity=Severity.HIGH if severe else Severity.MEDIUM,
            title="No business justification",
            explanation=(f"{req.id} ({req.risk_level.value} risk) has no description, so approvers cannot see "
                         f"why it is needed."),
            workflow_ids=(req.id,))]
    if words < MIN_JUSTIFICATION_WORDS:
        return [ComplianceFlag(
            code="thin_justification", severity=Severity.LOW, title="Thin business justification",
            explanation=(f"The description of {req.id} has only {words} word{'s' if words != 1 else ''}; "
                         f"a justification should say what the money or change is for and why now."),
            workflow_ids=(req.id,))]
    return []


# --- split purchases -------------------------------------------------------------------------

def _money(value: object) -> Decimal | None:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        try:
            return Decimal(str(value))
        except ArithmeticError:
            return None
    return None


def _split_purchase(policy: Policy, req: WorkflowRequest, related: list[WorkflowRequest]) -> list[ComplianceFlag]:
    """Several requests by one requester, each just under a band threshold, within the window,
    whose sum reaches the threshold: the shape of a purchase split to dodge an approval level."""
    wtype = policy.types.get(req.workflow_type)
    if wtype is None or not wtype.risk.bands or req.status is WorkflowStatus.WITHDRAWN:
        return []
    rules, field = policy.compliance, wtype.risk.field
    start, end = split_window(policy, req)
    peers = {r.id: r for r in related
             if r.requester == req.requester and r.workflow_type == req.workflow_type
             and r.status is not WorkflowStatus.WITHDRAWN and start <= r.created_at <= end}
    peers[req.id] = req
    own = _money(req.data.get(field))
    for threshold in wtype.risk.thresholds:
        floor = threshold * (1 - rules.split_margin)
        if own is None or not floor <= own < threshold:
            continue
        near = sorted((r for r in peers.values()
                       if (v := _money(r.data.get(field))) is not None and floor <= v < threshold),
                      key=lambda r: (r.created_at, r.id))
        total = sum((m for r in near if (m := _money(r.data[field])) is not None), Decimal(0))
        if len(near) < max(2, rules.split_min_requests) or total < threshold:
            continue
        level, _ = wtype.risk.assess(total)
        chain = " -> ".join(r.label for r in wtype.chains[level])
        parts = ", ".join(f"{r.id} {format_money(r.data[field])}" for r in near)
        return [ComplianceFlag(
            code="split_purchase", severity=Severity.HIGH, title="Possible split purchase",
            explanation=(f"{req.requester} filed {len(near)} {wtype.name.lower()} requests within "
                         f"{rules.split_window_days} days, each just under the {format_threshold(threshold)} "
                         f"threshold ({parts}). Together they come to {format_money(total)}, which as one request "
                         f"would be {level.value} risk and need {chain} approval."),
            workflow_ids=tuple(r.id for r in near))]
    return []


# --- unusual amounts -------------------------------------------------------------------------

def _unusual_amount(policy: Policy, req: WorkflowRequest) -> list[ComplianceFlag]:
    category = req.data.get("category")
    amount = _money(req.data.get("amount"))
    limit = policy.compliance.unusual_amounts.get(str(category)) if category else None
    if limit is None or amount is None or amount <= limit:
        return []
    return [ComplianceFlag(
        code="unusual_amount", severity=Severity.MEDIUM, title=f"Unusual amount for {category}",
        explanation=(f"{format_money(amount, policy.currency)} is above the {format_money(limit, policy.currency)} "
                     f"that is usual for {category}; check the receipts or the category."),
        workflow_ids=(req.id,))]


# --- working hours ---------------------------------------------------------------------------

def _outside_working_hours(policy: Policy, req: WorkflowRequest, tz: tzinfo | None) -> list[ComplianceFlag]:
    rules = policy.compliance
    start, end = rules.working_hours
    days = sorted(rules.working_days)
    day_text = _describe_days(days)
    flags = []
    for a in req.approvals:
        local = a.decided_at.astimezone(tz)  # tz=None: the machine's local zone
        if local.weekday() in rules.working_days and start <= local.hour < end:
            continue
        zone = local.tzname() or "local time"
        flags.append(ComplianceFlag(
            code="decision_outside_hours", severity=Severity.LOW, title="Decision outside working hours",
            explanation=(f"{a.approver} {a.decision.past_tense} stage {a.stage + 1} ({a.role.label}) at "
                         f"{local:%H:%M} on {_DAY_NAMES[local.weekday()]} {local:%Y-%m-%d} ({zone}); working "
                         f"hours are {start:02d}:00-{end:02d}:00, {day_text}."),
            workflow_ids=(req.id,)))
    return flags


def _describe_days(days: list[int]) -> str:
    if days and days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
        return f"{_DAY_NAMES[days[0]]} to {_DAY_NAMES[days[-1]]}"
    return ", ".join(_DAY_NAMES[d] for d in days) or "no days"


__all__ = ["ComplianceFlag", "Severity", "check_request", "deciders_zone", "split_window", "zone_from_env"]
