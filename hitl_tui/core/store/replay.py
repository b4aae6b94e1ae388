"""SQL for comparing the tables with a replay of the audit trail (core/replay.py).

The replay writes one digest per request, per approvals row and per user it expects into
temporary tables on the verifying connection (temp_store is MEMORY there, store/connection.py,
so nothing replayed ever reaches an unencrypted file), then each real table is read once, in its
own order, beside its expected digest. Only this module names those tables.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from .connection import Conn

#: the requests columns a replay rebuilds, in the order core/replay.py keeps them
REQUEST_COLS = ("workflow_type", "title", "description", "requester", "data", "risk_level", "risk_rank",
                "risk_field", "risk_reason", "headline", "chain", "current_stage", "current_role", "status",
                "revision", "created_at", "updated_at", "deciders", "policy_version",
                # filed for approval (core/approvals.py FILING_COLS); NULL for every other request
                "payload", "payload_sha256", "justification", "agent", "owner", "expires_at",
                # a reviewer's proposed revision of that payload, until the caller resubmits
                "proposed_payload",
                # when it is due (core/due.py), and what was left while changes were requested
                "due_at", "due_left",
                # the role an overdue stage was escalated to, until that stage is decided
                "escalated_to",
                # the last reminder the current stage's approvers had (due_soon, overdue)
                "reminded",
                # each stage's rule (quorum, parallel), and the roles a parallel stage still awaits
                "stage_rules", "awaited")
APPROVAL_COLS = ("role", "approver", "approver_role", "decision", "decided_at", "comments", "proposed_by",
                 "on_behalf_of")
USER_COLS = ("role", "email", "display_name", "active", "admin", "created_at", "updated_at", "integration", "owner")

_TEMP = """
CREATE TEMP TABLE IF NOT EXISTS replay_requests (id TEXT PRIMARY KEY, seq INTEGER NOT NULL,
    known INTEGER NOT NULL, digest BLOB NOT NULL);
CREATE TEMP TABLE IF NOT EXISTS replay_approvals (workflow_id TEXT NOT NULL, revision INTEGER NOT NULL,
    stage INTEGER NOT NULL, approver TEXT NOT NULL, seq INTEGER NOT NULL, known INTEGER NOT NULL,
    digest BLOB NOT NULL, PRIMARY KEY (workflow_id, revision, stage, approver));
