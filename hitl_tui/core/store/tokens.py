"""SQL for the HTTP API's bearer tokens (core/tokens.py): one row per token, holding the token's
sha256 and never the token itself. Only this module names the api_tokens table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .connection import Conn

#: the columns after `id`, in the order TokenRow and the replay (core/tokens.py) keep them
COLS = ("token_hash", "username", "name", "created_at", "created_by", "created_seq", "revoked_at", "revoked_by",
        "revoke_reason", "revoked_seq")
_SELECT = f"SELECT id, {', '.join(COLS)} FROM api_tokens"


@dataclass(frozen=True)
class TokenRow:
    id: str
    token_hash: str
    username: str
    name: str | None
    created_at: str
    created_by: str
    created_seq: int
    revoked_at: str | None = None
    revoked_by: str | None = None
    revoke_reason: str | None = None
    revoked_seq: int | None = None

    @property
    def active(self) -> bool:
        return self.revoked_seq is None

    def values(self) -> tuple[Any, ...]:
        """The columns after `id`, in COLS order."""
        return tuple(getattr(self, c) for c in COLS)


def _row(row: tuple[Any, ...]) -> TokenRow:
    return TokenRow(*row)


def insert(conn: Conn, token: TokenRow) -> None:
    conn.execute(f"INSERT INTO api_tokens (id, {', '.join(COLS)}) VALUES ({', '.join('?' * (len(COLS) + 1))})",
                 (token.id, *token.values()))


def revoke(conn: Conn, token_id: str, at: str, by: str, reason: str, seq: int) -> None:
    conn.execute("UPDATE api_tokens SET revoked_at = ?, revoked_by = ?, revoke_reason = ?, revoked_seq = ? "
                 "WHERE id = ? AND revoked_seq IS NULL", (at, by, reason, seq, token_id))


def by_hash(conn: Conn, token_hash: str) -> TokenRow | None:
    row = conn.execute(f"{_SELECT} WHERE token_hash = ?", (token_hash,)).fetchone()
    return _row(row) if row else None


def get(conn: Conn, token_id: str) -> TokenRow | None:
    row = conn.execute(f"{_SELECT} WHERE id = ?", (token_id,)).fetchone()
    return _row(row) if row else None


def exists(conn: Conn, token_id: str) -> bool:
    return conn.execute("SELECT 1 FROM api_tokens WHERE id = ?", (token_id,)).fetchone() is not None


def list_all(conn: Conn) -> list[TokenRow]:
    """Every token, oldest first."""
    return [_row(r) for r in conn.execute(f"{_SELECT} ORDER BY created_seq")]
