"""`hitl-tui prove`, `verify-audit --since` and the C2SP checkpoint note, through the installed
console script."""

from __future__ import annotations

import base64
import hashlib

from hitl_tui.core import merkle

from .conftest import file_request, set_my_role


def _grow(cli, n: int = 12) -> list[str]:
    return [file_request(cli, title=f"Trip {i}", data={"amount": str(100 + i), "category": "travel"}) for i in range(n)]


def test_checkpoint_note_is_a_c2sp_signed_note_a_third_party_can_check(ready, tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    _grow(ready, 3)
    path = tmp_path / "a.ckpt"
    out = ready.ok("checkpoint", "-o", str(path)).stdout
    vkey = next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("Verifier key: "))
    text = path.read_text("utf-8")
    body, _, sigs = text.partition("\n\n")
    origin, size, root, chain, time = body.split("\n")
    name, khash, key = vkey.split("+", 2)  # base64 may hold "+" too
    assert origin == name and origin.startswith("hitl-tui.local/") and int(size) == ready.audit_size()
    assert chain.startswith("chain ") and time.startswith("time ") and len(base64.b64decode(root)) == 32
    raw_key = base64.b64decode(key)
    assert raw_key[0] == 1 and hashlib.sha256(name.encode() + b"\n" + raw_key).digest()[:4].hex() == khash
    dash, signer, sig = sigs.rstrip("\n").split(" ")
    assert dash == "\u2014" and signer == name
    sig = base64.b64decode(sig)
    assert sig[:4].hex() == khash
    Ed25519PublicKey.from_public_bytes(raw_key[1:]).verify(sig[4:], (body + "\n").encode())  # raises if not
    # the root is the RFC 9162 tree of the stored bytes
    conn = ready.raw()
    bodies = [bytes(b) for (b,) in conn.execute("SELECT body FROM audit_log ORDER BY seq")]
    conn.close()
    assert base64.b64decode(root) == merkle.root_of([merkle.leaf_hash(b) for b in bodies[:int(size)]])
    # the same note, to stdout, and stored in the database
    assert ready.ok("checkpoint").stdout.startswith(origin + "\n")


def test_prove_a_request_and_a_seq(ready):
    set_my_role(ready, "manager")  # a request you may see: a manager decides its first stage
    wids = _grow(ready, 10)
    ready.ok("checkpoint")
    data = ready.json("prove", wids[4], "--json")
    root = bytes.fromhex(data["checkpoint"]["root_hash"])
    assert data["proofs"] and all(p["workflow_id"] == wids[4] for p in data["proofs"])
    for p in data["proofs"]:
        assert merkle.verify_inclusion(p["leaf_index"], p["tree_size"], bytes.fromhex(p["leaf_hash"]),
                                       [bytes.fromhex(h) for h in p["path"]], root)
    out = ready.ok("prove", "--seq", "3").stdout
    assert "entry 3 (" in out and "verified" in out
    ready.refused("prove", "--seq", "9999", match="not covered by the checkpoint")
    ready.refused("prove", "WF-0000000000-0000", match="WF-0000000000-0000")
    ready.refused("prove", code=2, match="Name a request")


def test_verify_since_checks_only_the_new_entries_and_catches_their_tampering(ready, tmp_path):
    _grow(ready, 4)
    since = tmp_path / "q1.ckpt"
    ready.ok("checkpoint", "-o", str(since))
    _grow(ready, 20)
    out = ready.ok("verify-audit", "--since", str(since)).stdout
    assert "verified since the checkpoint at entry" in out and "Result: verified." in out
    later = tmp_path / "q2.ckpt"
    ready.ok("checkpoint", "-o", str(later))
    assert "consistent" in ready.ok("prove", "--from", str(since), "--to", str(later)).stdout

    # a stored node of the new part, edited: named by --since and by the full check
    conn = ready.raw()
    level, idx = 4, 1  # entries 17 to 32: after the first checkpoint, and on entry 1's proof path
    assert conn.execute("SELECT 1 FROM merkle_nodes WHERE level = 4 AND idx = 1").fetchone()
    conn.execute("UPDATE merkle_nodes SET hash = ? WHERE level = ? AND idx = ?", (bytes(32), level, idx))
    conn.close()
    result = ready("verify-audit", "--since", str(since))
    assert result.exit_code == 3 and f"node at level {level}, index {idx}" in result.stdout
    assert ready("verify-audit").exit_code == 3
    result = ready("prove", "--seq", "1")
    assert result.exit_code == 3 and "does not prove into the signed tree" in result.stderr


def test_checkpoint_files_of_another_database_and_bad_input(ready, tmp_path, cli_factory):
    other = cli_factory("other")
    other.ok("init")
    foreign = tmp_path / "foreign.ckpt"
    other.ok("checkpoint", "-o", str(foreign))
    result = ready("verify-audit", "--since", str(foreign))
    assert result.exit_code == 3 and "another database" in result.stdout
    ready.refused("prove", "--seq", "1", "--checkpoint", str(foreign), match="another database")

    mine = tmp_path / "mine.ckpt"
    ready.ok("checkpoint", "-o", str(mine))
    lines = mine.read_text().split("\n")
    lines[1] = str(int(lines[1]) - 1)  # a forged size under the old signature
    forged = tmp_path / "forged.ckpt"
    forged.write_text("\n".join(lines))
    ready.refused("verify-audit", "--since", str(forged), match="signature does not verify")
    junk = tmp_path / "junk.ckpt"
    junk.write_text("hitl-tui.local/x\nnot a size\n")
    ready.refused("verify-audit", "--since", str(junk), match="not a valid checkpoint note")
    ready.refused("verify-audit", "--since", str(tmp_path / "missing.ckpt"), match="does not exist")
    ready.refused("prove", "--from", str(mine), code=2, match="needs both")


def test_verify_since_checks_the_signatures_of_the_new_entries(ready, tmp_path):
    """A forged directory change after the trusted checkpoint is caught by --since alone, against
    the key history rebuilt from the entries before it."""
    from tests.forgery import forge_entry

    from .conftest import ME

    _grow(ready, 3)
    since = tmp_path / "q1.ckpt"
    ready.ok("checkpoint", "-o", str(since))
    _grow(ready, 2)
    out = ready.ok("verify-audit", "--since", str(since)).stdout
    assert "Result: verified." in out
    conn = ready.raw()
    size = int(conn.execute("SELECT value FROM meta WHERE key = 'audit_size'").fetchone()[0])
    if size % 16 == 15:  # the forged entry must not complete a stored subtree: only its signature may give it away
        conn.close()
        _grow(ready, 1)
        conn = ready.raw()
    seq = forge_entry(conn, actor=ME, action="user_admin_changed", workflow_id=None,
                      details={"username": "john.doe", "before": {"admin": False}, "after": {"admin": True}})
    conn.close()
    result = ready("verify-audit", "--since", str(since))
    assert result.exit_code == 3, result.output
    assert f"entry {seq} (user_admin_changed by {ME}) is a forgery: it carries no signature" in result.stdout
