"""Checking an export (or a checkpoint file) by itself, and against the live database.

By itself (no database, no key): the checkpoint's Ed25519 signature; every entry re-hashed from
its own content and previous hash; consecutive entries linked; the entry count and the SHA-256
of the entries' hashes equal to the trailer's (a truncated or trimmed file fails). An unfiltered
JSONL/CSV export holds the whole chain, so re-hashing it from entry 1 must end exactly at the
signed head: such a file proves itself. HTML/Markdown reports embed only their timeline entries.
Every entry's openings of its sealed personal values must be true (openings.py, VERIFY.md 10).

The checks against the live database are in crosscheck.py.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..audit import GENESIS_HEX, canonical_bytes
from ..checkpoints import FORMAT as CHECKPOINT_FORMAT
from ..checkpoints import FORMATS as CHECKPOINT_FORMATS
from ..checkpoints import (checkpoint_from_note, is_note, known_public_keys, note_database_id,
                           parse_checkpoint_json, signature_valid)
from ..errors import CheckpointError
from ..models import Checkpoint
from .entries import NOT_RECORD, body_from_export, rehash
from .openings import OpeningCheck
from .evidence import ENTRY_TYPE, EXPORT_FORMAT, HEADER_TYPE, TRAILER_TYPE, ExportDigest
from .filters import ExportFilter
from .render import EVIDENCE_ID, MD_EVIDENCE_MARK
from .tabular import CSV_COLUMNS, csv_record_fields, csv_uncell

MAX_LISTED = 5


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class FileReport:
    path: Path
    kind: str
    checks: list[Check] = field(default_factory=list)
    checkpoint: Checkpoint | None = None
    header: dict[str, Any] | None = None
    trailer: dict[str, Any] | None = None
    embedded: dict[int, str] = field(default_factory=dict)  # seq -> hash, HTML/Markdown only
    embedded_wids: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(name, ok, detail))

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "kind": self.kind, "ok": self.ok,
                "checks": [c.__dict__ for c in self.checks],
                "checkpoint_fingerprint": self.checkpoint.fingerprint if self.checkpoint else None}


class _Entries:
    """Re-hashes exported entries one by one and checks how they link."""

    def __init__(self, stop: int | None, whole: bool = False) -> None:
        self.stop, self.digest = stop, ExportDigest()
        self.personal = OpeningCheck(whole)
        self.problems: list[str] = []
        self.bad = 0
        self.last_seq, self.last_hash = 0, GENESIS_HEX
        self.contiguous_from_one = True

    def feed(self, obj: dict[str, Any], body: bytes | None = None, claimed: str | None = None,
             personal: Any = None) -> None:
        if body is None:
            body, claimed = body_from_export(obj)
            personal = obj.get("personal")
        seq = obj.get("seq")
        if not isinstance(seq, int):
            return self._fail(f"an entry has no sequence number ({str(obj)[:60]})")
        self.personal.feed(seq, {k: v for k, v in obj.items() if k not in NOT_RECORD}, personal)
        if "unparseable_body_base64" in obj:
            self._fail(f"entry {seq} is not a well-formed audit record (it was overwritten in the database)")
        elif rehash(body, str(obj.get("prev_hash"))) != claimed:
            self._fail(f"entry {seq}'s content does not match its hash: it was edited")
        if seq <= self.last_seq:
            self._fail(f"entry {seq} comes after entry {self.last_seq}: entries were reordered or repeated")
        elif seq == self.last_seq + 1 and obj.get("prev_hash") != self.last_hash:
            self._fail(f"entry {seq} does not link to entry {self.last_seq}: entries were replaced or inserted")
        if seq != self.last_seq + 1:
            self.contiguous_from_one = False
        if self.stop is not None and seq > self.stop:
            self._fail(f"entry {seq} lies beyond the signed checkpoint ({self.stop} entries): it was added")
        self.last_seq, self.last_hash = seq, str(claimed)
        try:
            self.digest.add(seq, bytes.fromhex(str(claimed)))
        except ValueError:
            self._fail(f"entry {seq}'s hash is not hexadecimal")

    def _fail(self, text: str) -> None:
        self.bad += 1
        if len(self.problems) < MAX_LISTED:
            self.problems.append(text)

    def report(self, rep: FileReport, what: str) -> None:
        n = self.digest.count
        if self.bad:
            more = f" (and {self.bad - len(self.problems)} more)" if self.bad > len(self.problems) else ""
            rep.add(what, False, "; ".join(self.problems) + more)
        else:
            rep.add(what, True, f"{n:,} entr{'y' if n == 1 else 'ies'} re-hashed, each matches its hash and its links")
        self._report_personal(rep)

    def _report_personal(self, rep: FileReport) -> None:
        check = self.personal
        problems = check.finish()
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            rep.add("personal data", False, problems[0][1] + more)
            return
        left = [f"{n:,} {what}" for n, what in ((check.unopened, "not opened"),
                                               (check.unsettled, "erased by entries not in this file")) if n]
        rep.add("personal data", True, f"{check.opened:,} sealed values opened, each matching its digest; "
                                       f"{check.erased:,} erased by the entry that lists their key"
                                       + (f"; {', '.join(left)}" if left else ""))


# --- reading ---------------------------------------------------------------------------------

def inspect_file(path: Path) -> FileReport:
    """Everything that can be checked from the file alone. Raises CheckpointError only when the
    file cannot be read as a checkpoint or export at all."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096).lstrip(b"\xef\xbb\xbf")
    except OSError as exc:
        raise CheckpointError(f"Cannot read {path}: {exc.strerror}.") from None
    if head.startswith(b"record_type,"):
        return _inspect_csv(path)
    if is_note(head):
        return _inspect_note(path)
    if head.startswith(b"{"):
        first = head.split(b"\n", 1)[0]
        try:  # only the sniffing: a failure while reading the export itself is not "no export"
            is_export = json.loads(first).get("record_type") == HEADER_TYPE
        except (ValueError, AttributeError):
            is_export = False
        return _inspect_jsonl(path) if is_export else _inspect_checkpoint(path)
    text = _read_text(path)
    if f'id="{EVIDENCE_ID}"' in text:
        return _inspect_report(path, "html", _html_evidence(text), text)
    if MD_EVIDENCE_MARK in text:
        return _inspect_report(path, "md", _md_evidence(text), text)
    raise CheckpointError(f"{path} is neither a hitl-tui checkpoint nor an audit export.")


