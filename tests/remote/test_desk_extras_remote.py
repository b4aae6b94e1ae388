"""The desk's analytics (`hitl-tui stats`, view 5) and claims (`m`) in team mode: through the
service, each account as the kernel says it is, with the same answers as the engine gives on
the database itself. Claims write no audit entry."""

from __future__ import annotations

import json

import pytest

from hitl_tui.core import analytics, claims
from tests.remote.conftest import Account, Team

pytestmark = pytest.mark.xdist_group("remote-desk-extras")

_CALL = """
import json, os, sys
from hitl_tui.remote.client import RemoteService
from hitl_tui.remote import desk_client
from hitl_tui.core.errors import HitlError
remote = RemoteService.connect(os.environ["HITL_SERVER"])
what, wid = sys.argv[1], sys.argv[2]
try:
    if what == "claim":
        got = desk_client.claim(remote, remote.username, wid)
        print(json.dumps({"username": got.username, "role": got.role.value}))
    elif what == "release":
        desk_client.release(remote, remote.username, wid)
        print(json.dumps({}))
    else:
        print(json.dumps({w: c.username for w, c in desk_client.shown(remote, remote.username, [wid]).items()}))
except HitlError as exc:
    print(json.dumps({"refused": str(exc)}))
"""


def _call(account: Account, what: str, wid: str) -> dict:
    done = account.python(_CALL, what, wid)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _file(team: Team, title: str) -> str:
    out = team.root_cli("--server", str(team.socket), "request", "create", "--type", "expense_approval",
                        "--title", title, "-f", "amount=250", "-f", "category=meals", "--json").stdout
    return json.loads(out)["id"]


def test_stats_through_the_service_are_the_engines_figures_for_that_account(team: Team, service):
    alice = team["alice"]
    _file(team, "Stats lunch")
    data = alice.json("stats", "--json")
    with team.peek() as engine:
        expect = analytics.figures(engine, alice.name).to_json()
    assert data["viewer"] == alice.name and not data["sees_everything"]
    for key in ("filed", "decisions", "waiting_now", "workload", "sla", "risk_by_week"):
        assert data[key] == expect[key], key
    assert alice.ok("stats").stdout.startswith("Analytics over the requests you may see")
    alice.refused("stats", "--since", "soon", match="--since 'soon' is not a duration")


def test_a_claim_through_the_service_is_seen_by_the_other_manager_and_never_in_the_trail(team: Team, service):
    alice, bob = team["alice"], team["bob"]
    wid = _file(team, "Claimed lunch")
    with team.peek() as engine:
        size = engine.audit_size()
    assert _call(alice, "claim", wid) == {"username": alice.name, "role": "manager"}
    assert _call(bob, "shown", wid) == {wid: alice.name}
    refused = _call(bob, "claim", wid)["refused"]
    assert f"claimed by {alice.name}" in refused and "a claim stops nobody" in refused
    assert "not you" in _call(bob, "release", wid)["refused"]
    with team.peek() as engine:
        assert claims.shown(engine, bob.name, [wid])[wid].username == alice.name  # the same table
        assert engine.audit_size() == size
    assert _call(alice, "release", wid) == {}
    assert _call(bob, "shown", wid) == {}
