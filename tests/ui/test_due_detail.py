"""The desk's detail says when a request is due and what happens then (issue 14, "Time"), and
the filter field takes due:overdue; at 80x24 and at a large size."""

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
        assert re.search(r"Due overdue by [0-3]s \(was due ", shown), shown
        assert "reminded" in shown  # "...; then its approvers are reminded (HIGH: PT1S)", wrapped at 80 columns
    assert svc.get_workflow(late).due_at is not None
