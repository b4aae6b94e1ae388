"""A quorum stage in team mode, as users meet it: `{ role = "manager", quorum = 2 }` takes two
votes from two managers, each on their own OS account, through `hitl-tui serve` (SO_PEERCRED
names them, each vote is signed with its voter's key). The first vote leaves the request where
it is, out of the voter's Awaiting me and still in the other manager's; the same voter cannot
vote twice; the second vote approves it. A team of its own (private_team): the policy it
applies must not reach the session team's other tests."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.core.test_quorum import POLICY
from tests.remote.conftest import _MAKE_KEY, Account, Team, _account, private_team

pytestmark = pytest.mark.xdist_group("remote-quorum")


@pytest.fixture(scope="module")
def quorum_team() -> Iterator[Team]:
    with private_team("hitlqt", "hitl-quorum-") as (team, suffix):
        for key, prefix, role in (("filer", "hqf", "employee"), ("ann", "hqa", "manager"), ("ben", "hqb", "manager")):
            account = _account(team, key, f"{prefix}{suffix}", team.group)
            public = account.python(_MAKE_KEY, team.database_id, account.name)
            assert public.returncode == 0, public.stderr
            team.root_cli("users", "add", account.name, "--role", role, "--key", public.stdout.strip())
        policy = team.base / "quorum.toml"
        policy.write_text(POLICY)
        team.root_cli("policy", "apply", str(policy))  # root administers the directory (init)
        yield team


def _awaiting(account: Account) -> list[str]:
    return [r["id"] for r in account.json("request", "list", "--view", "awaiting_me", "--json")]


def test_two_managers_on_two_accounts_fill_a_two_of_n_stage(quorum_team: Team):
    team = quorum_team
    filer, ann, ben = team["filer"], team["ann"], team["ben"]
    service = team.start_service()
    try:
        filed = filer.json("request", "create", "--type", "vendor_payment", "--title", "Pay ACME", "-f",
                           "amount=500", "--json")
        wid = filed["id"]  # LOW: two of the people who may decide a manager stage
        assert wid in _awaiting(ann) and wid in _awaiting(ben)
        ann.ok("approve", wid, "-m", "first look")
        shown = ben.ok("request", "show", wid).stdout
        assert f"1 of 2 votes ({ann.name})" in shown and "Status:     awaiting approval" in shown, shown
        assert wid not in _awaiting(ann) and wid in _awaiting(ben)  # she voted; he still may
        line = ann.refused("approve", wid, "-m", "again")
        assert "each person counts once" in line, line
        ben.ok("approve", wid, "-m", "second look")
        done = filer.json("request", "show", wid, "--json")["request"]
        assert done["status"] == "approved"
        with team.peek() as engine:
            keys = engine.user_key_ids()
            votes = [e for e in engine.get_audit_trail(wid) if e.action == "approved"]
            result = engine.verify_audit()
        assert [(e.actor, e.details["status_after"]) for e in votes] == [(ann.name, "awaiting_approval"),
                                                                         (ben.name, "approved")]
        assert all(e.sig is not None and e.sig["key"] == keys[e.actor] for e in votes)
        assert result.ok, result.problem
    finally:
        service.stop()
