"""docs/vectors/privacy.json, and the personal-data cases of broken.json (VERIFY.md 10): a short
trail sealed as core/privacy.py seals it, erased by two administrators, with the openings an
export made now carries. Used by scripts/make_vectors.py."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from vectors_common import CTX, START, b64

from hitl_tui.core import privacy
from hitl_tui.core.audit import GENESIS, build_record, canonical_bytes, chain_hash, iso

WF_REFUND = "WF-1764583200-0043"


def data_key(person: str, workflow_id: str | None) -> str:
    """A fixed data key id per (person, request), as privacy.Sealer draws them at random."""
    return hashlib.sha256(f"hitl-tui test vector data key: {person} {workflow_id}".encode()).hexdigest()[:32]


def privacy_steps() -> list[tuple[str, str, str | None, dict[str, Any], tuple[str, ...]]]:
    """(actor, action, workflow_id, details before sealing, the data fields marked personal)."""
    return [
        ("john.doe", "created", WF_REFUND, {
            "workflow_type": "refund_approval", "title": "Refund for a damaged parcel",
            "description": "Ada Lovelace, 12 Crescent Road: the parcel arrived crushed.",
            "data": {"customer": "Ada Lovelace", "order_id": "A-1001", "amount": "120.00"},
            "risk_level": "LOW", "risk_field": "amount", "chain": ["manager"], "status_after": "awaiting_approval",
            "stage_after": 0, "revision": 1, "policy_version": 1}, ("customer",)),
        ("sarah.manager", "rejected", WF_REFUND, {
            "decision": "reject", "stage": 0, "stage_role": "manager", "decider_role": "manager",
            "comments": "Ask Ada for a photo of the parcel first.", "revision": 1,
            "status_before": "awaiting_approval", "status_after": "rejected", "stage_after": 0, "stages": 1}, ()),
        ("ann.admin", "erasure_requested", None, {"target": WF_REFUND,
                                                  "reason": "The customer asked to be forgotten (GDPR Art. 17)."}, ()),
    ]


def _sealed_at(details: dict[str, Any], path: tuple[str, ...], seal: dict[str, str]) -> dict[str, Any]:
    out = dict(details)
    out[path[0]] = seal if len(path) == 1 else _sealed_at(dict(out[path[0]]), path[1:], seal)
    return out


def privacy_trail() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The trail of privacy_steps, sealed as the engine seals it (privacy.personal_positions),
    then erased by a second administrator: (entries as an export carries them, sealed values)."""
    sealed: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    for i, (actor, action, wid, details, fields) in enumerate(privacy_steps(), 1):
        for path, person in privacy.personal_positions(action, actor, details, fields):
            value: Any = details
            for part in path:
                value = value.get(part) if isinstance(value, dict) else None
            if not isinstance(value, str) or not value:
                continue  # only non-empty strings are sealed
            scope = None if action.startswith("erasure_") else wid
            salt = hashlib.sha256(f"hitl-tui test vector salt {len(sealed) + 1}".encode()).digest()[:16]
            seal = {"key": data_key(person, scope), "sealed": privacy.digest_of(salt, value)}
            details = _sealed_at(details, path, seal)
            sealed.append({"entry": i, "path": ".".join(path), "person": person, "value": value, "salt": salt.hex(),
                           "key": seal["key"], "digest": seal["sealed"],
                           "message_b64": b64(privacy.PREFIX + salt + canonical_bytes(value))})
        records.append({"seq": i, "ts": START + timedelta(hours=1, minutes=i), "actor": actor, "action": action,
                        "workflow_id": wid, "details": details})
    erased = sorted({s["key"] for s in sealed if s["entry"] < 3})  # the request's keys, not the reason's
    records.append({"seq": 4, "ts": START + timedelta(days=40), "actor": "bob.admin", "action": "personal_data_erased",
                    "workflow_id": None, "details": {"target": WF_REFUND, "keys": erased, "request_seq": 3,
                                                     "requested_by": "ann.admin", "rule": None}})
    return privacy_entries(records, sealed), sealed


