"""`hitl-tui token create|list|revoke` through the installed console script: the token printed
once and stored only as its sha256, each change in the audit trail, the table a replay of it,
and every refusal one line."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from hitl_tui.core.errors import TokenRefused
from hitl_tui.core.tokens import SHAPE, resolve

from .conftest import ME, Cli


@pytest.fixture
def desk(cli: Cli) -> Cli:
    """A database you administer (as a manager); sarah is a manager, billing-bot her integration."""
    cli.ok("init", "--role", "manager", "--email", "me@example.com")
    cli.ok("users", "add", "sarah", "--role", "manager")
    cli.ok("users", "add", "billing-bot", "--integration", "--owner", "sarah", "--role", "employee")
    return cli


def _text_cells(cli: Cli) -> list[str]:
    """Every text value of every table, and every audit entry's body."""
    conn = cli.raw()
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        cells: list[str] = []
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                cells += [v if isinstance(v, str) else bytes(v).decode("latin-1") for v in row
                          if isinstance(v, (str, bytes, memoryview))]
        return cells
    finally:
        conn.close()


def _entries(cli: Cli, prefix: str) -> list[dict]:
    """The audit entries whose action starts with `prefix`, as stored."""
    conn = cli.raw()
    try:
        bodies = [json.loads(bytes(r[0])) for r in conn.execute("SELECT body FROM audit_log ORDER BY seq")]
    finally:
        conn.close()
    return [b for b in bodies if b["action"].startswith(prefix)]


def test_create_prints_the_token_once_on_stdout_and_keeps_only_its_sha256(desk):
    made = desk.ok("token", "create", "billing-bot", "--name", "ERP webhooks")
    token = made.stdout.strip()
    assert SHAPE.match(token) and made.stdout == token + "\n"  # alone on stdout: TOKEN=$(hitl-tui token create ...)
    tid = re.search(r"Token (tk-[0-9a-f]{12}) acts as billing-bot, ERP webhooks", made.stderr).group(1)
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert tid == "tk-" + digest[:12]
    conn = desk.raw()
    try:
        rows = conn.execute("SELECT id, token_hash, username, name, created_by, revoked_seq FROM api_tokens").fetchall()
    finally:
        conn.close()
    [entry] = _entries(desk, "token_")
    assert rows == [(tid, digest, "billing-bot", "ERP webhooks", ME, None)]
    assert entry["actor"] == ME and entry["workflow_id"] is None  # filed under no request, like the directory's
    assert entry["details"] == {"token_id": tid, "token_hash": digest, "username": "billing-bot",
                                "name": "ERP webhooks"}
    assert not any(token in cell for cell in _text_cells(desk))  # the token itself: nowhere
    assert token not in desk.ok("export-audit", "--format", "jsonl").stdout
    listed = desk.ok("token", "list").stdout
    assert tid in listed and "billing-bot" in listed and "active" in listed and token not in listed
    [row] = desk.json("token", "list", "--json")
    assert (row["id"], row["username"], row["active"], row["created_by"]) == (tid, "billing-bot", True, ME)
    assert "token_hash" not in row and token not in json.dumps(row)


def test_revoke_by_id_or_by_the_token_and_the_trail_replays_the_table(desk):
    first = desk.ok("token", "create", "billing-bot").stdout.strip()
    second = desk.json("token", "create", "billing-bot", "--name", "nightly", "--json")
    assert SHAPE.match(second["token"]) and second["username"] == "billing-bot"
    one = "tk-" + hashlib.sha256(first.encode()).hexdigest()[:12]
    assert desk.ok("token", "revoke", one, "--reason", "rotated").stdout.strip() == \
        f"Revoked token {one} (billing-bot)."
    assert desk.ok("token", "revoke", second["token"]).stdout.strip() == \
        f"Revoked token {second['id']} (billing-bot, nightly)."  # the token itself names it too
    desk.refused("token", "revoke", one, match=f"Token {one} (billing-bot) was already revoked at")
    desk.refused("token", "revoke", "tk-000000000000", match="There is no token 'tk-000000000000'")
    rows = {r["id"]: r for r in desk.json("token", "list", "--json")}
    assert rows[one]["active"] is False and rows[one]["revoke_reason"] == "rotated" and rows[one]["revoked_by"] == ME
    assert f"revoked {rows[one]['revoked_at']} by {ME}" in desk.ok("token", "list").stdout
    assert desk.ok("verify-audit").exit_code == 0

    conn = desk.raw()  # someone with the key un-revokes a token behind the application's back
    conn.execute("UPDATE api_tokens SET revoked_at = NULL, revoked_by = NULL, revoke_reason = NULL, "
                 "revoked_seq = NULL WHERE id = ?", (one,))
    conn.close()
    broken = desk("verify-audit")
    assert broken.exit_code == 3, broken.output
    assert f"token {one} revoked at is empty in the table" in broken.output


def test_who_may_make_tokens_and_for_whom(desk):
    desk.refused("token", "create", ME, match="is a directory administrator: a bearer token never stands for one")
    desk.refused("token", "create", "nobody", match="No user named 'nobody'")
    desk.ok("users", "deactivate", "sarah")
    desk.refused("token", "create", "sarah", match="sarah is deactivated")
    desk.refused("token", "create", "billing-bot", "--name", "two\nlines", match="name")
    desk.ok("users", "reactivate", "sarah")
    person = desk.ok("token", "create", "sarah").stdout.strip()  # a person may hold one, while no administrator
    with desk.service() as s:
        assert resolve(s, person).username == "sarah"
    desk.ok("users", "set-admin", "sarah")
    with desk.service() as s, pytest.raises(TokenRefused, match="who is a directory administrator now"):
        resolve(s, person)  # the rule holds at every use, not only when it was made
    desk.ok("token", "revoke", person)
    with desk.service() as s:  # another administrator takes yours away
        s.add_user("ann", "it_admin", admin=True, actor=ME)
        s.set_user_admin(ME, False, actor="ann")
    for args in (("create", "billing-bot"), ("list",), ("revoke", "tk-000000000000")):
        desk.refused("token", *args, match=f"{ME} is not a user-directory administrator")
    assert [e["action"] for e in _entries(desk, "token_")] == ["token_created", "token_revoked"]  # sarah's only
