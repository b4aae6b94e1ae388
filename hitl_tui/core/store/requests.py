"""SQL for requests and their stage decisions, including the inbox views."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Iterable

from ..models import Approval, Decision, InboxView, RequestSummary, RiskLevel, Role, WorkflowStatus, trusted

FULL_COLS = ("id, workflow_type, title, description, requester, data, risk_level, risk_field, risk_reason, "
             "chain, current_stage, status, revision, created_at, updated_at")
SUMMARY_COLS = ("r.id, r.workflow_type, r.title, r.requester, r.headline, r.risk_level, r.status, "
                "r.current_stage, r.chain, r.current_role, r.created_at, r.updated_at")
SORTS = {
    "oldest": "r.created_at ASC",
    "newest": "r.created_at DESC",
    "risk": "r.risk_rank DESC, r.created_at ASC",
}


def encode_chain(roles: Iterable[Role]) -> str:
    """',manager,director,' : the commas make `LIKE '%,role,%'` exact."""
    return "," + ",".join(r.value for r in roles) + ","


def decode_chain(text: str) -> list[Role]:
    return [Role(x) for x in text.strip(",").split(",") if x]


def exists(conn, workflow_id: str) -> bool:
    return conn.execute("SELECT 1 FROM requests WHERE id = ?", (workflow_id,)).fetchone() is not None


def insert(conn, row: dict[str, Any]) -> None:
    cols = ", ".join(row)
    conn.execute(f"INSERT INTO requests ({cols}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))


def update(conn, workflow_id: str, expect_revision: int, expect_stage: int, expect_status: str,
           changes: dict[str, Any], *, add_decider: str | None = None) -> bool:
    """Compare-and-set: only if the request is still where the caller saw it. `add_decider`
    appends a name to the current revision's deciders (see migration 3)."""
    sets = ", ".join(f"{k} = ?" for k in changes)
    if add_decider is not None:
        sets += ", deciders = deciders || ? || ','"
        changes = {**changes, "_decider": add_decider}
    cur = conn.execute(
        f"UPDATE requests SET {sets} WHERE id = ? AND revision = ? AND current_stage = ? AND status = ?",
        (*changes.values(), workflow_id, expect_revision, expect_stage, expect_status),
    )
    return cur.rowcount == 1


def get_row(conn, workflow_id: str) -> dict[str, Any] | None:
    cur = conn.execute(f"SELECT {FULL_COLS} FROM requests WHERE id = ?", (workflow_id,))
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip((d[0] for d in cur.description), row))


def get_rows(conn, ids: list[str]) -> list[dict[str, Any]]:
    if not ids:
        return []
    out = []
    for chunk in _chunks(ids, 500):
        cur = conn.execute(f"SELECT {FULL_COLS} FROM requests WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        names = [d[0] for d in cur.description]
        out.extend(dict(zip(names, r)) for r in cur.fetchall())
    order = {wid: i for i, wid in enumerate(ids)}
    out.sort(key=lambda r: order[r["id"]])
    return out


def insert_approval(conn, workflow_id: str, a: Approval, when: str) -> None:
    conn.execute(
        "INSERT INTO approvals (workflow_id, revision, stage, role, approver, approver_role, decision, "
        "decided_at, comments, proposed_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (workflow_id, a.revision, a.stage, a.role.value, a.approver, a.approver_role.value, a.decision.value,
         when, a.comments, a.proposed_by),
    )


def approvals_for(conn, ids: list[str]) -> dict[str, list[Approval]]:
    out: dict[str, list[Approval]] = {i: [] for i in ids}
    for chunk in _chunks(ids, 500):
        rows = conn.execute(
            "SELECT workflow_id, revision, stage, role, approver, approver_role, decision, decided_at, comments, "
            f"proposed_by FROM approvals WHERE workflow_id IN ({','.join('?' * len(chunk))}) ORDER BY id",
            chunk,
        )
        for r in rows:
            out[r[0]].append(trusted(Approval,
                revision=r[1], stage=r[2], role=Role(r[3]), approver=r[4], approver_role=Role(r[5]),
                decision=Decision(r[6]), decided_at=datetime.fromisoformat(r[7]), comments=r[8], proposed_by=r[9],
            ))
    return out


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


# --- inbox views -----------------------------------------------------------------------------

