"""SQL for the audit bundle's state.json: the requests, approvals and users tables whole, with
the columns a replay of the trail rebuilds (store/replay.py names them), and the audit size
they were read at, all in the caller's one read snapshot."""

from __future__ import annotations

from typing import Any

from . import meta
from .connection import Conn
from .replay import APPROVAL_COLS, REQUEST_COLS, USER_COLS


def read(conn: Conn) -> dict[str, Any]:
    size, _head = meta.audit_head(conn)
    request_cols = ("id", *REQUEST_COLS)
    approval_cols = ("workflow_id", "revision", "stage", *APPROVAL_COLS)
    user_cols = ("username", *USER_COLS)
    return {
        "audit_size": size,
        "requests": [dict(zip(request_cols, row)) for row in conn.execute(
            f"SELECT {', '.join(request_cols)} FROM requests ORDER BY created_at, id")],
        "approvals": [dict(zip(approval_cols, row)) for row in conn.execute(
            f"SELECT {', '.join(approval_cols)} FROM approvals ORDER BY workflow_id, revision, stage")],
        "users": [dict(zip(user_cols, row)) for row in conn.execute(
            f"SELECT {', '.join(user_cols)} FROM users ORDER BY username")],
    }
