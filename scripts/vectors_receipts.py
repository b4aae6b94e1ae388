"""docs/vectors/receipts.json (VERIFY.md 11): one genuine receipt made by core/receipts.py with the
vectors' checkpoint key, the key to trust (checkpoint.vkey's, and as ed25519:HEX), and the
receipts a verifier must refuse, each with its verdict. Used by scripts/make_vectors.py.

Every case is judged here by core/receipts.py itself (problem()), and the file is written only
if that judgement is the verdict the case states: the vectors cannot say what the code does not.
The receipt's `audit_seq` and `chain_head` are fixed values (a receipt is checked without the
trail; `hitl-tui prove` ties them to a checkpoint, VERIFY.md 4-5).
"""

from __future__ import annotations

import copy
import hashlib
from datetime import timedelta
from typing import Any

from vectors_common import DATABASE_ID, KEYS, START, b64, raw_public

from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from hitl_tui.core import checkpoints, payloads, receipts
from hitl_tui.core.audit import iso

REQUEST = "WF-1764590400-0077"
OTHER_REQUEST = "WF-1764590400-0078"
OTHER_DATABASE = "fedcba9876543210fedcba9876543210"
PAYLOAD = {"tool": "refund", "order_id": "A-1001", "amount": "120.00", "currency": "EUR"}
OTHER_PAYLOAD = {**PAYLOAD, "amount": "1200.00"}
#: the verdicts: what `hitl_verify.py --receipt` prints last and its exit status
GENUINE, REFUSED = ("genuine", 0), ("refused", 3)


def _signer(name: str) -> checkpoints.Signer:
    return checkpoints.Signer(KEYS[name].private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))


def _receipt(signer: str = "checkpoint", **changes: Any) -> dict[str, Any]:
    statement = receipts.body(
        database_id=DATABASE_ID, request_id=REQUEST, payload_sha256=payloads.sha256_of(PAYLOAD), policy_version=3,
        outcome="approved", decided_by="sarah.manager", decider_role="manager",
        decided_at=iso(START + timedelta(hours=5, minutes=7, microseconds=250000)), audit_seq=42,
        chain_head=hashlib.sha256(b"hitl-tui test vector: the chain head after entry 42").hexdigest())
    return receipts.signed({**statement, **changes}, _signer(signer))


def _altered(receipt: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """`receipt` with members changed after signing: its signature is the original one."""
    return {**copy.deepcopy(receipt), **changes}


def _case(name: str, receipt: dict[str, Any], key: str, verdict: tuple[str, int], because: str | None,
          why: str, *, payload: dict[str, Any] | None = None, request_id: str | None = None) -> dict[str, Any]:
    """One case; `because`: a phrase the refusal's reason contains (None for a genuine receipt)."""
    return {"name": name, "receipt": receipt, "trusted_key": key, "payload": payload, "request_id": request_id,
            "verdict": verdict[0], "exit_status": verdict[1], "refused_because": because, "why": why}


def _judged(case: dict[str, Any]) -> dict[str, Any]:
    """The case, once core/receipts.py reaches the same verdict for the same reason."""
    key = case["trusted_key"]
    digest = None if case["payload"] is None else payloads.sha256_of(case["payload"])
    found = receipts.problem(case["receipt"], receipts.parse_key(key), digest, request_id=case["request_id"],
                             database_id=receipts.database_of_key(key))
    agrees = found is None if case["verdict"] == GENUINE[0] else found is not None and case["refused_because"] in found
    if not agrees:
        raise SystemExit(f"receipts.json: core/receipts.py judges case {case['name']!r} otherwise: {found}")
    return case


def receipt_vectors() -> dict[str, Any]:
    public = raw_public(KEYS["checkpoint"])
    vkey = checkpoints.verifier_key(checkpoints.ORIGIN_PREFIX + DATABASE_ID, public.hex())
    bare = "ed25519:" + public.hex()
    good = _receipt()
    mallory = _receipt("mallory")
    forged_signature = _altered(good, signature={**good["signature"], "value": mallory["signature"]["value"]})
    elsewhere = _receipt(database_id=OTHER_DATABASE)  # the same key signs another database's checkpoints
    cases = [
        _case("genuine receipt", good, vkey, GENUINE, None, "signed by the trusted key over exactly what it says"),
        _case("genuine receipt, trusted key as ed25519:HEX", good, bare, GENUINE, None,
              "the same key, written bare (it names no database)"),
        _case("genuine receipt for its payload and request", good, vkey, GENUINE, None,
              "payload_sha256 is the sha256 of the payload's canonical bytes, request_id the request's",
              payload=PAYLOAD, request_id=REQUEST),
        _case("forged signature", forged_signature, vkey, REFUSED, "its signature does not verify",
              "the signature value is another key's signature over the same statement"),
        _case("outcome changed", _altered(good, outcome="rejected"), vkey, REFUSED, "its signature does not verify",
              "the signature covers outcome approved"),
        _case("payload_sha256 changed", _altered(good, payload_sha256=payloads.sha256_of(OTHER_PAYLOAD)), vkey,
              REFUSED, "its signature does not verify", "the signature covers the approved payload's hash"),
        _case("decided_by changed", _altered(good, decided_by="mike.director"), vkey, REFUSED,
              "its signature does not verify", "the signature covers who decided"),
        _case("request_id changed", _altered(good, request_id=OTHER_REQUEST), vkey, REFUSED,
              "its signature does not verify", "the signature covers the request id"),
        _case("signed by another key", mallory, vkey, REFUSED, "not by the trusted key",
              "a valid signature, by a key that is not the one trusted"),
        _case("genuine receipt for another payload", good, vkey, REFUSED, "it is for another payload",
              "the payload about to run is not the one approved", payload=OTHER_PAYLOAD),
        _case("genuine receipt replayed for another request", good, vkey, REFUSED, "a receipt of another request",
              "it settles " + REQUEST + ", not the request in hand", payload=PAYLOAD, request_id=OTHER_REQUEST),
        _case("genuine receipt replayed from another database", elsewhere, vkey, REFUSED,
              "a receipt of another database",
              "signed by the same key for database " + OTHER_DATABASE + ", while the trusted verifier key names "
              + DATABASE_ID),
    ]
    return {"about": "a receipt signed with checkpoint.vkey's key, and the receipts a verifier must refuse, each "
                     "with its verdict (VERIFY.md 11): `hitl_verify.py --receipt R --vkey trusted_key [--payload P] "
                     "[--request request_id]` prints `verified` and exits 0 for a genuine one, `FAILED: receipt: "
                     "...` (containing refused_because) and exits 3 otherwise",
            "domain": receipts.DOMAIN.decode(), "public_key": bare, "vkey": vkey,
            "payload": PAYLOAD, "payload_sha256": payloads.sha256_of(PAYLOAD),
            "signed_message_b64": b64(receipts.message(good)), "cases": [_judged(c) for c in cases]}
