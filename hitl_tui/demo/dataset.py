"""The demo's cast and requests, built through the public engine API only.

Seven people (the seed's cast) and 39 requests (plus the agents' four, below) across all nine
workflow types and all four risk
levels: some decided (approved, rejected, changes requested, withdrawn, one resubmitted), some
mid-chain. The seed's scenarios are always present with fixed titles and values (see SCENARIO):
the $15,000 Singapore travel and the Software License ($8K) and Team Offsite ($3K) requests are
exactly sarah.manager's three pending approvals; the high-impact database migration waits for
the IT Admin; mike.director's own partner-summit travel waits at the Director stage (the tour's
segregation-of-duties example: his role fits, but he asked for it). The `seed` only shuffles the
order of the background requests and nudges their amounts within the same risk band, so titles
and risk levels never depend on it.

Four `tool_call` requests are filed for approval by two integration accounts (billing-bot, owned
by john.doe, and deploy-pipeline, owned by ian.itadmin), each bound to its exact payload: a
refund sarah.manager approved that now waits for mike.director, an approved staging deploy, a
rejected refund, and a refund whose one-second deadline passed (the engine's sweep expired it).

Timestamps are real (the engine stamps every entry with the current time); the demo does not
fake history, so decision times in a demo report are seconds, not days.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..core.models import Decision

DEFAULT_SEED = 2024

# username -> (role, display name, administrator)
USERS: dict[str, tuple[str, str, bool]] = {
    "ian.itadmin": ("it_admin", "Ian MacLeod", True),
    "john.doe": ("employee", "John Doe", False),
    "sarah.manager": ("manager", "Sarah Chen", False),
    "mike.director": ("director", "Mike Okafor", False),
    "lisa.executive": ("executive", "Lisa Park", False),
    "carol.compliance": ("compliance", "Carol Jensen", False),
    "sam.security": ("security", "Sam Rivera", False),
}

# Who decides a stage needing a role, in order of preference (the first who is neither the
# requester nor an earlier decider of the same revision).
DECIDERS = {
    "manager": ("sarah.manager", "mike.director", "lisa.executive"),
    "director": ("mike.director", "lisa.executive"),
    "executive": ("lisa.executive",),
    "compliance": ("carol.compliance",),
    "security": ("sam.security",),
    "it_admin": ("ian.itadmin",),
}


@dataclass(frozen=True)
class Spec:
    key: str
    workflow_type: str
    title: str
    requester: str
    data: dict[str, Any]
    description: str
    #: steps: ("A", comment) approve the current stage, ("R", reason) reject, ("C", comment)
    #: request changes, ("W", reason) withdraw, ("S", {field: value}, comment) resubmit
    script: tuple = ()
    #: a seed scenario: never shuffled or nudged
    scenario: bool = False


def _s(*steps) -> tuple:
    return steps


SCENARIO = (
    Spec("singapore_travel", "expense_approval", "Executive travel to Singapore for strategic planning", "john.doe",
         {"amount": "15000", "category": "travel", "cost_center": "EXEC-APAC"},
         "Flights, hotel and ground transport for the APAC strategy week with the Singapore leadership team.",
         scenario=True),
    Spec("software_license", "expense_approval", "Software License: SIEM analytics add-on (annual)", "sam.security",
         {"amount": "8000", "category": "software", "cost_center": "SEC-OPS"},
         "Annual licence for the log analytics add-on our SOC needs to meet the new retention policy.",
         scenario=True),
    Spec("team_offsite", "expense_approval", "Team Offsite: platform team Q3 planning day", "ian.itadmin",
         {"amount": "3000", "category": "other", "cost_center": "IT-PLATFORM"},
         "Venue, lunch and facilitation for the twelve-person platform team planning day in July.",
         scenario=True),
    Spec("db_migration", "infrastructure_change", "Database migration: orders DB to PostgreSQL 16", "john.doe",
         {"impact": "high", "system": "orders-db",
          "rollback_plan": "Keep the PG 13 primary read-only for 48 h; switch DNS back if error rate > 1%"},
         "Major-version migration of the orders database with a 30-minute write freeze on Sunday night.",
         scenario=True),
    Spec("partner_summit", "expense_approval", "Partner summit travel: Austin keynote", "mike.director",
         {"amount": "6400", "category": "travel", "cost_center": "SALES-NA"},
         "Flights and three nights in Austin for the partner summit, where I give the channel keynote.",
         _s(("A", "Keynote confirmed by marketing; fine from my side.")), scenario=True),
)

BACKGROUND = (
    Spec("keyboard", "expense_approval", "Ergonomic keyboard and mouse", "john.doe",
         {"amount": "450", "category": "equipment"}, "Replacement for a broken keyboard; ergonomic model recommended by occupational health.",
         _s(("A", "Approved, thanks for getting the OH recommendation."))),
    Spec("reinvent", "expense_approval", "AWS re:Invent conference pass", "john.doe",
         {"amount": "2400", "category": "training"}, "Full conference pass; sessions on Aurora and Graviton migrations.",
         _s(("A", "Good fit with the migration roadmap."), ("A", "Approved within the training budget."))),
    Spec("kickoff_venue", "expense_approval", "Sales kickoff venue deposit", "john.doe",
         {"amount": "27500", "category": "services"}, "Non-refundable deposit for the January sales kickoff venue in Lisbon.",
         _s(("A", "Venue shortlisted by the events team."), ("R", "Over the events budget; revisit after the Q3 forecast."))),
    Spec("dc_refresh", "expense_approval", "Data center hardware refresh (rack servers)", "john.doe",
         {"amount": "64000", "category": "equipment"}, "Twelve rack servers to replace hardware that leaves vendor support in March.",
         _s(("A", "Needed, current servers are end of life."), ("A", "Within the capex plan."),
            ("A", "Approved; compliance to confirm procurement rules."))),
    Spec("client_dinner", "expense_approval", "Client dinner: Acme Corp renewal", "john.doe",
         {"amount": "1200", "category": "meals"}, "Dinner with the Acme Corp procurement team after the renewal workshop.",
         _s(("C", "Please attach the itemised receipt and the attendee list."))),
    Spec("taxi", "expense_approval", "Taxi receipts March", "john.doe",
         {"amount": "85", "category": "travel"}, "Taxis.", _s(("W", "Submitted twice by mistake."))),
    Spec("laptops_1", "expense_approval", "New-hire laptops, batch 1", "john.doe",
         {"amount": "9500", "category": "equipment"}, "Five laptops for the September new-hire cohort, first half of the order.",
         _s(("A", "OK.")), scenario=True),
    Spec("laptops_2", "expense_approval", "New-hire laptops, batch 2", "john.doe",
         {"amount": "9200", "category": "equipment"}, "Five more laptops for the September new-hire cohort, second half of the order.",
         _s(("A", "OK.")), scenario=True),
    Spec("kubecon", "expense_approval", "Conference travel: KubeCon EU", "john.doe",
         {"amount": "4200", "category": "travel"}, "Flights, hotel and pass for KubeCon EU; presenting our operator talk.",
         _s(("C", "Please book economy; policy allows business class only above six hours."),
            ("S", {"amount": "3100"}, "Rebooked in economy."), ("A", "Thanks, approved."), ("A", "Approved."))),
    Spec("tls_rotation", "infrastructure_change", "Rotate TLS certificates on the staging load balancer", "john.doe",
         {"impact": "low", "system": "staging-lb"}, "Routine rotation before the current certificates expire next week.",
         _s(("A", "Routine, approved."))),
    Spec("kafka_retention", "infrastructure_change", "Increase Kafka retention to 7 days", "john.doe",
         {"impact": "medium", "system": "events-kafka"}, "Longer retention so the fraud team can replay a full week of events.",
         _s(("A", "Disk headroom confirmed."))),
    Spec("switch_firmware", "infrastructure_change", "Core network switch firmware upgrade (datacenter A)", "john.doe",
         {"impact": "critical", "system": "dc-a-core", "rollback_plan": "Dual-image boot; revert to previous image"},
         "Vendor security advisory requires the new firmware; needs a 20-minute maintenance window.",
         _s(("A", "Maintenance window booked."), ("A", "Fixes the advisory; approved."), ("A", "Approved for Saturday."))),
    Spec("firewall_5432", "infrastructure_change", "Firewall rule: open port 5432 to the analytics VPC", "john.doe",
         {"impact": "high", "system": "prod-firewall"}, "Analytics needs direct reads from the orders replica for dashboards.",
         _s(("A", "Technically fine."), ("R", "Use the private link to the read replica instead; no direct DB ports."))),
    Spec("globex_nda", "contract_approval", "NDA and pilot agreement with Globex", "john.doe",
         {"contract_value": "18000", "counterparty": "Globex", "term_months": "6"},
         "Six-month paid pilot of our analytics product with Globex, under mutual NDA.", _s(("A", "Standard terms."))),
    Spec("managed_soc", "contract_approval", "Managed SOC services (2 years)", "sam.security",
         {"contract_value": "240000", "counterparty": "Initech Security", "term_months": "24"},
         "24x7 monitoring to cover nights and weekends; replaces two open headcount.", _s(("A", "Budgeted."))),
    Spec("cloud_commit", "contract_approval", "Cloud commitment: 3-year enterprise agreement", "ian.itadmin",
         {"contract_value": "1200000", "counterparty": "Hyperscale Cloud Inc.", "term_months": "36"},
         "Committed spend discount of 22% against our current on-demand usage.",
         _s(("A", "Numbers checked with finance."), ("A", "Terms reviewed; no compliance issues."), ("A", "Approved."))),
    Spec("acquisition_loi", "contract_approval", "Letter of intent: acquisition of a data analytics startup", "john.doe",
         {"contract_value": "3500000", "counterparty": "Stark Analytics", "term_months": "12"},
         "Non-binding LOI with exclusivity for the due-diligence period.",
         _s(("A", "Forwarding for review."), ("A", "Exclusivity clause acceptable."))),
    Spec("initech_credit", "customer_escalation", "Late delivery credit for Initech", "john.doe",
         {"severity": "low", "customer": "Initech", "credit_amount": "250"},
         "Shipment arrived four days late; customer asked for a goodwill credit.", _s(("A", "Fine."))),
    Spec("umbrella_sla", "customer_escalation", "Outage credit for Umbrella Corp (SLA breach)", "john.doe",
         {"severity": "high", "customer": "Umbrella Corp", "credit_amount": "12000"},
         "Four-hour outage breached the 99.9% SLA; contract entitles them to a service credit.",
         _s(("A", "SLA breach confirmed."), ("C", "Attach the incident report and the SLA clause."))),
    Spec("wayne_incident", "customer_escalation", "Data-loss incident: Wayne Enterprises", "john.doe",
         {"severity": "critical", "customer": "Wayne Enterprises"},
         "A failed migration deleted two days of their project data; restore done, relationship at risk.",
         _s(("A", "Escalating."), ("A", "Needs executive contact with their CIO."))),
    Spec("dwh_read", "access_request", "Read access to the finance data warehouse", "john.doe",
         {"access_level": "read", "system": "finance-dwh", "duration_days": "90"},
         "Quarterly revenue reconciliation for the board pack.", _s(("A", "Read-only for 90 days is fine."))),
    Spec("k8s_admin", "access_request", "Admin on the production Kubernetes cluster", "john.doe",
         {"access_level": "admin", "system": "prod-k8s"}, "Needed to debug the ingress controller during incidents.",
         _s(("A", "He is on the on-call rota."), ("R", "Use the audited break-glass account instead of standing admin."))),
    Spec("hsm_root", "access_request", "Root on the payment HSM", "john.doe",
         {"access_level": "root", "system": "payments-hsm", "duration_days": "1"},
         "Firmware update on the HSM requires a root session.",
         _s(("A", "Vendor confirmed the procedure."), ("W", "The vendor will do the update under their own dual control."))),
    Spec("checkout_staging", "deployment_approval", "Deploy checkout-service 2.14 to staging", "john.doe",
         {"environment": "staging", "service": "checkout-service", "version": "2.14.0"},
         "Release candidate with the new tax engine, for QA sign-off.", _s(("A", "Pipeline green."), ("A", "SAST clean."))),
    Spec("billing_prod", "deployment_approval", "Release billing-api 3.0 to production", "john.doe",
         {"environment": "production", "service": "billing-api", "version": "3.0.0"},
         "Major release: usage-based billing, behind a feature flag for the first week.", _s(("A", "Runbook reviewed."))),
    Spec("freeze_hotfix", "deployment_approval", "Hotfix during the year-end freeze: payments-gateway 5.2.1", "john.doe",
         {"environment": "production_freeze", "service": "payments-gateway", "version": "5.2.1"},
         "Fixes double-charging for 3-D Secure retries; customer-impacting, cannot wait for January.",
         _s(("A", "Tested in staging."), ("A", "No security impact."), ("A", "Approved as an emergency change."),
            ("A", "Approved; post-incident review in January."))),
    Spec("refund_88231", "refund_approval", "Refund order 88231 (damaged item)", "john.doe",
         {"amount": "120", "customer": "J. Smith", "order_id": "88231"}, "Item arrived broken; photos attached to the ticket.",
         _s(("A", "Approved."))),
    Spec("hooli_refund", "refund_approval", "Refund Hooli annual plan (cancelled within 30 days)", "john.doe",
         {"amount": "3400", "customer": "Hooli", "order_id": "INV-2291"},
         "Cancelled on day 12; terms give a full refund within 30 days.", _s(("A", "Per terms."), ("A", "Approved."))),
    Spec("double_billing", "refund_approval", "Refund: double-billed enterprise invoice", "john.doe",
         {"amount": "18000", "customer": "Massive Dynamic", "order_id": "INV-3107"},
         "Invoice INV-3107 was charged twice by the payment processor in May.",
         _s(("A", "Duplicate charge visible in the ledger."), ("A", "Approved."),
            ("R", "The processor already reversed the second charge on 3 June; a refund would pay them twice."))),
    Spec("hire_support", "hiring_approval", "Hire: support engineer (EMEA)", "john.doe",
         {"annual_salary": "72000", "position": "Support Engineer", "department": "Customer Support"},
         "Backfill for a departure; ticket backlog is growing in the EMEA shift.", _s(("A", "Backfill approved."))),
    Spec("hire_backend", "hiring_approval", "Hire: senior backend engineer", "ian.itadmin",
         {"annual_salary": "128000", "position": "Senior Backend Engineer", "department": "Platform"},
         "Second engineer for the billing rewrite; in the approved headcount plan.", _s(("A", "In the plan."))),
    Spec("hire_vp_security", "hiring_approval", "Hire: VP of Security", "carol.compliance",
         {"annual_salary": "210000", "position": "VP of Security", "department": "Security"},
         "New role required by the board after the audit committee review.",
         _s(("A", "Supported."), ("A", "Budget confirmed."), ("A", "Approved."))),
    Spec("marketing_q3", "budget_allocation", "Marketing budget Q3: product launch", "john.doe",
         {"amount": "180000", "department": "Marketing", "fiscal_year": "2025"},
         "Launch campaign for the analytics product: events, paid media and analyst briefings.",
         _s(("A", "Plan is solid."))),
    Spec("awareness_training", "budget_allocation", "Security awareness training budget", "sam.security",
         {"amount": "15000", "department": "Security", "fiscal_year": "2025"},
         "Phishing simulations and annual training for all staff, required by ISO 27001.", _s(("A", "Approved."))),
    Spec("capex_fy26", "budget_allocation", "FY26 infrastructure capex", "ian.itadmin",
         {"amount": "1500000", "department": "IT", "fiscal_year": "2026"},
         "Hardware, licences and the second data center build-out for FY26.",
         _s(("A", "Forwarding."), ("A", "Needs executive view."), ("R", "Defer the second data center to FY27; resubmit at half."))),
)


# Integration accounts (issue 12: an AI agent or a system asks a human): username -> (role,
# display name, the person responsible for it). The owners decide nothing these file.
INTEGRATIONS: dict[str, tuple[str, str, str]] = {
    "billing-bot": ("employee", "Billing support agent", "john.doe"),
    "deploy-pipeline": ("employee", "Release pipeline", "ian.itadmin"),
}


@dataclass(frozen=True)
class AgentSpec:
    """A `tool_call` filed for approval by an integration, bound to its exact payload."""

    key: str
    requester: str
    agent: str
    title: str
    payload: dict[str, Any]
    justification: str
    script: tuple = ()
    timeout: float = 7 * 86_400.0


#: the shortest deadline the engine allows (approvals.MIN_TIMEOUT): the build takes about as long,
#: so the demo's own sweep finds this one expired without faking the clock
_EXPIRES_AT_ONCE = 1.0

AGENT_REQUESTS = (
    # filed first, so that its deadline has passed by the time the build ends
    AgentSpec("agent_expired_refund", "billing-bot", "support-triage-agent", "Refund order 90412 (late delivery)",
              {"tool": "refund", "arguments": {"order_id": "90412", "amount": "95.00", "currency": "USD",
                                                "customer": "R. Alvarez", "reason": "late_delivery"}},
              "Parcel tracked as delivered nine days late; the customer asked for the shipping fee back.",
              timeout=_EXPIRES_AT_ONCE),
    AgentSpec("agent_refund", "billing-bot", "support-triage-agent", "Refund order 91877 (charged twice)",
              {"tool": "refund", "arguments": {"order_id": "91877", "amount": "740.00", "currency": "USD",
                                                "customer": "M. Novak", "reason": "duplicate_charge"}},
              "The payment processor shows two captures of 740.00 for order 91877 on the same day; refunding "
              "the second one.",
              # from 500 a refund needs a director too: sarah.manager has approved, mike.director decides
              # (sarah's own queue stays the seed's three, which the tour walks through)
              _s(("A", "Both captures are in the processor log; fine from my side."),)),
    AgentSpec("agent_deploy", "deploy-pipeline", "release-agent", "Deploy search-service 4.8.2 to staging",
              {"tool": "deploy", "environment": "staging",
               "arguments": {"service": "search-service", "version": "4.8.2", "strategy": "rolling"}},
              "All 1,412 tests passed on commit 3f9c2e1; the canary in development stayed healthy for 2 hours.",
              _s(("A", "Release notes reviewed."), ("A", "Approved for staging."))),
    AgentSpec("agent_rejected_refund", "billing-bot", "support-triage-agent", "Refund order 88904 (not as described)",
              {"tool": "refund", "arguments": {"order_id": "88904", "amount": "310.00", "currency": "USD",
                                                "customer": "T. Okoye", "reason": "not_as_described"}},
              "Customer says the jacket's colour differs from the photos and asked for a full refund.",
              _s(("R", "The return has not arrived yet; refund once the warehouse confirms it."),)),
)


@dataclass
class DemoDataset:
    seed: int
    ids: dict[str, str] = field(default_factory=dict)  # spec key -> workflow id
    titles: dict[str, str] = field(default_factory=dict)  # spec key -> title
    users: tuple[str, ...] = tuple(USERS)


def build_demo_dataset(service, seed: int = DEFAULT_SEED) -> DemoDataset:
    """Add the cast and the requests to an EMPTY database through the public API."""
    admin = "ian.itadmin"
    for name, (role, display, is_admin) in USERS.items():
        service.add_user(name, role, f"{name}@example.com", display_name=display, admin=is_admin, actor=admin)
    for name, (role, display, owner) in INTEGRATIONS.items():
        service.approvals.add_integration(name, role, owner, email=f"{name}@example.com", display_name=display,
                                          actor=admin)
    started = time.monotonic()
    dataset = DemoDataset(seed)
    for agent_spec in AGENT_REQUESTS:
        wid = service.approvals.file(agent_spec.requester, "tool_call", agent_spec.title, agent_spec.payload,
                                     justification=agent_spec.justification, agent=agent_spec.agent,
                                     timeout=agent_spec.timeout)
        for step in agent_spec.script:
            _run(service, wid, agent_spec.requester, step)
        dataset.ids[agent_spec.key], dataset.titles[agent_spec.key] = wid, agent_spec.title
    rng = random.Random(seed)
    background = list(BACKGROUND)
    rng.shuffle(background)
    for spec in background + list(SCENARIO):  # the scenarios last: they are the newest requests
        data = spec.data if spec.scenario else _nudged(service.policy, spec, rng)
        wid = service.create_workflow_request(spec.workflow_type, spec.title, spec.description, spec.requester, data)
        for step in spec.script:
            _run(service, wid, spec.requester, step)
        dataset.ids[spec.key], dataset.titles[spec.key] = wid, spec.title
    # the engine's own sweep expires the short-deadline refund; on a fast machine the build may
    # end before its deadline, so wait out the rest of it (real time, never a faked clock)
    time.sleep(max(0.0, _EXPIRES_AT_ONCE + 0.05 - (time.monotonic() - started)))
    service.approvals.sweep()
    return dataset


def _nudged(policy, spec: Spec, rng: random.Random) -> dict[str, Any]:
    """Move money fields by up to 5% (rounded to 10), only if the risk level stays the same."""
    data = dict(spec.data)
    wtype = policy.workflow_type(spec.workflow_type)
    field_name = wtype.risk.field
    if not wtype.risk.bands or field_name not in data:
        return data
    value = Decimal(str(data[field_name]))
    candidate = (value * Decimal(str(1 + rng.uniform(-0.05, 0.05)))).quantize(Decimal("10"))
    before = policy.assess(spec.workflow_type, data).risk_level
    trial = {**data, field_name: str(candidate)}
    return trial if policy.assess(spec.workflow_type, trial).risk_level is before else data


def _run(service, wid: str, requester: str, step: tuple) -> None:
    kind = step[0]
    if kind == "W":
        service.withdraw_workflow(wid, requester, step[1])
        return
    if kind == "S":
        current = service.get_workflow(wid)
        data = {k: str(v) for k, v in current.data.items()} | step[1]
        service.resubmit(wid, requester, data=data, comments=step[2])
        return
    decider = _decider(service.get_workflow(wid), requester)
    decision = {"A": Decision.APPROVE, "R": Decision.REJECT, "C": Decision.REQUEST_CHANGES}[kind]  # the script's letters
    service.decide(wid, decider, decision, step[1])


def _decider(req, requester: str) -> str:
    role = req.current_role
    done = {a.approver for a in req.approvals if a.revision == req.revision}
    for name in DECIDERS[role.value]:
        if name != requester and name not in done:
            return name
    raise RuntimeError(f"demo data error: nobody left to decide the {role.value} stage of {req.title!r}")
