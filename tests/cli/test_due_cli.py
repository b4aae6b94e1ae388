"""Due dates where an operator meets them: a policy with [types.NAME.due] and on_overdue applied
with the installed console script, `request show` saying when a request is due and what happens
then, the filter and the sort, a bad rule refused in one line, and an overdue request that
expires by its rule on the next command, in a subprocess each."""

from __future__ import annotations

import re
import time

from .conftest import Cli, file_request, set_my_role

DUE = '\n[types.expense_approval.due]\nHIGH = "PT2S"\nMEDIUM = "P3D"\n'


def policy_with(due: str, on_overdue: str) -> str:
    """The whole built-in policy (a file's type table replaces the type), with these due rules."""
    from hitl_tui.core.policy_store import compose_text

    text, _ = compose_text()
    head = '[types.expense_approval]\nname = "Expense approval"'
    return text.replace(head, f"{head}\non_overdue = {on_overdue}") + due


def _apply(cli: Cli, text: str) -> None:
    path = cli.root / "due.toml"
    path.write_text(text)
    cli.ok("policy", "apply", str(path))


def test_request_show_says_when_it_is_due_and_an_overdue_one_expires_by_its_rule(ready):
    _apply(ready, policy_with(DUE, '{ HIGH = "expire", MEDIUM = "remind" }'))
    set_my_role(ready, "compliance")  # oversight: sees every request
    high = file_request(ready, data={"amount": 15000, "category": "travel"})
    medium = file_request(ready, data={"amount": 5000, "category": "travel"})
    shown = ready.ok("request", "show", high).stdout
    assert re.search(r"  Due:        due in [0-2]s \(", shown), shown
    assert "then it expires undecided (HIGH: PT2S)" in shown
    assert "due in 2d (" in ready.ok("request", "show", medium).stdout  # 3 days less a moment
    listed = ready.json("request", "list", "--view", "visible", "--sort", "due", "--json")
    assert [r["id"] for r in listed][:2] == [high, medium]
    time.sleep(2.1)
    assert [r["id"] for r in ready.json("request", "list", "--view", "visible", "--search", "due:overdue",
                                         "--json")] == []  # the listing swept it: it expired
    after = ready.ok("request", "show", high).stdout
    assert "Status:     expired" in after and "Due:" not in after
    with ready.service() as s:
        entry = s.get_audit_trail(high)[-1]
    assert (entry.action, entry.actor, entry.details["rule"]) == (
        "expired", "system", "expense_approval HIGH: due PT2S, then expire")
    assert ready.ok("verify-audit").exit_code == 0


def test_a_bad_due_rule_is_refused_in_one_line_and_nothing_changes(ready):
    path = ready.root / "bad.toml"
    path.write_text(policy_with('\n[types.expense_approval.due]\nHIGH = "P1M"\n', '"remind"'))
    ready.refused("policy", "apply", str(path), match="not a positive ISO 8601 duration in days")
    path.write_text(policy_with(DUE, '"approve"'))
    ready.refused("policy", "apply", str(path), match="nothing is ever approved for being late")
    ready.refused("request", "list", "--search", "due:soon", match="due takes overdue")
