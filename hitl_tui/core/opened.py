"""The trail as people read it: entries with their sealed personal values opened (privacy.py),
for the desk, `request show`, the agents and the exports. Verification reads the hashed bytes
themselves (reads.py, replay.py)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Iterator

from .audit import entry_from_row
from .models import AuditEntry
from .privacy import Opener, has_seals, sealed_in, seals_of
from .store import audit_log
from .store.connection import Conn, DbError, begin, commit, translate

if TYPE_CHECKING:
    from .reads import ReadsMixin


def opened_entries(conn: Conn, rows: list[tuple[bytes, bytes]]) -> list[AuditEntry]:
    """Entries read from their hashed bytes, their sealed personal values opened (privacy.py):
    the value, or `erased on DATE`. What people see; verification reads the bytes themselves."""
    entries = [entry_from_row(body, digest) for body, digest in rows]
    sealed = [i for i, (body, _) in enumerate(rows) if has_seals(body)]
    if sealed:
        opener = Opener(conn)
        opener.load((entries[i].seq, seals_of(entries[i].details)) for i in sealed)
        for i in sealed:
            entries[i] = entries[i].model_copy(update={"details": opener.open(entries[i].details)})
    return entries


# --- exports: raw rows with the openings of their sealed values (VERIFY.md 10) -------------------

#: an exported entry: (seq, hashed bytes, chain hash, openings of its sealed values: digest ->
#: {"salt", "value"} or {"erased", "by"}, empty when it seals nothing)
OpenedRow = tuple[int, bytes, bytes, dict[str, dict[str, Any]]]
#: a sealed value as canonical bytes spell it (sorted keys, no spaces): found without parsing
_SEALED_BYTES = re.compile(rb'\{"key":"([0-9a-f]{32})","sealed":"([0-9a-f]{64})"\}')


def _seals_of(body: Any) -> list[dict[str, str]]:
    raw = body.encode("utf-8", "surrogateescape") if isinstance(body, str) else bytes(body)  # TEXT: hand-edited
    if not has_seals(raw):
        return []
    found = [{"key": k.decode(), "sealed": d.decode()} for k, d in _SEALED_BYTES.findall(raw)]
    if found:
        return found
    try:  # stored bytes that are not canonical (edited by hand): read them as JSON
        rec = json.loads(raw)
    except ValueError:
        return []
    return list(sealed_in(rec.get("details"))) if isinstance(rec, dict) else []


def iter_audit_rows_opened(service: ReadsMixin, *, start: int = 1, stop: int | None = None,
                           **filters: Any) -> Iterator[list[OpenedRow]]:
    """ReadsMixin.iter_audit_rows with each entry's openings (privacy.Opener.openings), for the
    exports. Rows and openings come from one read snapshot, so an erasure committed meanwhile
    cannot open an entry differently from the trail the export holds. One Opener serves the
    export; its cache of opened values is emptied after each batch, so memory stays flat."""
    try:
        conn = service._reader()
    except DbError as exc:
        raise translate(exc, service.path) from None
    opener = Opener(conn)
    try:
        begin(conn)
        for batch in audit_log.iter_rows_filtered(conn, start=start, stop=stop, **filters):
            seals = {seq: _seals_of(body) for seq, body, _h in batch}
            opener.load(seals.items())
            yield [(seq, body, h, opener.openings(seals[seq]) if seals[seq] else {}) for seq, body, h in batch]
        commit(conn)
    except DbError as exc:
        raise translate(exc, service.path) from None
    finally:
        conn.close()
