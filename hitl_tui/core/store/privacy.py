"""SQL for the sealed personal values and their data keys (core/privacy.py). Only this module
reads or writes privacy_keys and sealed_values."""

from __future__ import annotations

from typing import Iterable

from .connection import Conn

#: (key_id, secret or None when erased, erased_seq, erased_on)
KeyRow = tuple[str, bytes | None, int | None, str | None]
#: a sealed value's box with its key: (key_id, box, secret or None, erased_seq, erased_on, key row exists)
BoxRow = tuple[str, bytes, bytes | None, int | None, str | None, bool]
_CHUNK = 500


def key_for(conn: Conn, person: str, workflow_id: str | None) -> tuple[str, bytes | None] | None:
    """(key_id, secret) of the person's data key for the request (None: their directory entry)."""
    row = conn.execute("SELECT key_id, secret FROM privacy_keys WHERE person = ? AND IFNULL(workflow_id, '') = ? "
                       "ORDER BY secret IS NULL, created_at LIMIT 1", (person, workflow_id or "")).fetchone()
    return None if row is None else (row[0], None if row[1] is None else bytes(row[1]))


def insert_key(conn: Conn, key_id: str, person: str, workflow_id: str | None, secret: bytes, created_at: str) -> None:
    conn.execute("INSERT INTO privacy_keys (key_id, person, workflow_id, secret, created_at) VALUES (?, ?, ?, ?, ?)",
                 (key_id, person, workflow_id, secret, created_at))


def insert_box(conn: Conn, seq: int, digest: str, key_id: str, box: bytes) -> None:
    conn.execute("INSERT INTO sealed_values (seq, digest, key_id, box) VALUES (?, ?, ?, ?)", (seq, digest, key_id, box))


def keys(conn: Conn, key_ids: Iterable[str]) -> dict[str, KeyRow]:
    wanted = sorted(set(key_ids))
    found: dict[str, KeyRow] = {}
    for i in range(0, len(wanted), _CHUNK):
        part = wanted[i:i + _CHUNK]
        for kid, secret, seq, on in conn.execute(
                f"SELECT key_id, secret, erased_seq, erased_on FROM privacy_keys WHERE key_id IN ({','.join('?' * len(part))})",
                part):
            found[kid] = (kid, None if secret is None else bytes(secret), seq, on)
    return found


def boxes_of(conn: Conn, seqs: Iterable[int]) -> dict[str, BoxRow]:
    """digest -> (key_id, box, the key's secret, erased_seq, erased_on, whether the key row
    exists) of every value sealed by the entries `seqs`. One range read when the entries are
    close together (a verification's or an export's batch), else one lookup per entry."""
    wanted = sorted(set(seqs))
    if not wanted:
        return {}
    cols = ("SELECT v.digest, v.key_id, v.box, k.secret, k.erased_seq, k.erased_on, k.key_id IS NOT NULL "
            "FROM sealed_values v LEFT JOIN privacy_keys k ON k.key_id = v.key_id ")
    if wanted[-1] - wanted[0] < 4 * len(wanted):
        rows = conn.execute(cols + "WHERE v.seq BETWEEN ? AND ?", (wanted[0], wanted[-1])).fetchall()
    else:
        rows = []
        for i in range(0, len(wanted), _CHUNK):
            part = wanted[i:i + _CHUNK]
            rows += conn.execute(cols + f"WHERE v.seq IN ({','.join('?' * len(part))})", part).fetchall()
    return {d: (k, bytes(b), None if s is None else bytes(s), es, eo, bool(found)) for d, k, b, s, es, eo, found in rows}


def live_keys_of_person(conn: Conn, person: str) -> list[tuple[str, str | None]]:
    """(key_id, workflow_id) of the person's keys not yet erased."""
    return [(k, w) for k, w in conn.execute(
        "SELECT key_id, workflow_id FROM privacy_keys WHERE person = ? AND secret IS NOT NULL ORDER BY key_id", (person,))]


def live_keys_of_requests(conn: Conn, workflow_ids: Iterable[str]) -> list[tuple[str, str | None]]:
    wanted = sorted(set(workflow_ids))
    found: list[tuple[str, str | None]] = []
    for i in range(0, len(wanted), _CHUNK):
        part = wanted[i:i + _CHUNK]
        found.extend(conn.execute(
            f"SELECT key_id, workflow_id FROM privacy_keys WHERE secret IS NOT NULL AND workflow_id IN "
            f"({','.join('?' * len(part))}) ORDER BY key_id", part).fetchall())
    return found


