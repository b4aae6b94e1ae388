"""SQL for the registered signing keys (migration 10): an index of the trail's key entries."""

from __future__ import annotations

from typing import NamedTuple

from .connection import Conn


class KeyRow(NamedTuple):
    username: str
    key_id: str
    public_key: str
    since_seq: int
    until_seq: int | None
    ended: str | None


_COLS = "username, key_id, public_key, since_seq, until_seq, ended"


def valid(conn: Conn, username: str) -> KeyRow | None:
    """The key `username` signs with now (registered, neither replaced nor revoked)."""
    row = conn.execute(f"SELECT {_COLS} FROM user_keys WHERE username = ? AND until_seq IS NULL",
                       (username,)).fetchone()
    return KeyRow(*row) if row else None


def ever_had(conn: Conn, username: str) -> bool:
    return conn.execute("SELECT 1 FROM user_keys WHERE username = ? LIMIT 1", (username,)).fetchone() is not None


def holder_of(conn: Conn, key_id: str) -> str | None:
    row = conn.execute("SELECT username FROM user_keys WHERE key_id = ? LIMIT 1", (key_id,)).fetchone()
    return row[0] if row else None


def register(conn: Conn, username: str, key_id: str, public_key: str, seq: int) -> str | None:
    """Make `key_id` the key of `username` from entry `seq`; returns the key id it replaces."""
    old = valid(conn, username)
    if old is not None:
        conn.execute("UPDATE user_keys SET until_seq = ?, ended = 'replaced' WHERE username = ? AND key_id = ?",
                     (seq, username, old.key_id))
    conn.execute("INSERT INTO user_keys (username, key_id, public_key, since_seq) VALUES (?, ?, ?, ?)",
                 (username, key_id, public_key, seq))
    return old.key_id if old else None


def revoke(conn: Conn, username: str, key_id: str, seq: int) -> None:
    conn.execute("UPDATE user_keys SET until_seq = ?, ended = 'revoked' WHERE username = ? AND key_id = ?",
                 (seq, username, key_id))


def valid_ids(conn: Conn) -> dict[str, str]:
    """username -> the key id valid now, for `users list`."""
    return dict(conn.execute("SELECT username, key_id FROM user_keys WHERE until_seq IS NULL"))


def all_rows(conn: Conn) -> list[KeyRow]:
    return [KeyRow(*r) for r in conn.execute(f"SELECT {_COLS} FROM user_keys ORDER BY since_seq, username")]
