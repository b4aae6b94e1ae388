"""The notifications' administrator commands in team mode, as users meet them: `hitl-tui notify
...` on an administrator's own OS account, through the service, signed there; a manager who is no
administrator is refused with nothing written; `notify flush` says the service delivers itself.

nia is this module's administrator, on an account of her own (her key made there)."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.remote.conftest import _MAKE_KEY, Account, Team, _account

pytestmark = pytest.mark.xdist_group("remote-notify")


@pytest.fixture(scope="module")
def nia(team: Team) -> Iterator[Account]:
    account = _account(team, "nia", f"hnt{team['alice'].name[2:]}", team.group)
    public = account.python(_MAKE_KEY, team.database_id, account.name)
    assert public.returncode == 0, public.stderr
    team.root_cli("users", "add", account.name, "--role", "director", "--admin", "--key", public.stdout.strip())
    yield account


def test_webhooks_and_preferences_through_the_service_signed_on_the_makers_account(team: Team, nia: Account, service):
    bob = team["bob"]
    secret = nia.home / "hook.secret"
    secret.write_text("s" * 40 + "\n")
    import os

    os.chown(secret, nia.uid, nia.gid)
    secret.chmod(0o600)
    with team.peek() as engine:
        size = engine.audit_size()
    line = bob.refused("notify", "webhook", "add", "https://hooks.example.com/hitl", "--secret", "s" * 40)
    assert "not a user-directory administrator" in line, line
    nia.ok("notify", "webhook", "add", "https://hooks.example.com/hitl", "--secret-file", str(secret),
           "--events", "decided")
    listed = nia.json("notify", "webhook", "list", "--json")
    assert [h["host"] for h in listed] == ["hooks.example.com"] and "s" * 40 not in str(listed)
    bob.ok("notify", "prefs", bob.name, "--email", "bob@example.com", "--events", "waiting_for_you")  # his own
    said = nia.refused("notify", "flush")
    assert "service" in said, said
    with team.peek() as engine:
        keys = engine.user_key_ids()
        made = [e for e in engine.iter_audit() if e.seq > size]
        result = engine.verify_audit()
    assert [(e.action, e.actor) for e in made] == [("notify_webhook_added", nia.name), ("notify_prefs_set", bob.name)]
    assert all(e.sig is not None and e.sig["key"] == keys[e.actor] for e in made)
    assert result.ok, result.problem
