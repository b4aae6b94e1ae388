"""One audit entry as an export line, and in words.

An export entry is the stored record (the exact fields that were hashed) plus its chain hash.
JSONL lines are spliced from the stored canonical bytes without parsing them, which is both the
fastest way and the most faithful: the record in the file is what was hashed, byte for byte
except that characters a terminal would interpret are spelled as JSON \\u escapes (json_safe),
which decode to the same text. The openings of its sealed personal values (VERIFY.md 10) go
beside the record, like the hash, in a `personal` member.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any, Mapping

from ..audit import canonical_bytes
from ..decisions import BY_AUDIT_ACTION, TERMS, AuditAction
from ..text import neutralise
from ..signatures import on_behalf_words
from .evidence import ENTRY_TYPE, as_bytes

_PREFIX = ('{"record_type":"' + ENTRY_TYPE + '",').encode()


def json_safe(text: str) -> str:
    """JSON text with every character a terminal would interpret (ESC is already escaped by
    json.dumps; DEL, C1 such as CSI U+009B, bidi overrides, U+2028 are not) spelled as a \\u
    escape. Such characters only occur inside JSON strings, where the escape decodes back to the
    very same text: a parser, and the verifier's re-hash, see no difference."""
    return neutralise(text, style="json")


def _json_safe_bytes(body: bytes) -> bytes | None:
    """json_safe over stored bytes (None if they are not UTF-8); pure ASCII without DEL, the
    common case, is returned as it is without decoding."""
    if body.isascii() and b"\x7f" not in body:
        return body
    try:
        return json_safe(body.decode("utf-8")).encode("utf-8")
    except UnicodeDecodeError:
        return None


#: the members of an export entry that are not the record: stripped before re-hashing
NOT_RECORD = ("record_type", "personal", "hash")


def jsonl_line(seq: int, body: bytes, digest: bytes, personal: Mapping[str, Any] | None = None) -> bytes:
    """`{"record_type":"audit_entry", <the stored record's fields>, "personal": {...}, "hash": "..."}`
    + newline; `personal` (the openings of its sealed values, VERIFY.md 10) only when it has any."""
    body = as_bytes(body)
    tail = b',"hash":"' + as_bytes(digest).hex().encode() + b'"}\n'
    if personal:
        opened = json_safe(json.dumps(personal, ensure_ascii=False, sort_keys=True, separators=(",", ":")))
        tail = b',"personal":' + opened.encode("utf-8") + tail
    safe = _json_safe_bytes(body)
    if safe is not None and len(safe) > 2 and safe[:1] == b"{" and safe[-1:] == b"}" and b"\n" not in safe:
        return _PREFIX + safe[1:-1] + tail
    # Not a JSON object (someone overwrote it): keep the bytes, so the damage stays visible.
    raw = json.dumps({"record_type": ENTRY_TYPE, "seq": seq,
                      "unparseable_body_base64": base64.b64encode(body).decode()})
    return raw[:-1].encode() + tail


def body_from_export(obj: dict[str, Any]) -> tuple[bytes, str]:
    """(the canonical bytes the entry claims, its claimed hash) from a parsed export entry.

    Re-serialising with canonical_bytes reproduces the stored bytes exactly for anything that
    canonical_bytes wrote (sorted keys, compact, UTF-8; Python's float repr round-trips), so a
    pipeline may reorder or re-indent the JSON without breaking verification, while any change
    of content changes the hash.
    """
    record = {k: v for k, v in obj.items() if k not in NOT_RECORD}
    claimed = str(obj.get("hash", ""))
    if "unparseable_body_base64" in record:
        return base64.b64decode(record["unparseable_body_base64"]), claimed
    return canonical_bytes(record), claimed


def rehash(body: bytes, prev_hex: str) -> str:
    try:
        prev = bytes.fromhex(prev_hex)
    except (TypeError, ValueError):
        prev = b""
    return hashlib.sha256(prev + body).hexdigest()