def _read_text(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"Cannot read {path}: {exc}") from None


def _checkpoint_from(data: Any, rep: FileReport) -> None:
    """Parse a checkpoint record; a bad signature is a failed check (evidence), not an error."""
    if not isinstance(data, dict) or data.get("format") not in CHECKPOINT_FORMATS:
        rep.add("signed checkpoint", False, "none in this file")
        return
    try:
        cp = parse_checkpoint_json(data)
    except CheckpointError as exc:
        rep.add("signed checkpoint", False, f"malformed ({exc})")
        return
    _check_signature(cp, rep)


def _check_signature(cp: Checkpoint, rep: FileReport) -> None:
    if signature_valid(cp):
        rep.checkpoint = cp
        rep.add("checkpoint signature", True,
                f"valid Ed25519 signature by {cp.fingerprint} over {cp.size:,} entries, head {cp.head_hash[:16]}...")
    else:
        rep.add("checkpoint signature", False, "the signature does not verify: the checkpoint was altered or forged")


def _inspect_checkpoint(path: Path) -> FileReport:
    try:
        data = json.loads(_read_text(path))
    except ValueError:
        raise CheckpointError(f"{path} is neither a hitl-tui checkpoint nor an audit export.") from None
    if not isinstance(data, dict) or data.get("format") not in CHECKPOINT_FORMATS:
        raise CheckpointError(f"{path} is not a hitl-tui checkpoint (format {CHECKPOINT_FORMAT!r} expected).")
    rep = FileReport(path, "checkpoint")
    _checkpoint_from(data, rep)
    return rep


