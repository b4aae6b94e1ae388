"""The analytics figures (core/analytics.py) against a database built through the service with
known decisions at known times: the engine's clock (draws.utc_now) is set for each write, so
every duration below is exact. Real encrypted database, no mocks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hitl_tui.core import analytics, draws
from hitl_tui.core.audit import utc_now
from hitl_tui.core.errors import ValidationFailed
from hitl_tui.core.models import Decision

from .test_due_dates import with_due

H = 3600.0


@pytest.fixture
def known(service, monkeypatch):
    """Five requests filed at t0 (just after the fixture's users, so the trail's times only grow)
    and decided at set hours after it; returns (service, t0)."""
    with_due(service, 'HIGH = "PT2H"')
    t0 = utc_now() + timedelta(minutes=1)
    clock = {"at": t0}
    monkeypatch.setattr(draws, "utc_now", lambda: clock["at"])

    def at(hours: float) -> None:
        clock["at"] = t0 + timedelta(hours=hours)

    def expense(amount: str) -> str:
        return service.create_workflow_request("expense_approval", f"Expense {amount}", "", "john.doe",
                                               {"amount": amount, "category": "travel"})

    low, medium, high, sent_back = expense("500"), expense("5000"), expense("15000"), expense("200")
    infra = service.create_workflow_request("infrastructure_change", "Rotate the logs", "", "john.doe",
                                            {"impact": "low", "system": "logging"})
    at(0.5)
    service.decide(infra, "ian.itadmin", Decision.APPROVE, "fine")
    at(1)
    service.decide(low, "sarah.manager", Decision.APPROVE, "ok")
    service.decide(sent_back, "tom.manager", Decision.REQUEST_CHANGES, "attach the receipt")
    at(2)
    service.decide(medium, "sarah.manager", Decision.APPROVE, "ok")
    at(3)
    service.decide(high, "sarah.manager", Decision.APPROVE, "ok")  # due at 2h: now overdue at the director
    at(5)
    service.decide(medium, "mike.director", Decision.REJECT, "over budget")
    return service, t0


def test_the_figures_over_everything_for_an_oversight_role(known):
    service, t0 = known
    fig = analytics.figures(service, "lisa.executive", now=t0 + timedelta(hours=6))
    assert fig.sees_everything and fig.filed == 5
    assert fig.decisions == {"approve": 4, "reject": 1, "request_changes": 1}
    assert fig.rate("approve") == pytest.approx(4 / 6)
    # closed: the infrastructure change in 0.5h, the LOW expense in 1h, the MEDIUM one (rejected) in 5h
    assert fig.time_to_decision == analytics.Spread(3, 1 * H, 5 * H)
    assert fig.decision_time_by_type["expense_approval"] == analytics.Spread(2, 3 * H, 5 * H)
    assert fig.decision_time_by_type["infrastructure_change"] == analytics.Spread(1, 0.5 * H, 0.5 * H)
    assert fig.decision_time_by_risk["LOW"] == analytics.Spread(2, 0.75 * H, 1 * H)
    assert fig.decision_time_by_risk["MEDIUM"] == analytics.Spread(1, 5 * H, 5 * H)
    # the manager stage waited 1h, 2h, 3h and 1h; the director stage 3h (from the manager's approval at 2h)
    assert fig.stage_wait["manager"] == analytics.Spread(4, 1.5 * H, 3 * H)
    assert fig.stage_wait["director"] == analytics.Spread(1, 3 * H, 3 * H)
    assert fig.slowest_stage == ("director", 3 * H)
    assert fig.waiting_now == {"director": 1} and fig.busiest_stage == ("director", 1)
    assert (fig.overdue_now, fig.closed_late, fig.breaches_by_type) == (1, 0, {"expense_approval": 1})
    loads = {w.username: (w.decisions, w.waiting) for w in fig.workload}
    assert loads == {"sarah.manager": (3, 0), "mike.director": (1, 1), "tom.manager": (1, 0),
                     "ian.itadmin": (1, 0), "lisa.executive": (0, 1), "dana.director": (0, 1)}
    assert sum(counts["LOW"] for _, counts in fig.risk_by_week) == 3
    assert sum(sum(counts.values()) for _, counts in fig.risk_by_week) == 5
    assert fig.risk_by_week[-1][0].weekday() == 0 and len(fig.risk_by_week) >= 5  # Mondays over 30 days
    assert sum(fig.decisions_by_day) == 6 and len(fig.decisions_by_day) == 30
    data = fig.to_json()
    assert data["bottleneck"] == {"slowest_stage": {"role": "director", "median_seconds": 3 * H},
                                  "most_waiting": {"role": "director", "waiting": 1}}
    assert data["sla"]["breaches"] == 1 and data["decisions"]["total"] == 6


def test_a_manager_sees_figures_over_the_requests_a_manager_may_see_only(known):
    service, t0 = known
    fig = analytics.figures(service, "sarah.manager", now=t0 + timedelta(hours=6))
    assert not fig.sees_everything and fig.filed == 4  # not the infrastructure change (IT Admin only)
    assert fig.decisions == {"approve": 3, "reject": 1, "request_changes": 1}
    assert "infrastructure_change" not in fig.decision_time_by_type and "it_admin" not in fig.stage_wait
    assert "ian.itadmin" not in {w.username for w in fig.workload}
    employee = analytics.figures(service, "sam.security", now=t0 + timedelta(hours=6))
    assert employee.filed == 0 and employee.decided == 0 and employee.workload == []


def test_the_period_counts_only_what_happened_in_it(known):
    service, t0 = known
    fig = analytics.figures(service, "lisa.executive", "2h", now=t0 + timedelta(hours=6))
    assert fig.filed == 0 and fig.decisions == {"reject": 1}  # only the director's rejection at 5h
    assert fig.time_to_decision == analytics.Spread(1, 5 * H, 5 * H)
    assert set(fig.stage_wait) == {"director"}
    assert fig.overdue_now == 1  # what is overdue now counts whenever it was filed
    assert {w.username: w.decisions for w in fig.workload}.get("sarah.manager", 0) == 0


@pytest.mark.parametrize("text", ["soon", "30", "0d", "-3d", "99999w", "3d soon"])
def test_a_period_that_is_no_duration_is_refused_naming_it(text):
    with pytest.raises(ValidationFailed, match="--since"):
        analytics.parse_period(text)


def test_periods_read_as_the_filter_languages_durations():
    assert analytics.parse_period(None) == timedelta(days=30)
    assert analytics.parse_period("2w") == timedelta(days=14)
    assert analytics.parse_period("1d12h") == timedelta(hours=36)


def test_a_parallel_stage_counts_for_every_role_it_awaits(service, tmp_path):
    """{ all = [manager, director, it_admin] }: the chain column names its first role only, yet
    the IT Admin sees the request in the figures, it waits for him in the workload, and "waiting
    now" counts it for each role still missing (the inbox's `parallel` visibility)."""
    from hitl_tui.core.policy_store import compose_text

    from .test_quorum import ADMIN, POLICY, write_policy

    text, source = compose_text(write_policy(tmp_path, POLICY))
    service.set_user_admin(ADMIN, True)
    service.apply_policy(text, source=source, actor=ADMIN)
    wid = service.create_workflow_request("vendor_payment", "Pay ACME", "", "john.doe", {"amount": "60000"})
    service.decide(wid, "sam.security", "approve")  # CRITICAL: security, then the `all` stage
    service.decide(wid, "mike.director", "approve")  # one of its three roles filled
    seen = analytics.figures(service, "ian.itadmin")
    assert seen.filed == 1 and seen.decided == 2
    assert {w.username: w.waiting for w in seen.workload}["ian.itadmin"] == 1
    assert seen.waiting_now == {"manager": 1, "it_admin": 1}
    everyone = analytics.figures(service, "lisa.executive")  # sees everything: the same counts
    assert everyone.waiting_now == {"manager": 1, "it_admin": 1}
    assert {w.username: w.waiting for w in everyone.workload}["ian.itadmin"] == 1
