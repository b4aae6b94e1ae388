"""SQL for the user directory."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from ..models import Role, User
from .connection import Conn

_COLS = "username, role, email, display_name, active, admin, created_at, integration, owner"


def _user(row: tuple[Any, ...]) -> User:
    return User(username=row[0], role=Role(row[1]), email=row[2], display_name=row[3],
                active=bool(row[4]), admin=bool(row[5]), created_at=datetime.fromisoformat(row[6]),
                integration=bool(row[7]), owner=row[8])


def get(conn: Conn, username: str) -> User | None:
    row = conn.execute(f"SELECT {_COLS} FROM users WHERE username = ?", (username,)).fetchone()
    return _user(row) if row else None


def list_all(conn: Conn, include_inactive: bool = True) -> list[User]:
    where = "" if include_inactive else "WHERE active = 1"
    return [_user(r) for r in conn.execute(f"SELECT {_COLS} FROM users {where} ORDER BY username")]


def insert(conn: Conn, user: User, now: str) -> None:
    conn.execute(
        "INSERT INTO users (username, role, email, display_name, active, admin, created_at, updated_at, integration, "
        "owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (user.username, user.role.value, user.email, user.display_name, int(user.active), int(user.admin), now, now,
         int(user.integration), user.owner),
    )


def update(conn: Conn, username: str, now: str, **changes: Any) -> None:
    cols: dict[str, Callable[[Any], Any]] = {"role": lambda v: v.value, "active": int, "admin": int, "email": str,
                                            "display_name": str}
    sets, args = [], []
    for key, value in changes.items():
        sets.append(f"{key} = ?")
        args.append(None if value is None else cols[key](value))
    conn.execute(f"UPDATE users SET {', '.join(sets)}, updated_at = ? WHERE username = ?", (*args, now, username))


def has_admin(conn: Conn) -> bool:
    return conn.execute("SELECT 1 FROM users WHERE admin = 1 AND active = 1 LIMIT 1").fetchone() is not None



def owns_integration(conn: Conn, username: str) -> bool:
    """Is `username` the owner of an integration account (active or not: what it filed stays)?"""
    return conn.execute("SELECT 1 FROM users WHERE owner = ? AND integration = 1 LIMIT 1",
                        (username,)).fetchone() is not None