def _inspect_note(path: Path) -> FileReport:
    """A C2SP checkpoint note. It names its key by a 4-byte hash only: this account's checkpoint
    key for the note's database is the one it is checked against."""
    text = _read_text(path)
    cp = checkpoint_from_note(text, known_public_keys(note_database_id(text) or ""), str(path))
    rep = FileReport(path, "checkpoint")
    _check_signature(cp, rep)
    return rep


def _check_header(rep: FileReport, header: Any) -> dict[str, Any]:
    """The export's header, kept on `rep` and returned; CheckpointError when it is none."""
    if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
        raise CheckpointError(f"{rep.path} is not a hitl-tui audit export ({EXPORT_FORMAT} expected).")
    rep.header = header
    if header.get("chain_status") != "intact":
        rep.add("chain at export time", False, str(header.get("banner")))
    else:
        rep.add("chain at export time", True, "the export records an intact, verified chain")
    _checkpoint_from(header.get("checkpoint"), rep)
    cp = rep.checkpoint
    if cp is not None and (cp.database_id != header.get("database_id") or cp.size != header.get("stop_seq")):
        rep.add("checkpoint matches the export", False, "the checkpoint names another database or size than the export")
    return header


def _finish(rep: FileReport, entries: _Entries, trailer: Any, full: bool) -> None:
    """Trailer, count, digest, and (for an unfiltered full export) the chain's signed head."""
    entries.report(rep, "exported entries")
    if not isinstance(trailer, dict) or trailer.get("record_type") != TRAILER_TYPE:
        rep.add("complete file", False, "the export ends without its trailer: it was truncated")
        return
    rep.trailer = trailer
    d = entries.digest
    if not full:
        return
    same = (d.count, d.entries_hex()) == (trailer.get("entries_exported"), trailer.get("entries_sha256"))
    rep.add("complete file", same, f"{d.count:,} entries, as the trailer says" if same else
            f"the file holds {d.count:,} entries but the trailer says {trailer.get('entries_exported')}, or their "
            f"digest differs: entries were removed or added")
    header, cp = rep.header or {}, rep.checkpoint
    if cp is not None and ExportFilter.from_json(header.get("filters")).empty and d.count:
        anchored = entries.contiguous_from_one and entries.last_seq == cp.size and entries.last_hash == cp.head_hash
        rep.add("whole chain", anchored,
                "re-hashed from entry 1 to the signed head: the export proves itself" if anchored else
                "the entries do not run from entry 1 to the signed head")


def _inspect_jsonl(path: Path) -> FileReport:
    rep = FileReport(path, "jsonl")
    trailer = None
    # utf-8-sig: a byte order mark (an editor's re-save) is not part of the header line
    with open(path, encoding="utf-8-sig", newline="\n") as fh:
        header = _check_header(rep, _loads(fh.readline()))
        entries = _Entries(header.get("stop_seq"), _unfiltered(header))
        for number, line in enumerate(fh, 2):
            obj = _loads(line)
            if not isinstance(obj, dict):
                entries._fail(f"line {number} is not a JSON object")
                continue
            kind = obj.get("record_type")
            if kind == ENTRY_TYPE and trailer is None:
                entries.feed(obj)
            elif kind == TRAILER_TYPE and trailer is None:
                trailer = obj
            else:
                entries._fail(f"line {number} is an unexpected {kind!r} record")
    _finish(rep, entries, trailer, full=True)
    return rep


#: the columns of a CSV export written before personal values were sealed (it seals none)
_BEFORE_SEALING = tuple(c for c in CSV_COLUMNS if c != "personal")


