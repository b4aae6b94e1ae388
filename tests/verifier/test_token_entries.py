"""Token entries checked offline (issue 12): `token_created` and `token_revoked` are signed by their
administrator, so a trail rewritten by someone holding the database key (every hash made
consistent again) still gives itself away to the standalone verifier, and to verify-audit.

The database is made through the installed `hitl-tui` script: you (the OS login) are its
administrator; erp-bot and crm-bot are integrations owned by sarah.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.attacker import drop_audit_triggers
from tests.cli.conftest import ME, Cli
from tests.keyring_session import isolated_home

from .conftest import verify
from .test_standalone import _entry, _lines, _rechain, _write


@dataclass
class Desk:
    cli: Cli
    export: Path
    token_id: str


@pytest.fixture(scope="module")
def desk(tmp_path_factory) -> Desk:
    root = tmp_path_factory.mktemp("tokens")
    with isolated_home(root / "home"):
        cli = Cli(root)
        cli.ok("init", "--email", "me@example.com")
        cli.ok("users", "add", "sarah", "--role", "manager")
        for bot in ("erp-bot", "crm-bot"):
            cli.ok("users", "add", bot, "--integration", "--owner", "sarah", "--role", "employee")
        cli.ok("token", "create", "erp-bot", "--name", "ERP")
        token_id = cli.json("token", "list", "--json")[0]["id"]
        cli.ok("token", "revoke", token_id, "--reason", "rotated")
        cli.ok("token", "create", "crm-bot")
        export = root / "audit.jsonl"
        cli.ok("export-audit", "-o", str(export))
        yield Desk(cli, export, token_id)


def test_the_token_entries_verify_signed(desk):
    objs = _lines(desk.export)
    made = [o for o in objs if o.get("action") in ("token_created", "token_revoked")]
    assert [(o["action"], o["actor"]) for o in made] == [("token_created", ME), ("token_revoked", ME),
                                                         ("token_created", ME)]
    assert all(o["sig"]["key"] == made[0]["sig"]["key"] for o in made)
    result = verify(desk.export)
    assert result.code == 0 and result.last == "verified", result.out


def test_a_token_entry_moved_to_another_account_is_caught_offline(desk, tmp_path):
    """The token made for erp-bot now says crm-bot: every hash re-made, so only the signature tells."""
    objs = _lines(desk.export)
    made = _entry(objs, "token_created")
    made["details"]["username"] = "crm-bot"
    result = verify(_write(tmp_path / "moved.jsonl", _rechain(objs)))
    assert result.code == 3
    assert result.line("entries").startswith("ok"), result.out  # the chain itself is consistent again
    assert result.last == (f"FAILED: signatures: entry {made['seq']} (token_created by {ME}) is a forgery: its "
                           f"signature does not verify against {ME}'s key {made['sig']['key']}"), result.out


def test_an_unsigned_token_revocation_is_caught_offline(desk, tmp_path):
    objs = _lines(desk.export)
    revoked = _entry(objs, "token_revoked")
    del revoked["sig"]
    result = verify(_write(tmp_path / "unsigned.jsonl", _rechain(objs)))
    assert result.code == 3
    assert result.last == (f"FAILED: signatures: entry {revoked['seq']} (token_revoked by {ME}) is a forgery: it "
                           f"carries no signature"), result.out


def test_a_token_made_by_a_non_administrator_is_caught_offline(desk, tmp_path):
    """sarah signs with her own registered key: a good signature, by someone with no right to it."""
    from hitl_tui.core.personal_keys import KeyStore
    from hitl_tui.core.signatures import sign

    objs = _lines(desk.export)
    header = objs[0]
    made = _entry(objs, "token_created")
    with isolated_home(desk.cli.root / "home"):  # the key store `users add` made sarah's key in
        hers = KeyStore(header["database_id"]).newest("sarah").unlock()
    made["actor"] = "sarah"
    rec = {k: v for k, v in made.items() if k not in ("record_type", "personal", "hash")}
    made["sig"] = sign(hers, rec, header["database_id"])
    result = verify(_write(tmp_path / "sarah.jsonl", _rechain(objs)))
    assert result.code == 3
    assert result.last == (f"FAILED: signatures: entry {made['seq']} (token_created by sarah) is a forgery: sarah "
                           f"was not an active administrator at that point of the trail"), result.out


def test_verify_audit_reports_a_rewritten_token_entry(desk, tmp_path):
    """The same rewrite inside the database, by a connection holding its key: `hitl-tui
    verify-audit` names the forged entry (exit 3)."""
    from hitl_tui.core.audit import GENESIS, canonical_bytes, chain_hash

    cli = desk.cli
    conn = cli.raw()
    try:
        drop_audit_triggers(conn)
        conn.execute("DELETE FROM checkpoints")  # a stored checkpoint would tell by itself
        prev, seq_of = GENESIS, None
        for seq, body in conn.execute("SELECT seq, body FROM audit_log ORDER BY seq").fetchall():
            rec = json.loads(bytes(body))
            if seq_of is None and rec["action"] == "token_created":
                rec["details"]["username"], seq_of = "crm-bot", seq
            rec["prev_hash"] = prev.hex()
            data = canonical_bytes(rec)
            prev = chain_hash(prev, data)
            conn.execute("UPDATE audit_log SET body = ?, hash = ? WHERE seq = ?", (data, prev, seq))
        conn.execute("UPDATE meta SET value = ? WHERE key = 'audit_head'", (prev.hex(),))
        from hitl_tui.core.store import merkle_nodes

        merkle_nodes.backfill(conn)
    finally:
        conn.close()
    with isolated_home(cli.root / "home"):
        run = cli("verify-audit")
    assert run.exit_code == 3, run.output
    assert f"entry {seq_of} (token_created by {ME}) is a forgery: its signature does not verify" in run.stdout, \
        run.output
