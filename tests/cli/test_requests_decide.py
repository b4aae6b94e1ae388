"""request create|list|show|resubmit|types, approve, reject, request-changes, withdraw."""

from __future__ import annotations

import pytest

from .conftest import ME, file_request, set_my_role


def test_types_lists_every_workflow_type(ready):
    types = ready.json("request", "types", "--json")
    assert {"expense_approval", "infrastructure_change", "contract_approval", "customer_escalation"} <= set(types)
    assert types["expense_approval"]["chains"]["HIGH"] == ["manager", "director", "executive"]
    assert "--field amount=" in ready.ok("request", "types").stdout


def test_create_shows_risk_and_chain(ready):
    out = ready.ok("request", "create", "--type", "expense_approval", "--title", "Executive travel to Singapore",
                   "--description", "Strategic planning week with the APAC leadership team",
                   "--field", "amount=15000", "--field", "category=travel").stdout
    assert "Risk:  HIGH (amount 15,000.00 >= 10,000, < 50,000)" in out
    assert "Chain: Manager -> Director -> Executive (now awaiting Manager)" in out
    data = ready.json("request", "create", "--type", "infrastructure_change", "--title", "Database migration",
                      "-d", "Orders DB major upgrade", "-f", "impact=high", "--json")
    assert data["risk_level"] == "HIGH" and data["chain"] == ["it_admin", "security", "director"]
    assert data["id"].startswith("WF-") and data["status"] == "awaiting_approval"


@pytest.mark.parametrize("args, match", [
    (["-f", "amount=fifteen"], "amount must be a number"),
    (["-f", "amount=-5"], "cannot be negative"),
    (["-f", "amount"], "--field expects NAME=VALUE"),
    (["-f", "amount=5", "-f", "amount=6"], "given twice"),
    (["-f", "amount=5", "-f", "colour=red"], "Unknown field 'colour'"),
    ([], "amount is required"),
])
def test_create_refusals_write_nothing(ready, args, match):
    size = ready.audit_size()
    ready.refused("request", "create", "--type", "expense_approval", "--title", "T", *args, match=match)
    ready.refused("request", "create", "--type", "yacht_purchase", "--title", "T", "-f", "amount=5",
                  match="Unknown workflow type")
    assert ready.audit_size() == size
    assert ready.json("request", "list", "--view", "mine", "--json") == []


def test_list_views_search_and_json(ready):
    set_my_role(ready, "manager")
    travel = file_request(ready, title="Conference travel Berlin")
    file_request(ready, title="Team offsite", data={"amount": "3000", "category": "other"},
                 description="A day in the hills")  # search reads descriptions too: no Berlin here
    awaiting = ready.json("request", "list", "--json")
    assert {r["title"] for r in awaiting} == {"Conference travel Berlin", "Team offsite"}
    found = ready.json("request", "list", "--search", "berlin", "--json")
    assert [r["id"] for r in found] == [travel]
    assert ready.json("request", "list", "--view", "mine", "--json") == []
    table = ready.ok("request", "list").stdout
    assert travel in table and "1/2 Manager" in table
    assert "No requests in decided" in ready.ok("request", "list", "--view", "decided").stdout


def test_show_has_chain_decisions_risk_and_trail(ready):
    set_my_role(ready, "director")
    wid = file_request(ready, data={"amount": "15000", "category": "travel"})
    with ready.service() as s:
        s.approve_workflow(wid, "sarah.manager", "Business justification confirmed")
    out = ready.ok("request", "show", wid).stdout
    assert "Risk:       HIGH: amount 15,000.00" in out
    assert "1. Manager    approved by sarah.manager" in out and "Business justification confirmed" in out
    assert "2. Director   awaiting decision" in out and "3. Executive  -" in out
    assert "Audit trail:" in out and "john.doe: created expense_approval" in out
    data = ready.json("request", "show", wid, "--json")
    assert data["request"]["required_approvers"] == ["manager", "director", "executive"]
    assert [e["action"] for e in data["audit_trail"]] == ["created", "approved"]
    assert isinstance(data["compliance_flags"], list)


def test_show_refusals(ready):
    ready.refused("request", "show", "WF-0-0000", match="No workflow request")
    set_my_role(ready, "employee")
    wid = file_request(ready)  # john's request: an employee may not see it
    ready.refused("request", "show", wid, match="outside what")


