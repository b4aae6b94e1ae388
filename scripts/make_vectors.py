"""Generate docs/vectors/ from hitl-tui's own code (scripts/make-vectors runs this).

Deterministic: every key comes from a fixed seed, every timestamp and id is fixed, and Ed25519
signatures are deterministic (RFC 8032), so two runs write the same bytes. The entries are built
with the engine's core functions (audit.build_record, canonical_bytes, chain_hash,
signatures.sign, merkle, checkpoints.Signer) rather than through WorkflowService, whose clock,
request ids and session ids are random. tests/verifier/test_vectors.py checks that the
committed files equal what this writes now, so docs/VERIFY.md cannot drift from the code.
The signed trail, the tree, the checkpoint and broken.json are made here; what the parts share
is in vectors_common.py, personal data in vectors_privacy.py, receipts in vectors_receipts.py.

    python scripts/make_vectors.py [--out DIR]     (default: docs/vectors)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

# first: it puts the repository on sys.path (the script runs from a checkout, not an install)
from vectors_common import CTX, DATABASE_ID, KEYS, ROOT, START, WF, b64, key_fields, raw_public  # isort: skip
from vectors_privacy import privacy_broken, privacy_vectors
from vectors_receipts import receipt_vectors

from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from hitl_tui.core import checkpoints, merkle, signatures
from hitl_tui.core.audit import GENESIS, build_record, canonical_bytes, chain_hash


def trail_actions() -> list[tuple[str, str, str | None, dict[str, Any], str | None]]:
    """(actor, action, workflow_id, details, signing key name or None) for each entry."""
    created = {
        "workflow_type": "expense_approval", "title": "Zürich offsite \"Q4\" — 東京 next",
        "description": "Flights, hotel\nand a\ttab; backslash \\ and a bell \u0007 stay text",
        "data": {"amount": "15000.00", "category": "travel"}, "risk_level": "HIGH", "risk_field": "amount",
        "risk_reason": "amount 15,000.00 >= 10,000", "chain": ["manager", "director", "executive"],
        "status_after": "awaiting_approval", "stage_after": 0, "revision": 1, "policy_version": 1,
        "policy_sha256": hashlib.sha256(b"policy v1").hexdigest(),
    }
    return [
        ("ann.admin", "user_added", None, {"username": "ann.admin", "role": "it_admin", "email": "ann@example.com",
                                           "display_name": "Ann Admin", "admin": True, **key_fields("ann.admin")},
         "ann.admin"),
        ("ann.admin", "user_added", None, {"username": "sarah.manager", "role": "manager", "email": None,
                                           "display_name": "Sarah Manager", "admin": False,
                                           **key_fields("sarah.manager")}, "ann.admin"),
        ("ann.admin", "user_added", None, {"username": "john.doe", "role": "employee", "email": "john@example.com",
                                           "display_name": "John Dœ", "admin": False, **key_fields("john.doe")},
         "ann.admin"),
        ("ann.admin", "user_added", None, {"username": "mike.director", "role": "director", "email": None,
                                           "display_name": None, "admin": False, **key_fields("mike.director")},
         "ann.admin"),
        ("john.doe", "created", WF, created, "john.doe"),
        ("sarah.manager", "approved", WF, {
            "decision": "approve", "stage": 0, "stage_role": "manager", "decider_role": "manager",
            "comments": "Within budget.", "revision": 1, "status_before": "awaiting_approval",
            "status_after": "awaiting_approval", "stage_after": 1, "stages": 3}, "sarah.manager"),
        ("ann.admin", "user_key_registered", None, {
            "username": "sarah.manager", "replaces": key_fields("sarah.manager")["key_id"],
            "reason": "new laptop", **key_fields("sarah.manager#2")}, "ann.admin"),
        ("system", "key_rotated", None, {"reason": "scheduled"}, None),
        ("mike.director", "changes_requested", WF, {
            "decision": "request_changes", "stage": 1, "stage_role": "director", "decider_role": "director",
            "comments": "Split the hotel from the flights, please.", "revision": 1,
            "status_before": "awaiting_approval", "status_after": "changes_requested", "stage_after": 1,
            "stages": 3}, "mike.director"),
        ("ann.admin", "user_key_revoked", None, {"username": "john.doe", "key_id": key_fields("john.doe")["key_id"],
                                                 "reason": "key file lost"}, "ann.admin"),
    ]


def build_trail() -> list[dict[str, Any]]:
    out, prev = [], GENESIS
    for i, (actor, action, wid, details, signer) in enumerate(trail_actions(), 1):
        ts = START + timedelta(minutes=i, microseconds=123456 * i % 1_000_000)
        record = build_record(i, prev, ts, actor, action, wid, details, CTX)
        if signer is not None:
            record["sig"] = signatures.sign(KEYS[signer], record, DATABASE_ID)
        body = canonical_bytes(record)
        prev = chain_hash(prev, body)
        out.append({"record": record, "canonical_b64": b64(body), "chain_hash": prev.hex(),
                    "leaf_hash": merkle.leaf_hash(body).hex()})
    return out


CANONICAL_CASES: list[tuple[str, Any]] = [
    ("sorted keys, nested", {"b": 1, "a": {"d": [3, 2, 1], "c": None}, "A": True, "_": False}),
    ("integers", {"zero": 0, "neg": -42, "big": 123456789012345678901234567890}),
    ("floats as shortest repr", {"f": [0.1, 2.5, 1e16, 1.5e-07, -0.0, 100.0]}),
    ("escapes", {"s": "quote \" backslash \\ slash / newline \n cr \r tab \t bs \b ff \f"}),
    ("control characters", {"s": "\u0000\u0001\u001f\u007f"}),
    ("non-ASCII as UTF-8", {"s": "Zürich — 東京 😀 \u2028 \u2029 \u00a0"}),
    ("key order is code-point order", {"é": 1, "z": 2, "Z": 3, "😀": 4, "\uffff": 5, "a": 6}),
    ("empty containers", {"o": {}, "l": [], "s": ""}),
    ("a decimal amount is a string", {"amount": "15000.00"}),
]


def canonical_vectors() -> dict[str, Any]:
    return {"about": "value -> canonical bytes (VERIFY.md 1)",
            "cases": [{"name": name, "value": value, "canonical_b64": b64(canonical_bytes(value))}
                      for name, value in CANONICAL_CASES]}


def tree_vectors(trail: list[dict[str, Any]]) -> dict[str, Any]:
    bodies = [base64.b64decode(e["canonical_b64"]) for e in trail]
    bodies += [canonical_bytes({"n": i}) for i in range(len(bodies), 33)]
    leaves = [merkle.leaf_hash(b) for b in bodies]
    sizes = list(range(0, 18)) + [32, 33]
    roots = {str(n): merkle.root_of(leaves[:n]).hex() for n in sizes}
    perfect = merkle.list_perfect(leaves)
    inclusion = [{"index": i, "size": n, "path": [h.hex() for h in merkle.inclusion_proof(i, n, perfect)]}
                 for n in range(1, 9) for i in range(n)]
    inclusion += [{"index": i, "size": 33, "path": [h.hex() for h in merkle.inclusion_proof(i, 33, perfect)]}
                  for i in (0, 16, 31, 32)]
    consistency = [{"first": m, "second": n, "path": [h.hex() for h in merkle.consistency_proof(m, n, perfect)]}
                   for m, n in ((1, 1), (1, 8), (3, 7), (4, 7), (6, 8), (2, 5), (7, 17), (8, 32), (13, 33), (16, 17))]
    return {"about": "RFC 9162 2.1 (VERIFY.md 4); leaf i is entries.json's entry i+1 for i < 10, "
                     "then canonical {\"n\": i}",
            "leaf_data_b64": [b64(b) for b in bodies], "leaf_hashes": [h.hex() for h in leaves],
            "roots": roots, "inclusion": inclusion, "consistency": consistency}


def checkpoint_vectors(trail: list[dict[str, Any]]) -> tuple[dict[str, Any], str, str]:
    bodies = [base64.b64decode(e["canonical_b64"]) for e in trail]
    root = merkle.root_of([merkle.leaf_hash(b) for b in bodies])
    private = KEYS["checkpoint"].private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    when = START + timedelta(hours=3)
    with mock.patch.object(checkpoints, "utc_now", lambda: when):  # the real signer, a fixed clock
        cp = checkpoints.Signer(private).sign(DATABASE_ID, len(trail), trail[-1]["chain_hash"], root.hex())
    origin = checkpoints.ORIGIN_PREFIX + DATABASE_ID
    vkey = checkpoints.verifier_key(origin, cp.public_key)
    assert cp.note is not None
    meta = {"about": "a C2SP tlog-checkpoint signed note of entries.json's trail (VERIFY.md 5)",
            "note_file": "checkpoint.note", "vkey_file": "checkpoint.vkey", "origin": origin,
            "size": len(trail), "root": b64(root), "chain": trail[-1]["chain_hash"],
            "public_key": cp.public_key,
            "key_hash": checkpoints.key_hash(origin, bytes.fromhex(cp.public_key)).hex(),
            "signed_message_b64": b64(checkpoints.parse_note(cp.note).body.encode())}
    return meta, cp.note, vkey + "\n"


def signature_vectors(trail: list[dict[str, Any]]) -> dict[str, Any]:
    keys = []
    for name, key in KEYS.items():
        raw = raw_public(key)
        keys.append({"name": name, "seed": f"sha256('hitl-tui test vector key: {name}')",
                     "public_key": signatures.public_key_text(raw), "key_id": signatures.key_id(raw)})
    statements = []
    for e in trail:
        rec = e["record"]
        if "sig" not in rec:
            continue
        fields = {k: rec[k] for k in ("action", "actor", "workflow_id", "ts", "details")}
        statements.append({"name": f"entry {rec['seq']} ({rec['action']})", "database_id": DATABASE_ID,
                           "record": fields, "statement_b64": b64(signatures.statement_of(rec, DATABASE_ID)),
                           "key_id": rec["sig"]["key"], "signature": rec["sig"]["value"]})
    return {"about": "keys from fixed seeds; signed statements (VERIFY.md 3)", "keys": keys, "statements": statements}


def _rechain(records: list[dict[str, Any]], *, resign: dict[int, str] | None = None) -> list[dict[str, Any]]:
    """Records with seq/prev_hash (and, where asked, signatures by the named key) made
    consistent again: a forgery that is hashed correctly, as an insider would write it."""
    out, prev = [], GENESIS
    for i, rec in enumerate(records, 1):
        rec = {**rec, "seq": i, "prev_hash": prev.hex()}
        if resign and i in resign:
            rec["sig"] = signatures.sign(KEYS[resign[i]], rec, DATABASE_ID)
        prev = chain_hash(prev, canonical_bytes(rec))
        out.append(rec)
    return out


def broken_vectors(trail: list[dict[str, Any]], tree: dict[str, Any], note: str, vkey: str) -> dict[str, Any]:
    records = [e["record"] for e in trail]
    cases: list[dict[str, Any]] = []

    edited = json.loads(json.dumps(records[4]))
    edited["details"]["data"]["amount"] = "1500.00"
    cases.append({"name": "edited amount", "kind": "entry", "record": edited, "claimed_hash": trail[4]["chain_hash"],
                  "must_fail_because": "the record no longer hashes to its stated hash"})
    moved = dict(records[5], prev_hash=trail[2]["chain_hash"])
    cases.append({"name": "relinked entry", "kind": "entry", "record": moved, "claimed_hash": trail[5]["chain_hash"],
                  "must_fail_because": "a changed prev_hash changes the hash"})
    cases.append({"name": "removed entry", "kind": "chain",
                  "entries": [{"record": r, "hash": e["chain_hash"]} for r, e in zip(records, trail) if r["seq"] != 4],
                  "first_bad_entry": 4, "must_fail_because": "entry 4 is missing: entry 5 does not follow entry 3"})
    swapped = [{"record": r, "hash": e["chain_hash"]} for r, e in zip(records, trail)]
    swapped[5], swapped[6] = swapped[6], swapped[5]
    cases.append({"name": "reordered entries", "kind": "chain", "entries": swapped,
                  "first_bad_entry": 6, "must_fail_because": "entries 6 and 7 are out of order"})

    inc = next(p for p in tree["inclusion"] if p["size"] == 8 and p["index"] == 5)
    leaves, roots = tree["leaf_hashes"], tree["roots"]
    flipped = list(inc["path"])
    flipped[1] = flipped[1][:-2] + ("00" if flipped[1][-2:] != "00" else "01")
    cases.append({"name": "inclusion proof with an altered hash", "kind": "inclusion", "index": 5, "size": 8,
                  "leaf_hash": leaves[5], "path": flipped, "root": roots["8"],
                  "must_fail_because": "the path no longer folds to the root"})
    cases.append({"name": "inclusion proof for another index", "kind": "inclusion", "index": 4, "size": 8,
                  "leaf_hash": leaves[5], "path": inc["path"], "root": roots["8"],
                  "must_fail_because": "the proof is for leaf 5, not leaf 4"})
    cases.append({"name": "inclusion proof one hash short", "kind": "inclusion", "index": 5, "size": 8,
                  "leaf_hash": leaves[5], "path": inc["path"][:-1], "root": roots["8"],
                  "must_fail_because": "a path of a tree of 8 has 3 hashes"})
    cons = next(p for p in tree["consistency"] if (p["first"], p["second"]) == (3, 7))
    cases.append({"name": "consistency proof against another old root", "kind": "consistency", "first": 3,
                  "second": 7, "first_root": roots["4"], "second_root": roots["7"], "path": cons["path"],
                  "must_fail_because": "the old root is not the tree of 3 entries"})
    cases.append({"name": "consistency proof of a rewritten log", "kind": "consistency", "first": 3, "second": 7,
                  "first_root": roots["3"], "second_root": roots["6"], "path": cons["path"],
                  "must_fail_because": "the new root is not an extension of the old one"})

    body, _, sigs = note.partition("\n\n")
    lines = body.split("\n")
    cases.append({"name": "checkpoint note with an altered size", "kind": "note",
                  "note": "\n".join([lines[0], "11", *lines[2:]]) + "\n\n" + sigs, "vkey": vkey.strip(),
                  "must_fail_because": "the signature covers the size 10"})
    other_root = base64.b64encode(bytes.fromhex(roots["9"])).decode()
    cases.append({"name": "checkpoint note with another root", "kind": "note",
                  "note": "\n".join([lines[0], lines[1], other_root, *lines[3:]]) + "\n\n" + sigs,
                  "vkey": vkey.strip(), "must_fail_because": "the signature covers the real root"})
    mallory = raw_public(KEYS["mallory"]).hex()
    origin = checkpoints.ORIGIN_PREFIX + DATABASE_ID
    forged_sig = KEYS["mallory"].sign((body + "\n").encode())
    forged = body + "\n\n" + checkpoints.signature_line(origin, bytes.fromhex(mallory), forged_sig)
    cases.append({"name": "checkpoint note signed by another key", "kind": "note", "note": forged,
                  "vkey": vkey.strip(), "must_fail_because": "it is not signed by the trusted verifier key"})

    st = signature_vectors(trail)["statements"][5]  # the manager's approval
    changed = json.loads(json.dumps(st["record"]))
    changed["details"]["comments"] = "Approved without reading."
    cases.append({"name": "statement with altered comments", "kind": "statement", "database_id": DATABASE_ID,
                  "record": changed, "public_key": key_fields("sarah.manager")["public_key"],
                  "signature": st["signature"], "must_fail_because": "the signature covers the original comments"})
    cases.append({"name": "statement replayed into another database", "kind": "statement",
                  "database_id": "f" * 32, "record": st["record"],
                  "public_key": key_fields("sarah.manager")["public_key"], "signature": st["signature"],
                  "must_fail_because": "the database id is part of the signed statement"})

    forged_approval = dict(records[5], actor="mike.director", details={**records[5]["details"], "decider_role": "director"})
    cases.append({"name": "approval signed by the wrong person", "kind": "trail", "database_id": DATABASE_ID,
                  "records": _rechain(records[:5] + [forged_approval], resign={6: "mallory"}),
                  "first_bad_entry": 6, "must_fail_because": "entry 6 (approved) is not signed by mike.director's registered key"})
    unsigned = {k: v for k, v in records[5].items() if k != "sig"}
    cases.append({"name": "unsigned approval once the directory has an administrator", "kind": "trail",
                  "database_id": DATABASE_ID, "records": _rechain(records[:5] + [unsigned]),
                  "first_bad_entry": 6, "must_fail_because": "entry 6 (approved) carries no signature"})
    old_key = dict(records[5], ts=records[7]["ts"])
    cases.append({"name": "approval signed with a replaced key", "kind": "trail", "database_id": DATABASE_ID,
                  "records": _rechain(records[:7] + [old_key], resign={8: "sarah.manager"}),
                  "first_bad_entry": 8, "must_fail_because": "sarah.manager's first key was replaced by entry 7"})
    revoked = dict(records[4], ts=records[9]["ts"])
    cases.append({"name": "request signed with a revoked key", "kind": "trail", "database_id": DATABASE_ID,
                  "records": _rechain(records + [revoked], resign={11: "john.doe"}),
                  "first_bad_entry": 11, "must_fail_because": "john.doe's key was revoked by entry 10"})
    first_use = {**records[6], "actor": "sarah.manager",
                 "details": {**records[6]["details"], "first_use": True, "replaces": None}}
    cases.append({"name": "first-use enrolment by someone who had a key", "kind": "trail", "database_id": DATABASE_ID,
                  "records": _rechain(records[:6] + [first_use], resign={7: "sarah.manager#2"}),
                  "first_bad_entry": 7, "must_fail_because": "first use is allowed only for a person who never had a key"})

    token = hashlib.sha256(b"hitl-tui test vector: a bearer token").hexdigest()
    made = {**{k: v for k, v in records[9].items() if k != "sig"}, "action": "token_created", "workflow_id": None,
            "details": {"token_id": "tk-" + token[:12], "token_hash": token, "username": "john.doe", "name": "ERP"}}
    cases.append({"name": "token made by someone who is no administrator", "kind": "trail",
                  "database_id": DATABASE_ID,
                  "records": _rechain(records + [dict(made, actor="sarah.manager")], resign={11: "sarah.manager#2"}),
                  "first_bad_entry": 11, "must_fail_because": "a valid signature by sarah.manager, who was not an "
                                                              "administrator: only one makes or revokes a token"})
    revoked = dict(made, action="token_revoked",
                   details={"token_id": "tk-" + token[:12], "username": "john.doe", "reason": "rotated"})
    cases.append({"name": "unsigned token revocation", "kind": "trail", "database_id": DATABASE_ID,
                  "records": _rechain(records + [made, revoked], resign={11: "ann.admin"}),
                  "first_bad_entry": 12, "must_fail_because": "token_revoked is signed by its administrator; "
                                                              "entry 11, the token's creation, is signed and valid"})

    cases.append({"name": "duplicate key", "kind": "json", "text": '{"seq":1,"action":"approved","action":"rejected"}',
                  "must_fail_because": "a parser would keep one of two values; canonical JSON has none"})
    cases.append({"name": "NaN", "kind": "json", "text": '{"amount":NaN}',
                  "must_fail_because": "NaN is not JSON"})
    cases += privacy_broken()
    return {"about": "cases that must FAIL, each with the reason (VERIFY.md 9)", "cases": cases}


def write(out: Path) -> list[Path]:
    trail = build_trail()
    tree = tree_vectors(trail)
    cp_meta, note, vkey = checkpoint_vectors(trail)
    files = {
        "canonical.json": canonical_vectors(),
        "entries.json": {"about": "a signed trail: records, their canonical bytes, chain and leaf hashes "
                                  "(VERIFY.md 1-3)", "database_id": DATABASE_ID, "entries": trail},
        "tree.json": tree,
        "checkpoint.json": cp_meta,
        "signatures.json": signature_vectors(trail),
        "privacy.json": privacy_vectors(),
        "receipts.json": receipt_vectors(),
        "broken.json": broken_vectors(trail, tree, note, vkey),
    }
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in files.items():
        path = out / name
        path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    for name, text in (("checkpoint.note", note), ("checkpoint.vkey", vkey)):
        (out / name).write_text(text, encoding="utf-8", newline="")
        written.append(out / name)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "vectors")
    args = parser.parse_args()
    for path in write(args.out):
        print(path)


if __name__ == "__main__":
    main()