def privacy_entries(records: list[dict[str, Any]], sealed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records chained (audit.build_record), each with the openings an export made now carries."""
    gone = {k: r["seq"] for r in records if r["action"] in privacy.ERASING_ACTIONS for k in r["details"]["keys"]}
    by_seq = {r["seq"]: r for r in records}
    out, prev = [], GENESIS
    for r in records:
        ts = r["ts"] if isinstance(r["ts"], datetime) else datetime.fromisoformat(r["ts"])
        record = build_record(r["seq"], prev, ts, r["actor"], r["action"], r["workflow_id"], r["details"], CTX)
        prev = chain_hash(prev, canonical_bytes(record))
        personal = {}
        for s in sealed:
            if s["entry"] != r["seq"]:
                continue
            by = gone.get(s["key"])
            personal[s["digest"]] = ({"salt": s["salt"], "value": s["value"]} if by is None else
                                     {"erased": _when(by_seq[by]["ts"])[:10], "by": by})
        out.append({"record": record, **({"personal": personal} if personal else {}), "hash": prev.hex()})
    return out


def _when(ts: Any) -> str:
    return ts if isinstance(ts, str) else iso(ts)


def privacy_vectors() -> dict[str, Any]:
    entries, sealed = privacy_trail()
    erased_on = entries[3]["record"]["ts"]
    return {"about": "sealed personal values, the placeholder, and a trail whose request was erased by two "
                     "administrators, with the openings an export made now carries (VERIFY.md 10); the trail is "
                     "not signed: entries.json has the signatures",
            "prefix": privacy.PREFIX.decode(), "sealed": sealed,
            "placeholder": {"erased_on": erased_on, "reads": privacy.placeholder(erased_on)},
            "trail": entries, "expect": {"opened": 1, "erased": 4, "two_person": 1}}


def with_openings(trail: list[dict[str, Any]], source: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`trail` carrying the openings of `source` (the good trail's), whatever its records say."""
    return [{**e, **({"personal": s["personal"]} if "personal" in s else {})} for e, s in zip(trail, source)]


def privacy_broken() -> list[dict[str, Any]]:
    entries, sealed = privacy_trail()

    def case(name: str, trail: list[dict[str, Any]], bad: int, why: str) -> dict[str, Any]:
        return {"name": name, "kind": "personal", "entries": trail, "first_bad_entry": bad, "must_fail_because": why}

    wrong = json.loads(json.dumps(entries))
    reason = next(iter(wrong[2]["personal"].values()))
    reason["value"] = reason["value"].replace("Art. 17", "Art. 15")
    records = [dict(e["record"]) for e in entries]
    keys = records[3]["details"]["keys"]
    sarah = data_key("sarah.manager", WF_REFUND)
    unlisted = [dict(r) for r in records]
    unlisted[3] = {**records[3], "details": {**records[3]["details"], "keys": [sarah]}}
    still = json.loads(json.dumps(entries))
    comment = next(s for s in sealed if s["entry"] == 2)
    still[1]["personal"][comment["digest"]] = {"salt": comment["salt"], "value": comment["value"]}
    alone = [dict(r) for r in records]
    alone[3] = {**records[3], "actor": "ann.admin"}
    cancelled = [dict(r) for r in records[:3]] + [
        {"seq": 4, "ts": START + timedelta(days=39), "actor": "bob.admin", "action": "erasure_cancelled",
         "workflow_id": None, "details": {"target": WF_REFUND, "request_seq": 3, "reason": ""}},
        {**records[3], "seq": 5, "ts": START + timedelta(days=40)}]
    assert keys and sarah in keys
    return [
        case("opening with another value", wrong, 3, "the value no longer hashes to the digest the entry seals"),
        case("erased by an entry that does not list the key", with_openings(privacy_entries(unlisted, sealed), entries), 1,
             "entry 4 destroyed only sarah.manager's key, so john.doe's values cannot read as erased by it"),
        case("value still opened after its key was erased", still, 2,
             "entry 4 destroyed the key: an export made since cannot hold the value"),
        case("erasure carried out by the administrator who asked for it", privacy_entries(alone, sealed), 4,
             "the two-person rule: ann.admin asked for it in entry 3"),
        case("erasure of a cancelled request", privacy_entries(cancelled, sealed), 5,
             "entry 4 cancelled the request of entry 3"),
    ]
