"""Finding the first place where the tables differ from the replayed trail (replay.py), and
saying it in plain words: "WF-1733-0042 amount is 9,000 in the table, 90,000 in the trail".

"First" is in trail order: the difference whose request, approvals row or user the earliest
entry created. Rows the trail never wrote, and the search index, come after every such one.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any, Sequence

from .models import Role, WorkflowStatus
from .replay import AWAITING, R, SEQ, UNKNOWN, Replayer, is_marked, new_request, replay_one, row_digest, step
from .store import replay as sql
from .privacy import Opener, has_seals
from .store.connection import Conn

LAST = float("inf")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_LABEL = {"workflow_type": "type", "risk_level": "risk level", "risk_field": "risk field",
          "risk_reason": "risk reason", "risk_rank": "risk rank (an index column)",
          "headline": "headline (the value the lists show)", "current_role": "awaited role (an index column)",
          "deciders": "deciders of this revision (an index column)", "policy_version": "policy version",
          "created_at": "filing time", "updated_at": "time of its last change", "chain": "approval chain",
          "role": "stage role", "approver_role": "approver's role", "decided_at": "decision time",
          "proposed_by": "proposing agent", "on_behalf_of": "delegator decided for", "email": "email", "display_name": "display name",
          "payload_sha256": "payload's sha256", "agent": "filing agent", "owner": "integration's owner",
          "expires_at": "deadline", "integration": "integration flag",
          "proposed_payload": "proposed revision of the payload", "due_at": "due date",
          "due_left": "due time left while changes are requested", "escalated_to": "escalation role", "reminded": "last reminder",
          "stage_rules": "stage rules (quorum, parallel)", "awaited": "roles still awaited (an index column)"}
_REQUEST_ORDER = ("requester", "workflow_type", "title", "description", "data", "risk_level", "status", "chain",
                  "revision", "created_at", "updated_at", "risk_field", "risk_reason", "risk_rank", "headline",
                  "current_role", "deciders", "policy_version", "payload", "payload_sha256", "justification", "agent",
                  "owner", "expires_at", "proposed_payload", "due_at", "due_left", "escalated_to", "reminded",
                  "stage_rules", "awaited")


def first_difference(conn: Conn, rp: Replayer) -> tuple[int | None, str] | None:
    best: list[Any] = []

    def consider(order: float, kind: str, key: Any) -> None:
        if not best or order < best[0]:
            best[:] = [order, kind, key]

    exp_requests, exp_approvals = sql.expected_counts(conn)
    present = 0
    for batch in sql.request_pairs(conn):
        for row in batch:
            if row[1] is None:
                consider(LAST, "extra request", row[0])
                continue
            present += 1
            if row_digest(row[2], row[4:]) != row[3]:
                consider(row[1], "request", row[0])
    if present < exp_requests and (missing := sql.first_missing_request(conn)):
        consider(missing[1], "missing request", missing[0])
    present = 0
    for batch in sql.approval_pairs(conn):
        for row in batch:
            if row[3] is None:
                consider(LAST, "extra approval", row[:3])
                continue
            present += 1
            if row_digest(row[4], row[6:]) != row[5]:
                consider(row[3], "approval", (*row[:3], row[3]))
    if present < exp_approvals and (gone := sql.first_missing_approval(conn)):
        consider(gone[3], "missing approval", gone[:3])
    for key in rp.twice:
        consider(LAST, "twice", key)
    for seq, words in rp.miscounted:  # a quorum or parallel stage moved against its rule (replay.py)
        consider(seq, "miscounted", words)
    table: dict[str, tuple[Any, ...]] = {u[0]: u[1:] for u in sql.user_rows(conn)}
    for name, expected in rp.users.items():
        user_row = table.pop(name, None)
        if user_row is None:
            consider(expected[-1], "missing user", name)
        elif any(e is not UNKNOWN and e != t for e, t in zip(expected, user_row)):
            consider(expected[-1], "user", (name, expected, user_row))
    for name in table:
        consider(LAST, "extra user", name)
    gap = sql.search_index_gap(conn)
    if gap is not None:
        consider(LAST, "index", gap)
    if not best:
        return None
    order, kind, key = best
    return (None if order == LAST else int(order)), _describe(conn, kind, key)


def _describe(conn: Conn, kind: str, key: Any) -> str:
    if kind == "request":
        return describe_request(conn, key)
    if kind == "approval":
        return describe_approval(conn, *key)
    if kind == "user":
        return describe_user(*key)
    if kind == "miscounted":
        return str(key)
    if kind == "index":
        wid = sql.request_id_at(conn, key) if key else None
        return (f"the search index does not list {wid}: it was edited behind the application's back" if wid else
                "the search index lists a request the table does not hold: it was edited behind the application's back")
    where = {"extra approval": _stage, "missing approval": _stage, "twice": _stage}.get(kind)
    subject = where(*key) if where else key
    return {
        "extra request": f"{subject} is in the table but not in the trail",
        "missing request": f"{subject} is in the trail but missing from the table",
        "extra approval": f"the approvals row of {subject} is in the table but not in the trail",
        "missing approval": f"the approvals row of {subject} is missing",
        "twice": f"the trail decides {subject} twice",
        "missing user": f"user {subject} is in the trail but missing from the table",
        "extra user": f"user {subject} is in the table but not in the trail",
    }[kind]


def describe_request(conn: Conn, wid: str) -> str:
    state, _ = replay_one(conn, wid)
    row = sql.request_row(conn, wid)
    if state is None or row is None:
        return f"{wid} is in the table but not in the trail"
    trail = state[:SEQ]
    for col in _REQUEST_ORDER:
        i = R[col]
        if col == "status":
            j = R["current_stage"]
            if any(trail[k] is not UNKNOWN and trail[k] != row[k] for k in (i, j)):
                return f"{wid} is {state_words(row)} in the table, {state_words(trail)} in the trail"
            continue
        if trail[i] is UNKNOWN or trail[i] == row[i]:
            continue
        if col == "data":
            return _data_words(wid, row[i], trail[i])
        shown = _quoted if col in _FREE_TEXT else show
        return f"{wid} {_LABEL.get(col, col)} is {shown(row[i])} in the table, {shown(trail[i])} in the trail"
    return f"{wid} differs from the trail"


def state_words(values: Sequence[Any]) -> str:
    status, stage, chain = values[R["status"]], values[R["current_stage"]], values[R["chain"]]
    if status == AWAITING:
        roles = chain.strip(",").split(",") if isinstance(chain, str) else []
        if isinstance(stage, int) and 0 <= stage < len(roles):
            try:
                label = Role(roles[stage]).label
            except ValueError:
                label = roles[stage]
            return f"awaiting {label} (stage {stage + 1} of {len(roles)})"
        return "awaiting approval"
    try:
        return WorkflowStatus(status).label
    except ValueError:
        return show(status)


def _data_words(wid: str, table: Any, trail: str) -> str:
    try:
        got, want = json.loads(table), json.loads(trail)
    except (TypeError, ValueError):
        return f"{wid} data is {show(table)} in the table, {show(trail)} in the trail"
    if not isinstance(got, dict):
        return f"{wid} data is {show(table)} in the table, {show(trail)} in the trail"
    for key in sorted(set(got) | set(want)):
        if got.get(key, UNKNOWN) != want.get(key, UNKNOWN):
            return (f"{wid} {key} is {show(got.get(key, UNKNOWN))} in the table, "
                    f"{show(want.get(key, UNKNOWN))} in the trail")
    return f"{wid} data is written differently in the table"


def describe_approval(conn: Conn, wid: str, revision: int, stage: int, seq: int) -> str:
    body = sql.entry_body(conn, seq)
    rec = json.loads(body)
    if has_seals(body):
        rec["details"] = Opener(conn).open_entry(seq, rec.get("details"))
    approval = step(new_request(seq), rec, is_marked(rec))
    voter = approval[2][1] if approval is not None and isinstance(approval[2][1], str) else ""
    row = sql.approval_row(conn, wid, revision, stage, voter) or sql.approval_row(conn, wid, revision, stage)
    where = _stage(wid, revision, stage)
    if approval is None or row is None:
        return f"the approvals row of {where} is missing"
    for col, want, got in zip(sql.APPROVAL_COLS, approval[2], row):
        if want is not UNKNOWN and want != got:
            shown = _quoted if col in _FREE_TEXT else show
            return (f"the approvals row of {where} has {_LABEL.get(col, col)} {shown(got)} in the table, "
                    f"{shown(want)} in the trail")
    return f"the approvals row of {where} differs from the trail"


def describe_user(name: str, trail: list[Any], row: tuple[Any, ...]) -> str:
    for col, want, got in zip(sql.USER_COLS, trail, row):
        if want is UNKNOWN or want == got:
            continue
        if col == "admin":
            return (f"user {name} is an administrator in the table, not in the trail" if got else
                    f"user {name} is not an administrator in the table, one in the trail")
        if col == "active":
            return (f"user {name} is active in the table, deactivated in the trail" if got else
                    f"user {name} is deactivated in the table, active in the trail")
        if col == "role":
            return f"user {name} is {_a(got)} in the table, {_a(want)} in the trail"
        return f"user {name}'s {_LABEL.get(col, col)} is {show(got)} in the table, {show(want)} in the trail"
    return f"user {name} differs from the trail"


def _stage(wid: str, revision: int, stage: int) -> str:
    return f"{wid} stage {stage + 1}" + (f" (revision {revision})" if revision != 1 else "")


def _a(word: Any) -> str:
    text = show(word)
    return f"{'an' if text[:1].lower() in 'aeiou' else 'a'} {text}"


_FREE_TEXT = frozenset({"title", "description", "risk_reason", "comments", "payload", "justification",
                        "proposed_payload"})


def _quoted(value: Any) -> str:
    """Free text, always in quotes (a title of one word is still a title)."""
    if not isinstance(value, str):
        return show(value)
    return '"' + (value if len(value) <= 60 else value[:57] + "...") + '"'


def show(value: Any) -> str:
    """A value as a person reads it: 90,000 for an amount, quotes around free text."""
    if value is UNKNOWN:
        return "absent"
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    text = str(value)
    if _NUMBER.fullmatch(text):
        number = Decimal(text)
        return f"{int(number):,}" if number == number.to_integral_value() else f"{number:,}"
    if not text or " " in text or len(text) > 40:
        return '"' + (text if len(text) <= 60 else text[:57] + "...") + '"'
    return text