"""


def begin(conn: Conn) -> None:
    for statement in _TEMP.strip().split(";\n"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("DELETE FROM temp.replay_requests")
    conn.execute("DELETE FROM temp.replay_approvals")


def end(conn: Conn) -> None:
    conn.execute("DROP TABLE IF EXISTS temp.replay_requests")
    conn.execute("DROP TABLE IF EXISTS temp.replay_approvals")


def put_requests(conn: Conn, rows: Iterable[tuple[str, int, int, bytes]]) -> None:
    """(id, seq of its created entry, known-columns mask, digest); a later row for an id wins."""
    conn.executemany("INSERT OR REPLACE INTO temp.replay_requests (id, seq, known, digest) VALUES (?, ?, ?, ?)", rows)


def put_approvals(conn: Conn, rows: Iterable[tuple[str, int, int, str, int, int, bytes]]) -> list[tuple[str, int, int]]:
    """(workflow_id, revision, stage, approver, seq, known, digest); approver '' for a stage of
    one approval (a quorum or parallel stage has a row per voter, core/stage_rules.py). Returns
    the keys already present: two decisions of one stage in the trail (or of one person in a
    stage of several), which the caller reports."""
    rows = list(rows)
    before = conn.total_changes
    conn.executemany("INSERT OR IGNORE INTO temp.replay_approvals (workflow_id, revision, stage, approver, seq, known, "
                     "digest) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    if conn.total_changes - before == len(rows):
        return []
    dupes = []  # rare: find which, one at a time (those already in are ignored again)
    for row in rows:
        if conn.execute("SELECT seq FROM temp.replay_approvals WHERE workflow_id = ? AND revision = ? AND stage = ? "
                        "AND approver = ?", row[:4]).fetchone()[0] != row[4]:
            dupes.append(row[:3])
    return dupes


def request_pairs(conn: Conn, batch: int = 20_000) -> Iterator[list[tuple[Any, ...]]]:
    """Every requests row (its rowid order, so the table's pages are read in turn) with the
    replay's seq, mask and digest for its id (NULLs when the trail never created it)."""
    cols = ", ".join(f"r.{c}" for c in REQUEST_COLS)
    cur = conn.execute(f"SELECT r.id, t.seq, t.known, t.digest, {cols} FROM requests r "
                       "LEFT JOIN temp.replay_requests t ON t.id = r.id")
    while rows := cur.fetchmany(batch):
        yield rows


def approval_pairs(conn: Conn, batch: int = 20_000) -> Iterator[list[tuple[Any, ...]]]:
    cols = ", ".join(f"a.{c}" for c in APPROVAL_COLS)
    cur = conn.execute(f"SELECT a.workflow_id, a.revision, a.stage, t.seq, t.known, t.digest, {cols} FROM approvals a "
                       "LEFT JOIN temp.replay_approvals t ON t.workflow_id = a.workflow_id "
                       "AND t.revision = a.revision AND t.stage = a.stage AND t.approver IN ('', a.approver)")
    while rows := cur.fetchmany(batch):
        yield rows


def expected_counts(conn: Conn) -> tuple[int, int]:
    return (conn.execute("SELECT count(*) FROM temp.replay_requests").fetchone()[0],
            conn.execute("SELECT count(*) FROM temp.replay_approvals").fetchone()[0])


def first_missing_request(conn: Conn) -> tuple[str, int] | None:
    """The earliest request the trail created that the table no longer holds."""
    row: tuple[str, int] | None = conn.execute(
        "SELECT t.id, t.seq FROM temp.replay_requests t WHERE NOT EXISTS "
        "(SELECT 1 FROM requests r WHERE r.id = t.id) ORDER BY t.seq LIMIT 1").fetchone()
    return row


def first_missing_approval(conn: Conn) -> tuple[str, int, int, int] | None:
    row: tuple[str, int, int, int] | None = conn.execute(
        "SELECT t.workflow_id, t.revision, t.stage, t.seq FROM temp.replay_approvals t "
        "WHERE NOT EXISTS (SELECT 1 FROM approvals a WHERE a.workflow_id = t.workflow_id "
        "AND a.revision = t.revision AND a.stage = t.stage AND t.approver IN ('', a.approver)) "
        "ORDER BY t.seq LIMIT 1").fetchone()
    return row


def request_row(conn: Conn, workflow_id: str) -> tuple[Any, ...] | None:
    row: tuple[Any, ...] | None = conn.execute(f"SELECT {', '.join(REQUEST_COLS)} FROM requests WHERE id = ?",
                                               (workflow_id,)).fetchone()
    return row


def approval_row(conn: Conn, workflow_id: str, revision: int, stage: int, approver: str = "") -> tuple[Any, ...] | None:
    """The approvals row of a stage ('' for any approver: a stage of one approval), or of one voter's."""
    row: tuple[Any, ...] | None = conn.execute(
        f"SELECT {', '.join(APPROVAL_COLS)} FROM approvals WHERE workflow_id = ? AND revision = ? AND stage = ? "
        "AND ? IN ('', approver)", (workflow_id, revision, stage, approver)).fetchone()
    return row


def user_rows(conn: Conn) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = conn.execute(f"SELECT username, {', '.join(USER_COLS)} FROM users").fetchall()
    return rows


def entry_body(conn: Conn, seq: int) -> bytes:
    return bytes(conn.execute("SELECT CAST(body AS BLOB) FROM audit_log WHERE seq = ?", (seq,)).fetchone()[0])


def search_index_gap(conn: Conn) -> int | None:
    """The rowid of a request the search index does not list, or of an index entry whose request
    row is gone (0 when counts differ but no gap is named), None when the index lists exactly the
    requests. Read-only: FTS5's own 'integrity-check' is a write statement (it would hold the
    write lock for seconds over a million rows). The words themselves are kept in step by the
    triggers of migration 5, and the text they index is compared with the trail column by column."""
    rows = conn.execute("SELECT count(*) FROM requests").fetchone()[0]
    indexed = conn.execute("SELECT count(*) FROM requests_fts_docsize").fetchone()[0]
    missing = conn.execute("SELECT r.rowid FROM requests r WHERE NOT EXISTS "
                           "(SELECT 1 FROM requests_fts_docsize d WHERE d.id = r.rowid) LIMIT 1").fetchone()
    if missing:
        return int(missing[0])
    if rows == indexed:
        return None
    extra = conn.execute("SELECT d.id FROM requests_fts_docsize d WHERE NOT EXISTS "
                         "(SELECT 1 FROM requests r WHERE r.rowid = d.id) LIMIT 1").fetchone()
    return extra[0] if extra else 0


def request_id_at(conn: Conn, rowid: int) -> str | None:
    row = conn.execute("SELECT id FROM requests WHERE rowid = ?", (rowid,)).fetchone()
    return row[0] if row else None
