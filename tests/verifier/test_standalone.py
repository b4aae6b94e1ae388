"""verifier/hitl_verify.py, the standalone verifier (docs/VERIFY.md): run as an auditor would, in
a Python that cannot import hitl_tui, on every export format the project writes, and on exports
tampered with in every way the issue names; each must fail, for its own reason, in one line."""

from __future__ import annotations

import ast
import base64
import csv
import hashlib
import json
import sys
from pathlib import Path

from .conftest import VERIFIER, verify


# --- it stands alone ---------------------------------------------------------------------------

def test_imports_only_the_standard_library_and_cryptography():
    tree = ast.parse(VERIFIER.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "a relative import cannot stand alone"
            imported.add(node.module.split(".")[0])
    foreign = {m for m in imported if m not in sys.stdlib_module_names and m not in ("cryptography", "__future__")}
    assert not foreign, foreign


def test_the_runner_really_cannot_import_hitl_tui(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("try:\n    import hitl_tui.core.audit\nexcept ImportError:\n    print('blocked')\n"
                     "else:\n    print('imported')\n")
    assert verify(verifier=probe).out == "blocked\n"


# --- every export format ----------------------------------------------------------------------

def test_jsonl_export_verifies_whole(trail):
    result = verify(trail.exports["jsonl"])
    assert result.code == 0 and result.last == "verified", result.out
    for check in ("entries", "complete file", "checkpoint note", "tree", "chain head", "signatures"):
        assert result.line(check).startswith("ok"), result.out
    assert "0 bootstrap" in result.line("signatures")


def test_csv_export_verifies_whole(trail):
    result = verify(trail.exports["csv"])
    assert result.code == 0 and result.last == "verified", result.out
    assert result.line("tree").startswith("ok")


def test_html_and_markdown_reports_verify_their_evidence(trail):
    for fmt in ("html", "md"):
        result = verify(trail.exports[fmt])
        assert result.code == 0 and result.last == "verified", result.out
        assert result.line("scope").startswith("--") and "timeline entries" in result.line("scope")
        assert result.line("checkpoint note").startswith("ok")
        assert not result.line("entries").startswith("ok    entries: 0 "), "the report embeds entries to check"


def test_filtered_export_checks_what_it_can(trail):
    result = verify(trail.exports["filtered"])
    assert result.code == 0 and result.last == "verified", result.out
    assert "a filtered export" in result.line("scope")
    assert result.line("checkpoint note").startswith("ok")


def test_pinned_verifier_key(trail):
    vkey = (trail.bundle / "checkpoint.vkey").read_text().strip()
    assert verify(trail.exports["jsonl"], "--vkey", vkey).last == "verified"
    other = _other_vkey(vkey)
    result = verify(trail.exports["jsonl"], "--vkey", other)
    assert result.code == 3
    assert result.last == "FAILED: checkpoint note: its signature does not verify: the checkpoint was altered or forged"


def _other_vkey(vkey: str) -> str:
    """A well-formed verifier key of the same name for another Ed25519 key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    name = vkey.split("+", 1)[0]
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key_hash = hashlib.sha256(name.encode() + b"\n\x01" + raw).digest()[:4]
    typed = base64.b64encode(b"\x01" + raw).decode()
    return f"{name}+{key_hash.hex()}+{typed}"


# --- tampering ---------------------------------------------------------------------------------

NOT_RECORD = ("record_type", "personal", "hash")  # an export entry's members beside its record (VERIFY.md 6)


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def _write(path: Path, objs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs), "utf-8")
    return path


def _canonical(rec: dict) -> bytes:
    return json.dumps(rec, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _rechain(objs: list[dict]) -> list[dict]:
    """What an insider holding the database key writes: every hash, link and the trailer's digest
    made consistent again (only a signature or the signed checkpoint can tell)."""
    prev, digest, count = bytes(32), hashlib.sha256(), 0
    for obj in objs[1:-1]:
        count += 1
        obj["seq"], obj["prev_hash"] = count, prev.hex()
        rec = {k: v for k, v in obj.items() if k not in NOT_RECORD}
        prev = hashlib.sha256(prev + _canonical(rec)).digest()
        obj["hash"] = prev.hex()
        digest.update(prev)
    objs[-1].update(entries_exported=count, entries_sha256=digest.hexdigest(), last_seq=count)
    objs[0]["stop_seq"] = count
    return objs


def _entry(objs: list[dict], action: str, actor: str | None = None) -> dict:
    return next(o for o in objs if o.get("action") == action and (actor is None or o.get("actor") == actor))


def test_edited_entry_fails(trail, tmp_path):
    objs = _lines(trail.exports["jsonl"])
    created = _entry(objs, "created")
    created["details"]["data"]["amount"] = "150.00"
    result = verify(_write(tmp_path / "edited.jsonl", objs))
    assert result.code == 3
    assert result.last == f"FAILED: entries: entry {created['seq']} does not match its hash: its content was edited"


def test_removed_entry_fails(trail, tmp_path):
    objs = _lines(trail.exports["jsonl"])
    gone = _entry(objs, "rejected")
    objs.remove(gone)
    result = verify(_write(tmp_path / "removed.jsonl", objs))
    assert result.code == 3
    assert result.last == (f"FAILED: entries: entry {gone['seq']} is missing (the next entry is {gone['seq'] + 1}): "
                           "entries were removed")


def test_removed_entry_rechained_fails_at_the_signed_tree(trail, tmp_path):
    objs = _lines(trail.exports["jsonl"])
    objs.remove(_entry(objs, "rejected"))
    result = verify(_write(tmp_path / "removed.jsonl", _rechain(objs)))
    assert result.code == 3
    # every entry re-hashes, the signatures still verify (seq and prev_hash are not signed):
    # only the signed checkpoint, which covers one entry more, can tell
    assert result.line("entries").startswith("ok") and result.line("signatures").startswith("ok")
    assert result.last.startswith("FAILED: tree: the signed checkpoint covers"), result.out


def test_wrong_signature_is_a_forgery(trail, tmp_path):
    objs = _lines(trail.exports["jsonl"])
    approval = _entry(objs, "approved", "mike.director")
    approval["details"]["decider_role"] = "executive"  # the signature no longer covers it
    result = verify(_write(tmp_path / "forged.jsonl", _rechain(objs)))
    assert result.code == 3
    kid = approval["sig"]["key"]
    assert result.last == (f"FAILED: signatures: entry {approval['seq']} (approved {approval['workflow_id']} by "
                           f"mike.director) is a forgery: its signature does not verify against mike.director's key "
                           f"{kid}"), result.out


def test_forged_approval_by_another_key_is_a_forgery(trail, tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    objs = _lines(trail.exports["jsonl"])
    header = objs[0]
    approval = _entry(objs, "approved", "mike.director")
    mallory = Ed25519PrivateKey.generate()
    statement = b"hitl-tui signed statement v1\n" + _canonical(
        {"database_id": header["database_id"], **{k: approval[k] for k in ("action", "actor", "workflow_id", "ts", "details")}})
    approval["sig"]["value"] = mallory.sign(statement).hex()
    result = verify(_write(tmp_path / "forged.jsonl", _rechain(objs)))
    assert result.code == 3
    assert "is a forgery: its signature does not verify against mike.director's key" in result.last


def test_unsigned_decision_is_a_forgery(trail, tmp_path):
    objs = _lines(trail.exports["jsonl"])
    approval = _entry(objs, "approved", "sarah.manager")
    del approval["sig"]
    result = verify(_write(tmp_path / "unsigned.jsonl", _rechain(objs)))
    assert result.code == 3
    assert result.last.startswith(f"FAILED: signatures: entry {approval['seq']} (approved") and \
        result.last.endswith("is a forgery: it carries no signature"), result.last


def test_forged_checkpoint_fails(trail, tmp_path):
    objs = _lines(trail.exports["jsonl"])
    note = objs[0]["checkpoint"]["note"]
    lines = note.split("\n")
    lines[1] = str(int(lines[1]) + 1)  # claim one more entry than was signed
    forged = tmp_path / "forged.note"
    forged.write_text("\n".join(lines))
    result = verify(trail.exports["jsonl"], "--checkpoint", forged)
    assert result.code == 3
    assert result.last == "FAILED: checkpoint note: its signature does not verify: the checkpoint was altered or forged"
    objs[0]["checkpoint"]["note"] = "\n".join(lines)
    assert verify(_write(tmp_path / "forged.jsonl", objs)).last == result.last


def test_rewritten_trail_with_a_stolen_old_checkpoint_fails(trail, tmp_path):
    """An export cut short, with the note of another size: the tree cannot match."""
    objs = _lines(trail.exports["jsonl"])
    result = verify(_write(tmp_path / "short.jsonl", _rechain(objs[:-3] + objs[-1:])))
    assert result.code == 3 and result.last.startswith("FAILED: tree:"), result.out


def test_edited_csv_fails(trail, tmp_path):
    text = trail.exports["csv"].read_bytes().decode("utf-8-sig")
    rows = text.split("\r\n")
    i = next(n for n, row in enumerate(rows) if ",rejected," in row)
    edited = tmp_path / "edited.csv"
    edited.write_bytes(("\ufeff" + "\r\n".join(rows[:i] + [rows[i].replace(",sarah.manager,", ",mike.director,", 1)]
                                                + rows[i + 1:])).encode())
    result = verify(edited)
    assert result.code == 3
    assert result.last.startswith(f"FAILED: file: row {i + 1} (entry ") and result.last.endswith(
        "its actor column says mike.director but the hashed record says sarah.manager: the spreadsheet was edited")
    body = tmp_path / "body.csv"
    assert rows[i].count('""decision"":""reject""') == 1  # the body cell (the readable one has spaces)
    body.write_bytes(("\ufeff" + "\r\n".join(rows[:i] + [rows[i].replace('""decision"":""reject""', '""decision"":""approve""')]
                                                 + rows[i + 1:])).encode())
    assert "does not match its hash: its content was edited" in verify(body).last
    # the comment is personal: sealed in the body, its text in the `personal` cell, checked against the seal
    cells = dict(zip(rows[0].split(","), next(csv.reader([rows[i]]))))
    assert "no budget" not in cells["body"] and "no budget" in cells["personal"] and "no budget" in cells["summary"]
    opening = tmp_path / "opening.csv"
    opening.write_bytes(("\ufeff" + "\r\n".join(rows[:i] + [rows[i].replace("no budget", "no money")] + rows[i + 1:])).encode())
    seq = rows[i].split(",")[1]
    assert verify(opening).last == (f"FAILED: personal data: entry {seq} holds a sealed value whose opening does not "
                                    f"match its digest: the value was edited")


def test_edited_report_evidence_fails(trail, tmp_path):
    html = trail.exports["html"].read_text("utf-8")
    cut = html.index('id="hitl-audit-evidence"')
    assert '"amount": "15000.00"' in html[cut:]
    edited = tmp_path / "edited.html"
    edited.write_text(html[:cut] + html[cut:].replace('"amount": "15000.00"', '"amount": "1500.00"'), "utf-8")
    result = verify(edited)
    assert result.code == 3 and result.last.startswith("FAILED: entries: entry ") and result.last.endswith(
        "does not match its hash: its content was edited"), result.out


def test_partial_exports_check_signatures_with_the_bundles_key_history(trail, tmp_path):
    for export in (trail.exports["filtered"], trail.exports["html"], trail.exports["md"]):
        alone = verify(export)
        assert alone.last == "verified" and "signed actions not checked" in alone.line("signatures"), alone.out
        keyed = verify(export, "--keys", trail.bundle / "keys.json")
        assert keyed.last == "verified", keyed.out
        assert keyed.line("signatures").startswith("ok") and " 0 bootstrap" in keyed.line("signatures")
        assert keyed.line("key history").startswith("ok")
    objs = _lines(trail.exports["filtered"])
    approval = _entry(objs, "approved")
    approval["details"]["decider_role"] = "executive"
    objs = _rechain_partial(objs, approval)
    result = verify(_write(tmp_path / "forged.jsonl", objs), "--keys", trail.bundle / "keys.json")
    assert result.code == 3 and "is a forgery: its signature does not verify against sarah.manager's key" in result.last

    keys = json.loads((trail.bundle / "keys.json").read_text())
    mallory = _other_vkey("x+00000000+AA").split("+", 2)[2]  # base64 may hold "+" itself
    sarah = next(e for e in keys["entries"] if e.get("details", {}).get("username") == "sarah.manager")
    sarah["details"]["public_key"] = "ed25519:" + base64.b64decode(mallory)[1:].hex()
    rec = {k: v for k, v in sarah.items() if k not in ("record_type", "hash", "proof")}
    sarah["hash"] = hashlib.sha256(bytes.fromhex(rec["prev_hash"]) + _canonical(rec)).hexdigest()
    forged_keys = tmp_path / "keys.json"
    forged_keys.write_text(json.dumps(keys))
    result = verify(trail.exports["filtered"], "--keys", forged_keys)
    assert result.code == 3
    assert result.line("key history").startswith("FAIL") and "is not in the signed tree" in result.line("key history")


def _rechain_partial(objs: list[dict], changed: dict) -> list[dict]:
    """Re-hash one edited entry of a filtered export (its neighbours are not in the file)."""
    rec = {k: v for k, v in changed.items() if k not in NOT_RECORD}
    changed["hash"] = hashlib.sha256(bytes.fromhex(rec["prev_hash"]) + _canonical(rec)).hexdigest()
    digest = hashlib.sha256()
    for obj in objs[1:-1]:
        digest.update(bytes.fromhex(obj["hash"]))
    objs[-1]["entries_sha256"] = digest.hexdigest()
    return objs


def test_state_that_disagrees_fails(trail, tmp_path):
    state = json.loads((trail.bundle / "state.json").read_text())
    assert verify(trail.exports["jsonl"], "--state", trail.bundle / "state.json").last == "verified"
    travel = next(r for r in state["requests"] if r["id"] == trail.requests["travel"])
    travel["data"] = travel["data"].replace("15000.00", "1500.00")
    changed = tmp_path / "state.json"
    changed.write_text(json.dumps(state))
    result = verify(trail.exports["jsonl"], "--state", changed)
    assert result.code == 3
    assert result.last == f"FAILED: state: {trail.requests['travel']} amount is 1500.00 in the table, 15000.00 in the trail"

    state = json.loads((trail.bundle / "state.json").read_text())
    laptop = next(r for r in state["requests"] if r["id"] == trail.requests["laptop"])
    laptop["status"] = "approved"
    changed.write_text(json.dumps(state))
    assert verify(trail.exports["jsonl"], "--state", changed).last == (
        f"FAILED: state: {trail.requests['laptop']} status is approved in the table, rejected in the trail")

    state = json.loads((trail.bundle / "state.json").read_text())
    state["approvals"] = [a for a in state["approvals"] if a["decision"] != "reject"]
    changed.write_text(json.dumps(state))
    assert verify(trail.exports["jsonl"], "--state", changed).last == (
        f"FAILED: state: {trail.requests['laptop']}'s decision of stage 1 (revision 1) is in the trail but missing "
        f"from the table")

    state = json.loads((trail.bundle / "state.json").read_text())
    next(u for u in state["users"] if u["username"] == "ian.itadmin")["active"] = 1
    changed.write_text(json.dumps(state))
    assert verify(trail.exports["jsonl"], "--state", changed).last == (
        "FAILED: state: user ian.itadmin active is 1 in the table, 0 in the trail")


# --- hostile files: one line, never a traceback --------------------------------------------------

def test_hostile_files_fail_in_one_line(trail, tmp_path):
    good = trail.exports["jsonl"].read_text("utf-8").splitlines()
    cases = {
        "missing.jsonl": None,
        "empty.jsonl": "",
        "binary.jsonl": b"\x00\xff\xfe garbage \x89PNG",
        "not-json.jsonl": good[0] + "\n{not json\n" + "\n".join(good[1:]) + "\n",
        "types.jsonl": good[0] + "\n" + json.dumps({"record_type": "audit_entry", "seq": "1", "hash": 7}) + "\n",
        "deep.jsonl": good[0] + "\n" + "[" * 100_000 + "]" * 100_000 + "\n",
        "dupes.jsonl": good[0] + "\n" + good[1][:-1] + ',"actor":"mallory"}\n' + "\n".join(good[2:]) + "\n",
        "header.jsonl": '{"record_type": 5}\n',
        "surrogate.jsonl": good[0] + "\n" + good[1].replace('"actor":"', '"actor":"\\ud800', 1) + "\n",
        "note-only.txt": "hitl-tui.local/x\n10\n",
    }
    for name, content in cases.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif content is not None:
            path.write_text(content, "utf-8")
        result = verify(path)
        assert result.code == 3, (name, result.out)
        assert result.last.startswith("FAILED: "), (name, result.out)
        assert len(result.last) < 400 and result.err == "", (name, result.out, result.err)


def test_huge_line_fails_in_one_line(trail, tmp_path):
    header = trail.exports["jsonl"].read_text("utf-8").splitlines()[0]
    huge = tmp_path / "huge.jsonl"
    with open(huge, "w") as fh:
        fh.write(header + "\n" + '{"record_type":"audit_entry","x":"' + "a" * (17 * 1024 * 1024) + '"}\n')
    result = verify(huge)
    assert result.code == 3 and result.last == f"FAILED: input: line 2 of {huge} is longer than 16 MiB: not an export line"


def test_hostile_state_and_note_files(trail, tmp_path):
    bad = tmp_path / "bad.json"
    for text in ("[1, 2]", '{"requests": 5, "approvals": [], "users": []}', "{"):
        bad.write_text(text)
        result = verify(trail.exports["jsonl"], "--state", bad)
        assert result.code == 3 and result.last.startswith("FAILED: "), result.out
    note = tmp_path / "bad.note"
    for text in ("", "x\n\n", "hitl-tui.local/a\n01\nAAAA\n\n\u2014 n AAAA\n"):
        note.write_text(text)
        result = verify(trail.exports["jsonl"], "--checkpoint", note)
        assert result.code == 3 and result.last.startswith("FAILED: checkpoint note:"), result.out
    assert verify(trail.exports["jsonl"], "--vkey", "not a key").last.startswith("FAILED: input:")


def test_usage_errors_are_one_line():
    result = verify()
    assert result.code == 2 and result.err.strip().count("\n") == 0 and "give an EXPORT" in result.err


def test_a_self_signed_administrator_after_the_bootstrap_is_a_forgery(trail, tmp_path):
    """Mallory appends herself as an administrator, signed by a key of her own: a signature proves
    who signed, not that they were allowed to add people (VERIFY.md 3.3, rule 2)."""
    import copy

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    objs = _lines(trail.exports["jsonl"])
    header = objs[0]
    last = [o for o in objs if o.get("record_type") == "audit_entry"][-1]
    mallory = Ed25519PrivateKey.generate()
    raw = mallory.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    forged = copy.deepcopy(last)
    forged.update(seq=last["seq"] + 1, actor="mallory", action="user_added", workflow_id=None, details={
        "username": "mallory", "role": "executive", "email": None, "display_name": None, "admin": True,
        "public_key": "ed25519:" + raw.hex(), "key_id": hashlib.sha256(raw).hexdigest()[:16]})
    statement = b"hitl-tui signed statement v1\n" + _canonical(
        {"database_id": header["database_id"], **{k: forged[k] for k in ("action", "actor", "workflow_id", "ts", "details")}})
    forged["sig"] = {"alg": "ed25519", "key": forged["details"]["key_id"], "value": mallory.sign(statement).hex()}
    objs.insert(objs.index(last) + 1, forged)
    result = verify(_write(tmp_path / "mallory.jsonl", _rechain(objs)))
    assert result.code == 3
    assert "is a forgery: mallory was not an active administrator at that point of the trail" in result.out, result.out
