"""The outbox is written in the transaction of the change that causes it: a process killed just
before the commit leaves neither the entry nor its event, one killed just after leaves both; a
refused change announces nothing; the events name the entry that caused them."""

from __future__ import annotations

import pytest

from hitl_tui.core import notifications as nt
from tests.cli.conftest import ME, file_request
from tests.notify.conftest import SECRET

CREATE = ("request", "create", "--type", "expense_approval", "--title", "Crash test", "-f", "amount=500", "-f",
          "category=travel")


def _count(cli) -> tuple[int, int]:
    with cli.service() as s:
        return s.audit_size(), s._conn.execute("SELECT count(*) FROM notify_outbox").fetchone()[0]


@pytest.fixture
def hooked(ready):
    with ready.service() as s:
        nt.add_webhook(s, "http://127.0.0.1:9/hook", secret=SECRET, actor=ME)
    return ready


def test_killed_before_the_commit_neither_the_entry_nor_its_event(hooked):
    before = _count(hooked)
    run = hooked(*CREATE, env={"HITL_CRASH_AT": "write.before_commit"})
    assert run.exit_code == -9
    assert _count(hooked) == before


def test_killed_after_the_commit_both_the_entry_and_its_event(hooked):
    size, events = _count(hooked)
    run = hooked(*CREATE, env={"HITL_CRASH_AT": "write.after_commit"})
    assert run.exit_code == -9
    assert _count(hooked) == (size + 1, events + 1)
    with hooked.service() as s:
        seq, event, wid = s._conn.execute("SELECT seq, event, workflow_id FROM notify_outbox").fetchone()
        entry = list(s.iter_audit(start=seq, stop=seq))[0]
    assert (entry.action, entry.workflow_id, event) == ("created", wid, "waiting_for_you")


def test_a_refused_change_announces_nothing(hooked):
    wid = file_request(hooked, data={"amount": "500", "category": "travel"})
    before = _count(hooked)
    with hooked.service() as s:
        with pytest.raises(Exception, match="segregation of duties"):
            s.approve_workflow(wid, "john.doe", "mine")  # a requester never decides their own request
    assert _count(hooked) == before


def test_nobody_listening_writes_no_rows(ready):
    file_request(ready)
    assert _count(ready)[1] == 0


def test_each_stage_moves_the_waiting_event_on(ready):
    for name in ("sarah.manager", "mike.director", "lisa.executive"):
        ready.ok("notify", "prefs", name)
    wid = file_request(ready, data={"amount": "5000", "category": "travel"})  # MEDIUM: manager, then director
    with ready.service() as s:
        s.approve_workflow(wid, "sarah.manager", "ok")
        rows = s._conn.execute("SELECT seq, recipient FROM notify_outbox WHERE event = 'waiting_for_you' "
                               "ORDER BY seq, recipient").fetchall()
    filed, approved = sorted({seq for seq, _ in rows})
    # the manager stage: anyone of a role that may decide it (the policy lets seniors decide it too)
    assert [n for seq, n in rows if seq == filed] == ["lisa.executive", "mike.director", "sarah.manager"]
    # the director stage: sarah decided stage 1 of this revision, so she is never asked for stage 2
    assert [n for seq, n in rows if seq == approved] == ["lisa.executive", "mike.director"]


def test_an_escalation_tells_the_senior_role_it_went_to(ready):
    """on_overdue = "escalate": the executives hear `escalated` when the Security stage of an
    access request is overdue; the security people, already told, are not told again."""
    import time

    from hitl_tui.core.policy_store import compose_text

    for name in ("lisa.executive", "sam.security"):
        ready.ok("notify", "prefs", name)
    with ready.service() as s:
        text, source = compose_text()
        head = '[types.access_request]\nname = "Access request"'
        s.apply_policy(text.replace(head, f'{head}\non_overdue = "escalate"') +
                       '\n[types.access_request.due]\nLOW = "PT1S"\nMEDIUM = "PT1S"\nHIGH = "PT1S"\n'
                       'CRITICAL = "PT1S"\n', source=source, actor=ME)
        wid = s.create_workflow_request("access_request", "Root on the build farm", "", "john.doe",
                                        {"system": "build-farm", "access_level": "write"})
        req = s.get_workflow(wid)
        for stage_role in req.required_approvers:
            if stage_role.value == "security":
                break
            who = {"manager": "sarah.manager", "director": "mike.director", "it_admin": "ian.itadmin"}[stage_role.value]
            s.decide(wid, who, "approve")
        time.sleep(1.1)
        assert s.approvals.sweep() == [wid]
        rows = s._conn.execute("SELECT event, recipient FROM notify_outbox WHERE workflow_id = ? ORDER BY seq",
                               (wid,)).fetchall()
    assert rows[-1] == ("escalated", "lisa.executive")
    assert ("escalated", "sam.security") not in rows
