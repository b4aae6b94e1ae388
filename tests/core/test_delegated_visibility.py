"""A delegate may open what their running delegation lets them decide (issue 14): sam.security,
away, hands his decisions to sarah.manager; the Security stage of an infrastructure change now
waits in her Awaiting me, and opening it (the detail, `request show`, the agents) is not refused.
What the delegation does not cover stays out of her sight, and so does everything once it ends.
Her "delegated to you" email is sent, not dropped as "may no longer see". One rule:
rbac.may_view. A real encrypted database with the seed's cast."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from hitl_tui.core import assignment, delegation
from hitl_tui.core import notifications as nt
from hitl_tui.core.errors import PermissionDenied
from hitl_tui.core.models import InboxView
from hitl_tui.core.store import notify as notify_sql

SAM, SARAH = "sam.security", "sarah.manager"
UNTIL = (date.today() + timedelta(days=10)).isoformat()


def _infra(service, impact: str = "medium") -> str:
    """An infrastructure change; MEDIUM: IT Admin, then Security (nothing a manager decides)."""
    return service.create_workflow_request("infrastructure_change", "Rotate the VPN keys", "Yearly rotation",
                                           "john.doe", {"impact": impact, "system": "vpn",
                                                        "rollback_plan": "keep the old keys for a day"})


@pytest.fixture
def at_security(service):
    wid = _infra(service)
    service.decide(wid, "ian.itadmin", "approve")
    assert service.get_workflow(wid).current_role.value == "security"
    return wid


def test_a_delegate_opens_what_the_delegation_lets_them_decide(service, at_security):
    with pytest.raises(PermissionDenied, match="outside what a Manager may see"):
        service.get_workflow_for(SARAH, at_security)  # in her own right: no stage of hers
    delegation.grant(service, SAM, SARAH, UNTIL, "conference", actor=SAM)
    assert at_security in [r.id for r in service.list_requests(SARAH, InboxView.AWAITING_ME)]
    assert service.get_workflow_for(SARAH, at_security).id == at_security
    assert [e.action for e in service.get_audit_trail_for(SARAH, at_security)][:2] == ["created", "approved"]


def test_what_it_does_not_cover_stays_hidden(service, at_security):
    early = _infra(service)  # still at its IT Admin stage: sam could not decide it now, nor can she
    delegation.grant(service, SAM, SARAH, UNTIL, "conference", types=["expense_approval"], actor=SAM)
    for wid in (at_security, early):  # an expense-only delegation does not reach an infrastructure change
        with pytest.raises(PermissionDenied, match="outside what a Manager may see"):
            service.get_workflow_for(SARAH, wid)


def test_once_it_ends_the_request_is_out_of_sight_again(service, at_security):
    delegation.grant(service, SAM, SARAH, UNTIL, "conference", actor=SAM)
    service.get_workflow_for(SARAH, at_security)
    delegation.end(service, SAM, "back early", actor=SAM)
    with pytest.raises(PermissionDenied, match="outside what a Manager may see"):
        service.get_workflow_for(SARAH, at_security)


def test_the_delegated_to_you_email_is_sent_to_the_delegate(service):
    nt.set_prefs(service, SARAH, actor=SARAH)
    delegation.grant(service, SAM, SARAH, UNTIL, "conference", actor=SAM)
    wid = _infra(service)
    service.decide(wid, "ian.itadmin", "approve")  # the Security stage opens: sam's, so sarah's for now
    rows = [r for r in service._read(notify_sql.due, "9999", 100) if r.workflow_id == wid and r.recipient == SARAH]
    assert [r.event for r in rows] == [nt.DELEGATED]
    notice, why = nt.notice_for(service, rows[0])
    assert notice is not None, why
    assert notice.title == "Rotate the VPN keys"


def test_a_change_to_it_reaches_the_delegates_desk(service, at_security):
    """The desk's live updates (core/news.py in embedded mode, the service's "changed" notes in
    team mode) name the request to the delegate, as to anyone who may open it."""
    from hitl_tui.remote.methods import change_notes

    delegation.grant(service, SAM, SARAH, UNTIL, "conference", actor=SAM)
    after = service.audit_size()
    assignment.reassign(service, at_security, SAM, "he set the keys up", actor="mike.director")  # an entry on it
    assert service.changes_since(SARAH, after).touched == (at_security,)
    assert change_notes(service, [at_security], {SARAH})[SARAH]["workflow_ids"] == [at_security]
