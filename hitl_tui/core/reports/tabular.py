"""JSONL and CSV exports: header record, one record per audit entry, trailer record.

Both stream: entries go from the database cursor to the output in batches and are never held
in a list, so memory stays flat whatever the size of the log.

CSV is written for Excel: UTF-8 with a byte-order mark, CRLF, and every cell that a spreadsheet
would take for a formula (starting with = + - @ tab or CR) prefixed with an apostrophe. A cell
that itself starts with an apostrophe gets one too, so the guard is exactly reversible and the
verifier can recover the stored text.

Sealed personal values (VERIFY.md 10): the JSONL entry carries their openings in a `personal`
member, the CSV row in a `personal` cell; the readable cells (summary, details) show them opened,
the value or `erased on DATE`, while the body cell keeps the hashed, sealed form.

Characters a terminal interprets (ESC, BEL, C1, bidi overrides: text.neutralise) never appear
raw, so `cat` or `grep` of the file is safe: readable cells show them as visible escapes (\\x1b),
the JSON cells (details, body) as JSON \\u escapes, which decode to the exact stored text. The
verifier re-hashes the body as JSON (like a JSONL entry) and expects the readable cells exactly
as csv_record_fields spells them.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import timezone
from typing import TYPE_CHECKING, Any, BinaryIO

from ..signatures import display_names, manifestation
from ..text import neutralise
from .entries import describe, json_safe, jsonl_line
from .openings import Openings, opened_record
from .evidence import as_bytes
from .evidence import ENTRY_TYPE, HEADER_TYPE, TRAILER_TYPE, ExportDigest, Integrity

if TYPE_CHECKING:
    from .export import ExportJob

CSV_COLUMNS = ("record_type", "seq", "ts", "actor", "action", "workflow_id", "summary", "details",
               "session_id", "os_login", "tty", "remote_addr", "prev_hash", "hash", "body", "personal", "signature")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_uncell(text: str) -> str:
    return text[1:] if text.startswith("'") else text


def _json_line(obj: dict[str, Any]) -> bytes:
    return (json_safe(json.dumps(obj, ensure_ascii=False, sort_keys=False)) + "\n").encode("utf-8")


def csv_json(data: Any, *, sort_keys: bool = False) -> str:
    """A JSON cell: readable UTF-8, with terminal controls as \\u escapes."""
    return json_safe(json.dumps(data, ensure_ascii=False, sort_keys=sort_keys))


def write_jsonl(job: "ExportJob") -> dict[str, Any]:
    out: BinaryIO = job.out
    digest = ExportDigest()
    out.write(_json_line(job.header))
    for batch in job.opened_rows():
        for seq, body, h, personal in batch:
            out.write(jsonl_line(seq, body, h, personal))
            digest.add(seq, as_bytes(h))
    trailer = digest.trailer(job.integrity)
    out.write(_json_line(trailer))
    return trailer


class _CsvSink:
    """csv.writer on a UTF-8 text layer over the binary output: rows stream out through the
    text layer's small buffer instead of collecting in memory."""

    def __init__(self, out: BinaryIO) -> None:
        self.text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
        self.writer = csv.writer(self.text, lineterminator="\r\n")

    def row(self, values: list[Any]) -> None:
        self.writer.writerow([csv_cell(neutralise("" if v is None else str(v))) for v in values])

    def close(self) -> None:
        self.text.flush()
        self.text.detach()  # hand the binary output back to its owner, unclosed


def _meta_row(record_type: str, summary: str, data: dict[str, Any]) -> list[Any]:
    row: list[Any] = [""] * len(CSV_COLUMNS)
    row[0], row[6], row[7] = record_type, summary, csv_json(data)
    return row


def write_csv(job: "ExportJob") -> dict[str, Any]:
    job.out.write("\ufeff".encode("utf-8"))  # Excel reads UTF-8 only with a BOM
    sink = _CsvSink(job.out)
    sink.row(list(CSV_COLUMNS))
    sink.row(_meta_row(HEADER_TYPE, job.integrity.banner, job.header))
    digest = ExportDigest()
    names = display_names(job.service.list_users())  # the signature's printed name (21 CFR 11.50)
    for batch in job.opened_rows():
        for seq, body, h, personal in batch:
            body = as_bytes(body)
            text = json_safe(body.decode("utf-8", errors="replace"))
            try:
                rec = json.loads(body)
                if not isinstance(rec, dict):
                    raise ValueError
            except ValueError:
                rec = {"seq": seq}
            cells = csv_record_fields(rec, personal)
            signed = manifestation(opened_record(rec, personal), names=names, zone=timezone.utc) or ""
            sink.row([ENTRY_TYPE, seq, *(cells[c] for c in CSV_COLUMNS[2:13]), as_bytes(h).hex(), text,
                      csv_json(personal, sort_keys=True) if personal else "", signed])
            digest.add(seq, as_bytes(h))
    trailer = digest.trailer(job.integrity)
    sink.row(_meta_row(TRAILER_TYPE, f"{digest.count:,} entries exported", trailer))
    sink.close()
    return trailer


def csv_record_fields(rec: dict[str, Any], personal: Openings | None = None) -> dict[str, str]:
    """The readable CSV columns an entry's record and its openings determine, exactly as the
    writer spells them (terminal controls escaped; sealed values opened: the value or `erased on
    DATE`) and the verifier expects to read them back."""
    def text(v: Any) -> str:
        return neutralise("" if v is None else str(v))

    rec = opened_record(rec, personal)

    details = rec.get("details")
    return {"seq": text(rec.get("seq")), "ts": text(rec.get("ts")), "actor": text(rec.get("actor")),
            "action": text(rec.get("action")), "workflow_id": text(rec.get("workflow_id")),
            "summary": text(describe(rec) if "action" in rec else "unreadable entry"),
            "details": csv_json(details, sort_keys=True) if details is not None else "",
            "session_id": text(rec.get("session_id")), "os_login": text(rec.get("os_login")),
            "tty": text(rec.get("tty")), "remote_addr": text(rec.get("remote_addr")),
            "prev_hash": text(rec.get("prev_hash"))}


__all__ = ["CSV_COLUMNS", "csv_cell", "csv_uncell", "csv_record_fields", "write_csv", "write_jsonl", "Integrity"]
