"""Delegation in team mode, as users meet it: `hitl-tui delegate` on the delegator's own OS
account, through the service, signed there; the delegate (a manager) then approves the
director's stage on his own account, signed "for" the director; someone else's delegation is
refused in one line with nothing written.

dee (a director) and fay (an employee who files) are this module's, on accounts of their own."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Iterator

import pytest

from tests.remote.conftest import _MAKE_KEY, Account, Team, _account

pytestmark = pytest.mark.xdist_group("remote-delegation")

UNTIL = (date.today() + timedelta(days=9)).isoformat()


def _person(team: Team, key: str, prefix: str, role: str) -> Account:
    account = _account(team, key, f"{prefix}{team['alice'].name[2:]}", team.group)
    public = account.python(_MAKE_KEY, team.database_id, account.name)
    assert public.returncode == 0, public.stderr
    team.root_cli("users", "add", account.name, "--role", role, "--key", public.stdout.strip())
    return account


@pytest.fixture(scope="module")
def cast(team: Team) -> Iterator[tuple[Account, Account]]:
    yield _person(team, "dee", "hde", "director"), _person(team, "fay", "hfy", "employee")


def test_a_delegation_through_the_service_and_the_delegate_decides_for_the_director(team: Team, cast, service):
    dee, fay = cast
    alice, bob = team["alice"], team["bob"]
    filed = fay.ok("request", "create", "--type", "expense_approval", "--title", "Trade fair stand",
                   "-f", "amount=3000", "-f", "category=travel", "--json").stdout
    wid = json.loads(filed)["id"]  # manager, then director
    alice.ok("approve", wid)
    bob.refused("approve", wid, match="is waiting for a Director")
    with team.peek() as engine:
        size = engine.audit_size()
    line = alice.refused("delegate", bob.name, "--for", dee.name, "--until", UNTIL, "--reason", "x")
    assert f"Only {dee.name}, or a directory administrator" in line, line
    with team.peek() as engine:
        assert engine.audit_size() == size  # refused: nothing written
    said = dee.ok("delegate", bob.name, "--until", UNTIL, "--reason", "trade fair").stdout
    assert f"Delegated {dee.name}'s decisions to {bob.name} until {UNTIL}" in said
    [row] = bob.json("delegate", "--list", "--json")
    assert (row["delegator"], row["delegate"], row["until"]) == (dee.name, bob.name, UNTIL)
    assert wid in bob.ok("request", "list", "--view", "awaiting_me").stdout  # his Awaiting me holds it now
    bob.ok("approve", wid, "-m", "covering for Dee")
    shown = bob.ok("request", "show", wid).stdout
    assert f"approved as Manager for {dee.name} (delegated until {UNTIL}), stage 2 of 2" in shown
    dee.ok("delegate", "--end", "--reason", "back")
    with team.peek() as engine:
        keys = engine.user_key_ids()
        made = [e for e in engine.iter_audit() if e.seq > size]
        result = engine.verify_audit()
    assert [(e.action, e.actor) for e in made] == [("delegation_granted", dee.name), ("approved", bob.name),
                                                  ("delegation_ended", dee.name)]
    assert all(e.sig is not None and e.sig["key"] == keys[e.actor] for e in made)
    assert made[1].details["on_behalf_of"] == dee.name
    assert result.ok, result.problem


def test_a_director_reassigns_a_stage_through_the_service(team: Team, cast, service):
    dee, fay = cast
    alice, bob = team["alice"], team["bob"]
    filed = fay.ok("request", "create", "--type", "expense_approval", "--title", "Booth carpets",
                   "-f", "amount=3000", "-f", "category=travel", "--json").stdout
    wid = json.loads(filed)["id"]
    line = alice.refused("reassign", wid, bob.name, "--reason", "mine now")
    assert "for a directory administrator, a Director or Executive" in line, line
    said = dee.ok("reassign", wid, bob.name, "--reason", "Bob ordered the booth").stdout.strip()
    assert said == f"Assigned stage 1 of {wid} to {bob.name}."
    assert wid in bob.ok("request", "list", "--view", "awaiting_me").stdout
    with team.peek() as engine:
        [entry] = [e for e in engine.get_audit_trail(wid) if e.action == "reassigned"]
        assert entry.actor == dee.name and entry.sig is not None and entry.sig["key"] == engine.user_key_ids()[dee.name]
        assert engine.assigned_to(bob.name, wid) == bob.name
        result = engine.verify_audit()
    assert result.ok, result.problem
