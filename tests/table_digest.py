"""One digest of every row of every table: equal digests before and after a refused call mean
that nothing at all was written (the fuzz tests of the Direct API and of the CLI)."""

from __future__ import annotations

import hashlib

TABLES = ("users", "requests", "approvals", "audit_log", "checkpoints", "meta", "policies")


def tables_digest(conn) -> str:
    digest = hashlib.sha256()
    for table in TABLES:
        for row in conn.execute(f"SELECT * FROM {table} ORDER BY rowid"):
            digest.update(repr(row).encode("utf-8", "backslashreplace"))
    return digest.hexdigest()
