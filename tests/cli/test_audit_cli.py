"""verify-audit and checkpoint: intact chains, tampering, and a consistent full rewrite that only
a checkpoint kept outside the database exposes."""

from __future__ import annotations

import json

from tests.attacker import rewrite_whole_chain

from .conftest import file_request, seq_of, set_my_role, tamper_body


def _busy(cli) -> str:
    set_my_role(cli, "manager")
    wid = file_request(cli, data={"amount": "15000", "category": "travel"})
    cli.ok("approve", wid, "-m", "Within budget")
    file_request(cli, title="Team offsite", data={"amount": "3000"})
    return wid


def test_intact_chain_verifies(ready):
    _busy(ready)
    out = ready.ok("verify-audit").stdout
    assert "audit chain verified" in out and "Result: verified." in out
    data = ready.json("verify-audit", "--json")
    assert data["ok"] and data["database"]["entries"] == ready.audit_size() and data["files"] == []


def test_an_edited_entry_is_named_and_exits_3(ready):
    _busy(ready)
    seq = seq_of(ready, "approved")
    # the decision, not the comment: a comment is sealed in the hashed bytes (a digest, not the words)
    tamper_body(ready, seq, b'"decision":"approve"', b'"decision":"reject"')
    result = ready("verify-audit")
    assert result.exit_code == 3
    assert f"AUDIT CHAIN BROKEN at entry {seq}" in result.stdout and "VERIFICATION FAILED" in result.stdout
    result = ready("verify-audit", "--json")
    assert result.exit_code == 3 and json.loads(result.stdout)["database"]["first_bad_seq"] == seq


def test_checkpoint_file_exposes_a_full_chain_rewrite(ready, tmp_path):
    _busy(ready)
    cp_file = tmp_path / "safe" / "q1.checkpoint.json"
    cp_file.parent.mkdir()
    out = ready.ok("checkpoint", "-o", str(cp_file)).stdout
    assert "Signed checkpoint" in out and "SHA256:" in out and cp_file.exists()
    assert "database matches the checkpoint" in ready.ok("verify-audit", "--checkpoint", str(cp_file)).stdout

    conn = ready.raw()
    rewrite_whole_chain(conn, b'"session_id":"', b'"session_id":"0')  # what nobody signs
    conn.close()
    assert ready.ok("verify-audit").exit_code == 0  # every inner check is fooled...
    result = ready("verify-audit", "--checkpoint", str(cp_file))  # ...but not the checkpoint kept elsewhere
    assert result.exit_code == 3
    assert "differs from the checkpoint signed by" in result.stdout and "chain was rewritten" in result.stdout


def test_checkpoint_refuses_a_broken_chain(ready, tmp_path):
    _busy(ready)
    tamper_body(ready, seq_of(ready, "approved"), b'"decision":"approve"', b'"decision":"reject"')
    ready.refused("checkpoint", "-o", str(tmp_path / "cp.json"), code=3, match="no checkpoint was signed")
    assert not (tmp_path / "cp.json").exists()


def test_checkpoint_to_stdout_and_never_overwrites(ready, tmp_path):
    result = ready.ok("checkpoint", "--json")
    data = json.loads(result.stdout)
    assert data["format"] == "hitl-tui-checkpoint/2" and data["fingerprint"] in result.stderr
    assert data["note"].startswith("hitl-tui.local/") and ready.ok("checkpoint").stdout.startswith("hitl-tui.local/")
    target = tmp_path / "cp.json"
    target.write_text("older evidence")
    ready.refused("checkpoint", "-o", str(target), match="never overwritten")
    assert target.read_text() == "older evidence"


def test_forged_or_foreign_checkpoint_files_fail(ready, tmp_path, cli_factory):
    path = tmp_path / "cp.json"
    ready.ok("checkpoint", "-o", str(path))
    lines = path.read_text().split("\n")
    lines[1] = str(int(lines[1]) - 1)  # the note's size line, under the old signature
    forged = tmp_path / "forged.json"
    forged.write_text("\n".join(lines))
    result = ready("verify-audit", "--checkpoint", str(forged))
    assert result.exit_code == 3 and "signature does not verify" in result.stdout

    other = cli_factory("other")
    other.ok("init")
    result = other("verify-audit", "--checkpoint", str(path))
    assert result.exit_code == 3 and "another database" in result.stdout


def test_unreadable_files_and_usage(ready, tmp_path):
    junk = tmp_path / "junk.txt"
    junk.write_text("hello")
    ready.refused("verify-audit", "--checkpoint", str(junk), match="neither a hitl-tui checkpoint")
    ready.refused("verify-audit", "--checkpoint", str(tmp_path / "missing.json"), match="Cannot read")
    ready.refused("verify-audit", "--offline", code=2, match="--offline checks files")