def test_approve_moves_to_next_stage_and_sod_refuses_a_second_decision(ready):
    set_my_role(ready, "manager")
    wid = file_request(ready, data={"amount": "15000", "category": "travel"})
    out = ready.ok("approve", wid, "-m", "Within budget").stdout
    assert f"Approved {wid}" in out and "now awaiting stage 2 of 3 (Director)" in out
    set_my_role(ready, "director")
    size = ready.audit_size()
    ready.refused("approve", wid, match="already decided stage 1")
    assert ready.audit_size() == size


def test_self_approval_is_refused(ready):
    set_my_role(ready, "manager")
    wid = ready.json("request", "create", "--type", "expense_approval", "--title", "My own laptop",
                     "-f", "amount=900", "--json")["id"]
    size = ready.audit_size()
    ready.refused("approve", wid, match="segregation of duties")
    assert ready.audit_size() == size


def test_wrong_role_and_final_status_are_refused(ready):
    wid = file_request(ready)  # you are IT Admin: not in the expense chain
    ready.refused("approve", wid, match="waiting for a Manager")
    set_my_role(ready, "manager")
    ready.ok("reject", wid, "-m", "Not this quarter")
    ready.refused("approve", wid, match="no longer awaiting approval")


def test_reject_needs_a_reason(ready):
    set_my_role(ready, "manager")
    wid = file_request(ready)
    size = ready.audit_size()
    ready.refused("reject", wid, match="reason is required")
    ready.refused("reject", wid, "-m", "   ", match="reason is required")
    ready.refused("request-changes", wid, match="comments is required")
    assert ready.audit_size() == size
    data = ready.json("reject", wid, "-m", "Use the cheaper fare", "--json")
    assert data["status"] == "rejected"


def test_request_changes_and_resubmit(ready):
    set_my_role(ready, "manager")
    wid = file_request(ready, data={"amount": "4200", "category": "travel"})
    assert "now changes requested" in ready.ok("request-changes", wid, "-m", "Book economy").stdout
    with ready.service() as s:  # john resubmits through the engine (the CLI acts as you)
        s.resubmit(wid, "john.doe", data={"amount": "3100", "category": "travel"}, comments="Economy now")
    assert ready.json("request", "show", wid, "--json")["request"]["revision"] == 2
    ready.ok("approve", wid)


def test_resubmit_and_withdraw_own_request(ready):
    mine = ready.json("request", "create", "--type", "expense_approval", "--title", "Team offsite",
                      "-d", "Planning day for the platform team", "-f", "amount=3000", "--json")["id"]
    with ready.service() as s:
        s.request_changes(mine, "sarah.manager", "Add the venue quote")
    out = ready.ok("request", "resubmit", mine, "-f", "amount=2800", "-m", "Quote attached").stdout
    assert "revision 2" in out and "now awaiting Manager" in out
    assert ready.json("request", "show", mine, "--json")["request"]["data"]["amount"] == "2800.00"
    assert "now withdrawn" in ready.ok("withdraw", mine, "-m", "Cancelled").stdout
    ready.refused("withdraw", mine, match="Cannot withdraw")
    others = file_request(ready)
    ready.refused("withdraw", others, match="Only john.doe")


def test_hostile_text_is_neutralised_on_the_terminal(ready):
    title = "Pay \x1b[2J\x1b]0;pwned\x07 me \u202eRTL"
    wid = ready.json("request", "create", "--type", "expense_approval", "--title", title, "-f", "amount=10",
                     "--json")["id"]
    for args in (("request", "show", wid), ("request", "list", "--view", "mine")):
        out = ready.ok(*args).stdout
        assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
        assert "\\x1b[2J" in out
    assert "\x1b" not in ready.ok("request", "show", wid, "--json").stdout


def test_every_command_has_help_with_examples(ready):
    commands = [["init"], ["users"], ["users", "add"], ["users", "list"], ["users", "set-role"],
                ["users", "deactivate"], ["request"], ["request", "create"], ["request", "list"],
                ["request", "show"], ["request", "resubmit"], ["approve"], ["reject"], ["request-changes"],
                ["withdraw"], ["verify-audit"], ["checkpoint"], ["export-audit"], ["rekey"], ["locate"]]
    for args in commands:
        out = ready.ok(*args, "--help").stdout
        assert "Example" in out, args
    assert ME  # the suite runs as a real OS login