def _view_clause(view: InboxView, username: str, decidable: frozenset[Role], oversight: bool) -> tuple[str, list]:
    if view is InboxView.AWAITING_ME:
        if not decidable:
            return "0", []
        marks = ",".join("?" * len(decidable))
        # not mine, and no stage of this revision decided by me (segregation of duties);
        # `deciders` rides in the covering index, so counting reads no table page at all
        return (
            f"r.current_role IN ({marks}) AND r.requester != ? AND instr(r.deciders, ?) = 0",
            [*sorted(x.value for x in decidable), username, f",{username},"],
        )
    if view is InboxView.MINE:
        return "r.requester = ?", [username]
    if view is InboxView.DECIDED:
        return "r.id IN (SELECT workflow_id FROM approvals WHERE approver = ?)", [username]
    if oversight:
        return "1", []
    likes = " OR ".join("r.chain LIKE ?" for _ in decidable)
    clause = "r.requester = ? OR r.id IN (SELECT workflow_id FROM approvals WHERE approver = ?)"
    if likes:
        clause += f" OR {likes}"
    return f"({clause})", [username, username, *(f"%,{x.value},%" for x in sorted(decidable, key=lambda x: x.value))]


def _search_clause(search: str | None) -> tuple[str, list]:
    if not search or not search.strip():
        return "", []
    term = "%" + search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    cols = ("r.title", "r.id", "r.requester", "r.workflow_type", "r.risk_level", "r.status")
    return " AND (" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in cols) + ")", [term] * len(cols)


# The planner, left alone, picks the covering index for 'awaiting me' pages too and then sorts
# every waiting request; created_at order from requests_awaiting stops after one page instead.
# Counting wants the covering index: no table page is read (and decrypted) at all.
_PAGE_INDEX = {InboxView.AWAITING_ME: " INDEXED BY requests_awaiting"}
_COUNT_INDEX = {InboxView.AWAITING_ME: " INDEXED BY requests_awaiting_cover"}


def list_view(conn, view: InboxView, username: str, decidable: frozenset[Role], oversight: bool,
              search: str | None, sort: str, limit: int, offset: int) -> list[RequestSummary]:
    where, args = _view_clause(view, username, decidable, oversight)
    extra, more = _search_clause(search)
    order = "r.updated_at DESC" if view is InboxView.DECIDED and sort == "newest" else SORTS.get(sort, SORTS["oldest"])
    index = _PAGE_INDEX.get(view, "") if decidable and sort in ("oldest", "newest") and not extra else ""
    rows = conn.execute(
        f"SELECT {SUMMARY_COLS} FROM requests r{index} WHERE {where}{extra} ORDER BY {order} LIMIT ? OFFSET ?",
        (*args, *more, limit, offset),
    ).fetchall()
    return [summary(r) for r in rows]


def count_view(conn, view: InboxView, username: str, decidable: frozenset[Role], oversight: bool,
               search: str | None) -> int:
    where, args = _view_clause(view, username, decidable, oversight)
    extra, more = _search_clause(search)
    index = _COUNT_INDEX.get(view, "") if decidable and not extra else ""
    return conn.execute(f"SELECT count(*) FROM requests r{index} WHERE {where}{extra}", (*args, *more)).fetchone()[0]


def summary(r) -> RequestSummary:
    return trusted(RequestSummary,
        id=r[0], workflow_type=r[1], title=r[2], requester=r[3], headline=r[4], risk_level=RiskLevel(r[5]),
        status=WorkflowStatus(r[6]), current_stage=r[7], stage_count=r[8].count(",") - 1,
        current_role=Role(r[9]) if r[9] else None, created_at=datetime.fromisoformat(r[10]),
        updated_at=datetime.fromisoformat(r[11]),
    )


def pending_ids(conn, username: str, decidable: frozenset[Role], limit: int | None) -> list[str]:
    if not decidable:
        return []
    where, args = _view_clause(InboxView.AWAITING_ME, username, decidable, False)
    sql = f"SELECT r.id FROM requests r{_PAGE_INDEX[InboxView.AWAITING_ME]} WHERE {where} ORDER BY r.created_at"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [r[0] for r in conn.execute(sql, args)]


def decode_data(text: str) -> dict[str, Any]:
    return json.loads(text)
