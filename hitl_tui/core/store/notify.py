"""SQL of the notification tables (migration 16): the outbox, webhooks, preferences, settings.

Only statements live here; who hears what is core/notifications.py, and sending is
hitl_tui/notify/. Every timestamp is audit.iso() text, so text order is time order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .connection import Conn

#: the states of an outbox row: not tried yet, tried and to be tried again, done, abandoned
PENDING, FAILED, SENT, GAVE_UP = "pending", "failed", "sent", "gave_up"
OPEN_STATES = (PENDING, FAILED)

_OUTBOX_COLS = ("id, seq, event, workflow_id, recipient, channel, actor, created_at, attempts, next_attempt_at, "
                "state, last_error, sent_at, claim")


@dataclass(frozen=True)
class OutboxRow:
    id: str
    seq: int
    event: str
    workflow_id: str | None
    recipient: str
    channel: str
    actor: str | None
    created_at: str
    attempts: int
    next_attempt_at: str
    state: str
    last_error: str | None
    sent_at: str | None
    claim: str | None


@dataclass(frozen=True)
class WebhookRow:
    id: str
    url: str
    kind: str
    secret: str | None
    events: str | None
    sees_role: str | None
    created_at: str
    created_by: str
    created_seq: int
    removed_at: str | None = None

    @property
    def active(self) -> bool:
        return self.removed_at is None


@dataclass(frozen=True)
class PrefsRow:
    username: str
    email: str | None
    events: str | None
    quiet: str | None
    updated_at: str
    tz: str | None = None  # their own zone for the quiet hours (None: the desk's)


# --- the outbox ---------------------------------------------------------------------------------

def any_receiver(conn: Conn) -> bool:
    """Is anyone listening at all? (one quick look before the outbox does any work)"""
    row = conn.execute("SELECT EXISTS(SELECT 1 FROM notify_webhooks WHERE removed_at IS NULL) "
                       "OR EXISTS(SELECT 1 FROM notify_prefs)").fetchone()
    return bool(row[0])


def enqueue(conn: Conn, rows: list[tuple[str, int, str, str | None, str, str, str | None, str]]) -> None:
    """(id, seq, event, workflow_id, recipient, channel, actor, created_at) each, due now."""
    conn.executemany("INSERT INTO notify_outbox (id, seq, event, workflow_id, recipient, channel, actor, created_at, "
                     "next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?8)", rows)


def due(conn: Conn, now: str, limit: int) -> list[OutboxRow]:
    rows = conn.execute(f"SELECT {_OUTBOX_COLS} FROM notify_outbox WHERE state IN ('pending', 'failed') "
                        f"AND next_attempt_at <= ? ORDER BY next_attempt_at, created_at LIMIT ?", (now, limit))
    return [OutboxRow(*r) for r in rows]


def next_due(conn: Conn) -> str | None:
    row = conn.execute("SELECT min(next_attempt_at) FROM notify_outbox WHERE state IN ('pending', 'failed')").fetchone()
    return None if row is None else row[0]


def claim(conn: Conn, ids: list[str], session: str, lease_until: str) -> None:
    """Take rows for one attempt each: counted now, so a send that kills its process still counts."""
    conn.executemany("UPDATE notify_outbox SET claim = ?, next_attempt_at = ?, attempts = attempts + 1 "
                     "WHERE id = ? AND state IN ('pending', 'failed')", [(session, lease_until, i) for i in ids])


def release_claims(conn: Conn, now: str) -> int:
    """Every claim made to be taken again now (a service starting: whoever claimed them is gone)."""
    cur = conn.execute("UPDATE notify_outbox SET claim = NULL, next_attempt_at = ? "
                       "WHERE claim IS NOT NULL AND state IN ('pending', 'failed')", (now,))
    return cur.rowcount


def mark_sent(conn: Conn, row_id: str, session: str, now: str) -> None:
    conn.execute("UPDATE notify_outbox SET state = 'sent', sent_at = ?, claim = NULL, last_error = NULL "
                 "WHERE id = ? AND claim = ?", (now, row_id, session))


def mark_failed(conn: Conn, row_id: str, session: str, error: str, retry_at: str | None) -> None:
    """A failed attempt: tried again at `retry_at`, or given up for good (None)."""
    state = FAILED if retry_at is not None else GAVE_UP
    conn.execute("UPDATE notify_outbox SET state = ?, last_error = ?, claim = NULL, next_attempt_at = "
                 "COALESCE(?, next_attempt_at) WHERE id = ? AND claim = ?", (state, error, retry_at, row_id, session))


def postpone(conn: Conn, row_id: str, session: str, until: str) -> None:
    """Held back without an attempt (the recipient's quiet hours): the claim's count is undone."""
    conn.execute("UPDATE notify_outbox SET claim = NULL, next_attempt_at = ?, attempts = attempts - 1 "
                 "WHERE id = ? AND claim = ?", (until, row_id, session))


def listing(conn: Conn, states: tuple[str, ...], limit: int) -> list[OutboxRow]:
    marks = ", ".join("?" for _ in states)
    rows = conn.execute(f"SELECT {_OUTBOX_COLS} FROM notify_outbox WHERE state IN ({marks}) "
                        f"ORDER BY created_at DESC, id LIMIT ?", (*states, limit))
    return [OutboxRow(*r) for r in rows]


# --- webhooks -----------------------------------------------------------------------------------

_HOOK_COLS = "id, url, kind, secret, events, sees_role, created_at, created_by, created_seq, removed_at"


def insert_webhook(conn: Conn, row: WebhookRow) -> None:
    conn.execute(f"INSERT INTO notify_webhooks ({_HOOK_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                 (row.id, row.url, row.kind, row.secret, row.events, row.sees_role, row.created_at, row.created_by,
                  row.created_seq))


def webhook(conn: Conn, hook_id: str) -> WebhookRow | None:
    row = conn.execute(f"SELECT {_HOOK_COLS} FROM notify_webhooks WHERE id = ?", (hook_id,)).fetchone()
    return None if row is None else WebhookRow(*row)


def webhooks(conn: Conn, *, active_only: bool = True) -> list[WebhookRow]:
    where = "WHERE removed_at IS NULL " if active_only else ""
    return [WebhookRow(*r) for r in conn.execute(f"SELECT {_HOOK_COLS} FROM notify_webhooks {where}ORDER BY created_at")]


def remove_webhook(conn: Conn, hook_id: str, when: str, actor: str, seq: int) -> None:
    conn.execute("UPDATE notify_webhooks SET removed_at = ?, removed_by = ?, removed_seq = ? WHERE id = ?",
                 (when, actor, seq, hook_id))


# --- personal preferences -----------------------------------------------------------------------

def put_prefs(conn: Conn, username: str, email: str | None, events: str | None, quiet: str | None, when: str,
              seq: int, tz: str | None = None) -> None:
    conn.execute("INSERT INTO notify_prefs (username, email, events, quiet, updated_at, updated_seq, tz) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(username) DO UPDATE SET email = excluded.email, "
                 "events = excluded.events, quiet = excluded.quiet, updated_at = excluded.updated_at, "
                 "updated_seq = excluded.updated_seq, tz = excluded.tz",
                 (username, email, events, quiet, when, seq, tz))


def delete_prefs(conn: Conn, username: str) -> bool:
    return conn.execute("DELETE FROM notify_prefs WHERE username = ?", (username,)).rowcount > 0


def prefs(conn: Conn, username: str) -> PrefsRow | None:
    row = conn.execute("SELECT username, email, events, quiet, updated_at, tz FROM notify_prefs WHERE username = ?",
                       (username,)).fetchone()
    return None if row is None else PrefsRow(*row)


def all_prefs(conn: Conn) -> dict[str, PrefsRow]:
    rows = conn.execute("SELECT username, email, events, quiet, updated_at, tz FROM notify_prefs ORDER BY username")
    return {r[0]: PrefsRow(*r) for r in rows}


# --- settings -----------------------------------------------------------------------------------

def get_config(conn: Conn, key: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT value FROM notify_config WHERE key = ?", (key,)).fetchone()
    if row is None:
        return None
    value = json.loads(row[0])
    return value if isinstance(value, dict) else None


def put_config(conn: Conn, key: str, value: dict[str, Any], when: str, seq: int) -> None:
    conn.execute("INSERT INTO notify_config (key, value, updated_at, updated_seq) VALUES (?, ?, ?, ?) "
                 "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, "
                 "updated_seq = excluded.updated_seq", (key, json.dumps(value, sort_keys=True), when, seq))