def count_boxes(conn: Conn, key_ids: Iterable[str]) -> int:
    wanted = sorted(set(key_ids))
    total = 0
    for i in range(0, len(wanted), _CHUNK):
        part = wanted[i:i + _CHUNK]
        total += conn.execute(f"SELECT count(*) FROM sealed_values WHERE key_id IN ({','.join('?' * len(part))})",
                              part).fetchone()[0]
    return total


def destroy(conn: Conn, key_ids: Iterable[str], seq: int, erased_on: str) -> None:
    """Destroy the keys and every value sealed under them, in the caller's transaction. The
    connection has secure_delete on, so the freed pages are overwritten, not just unlinked."""
    wanted = sorted(set(key_ids))
    conn.execute("PRAGMA secure_delete = ON")
    for i in range(0, len(wanted), _CHUNK):
        part = wanted[i:i + _CHUNK]
        marks = ",".join("?" * len(part))
        conn.execute(f"DELETE FROM sealed_values WHERE key_id IN ({marks})", part)
        conn.execute(f"UPDATE privacy_keys SET secret = NULL, erased_seq = ?, erased_on = ? WHERE key_id IN ({marks})",
                     (seq, erased_on, *part))


def optimise_search_index(conn: Conn) -> None:
    """Merge the search index's segments, so the words of an erased title are gone from it too
    (a deleted row's terms otherwise linger in older segments until a merge)."""
    conn.execute("INSERT INTO requests_fts(requests_fts) VALUES ('optimize')")


# --- the tables' personal columns, rewritten after an erasure (erasure.py) ---------------------
# Only the columns that hold personal values: updated_at and the rest stay as the trail made them.

#: (payload and justification: a request filed for approval, core/approvals.py)
PERSONAL_REQUEST_COLS = ("title", "description", "data", "payload", "justification", "proposed_payload")


def rewrite_request(conn: Conn, workflow_id: str, values: dict[str, str]) -> None:
    """values: some of PERSONAL_REQUEST_COLS (data as JSON text), as a replay gives them."""
    cols = [c for c in PERSONAL_REQUEST_COLS if c in values]
    if cols:
        conn.execute(f"UPDATE requests SET {', '.join(c + ' = ?' for c in cols)} WHERE id = ?",
                     (*(values[c] for c in cols), workflow_id))


def rewrite_approval_comment(conn: Conn, workflow_id: str, revision: int, stage: int, comments: str,
                             approver: str = "") -> None:
    """One stage's row ('' for any approver), or one voter's row of a quorum or parallel stage."""
    conn.execute("UPDATE approvals SET comments = ? WHERE workflow_id = ? AND revision = ? AND stage = ? "
                 "AND ? IN ('', approver)", (comments, workflow_id, revision, stage, approver))


def rewrite_user(conn: Conn, username: str, email: str | None, display_name: str | None) -> None:
    conn.execute("UPDATE users SET email = ?, display_name = ? WHERE username = ?", (email, display_name, username))


def expired_requests(conn: Conn, workflow_type: str, final_statuses: tuple[str, ...], cutoff: str) -> list[str]:
    """Requests of the type that reached a final status at or before `cutoff` (ISO text) and still
    hold personal data under a live key."""
    marks = ",".join("?" * len(final_statuses))
    return [r[0] for r in conn.execute(
        f"SELECT DISTINCT r.id FROM requests r JOIN privacy_keys k ON k.workflow_id = r.id AND k.secret IS NOT NULL "
        f"WHERE r.workflow_type = ? AND r.status IN ({marks}) AND r.updated_at <= ? ORDER BY r.id",
        (workflow_type, *final_statuses, cutoff))]


def fold_log(conn: Conn) -> None:
    """Checkpoint the write-ahead log into the database and truncate it."""
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def ever_sealed(conn: Conn, target: str) -> bool:
    """Has anything ever been sealed for this person or request (erased since, or not)?"""
    return conn.execute("SELECT 1 FROM privacy_keys WHERE person = ? OR workflow_id = ? LIMIT 1",
                        (target, target)).fetchone() is not None
