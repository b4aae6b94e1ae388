"""Due dates from the policy (issue 14, "Time"): per type and risk level as ISO 8601 durations,
in business time under a [calendar]; the clock pauses while the requester has the request; an
overdue request whose rule says expire is closed undecided by the engine (never approved), with
the rule in the trail; the tables replay from the trail. Real encrypted databases, no mocks."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from hitl_tui.core.due import Calendar, parse_calendar, parse_span
from hitl_tui.core.errors import InvalidTransition, PolicyError
from hitl_tui.core.models import InboxView, WorkflowStatus
from hitl_tui.core.policy_store import compose_text

from .conftest import raw_connection

ADMIN = "carol.compliance"


def with_due(service, due: str, on_overdue: str = "\"remind\"", calendar: str = "") -> None:
    """The built-in policy, with the expense type's due times and rule, applied as an administrator."""
    text, source = compose_text()
    extra = f"\n{calendar}\n[types.expense_approval.due]\n{due}\n"
    text = text.replace('[types.expense_approval]\nname = "Expense approval"',
                        f'[types.expense_approval]\nname = "Expense approval"\non_overdue = {on_overdue}')
    service.set_user_admin(ADMIN, True)
    service.apply_policy(text + extra, source=source, actor=ADMIN)


def expense(service, amount=15000, who="john.doe"):
    return service.create_workflow_request("expense_approval", "Executive travel", "", who,
                                           {"amount": amount, "category": "travel"})


def test_a_request_is_due_by_its_types_rule_for_its_risk_and_the_trail_says_so(service):
    with_due(service, 'HIGH = "PT2H"\nCRITICAL = "PT30M"')
    before = datetime.now(timezone.utc)
    wid = expense(service)  # 15,000: HIGH
    low = expense(service, 50)
    req = service.get_workflow(wid)
    assert req.due_at is not None and 7190 <= (req.due_at - before).total_seconds() <= 7210
    assert service.get_workflow(low).due_at is None  # LOW has no due time in this policy
    created = service.get_audit_trail(wid)[0]
    assert created.details["due_at"] == req.due_at.isoformat(timespec="microseconds") and created.sig is not None
    assert "due_at" not in service.get_audit_trail(low)[0].details
    from hitl_tui.core.due import due_line

    assert due_line(req, service.policy, before).startswith("due in 2h (")
    assert due_line(req, service.policy, before).endswith("then its approvers are reminded (HIGH: PT2H)")
    assert service.verify_audit().ok


def test_the_clock_pauses_while_the_requester_has_it_and_resumes_with_what_was_left(service):
    with_due(service, 'HIGH = "PT1H"')
    wid = expense(service)
    due = service.get_workflow(wid).due_at
    service.request_changes(wid, "sarah.manager", "attach the hotel quote")
    paused = service.get_workflow(wid)
    assert paused.due_at is None and 3590 <= paused.due_left <= 3600
    assert service.get_audit_trail(wid)[-1].details["due_left"] == paused.due_left
    from hitl_tui.core.due import due_line

    assert due_line(paused, service.policy, datetime.now(timezone.utc)).startswith(
        "due clock paused while the requester has it (59m left")
    time.sleep(0.3)
    service.resubmit(wid, "john.doe", data={"amount": 15000, "category": "travel"}, comments="quote attached")
    resumed = service.get_workflow(wid)
    assert resumed.due_left is None and resumed.due_at > due  # the time with the requester did not count
    assert abs((resumed.due_at - datetime.now(timezone.utc)).total_seconds() - paused.due_left) < 5
    assert service.verify_audit().ok


def test_overdue_with_expire_closes_it_undecided_with_the_rule_and_it_leaves_every_inbox(service):
    with_due(service, 'HIGH = "PT1S"', on_overdue='{ HIGH = "expire" }')
    wid = expense(service)
    keep = expense(service, 5000)  # MEDIUM: no due time
    time.sleep(1.1)
    assert service.approvals.sweep() == [wid]
    req = service.get_workflow(wid)
    assert req.status is WorkflowStatus.EXPIRED and req.approvals == []
    entry = service.get_audit_trail(wid)[-1]
    assert (entry.action, entry.actor) == ("expired", "system")
    assert entry.details["rule"] == "expense_approval HIGH: due PT1S, then expire"
    with pytest.raises(InvalidTransition):
        service.decide(wid, "sarah.manager", "approve")  # fail closed: late is never approved
    assert [r.id for r in service.list_requests("sarah.manager", InboxView.AWAITING_ME)] == [keep]
    assert service.approvals.sweep() == [] and service.verify_audit().ok


