"""Bearer tokens in team mode: making and revoking one are signed on the administrator's own OS
account (the service prepares the statement, the account signs it, two_phase.py), like every
other administrator's change; a manager who is no administrator is refused with nothing written.

tara is this module's administrator, on an account of her own (her key made there, never in the
service's store); bot is an integration account owned by bob.
"""

from __future__ import annotations

import json
from typing import Iterator

import pytest

from hitl_tui.core.personal_keys import KeyStore
from hitl_tui.core.tokens import SHAPE
from tests.remote.conftest import _MAKE_KEY, Account, Team, _account

pytestmark = pytest.mark.xdist_group("remote-tokens")


@pytest.fixture(scope="module")
def tara(team: Team) -> Iterator[Account]:
    account = _account(team, "tara", f"htk{team['alice'].name[2:]}", team.group)
    public = account.python(_MAKE_KEY, team.database_id, account.name)  # on her own account
    assert public.returncode == 0, public.stderr
    team.root_cli("users", "add", account.name, "--role", "director", "--admin", "--key", public.stdout.strip())
    bot = team["bob"].python(_MAKE_KEY, team.database_id, "tokbot")  # the integration's key, on its owner's account
    assert bot.returncode == 0, bot.stderr
    team.root_cli("users", "add", "tokbot", "--integration", "--owner", team["bob"].name, "--role", "employee",
                  "--key", bot.stdout.strip())
    yield account


def _entries_after(team: Team, size: int) -> list:
    with team.peek() as engine:
        return [e for e in engine.iter_audit() if e.seq > size]


def _size(team: Team) -> int:
    with team.peek() as engine:
        return engine.audit_size()


def test_token_entries_are_signed_on_the_administrators_own_account(team: Team, tara: Account, service):
    bob = team["bob"]
    size = _size(team)
    line = bob.refused("token", "create", "tokbot", "--name", "ERP")
    assert f"{bob.name} is not a user-directory administrator" in line, line
    assert _size(team) == size, "a refused token creation wrote to the trail"

    token = tara.ok("token", "create", "tokbot", "--name", "ERP").stdout.strip()
    assert SHAPE.match(token)
    listed = tara.json("token", "list", "--json")
    tid = next(t["id"] for t in listed if t["username"] == "tokbot" and t["revoked_at"] is None)
    line = bob.refused("token", "revoke", tid)
    assert f"{bob.name} is not a user-directory administrator" in line, line
    tara.ok("token", "revoke", tid, "--reason", "rotated")

    with team.peek() as engine:
        keys = engine.user_key_ids()
        made = [e for e in engine.iter_audit() if e.seq > size]
        result = engine.verify_audit()
    assert [(e.action, e.actor) for e in made] == [("token_created", tara.name), ("token_revoked", tara.name)]
    assert all(e.sig is not None and e.sig["key"] == keys[tara.name] for e in made), [e.sig for e in made]
    assert made[0].details["token_id"] == tid and made[0].details["username"] == "tokbot"
    assert token not in json.dumps(made[0].details)  # the hash, never the token
    assert result.ok, result.problem
    # the signature was made on tara's account: the service's own key store holds no key of hers
    service_store = KeyStore(team.database_id, root=team.root_home / "data" / "hitl-tui" / "personal-keys")
    assert service_store.newest(tara.name) is None
