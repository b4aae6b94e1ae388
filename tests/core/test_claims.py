"""Claims (core/claims.py): advisory "I am looking at this" on a request's stage, shown to the
people who may decide it, expiring, ended by a decision, and never in the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hitl_tui.core import claims
from hitl_tui.core.audit import utc_now
from hitl_tui.core.errors import InvalidTransition, PermissionDenied, SegregationOfDuties
from hitl_tui.core.models import Decision


def _expense(service, amount: str = "500") -> str:
    return service.create_workflow_request("expense_approval", "Team lunch", "", "john.doe",
                                           {"amount": amount, "category": "meals"})


def test_a_claim_is_shown_to_the_others_who_may_decide_it_and_to_its_author(service):
    wid = _expense(service)
    size = service.audit_size()
    made = claims.claim(service, "sarah.manager", wid)
    assert made.username == "sarah.manager" and made.role.value == "manager"
    assert made.expires_at - made.claimed_at == timedelta(minutes=claims.DEFAULT_MINUTES)
    now = made.claimed_at + timedelta(minutes=12)
    assert claims.shown(service, "tom.manager", [wid], now)[wid].words("tom.manager", now) == \
        "claimed by sarah.manager · 12m"
    assert claims.shown(service, "sarah.manager", [wid], now)[wid].words("sarah.manager", now) == "claimed by you · 12m"
    assert claims.shown(service, "mike.director", [wid], now)  # a director may decide a manager stage too
    assert claims.shown(service, "john.doe", [wid], now) == {}  # the requester decides nothing
    assert claims.shown(service, "sam.security", [wid], now) == {}
    assert service.audit_size() == size and service.verify_audit().ok  # advisory: not in the trail


def test_a_second_person_is_told_who_holds_it_and_a_claim_lapses(service):
    wid = _expense(service)
    t0 = utc_now()
    claims.claim(service, "sarah.manager", wid, now=t0)
    with pytest.raises(PermissionDenied, match=r"claimed by sarah\.manager · 5m ago \(for 25m more\)"):
        claims.claim(service, "tom.manager", wid, now=t0 + timedelta(minutes=5))
    claims.claim(service, "sarah.manager", wid, now=t0 + timedelta(minutes=5))  # one's own: renewed
    later = t0 + timedelta(minutes=36)
    assert claims.shown(service, "tom.manager", [wid], later) == {}
    assert claims.claim(service, "tom.manager", wid, now=later).username == "tom.manager"


def test_only_someone_who_may_decide_it_can_claim_it(service):
    wid = _expense(service)
    with pytest.raises(SegregationOfDuties):
        claims.claim(service, "john.doe", wid)  # the engine's own words: the requester
    with pytest.raises(PermissionDenied):
        claims.claim(service, "sam.security", wid)
    service.decide(wid, "sarah.manager", Decision.APPROVE, "fine")  # LOW: one stage, now approved
    with pytest.raises(InvalidTransition, match="only a request awaiting approval can be claimed"):
        claims.claim(service, "tom.manager", wid)


def test_a_decision_ends_the_claim_on_its_stage(service):
    wid = _expense(service, "5000")  # Manager, then Director
    claims.claim(service, "sarah.manager", wid)
    service.decide(wid, "sarah.manager", Decision.APPROVE, "fine")
    assert claims.shown(service, "mike.director", [wid]) == {}
    assert claims.claim(service, "mike.director", wid).role.value == "director"


def test_release_is_for_the_author_only(service):
    wid = _expense(service)
    with pytest.raises(InvalidTransition, match="not claimed by anyone"):
        claims.release(service, "sarah.manager", wid)
    claims.claim(service, "sarah.manager", wid)
    with pytest.raises(PermissionDenied, match="claimed by sarah.manager, not you"):
        claims.release(service, "tom.manager", wid)
    claims.release(service, "sarah.manager", wid)
    assert claims.shown(service, "tom.manager", [wid]) == {}
