"""The tour's tamper simulation: what an insider holding the database key could try.

It works on the demo database only (the caller passes the DemoSession, whose directory is a
fresh temporary one) and goes around the engine on purpose, exactly as an attacker would: a
second SQLCipher connection with the key, the append-only trigger dropped, one stored entry
edited in place. The entry's stored hash is left alone, so the hash chain no longer matches and
`verify_audit()` names the entry.

Its raw SQL stays here, outside core/store/, on purpose: it is the insider's own statements,
not the engine's, and routing them through the engine's store would hide the point.

`restore()` puts the original bytes and the triggers back. The chain then verifies again: the
chain is a function of the stored bytes, nothing else, which is worth seeing too.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.store.connection import open_connection


@dataclass(frozen=True)
class Tampering:
    """What was changed, so that the tour can say it and undo it."""

    seq: int
    workflow_id: str | None
    before: str  # the edited fragment, as text (for the tour to quote)
    after: str
    original: bytes
    #: the CREATE TRIGGER statements that were dropped, to be put back by restore()
    triggers: tuple[str, ...]


def tamper_entry(session, seq: int, old: bytes, new: bytes) -> Tampering:
    """Replace `old` by `new` in audit entry `seq`, behind the engine's back."""
    conn = open_connection(session.service.path, session.key)
    try:
        triggers = tuple(sql for (sql,) in conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log' ORDER BY name"))
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT body, workflow_id FROM audit_log WHERE seq = ?", (seq,)).fetchone()
            if row is None:
                raise ValueError(f"audit entry {seq} does not exist")
            body = bytes(row[0])
            if old not in body:
                raise ValueError(f"audit entry {seq} does not contain {old!r}")
            for (name,) in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'").fetchall():
                conn.execute(f'DROP TRIGGER "{name}"')
            conn.execute("UPDATE audit_log SET body = ? WHERE seq = ?", (body.replace(old, new, 1), seq))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()
    return Tampering(seq, row[1], old.decode(), new.decode(), body, triggers)


def restore(session, tampering: Tampering) -> None:
    """Put the original entry and the append-only triggers back."""
    conn = open_connection(session.service.path, session.key)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("UPDATE audit_log SET body = ? WHERE seq = ?", (tampering.original, tampering.seq))
            present = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
            for sql in tampering.triggers:
                name = sql.split()[2]  # CREATE TRIGGER <name> ...
                if name not in present:
                    conn.execute(sql)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()
