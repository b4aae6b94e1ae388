"""The desk says when a request is due: a Due column in the inbox (only under a policy that gives
due dates) and the detail's line saying what happens then (issue 14, "Time"); at 80x24 and at a
large size."""

from __future__ import annotations

import re
import time

import pytest

from tests.cli.test_due_cli import policy_with

from .conftest import screen_text, settle

DUE = '\n[types.expense_approval.due]\nHIGH = "PT1S"\nMEDIUM = "P2D"\n'


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_the_detail_says_due_or_overdue_and_the_rule(desk, size):
    svc = desk.service()
    svc.set_user_admin("eve.exec", True)
    svc.apply_policy(policy_with(DUE, '"remind"'), source="test", actor="eve.exec")
    late = svc.create_workflow_request("expense_approval", "Executive travel", "", "alice",
                                       {"amount": 15000, "category": "travel"})
    time.sleep(1.1)
    app = desk.app("bob.manager")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        shown = screen_text(app)
        assert re.search(r"Overdue by [0-3]s \(was due ", shown), shown
        assert "reminded" in shown
        table = app.screen.inbox.table  # the inbox's Due column, "late 1s"
        cells = [str(c) for c in table.get_row(late)]
        assert "Due" in [str(c.label) for c in table.columns.values()]
        assert any(re.fullmatch(r"late [0-3]s", c) for c in cells), cells  # "...; then its approvers are reminded (HIGH: PT1S)", wrapped at 80 columns
    assert svc.get_workflow(late).due_at is not None


def test_the_accessible_desk_says_when_it_is_due(tmp_path):
    from tests.ui.test_accessible import World, out

    world = World(tmp_path)
    svc = world.service()
    try:
        svc.set_user_admin("alice", True)
        svc.apply_policy(policy_with(DUE, '{ HIGH = "remind", MEDIUM = "expire" }'), source="test", actor="alice")
        svc.create_workflow_request("expense_approval", "Team offsite", "", "alice", {"amount": 3000, "category": "meals"})
    finally:
        svc.close(checkpoint=False)
    text = out(world.run("show 1\n"))
    assert re.search(r"^Due in 1d \(\S+ \S+ UTC\); then it expires undecided \(MEDIUM: P2D\)\.$", text, re.M), text
