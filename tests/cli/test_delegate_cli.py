"""`hitl-tui delegate` through the installed console script: you (an executive) delegate your
decisions to mike.director until a day, he decides your stage and `request show` says for whom,
you end it early; an administrator records one for someone else; each refusal is one line."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from tests.verifier.conftest import verify

from .conftest import ME, Cli, file_request, set_my_role

UNTIL = (date.today() + timedelta(days=17)).isoformat()
BIG = {"amount": "500000", "category": "travel"}  # manager, director, executive, compliance


@pytest.fixture
def desk(ready: Cli) -> Cli:
    """You administer the directory as an executive; dana is a second director."""
    set_my_role(ready, "executive")
    with ready.service() as s:
        s.add_user("dana.director", "director", actor=ME)
    return ready


def _entries(cli: Cli, prefix: str) -> list[dict]:
    conn = cli.raw()
    try:
        bodies = [json.loads(bytes(r[0])) for r in conn.execute("SELECT body FROM audit_log ORDER BY seq")]
    finally:
        conn.close()
    return [b for b in bodies if b["action"].startswith(prefix)]


def test_delegate_your_decisions_and_the_delegate_decides_for_you(desk):
    made = desk.ok("delegate", "mike.director", "--until", UNTIL, "--reason", "annual leave")
    assert made.stdout.strip() == (f"Delegated {ME}'s decisions to mike.director until {UNTIL}; "
                                   f"`hitl-tui delegate --end` ends it early.")
    [granted] = _entries(desk, "delegation_")
    assert granted["actor"] == ME and granted["sig"] and granted["details"]["delegate"] == "mike.director"
    wid = file_request(desk, data=BIG)
    with desk.service() as s:
        s.decide(wid, "sarah.manager", "approve")
        s.decide(wid, "dana.director", "approve")
        assert wid in [r.id for r in s.list_requests("mike.director")]  # his Awaiting me holds yours
        s.decide(wid, "mike.director", "approve", "covering")
    shown = desk.ok("request", "show", wid).stdout
    assert f"approved as Director for {ME} (delegated until {UNTIL}), stage 3 of 4" in shown
    listed = desk.ok("delegate", "--list").stdout
    assert f"{ME}" in listed and "mike.director" in listed and UNTIL in listed and "annual leave" in listed
    [row] = desk.json("delegate", "--list", "--json")
    assert (row["delegator"], row["delegate"], row["until"], row["types"]) == (ME, "mike.director", UNTIL, None)
    ended = desk.ok("delegate", "--end", "--reason", "back early").stdout.strip()
    assert ended == f"Ended the delegation of {ME}'s decisions to mike.director; {ME} decides again."
    desk.refused("delegate", "--end", match=f"{ME} has no delegation running; nothing was changed.")
    assert desk.ok("verify-audit").exit_code == 0
    desk.ok("export-audit", "--bundle", str(desk.root / "bundle"))  # the standalone verifier follows them too
    checked = verify(desk.root / "bundle")
    assert checked.code == 0 and checked.line("signatures").startswith("ok") and checked.line("state").startswith(
        "ok"), checked.out
    state = json.loads((desk.root / "bundle" / "state.json").read_text())
    assert [a["on_behalf_of"] for a in state["approvals"] if a["workflow_id"] == wid] == [None, None, ME]


def test_an_administrator_records_one_for_someone_else(desk):
    desk.ok("delegate", "mike.director", "--for", "lisa.executive", "--until", UNTIL, "--types",
            "expense_approval,contract_approval", "--reason", "sick leave")
    [granted] = _entries(desk, "delegation_granted")
    assert granted["actor"] == ME and granted["details"]["delegator"] == "lisa.executive"
    assert granted["details"]["types"] == ["contract_approval", "expense_approval"]
    [row] = desk.json("delegate", "--list", "--all", "--json")
    assert row["delegator"] == "lisa.executive" and row["granted_by"] == ME
    assert desk.json("delegate", "--list", "--json") == []  # none of it is yours
    desk.ok("delegate", "--end", "--for", "lisa.executive")
    assert desk.ok("verify-audit").exit_code == 0


def test_refusals_are_one_line(desk):
    desk.refused("delegate", "nobody", "--until", UNTIL, "--reason", "x", match="No user named 'nobody'")
    desk.refused("delegate", "mike.director", "--until", (date.today() - timedelta(days=1)).isoformat(),
                 "--reason", "x", match="is already past")
    desk.refused("delegate", "mike.director", "--until", "soon", "--reason", "x", match="is not a date")
    desk.refused("delegate", "mike.director", "--until", UNTIL, match="reason")
    desk.refused("delegate", "mike.director", "--until", UNTIL, "--types", "lunch", "--reason", "x",
                 match="Unknown workflow type 'lunch'")
    usage = desk("delegate")
    assert usage.exit_code == 2 and "Give PERSON" in usage.stderr
    assert desk("delegate", "mike.director", "--reason", "x").exit_code == 2  # no --until
    assert _entries(desk, "delegation_") == []  # nothing written by any of them


def test_the_delegate_approves_through_the_cli(desk):
    set_my_role(desk, "director")
    wid = file_request(desk, data=BIG)
    with desk.service() as s:
        from hitl_tui.core import delegation

        s.decide(wid, "sarah.manager", "approve")
        s.decide(wid, "dana.director", "approve")
        desk.refused("approve", wid, match="is waiting for an Executive")  # not yours to decide, yet
        delegation.grant(s, "lisa.executive", ME, UNTIL, "conference", actor="lisa.executive")
    desk.ok("approve", wid, "--comment", "covering for Lisa")
    shown = desk.ok("request", "show", wid).stdout
    assert f"approved as Director for lisa.executive (delegated until {UNTIL}), stage 3 of 4" in shown
    assert desk.ok("verify-audit").exit_code == 0


def test_reassign_names_who_decides_the_stage_and_clear_gives_it_back(desk):
    wid = file_request(desk, data=BIG)
    with desk.service() as s:
        s.decide(wid, "sarah.manager", "approve")
    said = desk.ok("reassign", wid, "mike.director", "--reason", "Mike knows the supplier").stdout.strip()
    assert said == f"Assigned stage 2 of {wid} to mike.director."
    assert desk.ok("reassign", wid, "dana.director", "--reason", "Mike is away").stdout.strip() == \
        f"Assigned stage 2 of {wid} to dana.director (was mike.director)."
    shown = desk.ok("request", "show", wid).stdout
    assert 'assigned stage 2 (director) to dana.director: "Mike is away"' in shown
    assert f"assigned stage 2 (Director) of {wid} to dana.director" in shown  # the signed line
    with desk.service() as s:
        assert s.assigned_to("dana.director", wid) == "dana.director"
    desk.refused("reassign", wid, "sarah.manager", "--reason", "x", match="sarah.manager already decided a stage")
    desk.refused("reassign", wid, "mike.director", match="reason")
    assert desk("reassign", wid, "mike.director", "--clear", "--reason", "x").exit_code == 2
    assert desk.json("reassign", wid, "--clear", "--reason", "back to the pool", "--json")["before"] == "dana.director"
    desk.refused("reassign", wid, "--clear", "--reason", "x", match="assigned to nobody; nothing to clear")
    assert desk.ok("verify-audit").exit_code == 0
    desk.ok("export-audit", "--bundle", str(desk.root / "bundle"))  # signed: the standalone verifier checks them
    checked = verify(desk.root / "bundle")
    assert checked.code == 0 and checked.line("signatures").startswith("ok"), checked.out


def test_request_show_says_for_whom_on_the_approval_chain_line(desk):
    """The chain's own line for the stage, not only the signed line of the trail, names whom a
    delegated decision was for (signatures.on_behalf_words: one wording)."""
    wid = file_request(desk, data=BIG)
    with desk.service() as s:
        from hitl_tui.core import delegation

        delegation.grant(s, "lisa.executive", "mike.director", UNTIL, "conference", actor="lisa.executive")
        s.decide(wid, "sarah.manager", "approve")
        s.decide(wid, "dana.director", "approve")
        s.decide(wid, "mike.director", "approve", "covering")
    lines = desk.ok("request", "show", wid).stdout.splitlines()
    [stage] = [line for line in lines if line.startswith("    3. Executive")]
    assert f"approved by mike.director (Director) for lisa.executive (delegated until {UNTIL}) " in stage
    [own] = [line for line in lines if line.startswith("    2. Director")]
    assert "approved by dana.director (Director) " in own and " for " not in own  # in her own right