def test_remind_leaves_an_overdue_request_where_it_is_and_then_takes_no_write_lock(service, db_path, db_key):
    with_due(service, 'HIGH = "PT1S"')
    wid = expense(service)
    time.sleep(1.1)
    assert service.approvals.sweep() == [wid]  # its approvers are told, once (the reminder test below)
    req = service.get_workflow(wid)
    assert req.status is WorkflowStatus.AWAITING_APPROVAL and req.reminded == "overdue"
    from hitl_tui.core.due import due_line

    assert due_line(req, service.policy, datetime.now(timezone.utc)).startswith("overdue by 0s (was due ")
    blocker = raw_connection(db_path, db_key)
    blocker.execute("BEGIN IMMEDIATE")  # another process writing: the sweep must not need the lock
    try:
        assert service.approvals.sweep() == []
    finally:
        blocker.rollback()
        blocker.close()


def test_an_edited_due_date_is_caught_by_the_replay(service, db_path, db_key):
    with_due(service, 'HIGH = "P2D"')
    wid = expense(service)
    conn = raw_connection(db_path, db_key)
    conn.execute("UPDATE requests SET due_at = '2999-01-01T00:00:00.000000+00:00' WHERE id = ?", (wid,))
    conn.close()
    assert f"{wid} due date is" in (service.verify_audit().tables_problem or "")


@pytest.mark.parametrize("due, on_overdue, words", [
    ('HIGH = "P1M"', '"remind"', "not a positive ISO 8601 duration in days"),
    ('HIGH = "soon"', '"remind"', "not a positive ISO 8601 duration"),
    ('URGENT = "P1D"', '"remind"', "'URGENT', which is not a risk level"),
    ('HIGH = "P1D"', '"approve"', "nothing is ever approved for being late"),
])
def test_a_bad_due_rule_is_refused_in_one_line_and_the_policy_in_force_stays(service, due, on_overdue, words):
    before = service.policy_in_force().version
    with pytest.raises(PolicyError, match=words):
        with_due(service, due, on_overdue=on_overdue)
    assert service.policy_in_force().version == before


def test_business_time_skips_nights_weekends_and_holidays():
    cal = parse_calendar({"days": ["mon", "tue", "wed", "thu", "fri"], "hours": "09:00-17:00",
                          "holidays": ["2026-12-25"], "time_zone": "Europe/Berlin"})
    assert isinstance(cal, Calendar)
    thursday_4pm = datetime(2026, 12, 24, 15, 0, tzinfo=timezone.utc)  # 16:00 in Berlin, the day before Christmas
    # two business hours: one on Thursday, then Friday is a holiday and the weekend is not business time
    assert cal.add(thursday_4pm, parse_span("PT2H", "t")) == datetime(2026, 12, 28, 9, 0, tzinfo=timezone.utc)
    # two business days, at the same time of day: Monday then Tuesday
    assert cal.add(thursday_4pm, parse_span("P2D", "t")) == datetime(2026, 12, 29, 15, 0, tzinfo=timezone.utc)
    assert cal.seconds_between(thursday_4pm, datetime(2026, 12, 28, 9, 0, tzinfo=timezone.utc)) == 7200
    with pytest.raises(PolicyError, match="hours must be"):
        parse_calendar({"hours": "17:00-09:00"})
    with pytest.raises(PolicyError, match="is not a time zone"):
        parse_calendar({"time_zone": "Mars/Olympus"})


def test_a_calendar_in_the_policy_makes_due_dates_business_time(service):
    with_due(service, 'HIGH = "P1D"', calendar='[calendar]\ndays = ["mon", "tue", "wed", "thu", "fri"]\n'
                                                'hours = "00:00-23:59"\nholidays = []\n')
    wid = expense(service)
    req = service.get_workflow(wid)
    assert req.due_at is not None and req.due_at.weekday() < 5  # never due on a weekend
    assert service.policy.calendar is not None


def test_the_inbox_filters_and_sorts_by_due_date(service):
    from hitl_tui.core.filter_query import filter_text, parse_filter, parse_sort

    with_due(service, 'HIGH = "PT1S"\nMEDIUM = "PT10H"')
    late = expense(service)  # HIGH: due in a second
    later = expense(service, 5000)  # MEDIUM: due in ten hours
    never = expense(service, 50)  # LOW: no due date
    time.sleep(1.1)

    def ids(text: str, sort: str = "oldest") -> list[str]:
        found = service.list_requests("sarah.manager", InboxView.AWAITING_ME, search=parse_filter(text),
                                      sort=parse_sort(sort))
        return [r.id for r in found]

    assert ids("due:overdue") == [late]
    assert ids("due:<1d") == [late, later] and ids("due:>1h") == [later]
    assert ids("", "due") == [late, later, never] and ids("", "-due") == [later, late, never]
    assert filter_text(parse_filter("due:overdue due:<4h")) == "due:overdue due:<14400s"
    with pytest.raises(Exception, match="due takes overdue"):
        parse_filter("due:soon")


