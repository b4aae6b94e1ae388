"""The assistants in team mode: `hitl-tui ask` on a person's own account, through the service,
sees what that person may see and nothing else (the offline assistant: no model is configured)."""

from __future__ import annotations

import json

from tests.remote.conftest import Team


def _file(team: Team, key: str, title: str, amount: int) -> str:
    out = team[key].ok("request", "create", "--type", "expense_approval", "--title", title, "-f", f"amount={amount}",
                       "-f", "category=travel", "--json").stdout
    return json.loads(out)["id"]


def test_an_assistant_answers_through_the_service_as_the_account_that_asks(team: Team, service):
    alice, bob = team["alice"], team["bob"]
    wid = _file(team, "alice", "Train to the Lyon office", 180)
    status = bob.ok("ask", "Check the status of workflow", wid)
    assert f"{wid}: title “Train to the Lyon office”" in status.stdout and "awaiting approval" in status.stdout
    assert f"· looked up {wid}" in status.stderr

    pending = bob.ok("ask", "show me my pending approvals").stdout
    assert wid in pending and "Train to the Lyon office" in pending

    # alice is a manager too, but her own request never waits for her, and bob's queue is his
    theirs = alice.ok("ask", f"Show me pending approvals for {bob.name}").stdout
    assert "I could not do that: You can see only your own pending approvals" in theirs and wid not in theirs
    mine = alice.ok("ask", "show me my pending approvals").stdout
    assert wid not in mine


def test_an_assistant_cannot_be_told_to_act_as_someone_else(team: Team, service):
    alice, bob = team["alice"], team["bob"]
    wid = _file(team, "bob", "Hotel for the audit week", 420)
    # HITL_USER and a forged login name change nothing: the kernel says who asks
    run = alice.ok("ask", f"Show me pending approvals for {bob.name}", env={"HITL_USER": bob.name, "USER": bob.name,
                                                                            "LOGNAME": bob.name})
    assert "You can see only your own pending approvals" in run.stdout and wid not in run.stdout
    stranger = team["stranger"]
    assert stranger.refused("ask", "show me my pending approvals") == (
        f"hitl-tui: No user named '{stranger.name}' in the user directory; an administrator adds people with "
        f"`hitl-tui users add`.")
