"""Signed receipts: what became of a request filed for approval, in a statement anyone checks
offline with the database's published checkpoint key (docs/VERIFY.md section 11).

A receipt is a JSON object: the members of FIELDS, and `signature`, an Ed25519 signature over

    b"hitl-tui receipt v1\\n" || canonical(the receipt without `signature`)

(canonical as the audit trail's entries, VERIFY.md section 1), made with the key that signs the
database's checkpoints: `hitl-tui checkpoint` prints its verifier key, and a team-mode service
signs with its own. It names the payload by its sha256, so a receipt for one payload never
passes for another, and the audit entry that settled the request by its number and the chain's
hash after it, which the trail itself proves (`hitl-tui prove`).

Pure functions and the standard library, plus cryptography imported when checking: the client
(hitl_tui.client.verify_receipt) and `hitl-tui verify-receipt` use these without a database.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import TYPE_CHECKING, Any, Mapping

from .audit import canonical_bytes

if TYPE_CHECKING:
    from .checkpoints import Signer

FORMAT = "hitl-tui-receipt/1"
DOMAIN = b"hitl-tui receipt v1\n"
#: a receipt's members besides `signature`, all of them always present (null where none applies)
FIELDS = ("version", "database_id", "request_id", "payload_sha256", "policy_version", "outcome", "decided_by",
          "decider_role", "decided_at", "audit_seq", "chain_head")
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_HEX128 = re.compile(r"[0-9a-f]{128}\Z")
_OUTCOMES = ("approved", "rejected", "expired", "cancelled")


def body(*, database_id: str, request_id: str, payload_sha256: str, policy_version: int | None, outcome: str,
         decided_by: str, decider_role: str | None, decided_at: str, audit_seq: int, chain_head: str) -> dict[str, Any]:
    """The statement a receipt signs, every member in place."""
    return {"version": FORMAT, "database_id": database_id, "request_id": request_id,
            "payload_sha256": payload_sha256, "policy_version": policy_version, "outcome": outcome,
            "decided_by": decided_by, "decider_role": decider_role, "decided_at": decided_at,
            "audit_seq": audit_seq, "chain_head": chain_head}


def message(statement: Mapping[str, Any]) -> bytes:
    return DOMAIN + canonical_bytes({k: v for k, v in statement.items() if k != "signature"})


def signed(statement: dict[str, Any], signer: "Signer") -> dict[str, Any]:
    """The receipt: `statement` and its signature by `signer` (the checkpoint signing key)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    signature = Ed25519PrivateKey.from_private_bytes(signer.private_bytes).sign(message(statement))
    return {**statement, "signature": {"alg": "ed25519", "public_key": signer.public_hex, "value": signature.hex()}}


def parse_key(text: str | bytes) -> bytes:
    """The raw 32-byte Ed25519 key of a trusted key as people hold it: the verifier key
    `hitl-tui checkpoint` prints (NAME+HASH+BASE64, its hash checked), `ed25519:` and 64 hex,
    64 hex, or the raw bytes. ValueError saying what is expected."""
    if isinstance(text, bytes) and len(text) == 32:
        return text
    value = (text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)).strip()
    hexpart = value[len("ed25519:"):] if value.startswith("ed25519:") else value
    if re.fullmatch(r"[0-9a-fA-F]{64}", hexpart):
        return bytes.fromhex(hexpart)
    parts = value.split("+", 2)
    if len(parts) == 3 and parts[0]:
        from .checkpoints import key_hash

        name, hash_hex, key_b64 = parts
        try:
            raw = base64.b64decode(key_b64, validate=True)
        except ValueError:
            raw = b""
        if len(raw) == 33 and raw[0] == 1 and key_hash(name, raw[1:]).hex() == hash_hex.lower():
            return raw[1:]
    raise ValueError(f"{value[:60]!r} is not a public key: give the verifier key `hitl-tui checkpoint` prints "
                     f"(NAME+HASH+BASE64), or ed25519: and 64 hex digits")