def test_escalate_gives_an_overdue_stage_outside_the_line_to_its_top_role_until_it_is_decided(service):
    """An access request's Security stage, overdue: the executive (the management line's top, an
    oversight role) may now decide it and finds it in Awaiting me; once decided the escalation ends."""
    text, source = compose_text()
    head = '[types.access_request]\nname = "Access request"'
    assert head in text, "the built-in access type"
    service.set_user_admin(ADMIN, True)
    service.apply_policy(text.replace(head, f'{head}\non_overdue = "escalate"') +
                         '\n[types.access_request.due]\nLOW = "PT1S"\nMEDIUM = "PT1S"\nHIGH = "PT1S"\n'
                         'CRITICAL = "PT1S"\n', source=source, actor=ADMIN)
    wid = service.create_workflow_request("access_request", "Root on the build farm", "", "john.doe",
                                          {"system": "build-farm", "access_level": "write"})
    req = service.get_workflow(wid)
    security = [i for i, r in enumerate(req.required_approvers) if r.value == "security"]
    assert security, req.required_approvers
    for stage_role in req.required_approvers[:security[0]]:  # the stages before Security, by their roles
        who = {"manager": "sarah.manager", "director": "mike.director", "it_admin": "ian.itadmin"}[stage_role.value]
        service.decide(wid, who, "approve")
    assert wid not in [r.id for r in service.list_requests("lisa.executive", InboxView.AWAITING_ME)]
    time.sleep(1.1)
    assert service.approvals.sweep() == [wid]
    req = service.get_workflow(wid)
    assert req.escalated_to is not None and req.escalated_to.value == "executive"
    entry = service.get_audit_trail(wid)[-1]
    assert (entry.action, entry.actor, entry.details["stage_role"]) == ("escalated", "system", "security")
    assert entry.details["rule"].startswith("access_request ") and entry.details["rule"].endswith("then escalate")
    assert service.approvals.sweep() == []  # once is enough
    assert wid in [r.id for r in service.list_requests("lisa.executive", InboxView.AWAITING_ME)]
    assert service.count_requests("lisa.executive", InboxView.AWAITING_ME) >= 1
    assert wid in [r.id for r in service.get_pending_approvals("lisa.executive")]
    from hitl_tui.core.due import due_line

    assert "; escalated to Executive" in due_line(req, service.policy, datetime.now(timezone.utc))
    service.decide(wid, "lisa.executive", "approve", "covering for security")
    after = service.get_workflow(wid)
    assert after.escalated_to is None and after.approvals[-1].role.value == "security"
    assert service.verify_audit().ok


def test_remind_tells_the_stage_due_soon_then_overdue_once_each_and_the_outbox_has_their_messages(service):
    """remind_before: "due soon" that long ahead; past the due date under "remind": "overdue";
    each once a stage, an engine entry each, and the stage's approvers' messages in the outbox."""
    from hitl_tui.core import notifications
    from hitl_tui.core.store import notify as notify_sql

    text, source = compose_text()
    head = '[types.expense_approval]\nname = "Expense approval"'
    service.set_user_admin(ADMIN, True)
    service.apply_policy(text.replace(head, f'{head}\non_overdue = "remind"\nremind_before = "PT1H"') +
                         '\n[types.expense_approval.due]\nHIGH = "PT2S"\n', source=source, actor=ADMIN)
    notifications.set_prefs(service, "sarah.manager", email="sarah@example.com", actor="sarah.manager")
    wid = expense(service)  # due in 2 s: already within the hour of remind_before
    assert service.approvals.sweep() == [wid]
    assert service.get_workflow(wid).reminded == "due_soon"
    assert service.approvals.sweep() == []  # once
    time.sleep(2.1)
    assert service.approvals.sweep() == [wid]
    assert service.get_workflow(wid).reminded == "overdue"
    assert service.approvals.sweep() == []
    told = [e for e in service.get_audit_trail(wid) if e.action == "reminded"]
    assert [(e.actor, e.details["kind"]) for e in told] == [("system", "due_soon"), ("system", "overdue")]
    events = service._read(lambda conn: [(r.event, r.recipient) for r in notify_sql.listing(conn, ("pending",), 100)])
    assert ("due_soon", "sarah.manager") in events and ("overdue", "sarah.manager") in events, events
    service.decide(wid, "sarah.manager", "approve")  # the next stage starts afresh: its approvers are told too
    assert service.get_workflow(wid).reminded is None
    assert service.approvals.sweep() == [wid] and service.get_workflow(wid).reminded == "overdue"
    assert service.verify_audit().ok