def _inspect_csv(path: Path) -> FileReport:
    rep = FileReport(path, "csv")
    entries, trailer = None, None
    columns: tuple[str, ...] = CSV_COLUMNS
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for number, row in enumerate(csv.reader(fh), 1):
            row = [csv_uncell(c) for c in row]
            if number == 1:
                if tuple(row) not in (CSV_COLUMNS, _BEFORE_SEALING):
                    raise CheckpointError(f"{path}: the CSV columns are not those of a hitl-tui export.")
                columns = tuple(row)
                continue
            if len(row) != len(columns):
                if entries is not None:
                    entries._fail(f"row {number} has {len(row)} cells instead of {len(columns)}")
                continue
            cells = {"personal": "", **dict(zip(columns, row))}
            if number == 2:
                header = _check_header(rep, _loads(cells["details"]))
                entries = _Entries(header.get("stop_seq"), _unfiltered(header))
            elif cells["record_type"] == ENTRY_TYPE and entries is not None and trailer is None:
                _feed_csv(entries, cells, number)
            elif cells["record_type"] == TRAILER_TYPE and trailer is None:
                trailer = _loads(cells["details"])
            elif entries is not None:
                entries._fail(f"row {number} is an unexpected {cells['record_type']!r} row")
    if entries is None:
        raise CheckpointError(f"{path} has no export header row.")
    _finish(rep, entries, trailer, full=True)
    return rep


def _feed_csv(entries: _Entries, cells: dict[str, str], number: int) -> None:
    rec = _loads(cells["body"])
    if not isinstance(rec, dict):
        rec = {"seq": int(cells["seq"]) if cells["seq"].isdigit() else None, "unparseable_body_base64": ""}
        body = cells["body"].encode("utf-8")
    else:
        # the body cell is the stored record as JSON (terminal controls \u-escaped): re-hash it
        # as a JSONL entry is re-hashed, from the record it spells
        body = canonical_bytes(rec)
        personal = _loads(cells["personal"]) if cells["personal"] else None
        expected = csv_record_fields(rec, personal if isinstance(personal, dict) else None)
        if {k: cells[k] for k in expected} != expected:
            entries._fail(f"row {number} (entry {rec.get('seq')}): its readable columns disagree with the hashed "
                          f"record: the spreadsheet was edited")
        if cells["personal"] and personal is None:
            personal = cells["personal"]  # not JSON: the opening check names it
        entries.feed(rec, body, cells["hash"], personal)
        return
    entries.feed(rec, body, cells["hash"])


def _unfiltered(header: dict[str, Any]) -> bool:
    """A JSONL/CSV export of the whole trail (then every sealed value must be opened)."""
    return ExportFilter.from_json(header.get("filters")).empty


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _html_evidence(text: str) -> Any:
    start = text.find(f'id="{EVIDENCE_ID}">')
    end = text.find("</script>", start)
    return _loads(text[start + len(f'id="{EVIDENCE_ID}">'):end]) if start >= 0 and end > start else None


def _md_evidence(text: str) -> Any:
    start = text.find("```json\n", text.find(MD_EVIDENCE_MARK))
    end = text.find("\n```", start + 8)
    return _loads(text[start + 8:end]) if start >= 0 and end > start else None


def _inspect_report(path: Path, kind: str, evidence: Any, text: str) -> FileReport:
    rep = FileReport(path, kind)
    if not isinstance(evidence, dict):
        raise CheckpointError(f"{path}: the machine-readable evidence block is missing or damaged.")
    entries = _Entries(_check_header(rep, evidence.get("header")).get("stop_seq"))
    for obj in evidence.get("entries") or []:
        if isinstance(obj, dict):
            entries.feed(obj)
            if isinstance(obj.get("seq"), int):
                rep.embedded[obj["seq"]] = str(obj.get("hash"))
                rep.embedded_wids.add(str(obj.get("workflow_id")))
    _finish(rep, entries, evidence.get("trailer"), full=False)
    _check_banners(rep, kind, text)
    return rep


def _check_banners(rep: FileReport, kind: str, text: str) -> None:
    """The report shows its banner twice (top and Integrity), exactly as its evidence records
    it: an edited "all good" over a broken chain, or a removed warning, is caught."""
    from .layout import Block
    from .render import _html_block, _md_block

    header = rep.header or {}
    block = Block("banner", str(header.get("banner")), ok=header.get("chain_status") == "intact")
    if kind == "html":
        expected = _html_block(block)
        shown = text.count(expected) == 2 and text.count('class="banner') == 2
    else:
        expected = _md_block(block)
        shown = text.startswith(expected) and text.count(expected) == 2
    rep.add("visible banner", shown, "the report shows the banner its evidence records" if shown else
            "the banner shown in the report differs from its evidence: the report was edited")
