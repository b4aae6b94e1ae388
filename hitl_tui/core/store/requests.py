"""SQL for requests and their stage decisions, including the inbox views."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Iterator, cast

from ..audit import iso
from ..filter_query import SORT_KEYS, Condition, Filter, SortOrder
from ..models import Approval, Decision, InboxView, RequestSummary, RiskLevel, Role, WorkflowStatus, trusted
from . import assignments as assignment_sql
from .connection import Conn

FULL_COLS = ("id, workflow_type, title, description, requester, data, risk_level, risk_field, risk_reason, "
             "chain, current_stage, status, revision, created_at, updated_at, "
             "payload, payload_sha256, justification, agent, owner, expires_at, policy_version, proposed_payload, "
             "due_at, due_left, escalated_to, reminded, stage_rules")
SUMMARY_COLS = ("r.id, r.workflow_type, r.title, r.requester, r.headline, r.risk_level, r.status, "
                "r.current_stage, r.chain, r.current_role, r.created_at, r.updated_at, r.due_at")


def encode_chain(roles: Iterable[Role]) -> str:
    """',manager,director,' : the commas make `LIKE '%,role,%'` exact."""
    return "," + ",".join(r.value for r in roles) + ","


def decode_chain(text: str) -> list[Role]:
    return [Role(x) for x in text.strip(",").split(",") if x]


def exists(conn: Conn, workflow_id: str) -> bool:
    return conn.execute("SELECT 1 FROM requests WHERE id = ?", (workflow_id,)).fetchone() is not None


def ids_starting(conn: Conn, prefix: str) -> set[str]:
    """The request ids that begin with `prefix` ("WF-1764150000-": one second's ids)."""
    pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return {r[0] for r in conn.execute("SELECT id FROM requests WHERE id LIKE ? ESCAPE '\\'", (pattern,))}


def insert(conn: Conn, row: dict[str, Any]) -> None:
    cols = ", ".join(row)
    conn.execute(f"INSERT INTO requests ({cols}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))


def update(conn: Conn, workflow_id: str, expect_revision: int, expect_stage: int, expect_status: str,
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


def get_row(conn: Conn, workflow_id: str) -> dict[str, Any] | None:
    cur = conn.execute(f"SELECT {FULL_COLS} FROM requests WHERE id = ?", (workflow_id,))
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip((d[0] for d in cur.description), row))


def get_rows(conn: Conn, ids: list[str]) -> list[dict[str, Any]]:
    if not ids:
        return []
    out: list[dict[str, Any]] = []
    for chunk in _chunks(ids, 500):
        cur = conn.execute(f"SELECT {FULL_COLS} FROM requests WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        names = [d[0] for d in cur.description]
        out.extend(dict(zip(names, r)) for r in cur.fetchall())
    order = {wid: i for i, wid in enumerate(ids)}
    out.sort(key=lambda r: order[r["id"]])
    return out


def insert_approval(conn: Conn, workflow_id: str, a: Approval, when: str) -> None:
    conn.execute(
        "INSERT INTO approvals (workflow_id, revision, stage, role, approver, approver_role, decision, "
        "decided_at, comments, proposed_by, on_behalf_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (workflow_id, a.revision, a.stage, a.role.value, a.approver, a.approver_role.value, a.decision.value,
         when, a.comments, a.proposed_by, a.on_behalf_of),
    )


def approvals_for(conn: Conn, ids: list[str]) -> dict[str, list[Approval]]:
    out: dict[str, list[Approval]] = {i: [] for i in ids}
    for chunk in _chunks(ids, 500):
        rows = conn.execute(
            "SELECT workflow_id, revision, stage, role, approver, approver_role, decision, decided_at, comments, "
            f"proposed_by, on_behalf_of FROM approvals WHERE workflow_id IN ({','.join('?' * len(chunk))}) ORDER BY id",
            chunk,
        )
        for r in rows:
            out[r[0]].append(trusted(Approval,
                revision=r[1], stage=r[2], role=Role(r[3]), approver=r[4], approver_role=Role(r[5]),
                decision=Decision(r[6]), decided_at=datetime.fromisoformat(r[7]), comments=r[8], proposed_by=r[9],
                on_behalf_of=r[10],
            ))
    return out


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


# --- inbox views -----------------------------------------------------------------------------

def _view_clause(view: InboxView, username: str, decidable: frozenset[Role], oversight: bool, *,
                 segregated_owner: bool = False, escalated: bool = False,
                 parallel: bool = False, delegated: "Delegated" = ()) -> tuple[str, list[Any]]:
    if view is InboxView.AWAITING_ME and delegated:  # out of office: what the delegators could decide, too
        own, own_args = _view_clause(view, username, decidable, oversight, segregated_owner=segregated_owner,
                                     escalated=escalated, parallel=parallel)
        more, more_args = _delegated_clause(username, delegated)
        return f"(({own}) OR {more})", [*own_args, *more_args]
    if view is InboxView.AWAITING_ME:
        if not decidable:
            return "0", []
        marks = ",".join("?" * len(decidable))
        roles = sorted(x.value for x in decidable)
        if parallel:  # a parallel stage awaits several roles at once: `awaited` lists them (migration 19)
            owned, owned_args = (" AND (r.owner IS NULL OR r.owner != ?)", [username]) if segregated_owner else ("", [])
            alt = " OR ".join("r.awaited LIKE ?" for _ in roles)
            esc, esc_args = (f" OR (r.escalated_to IN ({marks}) AND r.status = 'awaiting_approval')", roles) \
                if escalated else ("", [])
            return (f"(r.current_role IN ({marks}) OR (r.status = 'awaiting_approval' AND ({alt})){esc})"
                    f" AND r.requester != ? AND instr(r.deciders, ?) = 0{owned}",
                    [*roles, *(f"%,{x},%" for x in roles), *esc_args, username, f",{username},", *owned_args])
        if escalated:  # some overdue stage was escalated to a role this user decides for (core/overdue.py)
            owned, owned_args = (" AND (r.owner IS NULL OR r.owner != ?)", [username]) if segregated_owner else ("", [])
            return (f"(r.current_role IN ({marks}) OR (r.escalated_to IN ({marks}) AND r.status = 'awaiting_approval'))"
                    f" AND r.requester != ? AND instr(r.deciders, ?) = 0{owned}",
                    [*roles, *roles, username, f",{username},", *owned_args])
        # not mine, and no stage of this revision decided by me (segregation of duties);
        # `deciders` rides in the covering index, so counting reads no table page at all.
        # For the owner of an integration (segregated_owner), not what it filed either: that
        # test reads the row, so it is added only for the few people who own one.
        owned, owned_args = (" AND (r.owner IS NULL OR r.owner != ?)", [username]) if segregated_owner else ("", [])
        return (
            f"r.current_role IN ({marks}) AND r.requester != ? AND instr(r.deciders, ?) = 0{owned}",
            [*sorted(x.value for x in decidable), username, f",{username},", *owned_args],
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
    also: list[str] = []
    if parallel and decidable:  # a parallel stage's other roles are in its rules, not in the chain column
        clause += " OR " + " OR ".join("r.stage_rules LIKE ?" for _ in decidable)
        also = [f'%"{x.value}"%' for x in sorted(decidable, key=lambda x: x.value)]
    return f"({clause})", [username, username, *(f"%,{x.value},%" for x in sorted(decidable, key=lambda x: x.value)),
                           *also]


#: Awaiting me of a delegate (core/delegation.py): per running delegation, (the delegator, the
#: stage roles the delegator may decide, the workflow types it covers or None for all)
Delegated = tuple[tuple[str, tuple[str, ...], tuple[str, ...] | None], ...]


def _delegated_clause(username: str, delegated: Delegated) -> tuple[str, list[Any]]:
    """What waits for a delegator's roles, neither the delegate's nor the delegator's request, and
    no stage of its revision decided by either (rbac.acting_for is the rule; this finds them)."""
    parts, args = [], []
    for delegator, roles, types in delegated:
        if not roles:
            continue
        kinds = f" AND r.workflow_type IN ({','.join('?' * len(types))})" if types else ""
        # a parallel stage awaits several roles at once (`awaited`, migration 19), not only current_role
        alt = " OR ".join("r.awaited LIKE ?" for _ in roles)
        parts.append(f"((r.current_role IN ({','.join('?' * len(roles))}) OR (r.status = 'awaiting_approval' AND "
                     f"({alt}))) AND r.requester NOT IN (?, ?) AND "
                     f"instr(r.deciders, ?) = 0 AND instr(r.deciders, ?) = 0{kinds})")
        args += [*roles, *(f"%,{x},%" for x in roles), username, delegator, f",{username},", f",{delegator},",
                 *(types or ())]
    return (f"({' OR '.join(parts)})" if parts else "0"), args


# The planner, left alone, picks the covering index for 'awaiting me' pages too and then sorts
# every waiting request; created_at order from requests_awaiting stops after one page instead.
# Counting wants the covering index: no table page is read (and decrypted) at all.
_PAGE_INDEX = {InboxView.AWAITING_ME: " INDEXED BY requests_awaiting"}
_COUNT_INDEX = {InboxView.AWAITING_ME: " INDEXED BY requests_awaiting_cover"}


# --- the filter language, as SQL (parsed in core/filter_query.py) ------------------------------

# Below this many full-text matches the page is read from the matches themselves (a row each);
# from it on, from the view's index in sort order, each entry checked against the matches (held
# as a set of rowids, index-only): the first page then stops after about limit * N / matches
# entries. Measured over 1M requests (benchmarks/bench_search.py): a row costs 12-25 us, an
# index entry well under 1 us, so the cross-over sits at a few hundred matches.
DENSE_MATCHES = 400
# a row per match costs more than reading requests_visible_cover whole from about here (1M rows)
VISIBLE_COVER_MATCHES = 20_000

FTS_ROWIDS = "SELECT rowid FROM requests_fts WHERE requests_fts MATCH ?"

# ORDER BY for each SORT_KEYS key in its natural direction: (expression, ascending, flips with
# '-'). Ties are broken by the rowid, which is unique and never changes (its filing order), so
# paging with LIMIT/OFFSET never repeats or skips a request. Not by id: every index holds the
# rowid, so created order comes from an index alone, where `created_at, id` read and sorted
# every waiting row to find one page (0.4 ms against 180 ms over 1M requests).
_STATUS_ORDER = ("CASE r.status WHEN 'awaiting_approval' THEN 0 WHEN 'changes_requested' THEN 1 "
                 "WHEN 'approved' THEN 2 WHEN 'rejected' THEN 3 ELSE 4 END")
_ORDER: dict[str, tuple[tuple[str, bool, bool], ...]] = {
    "created": (("r.created_at", True, True), ("r.rowid", True, True)),
    "risk": (("r.risk_rank", False, True), ("r.created_at", True, True), ("r.rowid", True, True)),
    "title": (("r.title COLLATE NOCASE", True, True), ("r.rowid", True, True)),
    "requester": (("r.requester", True, True), ("r.created_at", True, True), ("r.rowid", True, True)),
    "type": (("r.workflow_type", True, True), ("r.created_at", True, True), ("r.rowid", True, True)),
    "id": (("r.id", True, True),),
    # numbers by their value, words (impact: high) after them whichever the direction
    "value": (("r.headline NOT GLOB '[0-9]*'", True, False), ("CAST(r.headline AS REAL)", True, True),
              ("r.headline", True, True), ("r.rowid", True, True)),
    # what waits for a role first, by that role, then how far along its chain
    "stage": (("r.current_role IS NULL", True, False), ("r.current_role", True, True),
              ("r.current_stage", True, True), ("r.rowid", True, True)),
    "status": ((_STATUS_ORDER, True, True), ("r.created_at", True, True), ("r.rowid", True, True)),
    # what is due first, whatever the direction those with no due date after them, ties in filing order
    "due": (("r.due_at IS NULL", True, False), ("r.due_at", True, True), ("r.rowid", True, False)),
}
assert _ORDER.keys() == SORT_KEYS.keys(), "every sort key of the vocabulary needs its SQL here"
# 'newest' in the decided view has always meant the latest activity (my decision) first
_DECIDED_NEWEST = "r.updated_at DESC, r.rowid DESC"


def order_by(view: InboxView, order: SortOrder) -> str:
    if view is InboxView.DECIDED and order == SortOrder("created", True):
        return _DECIDED_NEWEST
    parts = []
    for expr, ascending, flips in _ORDER[order.key]:
        up = ascending != (order.reverse and flips)
        parts.append(f"{expr} {'ASC' if up else 'DESC'}")
    return ", ".join(parts)


def _condition_sql(c: Condition, now: datetime) -> tuple[str, list[Any]]:
    marks = ",".join("?" * len(c.values))
    if c.key == "risk":
        if c.op == "=":
            return f"r.risk_rank IN ({marks})", list(c.values)
        return f"r.risk_rank {c.op} ?", [c.values[0]]
    if c.key in ("type", "status", "stage"):
        col = {"type": "r.workflow_type", "status": "r.status", "stage": "r.current_role"}[c.key]
        return f"{col} IN ({marks})", list(c.values)
    if c.key == "age":
        # older than 2d: filed before now - 2d; newer than 3h: after now - 3h
        cutoff = (now - timedelta(seconds=c.values[0])).astimezone(timezone.utc).isoformat(timespec="microseconds")
        flipped = {">": "<", ">=": "<=", "<": ">", "<=": ">="}[c.op]
        return f"r.created_at {flipped} ?", [cutoff]
    if c.key == "due":
        if c.values == ("overdue",):  # past its due date and still waiting for an approver
            return "(r.due_at IS NOT NULL AND r.due_at < ? AND r.status = 'awaiting_approval')", [iso(now)]
        limit = iso(now + timedelta(seconds=c.values[0]))
        return f"(r.due_at IS NOT NULL AND r.due_at {c.op} ?)", [limit]
    if c.key == "amount":
        return f"(r.headline GLOB '[0-9]*' AND CAST(r.headline AS REAL) {c.op} ?)", [float(c.values[0])]
    value = c.values[0]
    if c.key == "id":
        if c.exact:
            return "r.id = ?", [value]
        # a range on the primary key's index, not LIKE (which cannot use it)
        return "r.id >= ? AND r.id < ?", [value, value + "\U0010ffff"]
    if c.exact:
        return "r.requester = ?", [value]
    # usernames starting so, any case: found in the (small) directory, then each one's requests
    # through requests_by_requester
    like = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return "r.requester IN (SELECT username FROM users WHERE username LIKE ? ESCAPE '\\')", [like]


def _filter_sql(flt: Filter, now: datetime) -> tuple[str, list[Any]]:
    parts, args = [], []
    for c in flt.conditions:
        sql, more = _condition_sql(c, now)
        parts.append(sql)
        args.extend(more)
    return "".join(f" AND {p}" for p in parts), args


def fts_matches(conn: Conn, match: str, cap: int) -> int:
    """How many requests the full-text terms match, counted no further than `cap`."""
    return int(conn.execute(f"SELECT count(*) FROM ({FTS_ROWIDS} LIMIT ?)", (match, cap)).fetchone()[0])


# conditions whose own index finds few rows, and that index. The database holds no statistics
# (no ANALYZE), so the planner cannot know that an id prefix names a handful of requests while a
# role has thousands waiting: told nothing, it read every waiting row to find one id.
_CONDITION_INDEX = {"id": " INDEXED BY sqlite_autoindex_requests_1", "requester": " INDEXED BY requests_by_requester"}
_SELECTIVE = {*_CONDITION_INDEX, "stage"}


def _condition_index(flt: Filter) -> str | None:
    keys = {c.key for c in flt.conditions}
    return next((hint for key, hint in _CONDITION_INDEX.items() if key in keys), None)


def _plan(conn: Conn, view: InboxView, flt: Filter, order: SortOrder | None, decidable: frozenset[Role],
          oversight: bool) -> tuple[str, str, list[Any]]:
    """(index clause, full-text clause, its args) for a query over `flt`'s terms, the clause
    first in the WHERE: it needs only the rowid, which the driving index already holds, so a
    row is read (and decrypted) only once its rowid is among the matches. `order` None
    for counting. Never a scan of the whole table: either the matches drive (few of them), or
    an index of the view's own rows does, each entry tested against the set of matches."""
    match = flt.match
    assert match is not None
    sparse = " NOT INDEXED", f"r.rowid IN ({FTS_ROWIDS}) AND ", [match]
    if fts_matches(conn, match, DENSE_MATCHES) < DENSE_MATCHES:
        return sparse  # few matches: read them and nothing else (rowid lookups)
    # many: the matches are only a set to test against ('+' keeps the planner from driving the
    # query by them); an index of the view's own rows drives, and a page stops early
    dense = f"+r.rowid IN ({FTS_ROWIDS}) AND ", [match]
    created = order is None or order.key == "created"
    if any(c.key in _SELECTIVE for c in flt.conditions) or view is InboxView.DECIDED:
        return _condition_index(flt) or "", *dense  # the condition's index, or my decisions' ids
    if view is InboxView.AWAITING_ME and not decidable:
        return sparse  # nothing can wait for this user ("0"), and the partial index is no use
    by_risk = (order is not None and order.key == "risk") or _high_risk_only(flt)
    if view is InboxView.AWAITING_ME:  # what waits (a few per cent of all), by role
        if by_risk and (created or (order is not None and order.key == "risk")):
            return " INDEXED BY requests_awaiting_risk", *dense
        return (" INDEXED BY requests_awaiting" if created else ""), *dense
    if view is InboxView.MINE:  # requests_by_requester holds the rowid too: counting reads no row
        return " INDEXED BY requests_by_requester", *dense
    if by_risk and (created or (order is not None and order.key == "risk")):
        return " INDEXED BY requests_by_risk", *dense
    if created and order is not None:
        return " INDEXED BY requests_by_created", *dense
    if order is None and not oversight and not flt.conditions \
            and fts_matches(conn, match, VISIBLE_COVER_MATCHES) >= VISIBLE_COVER_MATCHES:
        # counting very many matches in "all I may see": the view's three columns are in
        # requests_visible_cover, so the whole index (some 0.4 s over 1M) beats a row per match
        return " INDEXED BY requests_visible_cover", *dense
    return sparse  # nothing else sorts all I may see without reading it: the matches drive


def _high_risk_only(flt: Filter) -> bool:
    """A risk condition that admits HIGH and CRITICAL at most: the rare levels, whose index range
    is short enough to test in full (LOW and MEDIUM are most requests: read in created order,
    a page finds its rows sooner)."""
    for c in flt.conditions:
        if c.key != "risk":
            continue
        if c.op == "=" and min(c.values) >= 2 or c.op in (">", ">=") and c.values[0] + (c.op == ">") >= 2:
            return True
    return False


def _escalated(conn: Conn, view: InboxView, decidable: frozenset[Role]) -> bool:
    """Does anything escalated wait for a role of `decidable`? Nearly never: then Awaiting me
    keeps its own indexes, and only when it does is the escalation role looked at too."""
    if view is not InboxView.AWAITING_ME or not decidable:
        return False
    marks = ",".join("?" * len(decidable))
    return conn.execute(f"SELECT 1 FROM requests INDEXED BY requests_escalated WHERE escalated_to IS NOT NULL AND "
                        f"status = 'awaiting_approval' AND escalated_to IN ({marks}) LIMIT 1",
                        sorted(x.value for x in decidable)).fetchone() is not None


def _parallel(conn: Conn, view: InboxView, decidable: frozenset[Role], oversight: bool) -> bool:
    """Awaiting me: does a parallel stage await a role of `decidable`? All I may see: does any
    parallel stage name one? Rarely: then the views keep their indexes, and only when one does
    are the `awaited` and `stage_rules` columns (migration 19) read too, from their own indexes."""
    if not decidable or view in (InboxView.MINE, InboxView.DECIDED) or (view is InboxView.VISIBLE and oversight):
        return False
    roles = sorted(x.value for x in decidable)
    if view is InboxView.AWAITING_ME:
        likes = " OR ".join("awaited LIKE ?" for _ in roles)
        return conn.execute(f"SELECT 1 FROM requests INDEXED BY requests_awaited WHERE awaited IS NOT NULL AND "
                            f"status = 'awaiting_approval' AND ({likes}) LIMIT 1",
                            [f"%,{x},%" for x in roles]).fetchone() is not None
    likes = " OR ".join("stage_rules LIKE ?" for _ in roles)
    return conn.execute(f"SELECT 1 FROM requests INDEXED BY requests_parallel WHERE instr(stage_rules, '\"all\"') > 0 "
                        f"AND ({likes}) LIMIT 1",
                        [f'%"{x}"%' for x in roles]).fetchone() is not None


def page_query(conn: Conn, view: InboxView, username: str, decidable: frozenset[Role], oversight: bool,
               flt: Filter, order: SortOrder, limit: int, offset: int, now: datetime, *,
               segregated_owner: bool = False, delegated: "Delegated" = ()) -> tuple[str, tuple[Any, ...]]:
    """The SELECT for one page, and its arguments (tests EXPLAIN it)."""
    escalated = _escalated(conn, view, decidable)
    parallel = _parallel(conn, view, decidable, oversight)
    where, args = _view_clause(view, username, decidable, oversight, segregated_owner=segregated_owner,
                               escalated=escalated, parallel=parallel, delegated=delegated)
    extra, more = _filter_sql(flt, now)
    text_args: list[Any]
    if flt.match is None:
        index = _PAGE_INDEX.get(view, "") if decidable and order.key == "created" and not extra else ""
        index = _condition_index(flt) or index
        text, text_args = "", []
    else:
        index, text, text_args = _plan(conn, view, flt, order, decidable, oversight)
    if (escalated or parallel or delegated) and "requests_awaiting" in index:
        index = ""  # those indexes hold only what waits for the stage role itself
    first, first_args = "", []
    if view is InboxView.AWAITING_ME and assignment_sql.has_any(conn, username):  # assigned to me: first
        first, first_args, index = f"{assignment_sql.ASSIGNED_FIRST}, ", [username], ""
    return (f"SELECT {SUMMARY_COLS} FROM requests r{index} WHERE {text}{where}{extra} "
            f"ORDER BY {first}{order_by(view, order)} LIMIT ? OFFSET ?",
            (*text_args, *args, *more, *first_args, limit, offset))


def list_view(conn: Conn, view: InboxView, username: str, decidable: frozenset[Role], oversight: bool,
              flt: Filter, order: SortOrder, limit: int, offset: int, now: datetime, *,
              segregated_owner: bool = False, delegated: "Delegated" = ()) -> list[RequestSummary]:
    sql, args = page_query(conn, view, username, decidable, oversight, flt, order, limit, offset, now,
                           segregated_owner=segregated_owner, delegated=delegated)
    return [summary(r) for r in conn.execute(sql, args).fetchall()]


def count_query(conn: Conn, view: InboxView, username: str, decidable: frozenset[Role], oversight: bool,
                flt: Filter, now: datetime, *, segregated_owner: bool = False,
                delegated: "Delegated" = ()) -> tuple[str, tuple[Any, ...]]:
    escalated = _escalated(conn, view, decidable)
    parallel = _parallel(conn, view, decidable, oversight)
    where, args = _view_clause(view, username, decidable, oversight, segregated_owner=segregated_owner,
                               escalated=escalated, parallel=parallel, delegated=delegated)
    extra, more = _filter_sql(flt, now)
    match = flt.match
    if match is not None and where == "1" and not extra:
        # everything is visible and only words filter: the index's own count (its rows are the
        # requests' rows, one for one, kept so by the triggers of migration 5)
        return f"SELECT count(*) FROM ({FTS_ROWIDS})", (match,)
    text_args: list[Any]
    if match is None:
        index = _condition_index(flt) or (_COUNT_INDEX.get(view, "") if decidable and not extra else "")
        text, text_args = "", []
    elif view is InboxView.AWAITING_ME and decidable and not extra:
        # the covering index and the set of matches: no table page is read
        index, text, text_args = _COUNT_INDEX[view], f"+r.rowid IN ({FTS_ROWIDS}) AND ", [match]
    else:
        index, text, text_args = _plan(conn, view, flt, None, decidable, oversight)
    if (escalated or parallel or delegated) and "requests_awaiting" in index:
        index = ""  # those indexes hold only what waits for the stage role itself
    return f"SELECT count(*) FROM requests r{index} WHERE {text}{where}{extra}", (*text_args, *args, *more)


def count_view(conn: Conn, view: InboxView, username: str, decidable: frozenset[Role], oversight: bool,
               flt: Filter, now: datetime, *, segregated_owner: bool = False, delegated: "Delegated" = ()) -> int:
    sql, args = count_query(conn, view, username, decidable, oversight, flt, now, segregated_owner=segregated_owner,
                            delegated=delegated)
    return int(conn.execute(sql, args).fetchone()[0])


def summary(r: tuple[Any, ...]) -> RequestSummary:
    return cast(RequestSummary, trusted(RequestSummary,
        id=r[0], workflow_type=r[1], title=r[2], requester=r[3], headline=r[4], risk_level=RiskLevel(r[5]),
        status=WorkflowStatus(r[6]), current_stage=r[7], stage_count=r[8].count(",") - 1,
        current_role=Role(r[9]) if r[9] else None, created_at=datetime.fromisoformat(r[10]),
        updated_at=datetime.fromisoformat(r[11]), due_at=datetime.fromisoformat(r[12]) if r[12] else None,
    ))


def pending_ids(conn: Conn, username: str, decidable: frozenset[Role], limit: int | None, *,
                segregated_owner: bool = False, delegated: "Delegated" = ()) -> list[str]:
    if not decidable and not delegated:
        return []
    escalated = _escalated(conn, InboxView.AWAITING_ME, decidable)
    parallel = _parallel(conn, InboxView.AWAITING_ME, decidable, False)
    where, args = _view_clause(InboxView.AWAITING_ME, username, decidable, False, segregated_owner=segregated_owner,
                               escalated=escalated, parallel=parallel, delegated=delegated)
    index = "" if escalated or parallel or delegated else _PAGE_INDEX[InboxView.AWAITING_ME]
    sql = f"SELECT r.id FROM requests r{index} WHERE {where} ORDER BY r.created_at"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [r[0] for r in conn.execute(sql, args)]


# --- deadlines (core/approvals.py) ------------------------------------------------------------

#: the statuses a deadline still applies to (the partial index requests_deadline, migration 13)
_OPEN = "status IN ('awaiting_approval', 'changes_requested')"


def next_deadline(conn: Conn) -> str | None:
    """The earliest deadline of a request still open (from the index alone), None when none has one."""
    row = conn.execute(f"SELECT min(expires_at) FROM requests WHERE expires_at IS NOT NULL AND {_OPEN}").fetchone()
    return row[0] if row else None


def overdue(conn: Conn, now: str) -> list[dict[str, Any]]:
    """The open requests whose deadline is `now` or earlier, deadline first."""
    cur = conn.execute(f"SELECT id, status, current_stage, revision, expires_at FROM requests "
                       f"WHERE expires_at IS NOT NULL AND expires_at <= ? AND {_OPEN} ORDER BY expires_at, id", (now,))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def next_due(conn: Conn) -> str | None:
    """The earliest due date of a request awaiting approval (from the index alone)."""
    row = conn.execute("SELECT min(due_at) FROM requests WHERE due_at IS NOT NULL AND status = 'awaiting_approval'"
                       ).fetchone()
    return row[0] if row else None


def past_due(conn: Conn, now: str, kinds: list[tuple[str, str]], limit: int = 500) -> list[dict[str, Any]]:
    """Requests awaiting approval whose due date is `now` or earlier, of the (type, risk level)
    pairs `kinds`, the most overdue first (the due index finds them; the pairs filter them)."""
    if not kinds:
        return []
    pairs = ", ".join("(?, ?)" for _ in kinds)
    cur = conn.execute("SELECT id, workflow_type, risk_level, status, current_stage, current_role, revision, due_at "
                       "FROM requests WHERE due_at IS NOT NULL AND due_at <= ? AND status = 'awaiting_approval' "
                       f"AND escalated_to IS NULL AND (workflow_type, risk_level) IN (VALUES {pairs}) "
                       "ORDER BY due_at, id LIMIT ?",
                       (now, *(v for pair in kinds for v in pair), limit))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def to_remind(conn: Conn, soon: str, now: str, limit: int = 500) -> list[dict[str, Any]]:
    """Requests awaiting approval due by `soon` whose stage has not had its reminder: never
    reminded, or told "due soon" and now overdue (`now`); the earliest due first."""
    cur = conn.execute("SELECT id, workflow_type, risk_level, status, current_stage, current_role, revision, due_at, "
                       "reminded FROM requests WHERE due_at IS NOT NULL AND due_at <= ? AND status = "
                       "'awaiting_approval' AND (reminded IS NULL OR (reminded = 'due_soon' AND due_at <= ?)) "
                       "ORDER BY due_at, id LIMIT ?", (soon, now, limit))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def decode_data(text: str) -> dict[str, Any]:
    return cast(dict[str, Any], json.loads(text))