def describe(rec: dict[str, Any]) -> str:
    """The entry in a few words, for CSV's summary column and report timelines."""
    action, d = str(rec.get("action", "?")), rec.get("details") or {}
    if not isinstance(d, dict):
        d = {}
    comment = f': "{d["comments"]}"' if d.get("comments") else ""
    if action == AuditAction.CREATED:
        chain = " -> ".join(str(r) for r in d.get("chain") or [])
        return (f"created {d.get('workflow_type', '?')} \"{d.get('title', '')}\" "
                f"({d.get('risk_level', '?')} risk: {d.get('risk_reason', '')}; chain {chain})")
    if action in BY_AUDIT_ACTION:
        stage = d.get("stage")
        where = f"stage {stage + 1} ({d.get('stage_role', '?')})" if isinstance(stage, int) else "a stage"
        verb = TERMS[BY_AUDIT_ACTION[action]].past_verb
        after = d.get("status_after", "?")
        proposal = d.get("agent_proposal")
        agent = f" [proposed by agent {proposal.get('agent')}]" if isinstance(proposal, dict) else ""
        behalf = on_behalf_words(d.get("on_behalf_of"), d.get("delegated_until"))  # under a delegation
        return f"{verb} {where} as {d.get('decider_role', '?')}{behalf}; now {after}{agent}{comment}"
    if action == AuditAction.WITHDRAWN:
        return f"withdrew the request{comment}"
    if action == AuditAction.EXPIRED and d.get("rule"):  # overdue by the policy's due date (core/overdue.py)
        return f"expired undecided: it was due {d.get('due_at', '?')} ({d.get('rule')}); nobody may decide it now"
    if action == AuditAction.EXPIRED:
        return f"expired undecided: its deadline {d.get('expires_at', '?')} passed; nobody may decide it now"
    if action == AuditAction.REMINDED:
        what = "is overdue" if d.get("kind") == "overdue" else "is due soon"
        return f"told the approvers it {what} (due {d.get('due_at', '?')}; {d.get('rule', '?')})"
    if action == AuditAction.ESCALATED:
        stage = d.get("stage")
        where = f"stage {stage + 1} ({d.get('stage_role', '?')})" if isinstance(stage, int) else "a stage"
        return (f"escalated {where} to {d.get('escalated_to', '?')}: it was due {d.get('due_at', '?')} "
                f"({d.get('rule', '?')})")
    if action == "reassigned":  # core/assignment.py
        stage = d.get("stage")
        where = f"stage {stage + 1} ({d.get('stage_role', '?')})" if isinstance(stage, int) else "a stage"
        who = f"assigned {where} to {d.get('assignee')}" if d.get("assignee") else f"cleared the assignment of {where}"
        return f"{who}: \"{d.get('reason', '')}\""
    if action == AuditAction.RESUBMITTED:
        return (f"resubmitted as revision {d.get('revision', '?')} ({d.get('risk_level', '?')} risk; chain "
                f"{' -> '.join(str(r) for r in d.get('chain') or [])}){comment}")
    if action == AuditAction.USER_ADDED:
        admin = ", administrator" if d.get("admin") else ""
        return f"added user {d.get('username', '?')} as {d.get('role', '?')}{admin}"
    if action.startswith("user_"):
        return f"{action.replace('_', ' ')}: {d.get('username', '?')} {d.get('before', '')} -> {d.get('after', '')}"
    if action == AuditAction.KEY_ROTATED:
        return "rotated the database key"
    if action == AuditAction.ERASURE_REQUESTED:
        return f"requested the erasure of the personal data of {d.get('target', '?')}: \"{d.get('reason', '')}\""
    if action == AuditAction.ERASURE_CANCELLED:
        return f"cancelled erasure request {d.get('request_seq', '?')} for {d.get('target', '?')}: \"{d.get('reason', '')}\""
    if action == AuditAction.PERSONAL_DATA_ERASED:
        keys = d.get("keys")
        count = len(keys) if isinstance(keys, list) else 0
        return (f"erased the personal data of {d.get('target', '?')} ({count} data key(s)), as "
                f"{d.get('requested_by', '?')} requested in entry {d.get('request_seq', '?')}")
    if action == AuditAction.PERSONAL_DATA_EXPIRED:
        rule, wids = d.get("rule"), d.get("workflow_ids")
        kind, kept = (rule.get("type", "?"), rule.get("retain", "?")) if isinstance(rule, dict) else ("?", "?")
        return (f"expired the personal data of {len(wids) if isinstance(wids, list) else 0} request(s) of type "
                f"{kind} (kept {kept} after their final decision)")
    if action == AuditAction.SIGNING_KEY_REGISTERED:
        return f"registered checkpoint signing key {str(d.get('public_key', ''))[:16]}..."
    return action.replace("_", " ")