def problem(receipt: Any, trusted_key: bytes, payload_sha256: str | None = None, *, request_id: str | None = None,
            database_id: str | None = None) -> str | None:
    """None when `receipt` is genuine: well formed, signed by `trusted_key` over exactly what it
    says, and (each when given) from the database `database_id`, for the request `request_id`
    and for the payload whose sha256 is `payload_sha256`; else why not, in a few words. The
    signature alone does not bind a receipt to the request in hand: a genuine receipt of another
    request (or of another database whose checkpoints the same key signs) verifies too."""
    if not isinstance(receipt, Mapping):
        return "it is not a receipt (a JSON object)"
    if receipt.get("version") != FORMAT:
        return f"it is not a {FORMAT} receipt"
    missing = [f for f in (*FIELDS, "signature") if f not in receipt]
    extra = sorted(set(receipt) - {*FIELDS, "signature"})
    if missing or extra:
        return f"it {'lacks ' + missing[0] if missing else 'has a member ' + repr(extra[0])[:40] + ' no receipt has'}"
    shape = _shape_problem(receipt)
    if shape:
        return shape
    sig = receipt["signature"]
    public = bytes.fromhex(sig["public_key"])
    if public != trusted_key:
        return (f"it is signed by key {_fingerprint(public)}, not by the trusted key {_fingerprint(trusted_key)}")
    if not _ed25519_ok(public, bytes.fromhex(sig["value"]), message(receipt)):
        return "its signature does not verify: it was altered or forged"
    if database_id is not None and receipt["database_id"] != database_id:
        return (f"it is from database {receipt['database_id'][:40]!r}, not {database_id[:40]!r}: a receipt of "
                f"another database")
    if request_id is not None and receipt["request_id"] != request_id:
        return f"it is for request {receipt['request_id'][:40]!r}, not {request_id[:40]!r}: a receipt of another request"
    if payload_sha256 is not None and receipt["payload_sha256"] != payload_sha256:
        return (f"it is for another payload (sha256 {receipt['payload_sha256'][:16]}..., this one is "
                f"{payload_sha256[:16]}...)")
    return None


def database_of_key(text: str | bytes) -> str | None:
    """The database a verifier key names (its name is the checkpoint origin, hitl-tui.local/ and
    the database id), or None for a bare key, which names none."""
    from .checkpoints import ORIGIN_PREFIX

    if isinstance(text, bytes) and len(text) == 32:
        return None  # the raw key
    value = (text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)).strip()
    name = value.split("+", 1)[0] if value.count("+") >= 2 else ""
    if not name.startswith(ORIGIN_PREFIX) or len(name) == len(ORIGIN_PREFIX):
        return None
    return name[len(ORIGIN_PREFIX):]


def _shape_problem(receipt: Mapping[str, Any]) -> str | None:
    sig = receipt["signature"]
    if not (isinstance(sig, Mapping) and sig.get("alg") == "ed25519" and set(sig) == {"alg", "public_key", "value"}
            and isinstance(sig.get("public_key"), str) and _HEX64.match(sig["public_key"])
            and isinstance(sig.get("value"), str) and _HEX128.match(sig["value"])):
        return "its signature is malformed"
    for name in ("database_id", "request_id", "decided_by", "decided_at"):
        if not isinstance(receipt[name], str):
            return f"its {name} is not text"
    for name in ("payload_sha256", "chain_head"):
        if not (isinstance(receipt[name], str) and _HEX64.match(receipt[name])):
            return f"its {name} is not 64 hex digits"
    if receipt["outcome"] not in _OUTCOMES:
        return f"its outcome {str(receipt['outcome'])[:30]!r} is not final ({', '.join(_OUTCOMES)})"
    seq, version = receipt["audit_seq"], receipt["policy_version"]
    if not (isinstance(seq, int) and not isinstance(seq, bool) and seq > 0):
        return "its audit_seq is not an entry number"
    if version is not None and not (isinstance(version, int) and not isinstance(version, bool) and version >= 0):
        return "its policy_version is not a version number"
    if receipt["decider_role"] is not None and not isinstance(receipt["decider_role"], str):
        return "its decider_role is not text"
    return None


def strict_json(text: str) -> Any:
    """JSON as a verifier must read it: a duplicate key or NaN/Infinity is refused (ValueError),
    never silently resolved (VERIFY.md section 1)."""
    import json

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise ValueError(f"the key {key[:40]!r} appears twice")
            out[key] = value
        return out

    def no_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    return json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constant)


def _fingerprint(public: bytes) -> str:
    return "SHA256:" + hashlib.sha256(public).hexdigest()[:16]


def _ed25519_ok(public: bytes, signature: bytes, text: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, text)
    except (InvalidSignature, ValueError):
        return False
    return True
