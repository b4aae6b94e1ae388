#!/usr/bin/env python3
"""hitl_verify: check a hitl-tui audit export without hitl-tui.

One file, the Python standard library and `cryptography` (for Ed25519) only; it implements
docs/VERIFY.md from the text of the specification, not from hitl-tui's code, so that an auditor
can read it, run it offline, and trust it as far as they trust that specification.

    python hitl_verify.py EXPORT [--checkpoint NOTE] [--vkey VKEY] [--state STATE.json]
    python hitl_verify.py BUNDLE_DIR          (what `hitl-tui export-audit --bundle` writes)
    python hitl_verify.py --vectors DIR       (the test vectors of docs/vectors/)
    python hitl_verify.py --receipt RECEIPT.json --vkey VKEY [--payload PAYLOAD.json] [--request WF-ID]

EXPORT is a JSONL or CSV export (the whole file is checked), or an HTML/Markdown report (only
the evidence it embeds: its header, trailer and timeline entries). One line per check, then a
last line `verified` (exit status 0) or `FAILED: <first reason>` (exit status 3). Exit status 2
means the command line itself was wrong.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import csv
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError:  # pragma: no cover - said in one line by main()
    Ed25519PublicKey = None  # type: ignore[assignment,misc]
    InvalidSignature = Exception  # type: ignore[assignment,misc]

EXIT_OK, EXIT_USAGE, EXIT_FAILED = 0, 2, 3
MAX_LINE = 16 * 1024 * 1024  # no entry the engine writes comes near this; a longer line is hostile
MAX_FILE_TEXT = 512 * 1024 * 1024  # HTML/Markdown reports are read whole
GENESIS = bytes(32)

EXPORT_FORMAT = "hitl-tui-audit-export/1"
HEADER_TYPE, ENTRY_TYPE, TRAILER_TYPE = "hitl_export_header", "audit_entry", "hitl_export_trailer"
CSV_COLUMNS = ("record_type", "seq", "ts", "actor", "action", "workflow_id", "summary", "details",
               "session_id", "os_login", "tty", "remote_addr", "prev_hash", "hash", "body")
PERSONAL_COLUMN = "personal"  # after `body` in exports that seal personal values (VERIFY.md 6, 10)
NOT_RECORD = ("record_type", "personal", "hash")  # an export entry's members that are not the record
OLD_CHECKPOINT_FORMAT = "hitl-tui-checkpoint/1"
OLD_CHECKPOINT_DOMAIN = b"hitl-tui audit checkpoint v1\n"
ORIGIN_PREFIX = "hitl-tui.local/"
STATEMENT_DOMAIN = b"hitl-tui signed statement v1\n"
SIGNED_ACTIONS = frozenset({
    "created", "approved", "rejected", "changes_requested", "resubmitted", "withdrawn", "user_added",
    "user_role_changed", "user_deactivated", "user_reactivated", "user_admin_changed", "policy_applied",
    "user_key_registered", "user_key_revoked",
    "erasure_requested", "erasure_cancelled", "personal_data_erased", "personal_data_expired",
    "token_created", "token_revoked",
    "notify_webhook_added", "notify_webhook_removed", "notify_email_set", "notify_retry_set", "notify_prefs_set",
    "delegation_granted", "delegation_ended", "reassigned",
})
DECISIONS = {"approved": "approve", "rejected": "reject", "changes_requested": "request_changes"}
HTML_EVIDENCE = '<script type="application/json" id="hitl-audit-evidence">'
MD_EVIDENCE = "<!-- hitl-audit-evidence -->"


class Bad(Exception):
    """Input that cannot be read as what it claims to be: one line, no traceback."""


# --- canonical bytes, hashes (VERIFY.md sections 1-2) --------------------------------------------

def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise Bad(f"duplicate key {key!r} in a JSON object")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise Bad(f"{name} is not a JSON number")


def loads(text: str | bytes) -> Any:
    """Strict JSON: no duplicate keys, no NaN/Infinity; any failure is Bad (one line)."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except Bad:
        raise
    except RecursionError:
        raise Bad("JSON nested too deeply") from None
    except (ValueError, TypeError) as exc:
        raise Bad(f"not valid JSON ({str(exc)[:80]})") from None


def canonical(value: Any) -> bytes:
    """VERIFY.md 1: sorted keys (by code point), no whitespace, non-ASCII as UTF-8, numbers as
    Python writes them (integers in decimal, floats as the shortest round-trip repr)."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:
        raise Bad("a string holds a lone surrogate (\\ud800-\\udfff), which is not text") from None
    except (ValueError, TypeError, RecursionError) as exc:
        raise Bad(f"cannot be written as canonical JSON ({str(exc)[:80]})") from None


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf_hash(body: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + body).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: Any, size: int | None = None) -> bytes:
    if not isinstance(text, str):
        raise Bad("a base64 value is not a string")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise Bad(f"{text[:20]!r} is not standard base64") from None
    if size is not None and len(raw) != size:
        raise Bad(f"a base64 value holds {len(raw)} bytes instead of {size}")
    return raw


def unhex(text: Any, size: int | None = None) -> bytes:
    if not isinstance(text, str):
        raise Bad("a hex value is not a string")
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise Bad(f"{text[:20]!r} is not hexadecimal") from None
    if size is not None and len(raw) != size:
        raise Bad(f"a hex value holds {len(raw)} bytes instead of {size}")
    return raw


# --- Merkle tree, RFC 9162 section 2.1 (VERIFY.md 4) -------------------------------------------

class TreeBuilder:
    """The Merkle Tree Hash of a list of leaves, streamed: a stack of perfect subtrees, merged
    when two of the same size meet; the root folds the stack from the right, which gives the
    RFC's split at the largest power of two smaller than n."""

    def __init__(self) -> None:
        self.stack: list[tuple[int, bytes]] = []
        self.size = 0

    def add(self, leaf: bytes) -> None:
        size, h = 1, leaf
        while self.stack and self.stack[-1][0] == size:
            left = self.stack.pop()[1]
            size, h = size * 2, node_hash(left, h)
        self.stack.append((size, h))
        self.size += 1

    def root(self) -> bytes:
        if not self.stack:
            return sha256(b"")
        h = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            h = node_hash(left, h)
        return h


def tree_root(leaves: Iterable[bytes]) -> bytes:
    t = TreeBuilder()
    for leaf in leaves:
        t.add(leaf)
    return t.root()


def verify_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 2.1.4.2 (0 < first <= second; equal sizes need an empty proof and equal roots)."""
    if first == second:
        return not proof and first_root == second_root
    if not 0 < first < second or not proof:
        return False
    if first & (first - 1) == 0:  # an exact power of two: the first tree is a subtree
        proof = [first_root, *proof]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root


# --- Ed25519, keys, signed notes (VERIFY.md 3, 5) ----------------------------------------------

def ed25519_ok(public: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def key_id(public: bytes) -> str:
    return hashlib.sha256(public).hexdigest()[:16]


def parse_public_key(text: Any) -> bytes:
    if not isinstance(text, str) or not text.startswith("ed25519:"):
        raise Bad(f"public key {str(text)[:30]!r} is not written ed25519:<64 hex>")
    return unhex(text[len("ed25519:"):], 32)


def note_key_hash(name: str, public: bytes) -> bytes:
    return sha256(name.encode() + b"\n" + b"\x01" + public)[:4]


@dataclass(frozen=True)
class Vkey:
    name: str
    key_hash: bytes
    public: bytes

    @property
    def text(self) -> str:
        return self.name + "+" + self.key_hash.hex() + "+" + b64(b"\x01" + self.public)


def parse_vkey(text: str) -> Vkey:
    parts = text.strip().split("+", 2)  # base64 may hold "+", the name may not
    if len(parts) != 3 or not parts[0]:
        raise Bad("a verifier key is written <name>+<8 hex key hash>+<base64 key>")
    name, hash_hex, key_b64 = parts
    raw = unb64(key_b64)
    if len(raw) != 33 or raw[0] != 1:
        raise Bad("the verifier key is not an Ed25519 key (type byte 0x01 and 32 bytes)")
    vk = Vkey(name, unhex(hash_hex, 4), raw[1:])
    if note_key_hash(name, vk.public) != vk.key_hash:
        raise Bad("the verifier key's hash does not match its name and key")
    return vk


@dataclass(frozen=True)
class Note:
    body: bytes  # the signed message: every line up to and including the body's last newline
    origin: str
    size: int
    root: bytes
    extensions: dict[str, str]
    signatures: list[tuple[str, bytes, bytes]]  # (name, key hash, signature)


def parse_note(text: str) -> Note:
    if "\n\n" not in text:
        raise Bad("the checkpoint note has no blank line before its signatures")
    cut = text.index("\n\n")
    body, sig_text = text[:cut + 1], text[cut + 2:]
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise Bad("the checkpoint note's body needs an origin, a size and a root hash")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not size_text.isdigit() or not size_text.isascii() or (size_text != "0" and size_text.startswith("0")):
        raise Bad(f"the checkpoint's size {size_text[:20]!r} is not a decimal number")
    ext: dict[str, str] = {}
    for line in lines[3:]:
        word, _, rest = line.partition(" ")
        ext.setdefault(word, rest)
    sigs = []
    for line in sig_text.split("\n"):
        if not line:
            continue
        if not line.startswith("\u2014 "):
            raise Bad("a checkpoint signature line does not start with an em dash and a space")
        name, _, sig_b64 = line[2:].rpartition(" ")
        raw = unb64(sig_b64)
        if len(raw) != 68:
            raise Bad("a checkpoint signature is not a 4-byte key hash and a 64-byte Ed25519 signature")
        sigs.append((name, raw[:4], raw[4:]))
    if not sigs:
        raise Bad("the checkpoint note carries no signature")
    return Note(body.encode("utf-8"), origin, int(size_text), unb64(root_text, 32), ext, sigs)


def note_signed_by(note: Note, vk: Vkey) -> bool:
    return any(name == vk.name and kh == vk.key_hash and ed25519_ok(vk.public, sig, note.body)
               for name, kh, sig in note.signatures)


def old_checkpoint_message(cp: dict[str, Any]) -> bytes:
    return OLD_CHECKPOINT_DOMAIN + (f"{cp['database_id']}\n{cp['size']}\n{cp['head_hash']}\n"
                                    f"{cp['created_at']}\n").encode()


def statement(database_id: str, rec: dict[str, Any]) -> bytes:
    """VERIFY.md 3: what a person signs."""
    return STATEMENT_DOMAIN + canonical({
        "database_id": database_id, "action": rec.get("action"), "actor": rec.get("actor"),
        "workflow_id": rec.get("workflow_id"), "ts": rec.get("ts"), "details": rec.get("details"),
    })


# --- the report --------------------------------------------------------------------------------

class Report:
    """One line per check; remembers the first failure for the last line."""

    def __init__(self, out: Callable[[str], None]) -> None:
        self.out = out
        self.first_failure: str | None = None

    def check(self, name: str, ok: bool, detail: str) -> bool:
        self.out(f"{'ok  ' if ok else 'FAIL'}  {name}: {_printable(detail)}")
        if not ok and self.first_failure is None:
            self.first_failure = f"{name}: {detail}"
        return ok

    def note(self, name: str, detail: str) -> None:
        self.out(f"--    {name}: {_printable(detail)}")

    def fail(self, name: str, detail: str) -> bool:
        return self.check(name, False, detail)

    @property
    def ok(self) -> bool:
        return self.first_failure is None


def _printable(text: str) -> str:
    """Never let a hostile file write terminal controls to the auditor's screen."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in text)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[:limit] + "..."


# --- reading exports (VERIFY.md 6) -------------------------------------------------------------

@dataclass
class Export:
    path: str
    kind: str  # jsonl, csv, html, md
    header: dict[str, Any]
    entries: Iterable[tuple[str, dict[str, Any], str, Any]]  # (where, record, claimed hash hex, openings)
    trailer: Callable[[], Any]  # read after the entries
    problems: list[str] = field(default_factory=list)  # reading problems met while streaming


def _lines(fh, path: str) -> Iterator[tuple[int, bytes]]:
    number = 0
    while True:
        line = fh.readline(MAX_LINE + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE:
            raise Bad(f"line {number} of {path} is longer than {MAX_LINE // (1024 * 1024)} MiB: not an export line")
        yield number, line


def _entry_record(obj: dict[str, Any], where: str) -> tuple[dict[str, Any], str, Any]:
    """(the record, its claimed hash, its openings or None): VERIFY.md 6 and 10."""
    claimed = obj.get("hash")
    if not isinstance(claimed, str):
        raise Bad(f"{where} has no hash")
    return {k: v for k, v in obj.items() if k not in NOT_RECORD}, claimed, obj.get("personal")


def open_jsonl(path: str) -> Export:
    fh = open(path, "rb")
    lines = _lines(fh, path)
    first = next(lines, None)
    if first is None:
        raise Bad(f"{path} is empty")
    header = loads(first[1])
    if not isinstance(header, dict) or header.get("record_type") != HEADER_TYPE:
        raise Bad(f"{path}: line 1 is not a hitl-tui export header")
    found: dict[str, Any] = {}
    exp = Export(path, "jsonl", header, (), lambda: found.get("trailer"))

    def entries() -> Iterator[tuple[str, dict[str, Any], str, Any]]:
        with fh:
            for number, line in lines:
                where = f"line {number}"
                if "trailer" in found:
                    exp.problems.append(f"{where} follows the trailer")
                    return
                try:
                    obj = loads(line)
                except Bad as exc:
                    exp.problems.append(f"{where} is not a JSON object ({exc})")
                    continue
                kind = obj.get("record_type") if isinstance(obj, dict) else None
                if kind == TRAILER_TYPE:
                    found["trailer"] = obj
                elif kind == ENTRY_TYPE:
                    try:
                        rec, claimed, personal = _entry_record(obj, where)
                    except Bad as exc:
                        exp.problems.append(str(exc))
                        continue
                    yield where, rec, claimed, personal
                else:
                    exp.problems.append(f"{where} is not an audit entry (record_type {_short(kind, 30)})")

    exp.entries = entries()
    return exp


def _uncell(text: str) -> str:
    """The writer prefixes cells a spreadsheet would take for a formula with an apostrophe."""
    return text[1:] if text.startswith("'") else text


def open_csv(path: str) -> Export:
    csv.field_size_limit(MAX_LINE)
    fh = open(path, encoding="utf-8-sig", newline="", errors="strict")
    rows = csv.reader(fh)
    try:
        columns = next(rows, None)
        head = next(rows, None)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise Bad(f"{path} is not a readable CSV export ({str(exc)[:60]})") from None
    # the columns VERIFY.md names come first; any after them (the signature in words) are for reading
    if columns is None or tuple(columns[:len(CSV_COLUMNS)]) != CSV_COLUMNS:
        raise Bad(f"{path}: the first row is not a hitl-tui export's columns")
    width = len(columns)
    personal_at = len(CSV_COLUMNS) if columns[len(CSV_COLUMNS):len(CSV_COLUMNS) + 1] == [PERSONAL_COLUMN] else None
    if head is None or len(head) != width or head[0] != HEADER_TYPE:
        raise Bad(f"{path}: the second row is not the export header")
    header = loads(_uncell(head[7]))
    if not isinstance(header, dict):
        raise Bad(f"{path}: the export header's details cell is not a JSON object")
    found: dict[str, Any] = {}
    exp = Export(path, "csv", header, (), lambda: found.get("trailer"))

    def entries() -> Iterator[tuple[str, dict[str, Any], str, Any]]:
        number = 2
        with fh:
            while True:
                try:
                    row = next(rows)
                except StopIteration:
                    return
                except (csv.Error, UnicodeDecodeError) as exc:
                    exp.problems.append(f"row {number + 1} cannot be read ({str(exc)[:60]})")
                    return
                number += 1
                where = f"row {number}"
                if "trailer" in found:
                    exp.problems.append(f"{where} follows the trailer")
                    return
                if len(row) != width:
                    exp.problems.append(f"{where} has {len(row)} cells instead of {width}")
                    continue
                cells = dict(zip(CSV_COLUMNS, (_uncell(c) for c in row)))
                if cells["record_type"] == TRAILER_TYPE:
                    try:
                        found["trailer"] = loads(cells["details"])
                    except Bad as exc:
                        exp.problems.append(f"{where}: the trailer is not JSON ({exc})")
                    continue
                if cells["record_type"] != ENTRY_TYPE:
                    exp.problems.append(f"{where} is not an audit entry")
                    continue
                try:
                    rec = loads(cells["body"])
                except Bad as exc:
                    exp.problems.append(f"{where}: the body cell is not the entry's JSON record ({exc})")
                    continue
                if not isinstance(rec, dict):
                    exp.problems.append(f"{where}: the body cell is not a JSON object")
                    continue
                # the hashed body is the truth; the plain columns must say the same where they
                # spell a value exactly (the summary and details columns are for reading only)
                for col in ("seq", "action", "prev_hash"):
                    if cells[col] != str(rec.get(col)):
                        exp.problems.append(f"{where} (entry {rec.get('seq')}): its {col} column says "
                                            f"{_short(cells[col], 30)} but the hashed record says "
                                            f"{_short(rec.get(col), 30)}: the spreadsheet was edited")
                for col in ("ts", "actor", "workflow_id"):
                    value = rec.get(col)
                    plain = "" if value is None else str(value)
                    if plain.isprintable() and cells[col] != plain:
                        exp.problems.append(f"{where} (entry {rec.get('seq')}): its {col} column says "
                                            f"{_short(cells[col], 30)} but the hashed record says "
                                            f"{_short(plain, 30)}: the spreadsheet was edited")
                personal = None
                if personal_at is not None and row[personal_at]:
                    try:
                        personal = loads(_uncell(row[personal_at]))
                    except Bad as exc:
                        personal = f"not JSON ({exc})"  # the openings check names the entry
                yield where, rec, cells["hash"], personal

    exp.entries = entries()
    return exp


def open_report(path: str, kind: str, text: str) -> Export:
    if kind == "html":
        start = text.find(HTML_EVIDENCE)
        end = text.find("</script>", start)
        block = text[start + len(HTML_EVIDENCE):end] if start >= 0 and end > start else None
    else:
        start = text.find("```json\n", text.find(MD_EVIDENCE))
        end = text.find("\n```", start + 8)
        block = text[start + 8:end] if text.find(MD_EVIDENCE) >= 0 and start >= 0 and end > start else None
    if block is None:
        raise Bad(f"{path}: the machine-readable evidence block is missing or damaged")
    evidence = loads(block)
    if not isinstance(evidence, dict) or not isinstance(evidence.get("header"), dict):
        raise Bad(f"{path}: the evidence block has no export header")
    exp = Export(path, kind, evidence["header"], (), lambda: evidence.get("trailer"))

    def entries() -> Iterator[tuple[str, dict[str, Any], str, Any]]:
        for i, obj in enumerate(evidence.get("entries") or [], 1):
            where = f"embedded entry {i}"
            if not isinstance(obj, dict):
                exp.problems.append(f"{where} is not a JSON object")
                continue
            try:
                rec, claimed, personal = _entry_record(obj, where)
            except Bad as exc:
                exp.problems.append(str(exc))
                continue
            yield where, rec, claimed, personal

    exp.entries = entries()
    return exp


def open_export(path: str) -> Export:
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise Bad(f"cannot read {path}: {exc.strerror or exc}") from None
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if head.startswith(b"record_type,"):
        return open_csv(path)
    if head.startswith(b"{"):
        return open_jsonl(path)
    if os.path.getsize(path) > MAX_FILE_TEXT:
        raise Bad(f"{path} is too large to be read as a report")
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise Bad(f"cannot read {path} as UTF-8 text ({str(exc)[:60]})") from None
    if HTML_EVIDENCE in text:
        return open_report(path, "html", text)
    if MD_EVIDENCE in text:
        return open_report(path, "md", text)
    raise Bad(f"{path} is not a hitl-tui audit export (JSONL, CSV, HTML or Markdown)")


# --- key history and signatures (VERIFY.md 3) ----------------------------------------------

@dataclass
class Key:
    username: str
    public: bytes
    registered: int  # seq of the registering entry
    ended: int | None = None  # seq of the entry that replaced or revoked it
    how: str | None = None  # "replaced" | "revoked"


KEY_ACTIONS = frozenset({"user_added", "user_key_registered", "user_key_revoked", "user_admin_changed",
                         "user_deactivated", "user_reactivated"})
# Only an active administrator may make these once the directory has one (VERIFY.md 3.3).
ADMIN_ACTIONS = frozenset({"user_added", "user_role_changed", "user_deactivated", "user_reactivated",
                           "user_admin_changed", "policy_applied", "user_key_registered", "user_key_revoked",
                           "erasure_requested", "erasure_cancelled", "personal_data_erased",
                           "personal_data_expired", "token_created", "token_revoked",
                           "notify_webhook_added", "notify_webhook_removed", "notify_email_set", "notify_retry_set"})
# ...and these only an active administrator, even before the directory has one (VERIFY.md 3.3).
ALWAYS_ADMIN_ACTIONS = frozenset({"token_created", "token_revoked", "notify_webhook_added", "notify_webhook_removed", "notify_email_set", "notify_retry_set"})


class Keys:
    """Who holds which key at each point of the trail (VERIFY.md 3.3), and whether the directory
    has an active administrator yet (before it does: bootstrap)."""

    def __init__(self) -> None:
        self.keys: list[Key] = []
        self.current: dict[str, Key] = {}
        self.ever: set[str] = set()
        self.people: dict[str, list[bool]] = {}  # username -> [admin, active]
        self.any_key = False  # before the first registration the trail is from before signatures
        self.counts = {"signed": 0, "bootstrap": 0, "legacy": 0, "first_use": 0, "unsigned_kind": 0, "unchecked": 0}

    @property
    def bootstrap(self) -> bool:
        return not any(admin and active for admin, active in self.people.values())

    def _is_admin(self, username: str) -> bool:
        admin, active = self.people.get(username, (False, False))
        return bool(admin and active)

    def check(self, seq: int, rec: dict[str, Any], database_id: str) -> str | None:
        """None if entry `seq` is properly signed (or needs no signature), else why it is a
        forgery; then applies what the entry changes to the keys and the directory."""
        problem = self._check(seq, rec, database_id)
        self.apply(seq, rec)
        return problem

    def _check(self, seq: int, rec: dict[str, Any], database_id: str) -> str | None:
        action, actor = rec.get("action"), str(rec.get("actor"))
        if action not in SIGNED_ACTIONS:
            self.counts["unsigned_kind"] += 1
            return None
        d = rec.get("details") if isinstance(rec.get("details"), dict) else {}
        wid = rec.get("workflow_id")
        what = f"entry {seq} ({action}{' ' + str(wid) if wid else ''} by {actor})"
        first_use = action == "user_key_registered" and d.get("first_use") is True and d.get("username") == actor
        if first_use:
            if actor in self.ever:
                return f"{what} is a forgery: it enrols a first key for {actor}, who already had one"
            key: bytes | None = self._own_key(d)
            unsigned_ok = None
        else:
            if action in ADMIN_ACTIONS and not self.bootstrap and not self._is_admin(actor):
                return f"{what} is a forgery: {actor} was not an active administrator at that point of the trail"
            if action in ALWAYS_ADMIN_ACTIONS and not self._is_admin(actor):
                return (f"{what} is a forgery: {actor} was not an active administrator at that point of the trail, "
                        f"and only one makes or revokes a token")
            held = self.current.get(actor)
            key = held.public if held else None
            if key is None and self.bootstrap and action == "user_added" and d.get("username") == actor \
                    and d.get("public_key"):
                key = self._own_key(d)  # self-signed: the first person adds themselves
            unsigned_ok = "bootstrap" if self.bootstrap else ("legacy" if not self.any_key else None)
        why = "" if key else (f"{actor}'s key was revoked" if actor in self.ever else f"{actor} has no registered key")
        sig = rec.get("sig")
        if sig is None:
            if unsigned_ok:
                self.counts[unsigned_ok] += 1
                return None
            return f"{what} is a forgery: it carries no signature" + (f" ({why})" if why else "")
        if key is None:
            if unsigned_ok:
                self.counts[unsigned_ok] += 1
                return None
            return f"{what} is a forgery: its signature cannot be {actor}'s ({why})"
        kid = key_id(key)
        if not (isinstance(sig, dict) and sig.get("alg") == "ed25519" and isinstance(sig.get("value"), str)):
            return f"{what} is a forgery: its signature is malformed"
        if sig.get("key") != kid:
            return f"{what} is a forgery: it is signed by key {str(sig.get('key'))[:16]}, not by {actor}'s key {kid}"
        try:
            good = ed25519_ok(key, unhex(sig["value"], 64), statement(database_id, rec))
        except Bad:
            good = False
        if not good:
            return f"{what} is a forgery: its signature does not verify against {actor}'s key {kid}"
        self.counts["first_use" if first_use else "signed"] += 1
        return None

    @staticmethod
    def _own_key(d: dict[str, Any]) -> bytes | None:
        try:
            return parse_public_key(d.get("public_key"))
        except Bad:
            return None

    def apply(self, seq: int, rec: dict[str, Any]) -> None:
        """What entry `seq` changes in the keys and the directory (VERIFY.md 3.3)."""
        action, d = rec.get("action"), rec.get("details")
        if action not in KEY_ACTIONS or not isinstance(d, dict) or not isinstance(d.get("username"), str):
            return
        name = d["username"]
        if action == "user_added":
            self.people[name] = [bool(d.get("admin")), True]
            if d.get("public_key"):
                self._register(seq, name, d["public_key"])
        elif action == "user_key_registered":
            self._register(seq, name, d.get("public_key"))
        elif action == "user_key_revoked":
            held = self.current.pop(name, None)  # the person's current key ends here
            if held is not None:
                held.ended, held.how = seq, "revoked"
        else:
            after = d.get("after") if isinstance(d.get("after"), dict) else {}
            state = self.people.setdefault(name, [False, True])
            if "admin" in after:
                state[0] = bool(after["admin"])
            if "active" in after:
                state[1] = bool(after["active"])

    def _register(self, seq: int, name: str, text: Any) -> None:
        public = self._own_key({"public_key": text})
        if public is None:
            return  # registers nothing; an entry signed by such a "key" fails its own check
        held = self.current.get(name)
        if held is not None:
            held.ended, held.how = seq, "replaced"
        key = Key(name, public, seq)
        self.keys.append(key)
        self.current[name] = key
        self.ever.add(name)
        self.any_key = True


# --- personal data: sealed values, openings, erasure (VERIFY.md 10) -----------------------------

SEALED_PREFIX = b"hitl-tui sealed value v1\n"
ERASING = frozenset({"personal_data_erased", "personal_data_expired"})
NOT_OPENED = "(sealed value not opened)"
_HEX = frozenset("0123456789abcdef")


def _is_hex(text: Any, size: int) -> bool:
    return isinstance(text, str) and len(text) == size and set(text) <= _HEX


def is_sealed(node: Any) -> bool:
    """10.1: an object of exactly "key" (32 hex) and "sealed" (64 hex)."""
    return isinstance(node, dict) and len(node) == 2 and _is_hex(node.get("key"), 32) \
        and _is_hex(node.get("sealed"), 64)


def sealed_values(node: Any) -> Iterator[dict[str, str]]:
    """Every sealed value in `node`, walking objects and lists."""
    if isinstance(node, dict):
        if is_sealed(node):
            yield node
            return
        for value in node.values():
            yield from sealed_values(value)
    elif isinstance(node, list):
        for value in node:
            yield from sealed_values(value)


def sealed_digest(salt: bytes, value: Any) -> str:
    return hashlib.sha256(SEALED_PREFIX + salt + canonical(value)).hexdigest()


def _is_value_opening(op: Any) -> bool:
    return isinstance(op, dict) and set(op) == {"salt", "value"}


def _is_erased_opening(op: Any) -> bool:
    return isinstance(op, dict) and set(op) == {"erased", "by"}


def opened(node: Any, personal: Any) -> Any:
    """10.4: `node` as the tables hold it: each sealed value replaced by its opening's value, or
    `erased on DATE`."""
    if isinstance(node, dict):
        if is_sealed(node):
            op = personal.get(node["sealed"]) if isinstance(personal, dict) else None
            if _is_value_opening(op):
                return op["value"]
            if _is_erased_opening(op):
                return f"erased on {op['erased']}"
            return NOT_OPENED
        return {k: opened(v, personal) for k, v in node.items()}
    if isinstance(node, list):
        return [opened(v, personal) for v in node]
    return node


def _is_date(text: Any) -> bool:
    return isinstance(text, str) and len(text) == 10 and text[4] == text[7] == "-" \
        and (text[:4] + text[5:7] + text[8:]).isdigit() and text.isascii()


class Personal:
    """The openings of an export's sealed values (10.3) and the two-person rule of erasure (10.5),
    entry by entry; an erased opening names a later entry, so those are settled by finish()."""

    def __init__(self, whole: bool) -> None:
        self.whole = whole  # an unfiltered JSONL/CSV export: every value opened, every erasure present
        self.problems: list[tuple[int, str]] = []
        self.counts = {"opened": 0, "erased": 0, "unopened": 0, "unsettled": 0, "two_person": 0}
        self.pending: list[tuple[int, str, str, int]] = []  # (seq, key id, date, erasing entry)
        self.erasures: dict[int, tuple[set[str], str]] = {}  # erasing entry -> (its keys, its date)
        self.valued: dict[str, int] = {}  # key id -> the first entry opening a value under it
        self.requests: dict[int, tuple[Any, Any]] = {}  # erasure_requested seq -> (target, actor)
        self.cancelled: set[int] = set()
        self.carried_out: dict[int, int] = {}  # request seq -> the personal_data_erased entry

    def fail(self, seq: int, text: str) -> None:
        self.problems.append((seq, text))

    def feed(self, seq: int, rec: dict[str, Any], personal: Any) -> None:
        if personal is not None and not isinstance(personal, dict):
            self.fail(seq, f"entry {seq} has a personal member that is not a JSON object")
            personal = {}
        personal = personal or {}
        d = rec.get("details")
        seals = list(sealed_values(d))
        for digest in sorted(set(personal) - {s["sealed"] for s in seals}):
            self.fail(seq, f"entry {seq} carries an opening for {_short(digest, 16)}, a value it does not seal")
        for seal in seals:
            self._opening(seq, seal, personal.get(seal["sealed"]))
        if isinstance(d, dict):
            self._erasure_flow(seq, rec, d)

    def _opening(self, seq: int, seal: dict[str, str], op: Any) -> None:
        if op is None:
            if self.whole:
                self.fail(seq, f"entry {seq} holds a sealed value the export does not open")
            else:
                self.counts["unopened"] += 1
        elif _is_value_opening(op):
            try:
                good = _is_hex(op["salt"], 32) and sealed_digest(unhex(op["salt"], 16), op["value"]) == seal["sealed"]
            except Bad:
                good = False
            if not good:
                self.fail(seq, f"entry {seq} holds a sealed value whose opening does not match its digest: "
                               f"the value was edited")
                return
            self.counts["opened"] += 1
            self.valued.setdefault(seal["key"], seq)
        elif _is_erased_opening(op) and _is_date(op["erased"]) and isinstance(op["by"], int) \
                and not isinstance(op["by"], bool):
            if op["by"] <= seq:
                self.fail(seq, f"entry {seq} holds a sealed value marked erased by entry {op['by']}, which is not "
                               f"later than it")
                return
            self.pending.append((seq, seal["key"], op["erased"], op["by"]))
        else:
            self.fail(seq, f"entry {seq} holds a sealed value whose opening is neither {{salt, value}} nor "
                           f"{{erased, by}}")

    def _erasure_flow(self, seq: int, rec: dict[str, Any], d: dict[str, Any]) -> None:
        action, actor = rec.get("action"), rec.get("actor")
        if action in ERASING:
            keys = d.get("keys")
            self.erasures[seq] = ({k for k in keys if isinstance(k, str)} if isinstance(keys, list) else set(),
                                  str(rec.get("ts"))[:10])
        if action == "erasure_requested":
            self.requests[seq] = (d.get("target"), actor)
        elif action == "erasure_cancelled" and isinstance(d.get("request_seq"), int):
            self.cancelled.add(d["request_seq"])
        elif action == "personal_data_erased" and self.whole:
            self._two_people(seq, actor, d)

    def _two_people(self, seq: int, actor: Any, d: dict[str, Any]) -> None:
        """10.5: asked by one administrator, carried out by another, once."""
        target, by, asked = d.get("target"), d.get("requested_by"), d.get("request_seq")
        what = f"entry {seq} (personal_data_erased of {_short(target, 40)} by {_short(actor, 40)})"
        request = self.requests.get(asked) if isinstance(asked, int) and not isinstance(asked, bool) else None
        if actor == by:
            self.fail(seq, f"{what} breaks the two-person rule: {_short(actor, 40)} also asked for it")
        elif request is None:
            self.fail(seq, f"{what} names request entry {_short(asked, 12)}, which is no earlier erasure_requested")
        elif request != (target, by):
            self.fail(seq, f"{what} names entry {asked}, which asked for the erasure of {_short(request[0], 40)} by "
                           f"{_short(request[1], 40)}, not of {_short(target, 40)} by {_short(by, 40)}")
        elif asked in self.cancelled:
            self.fail(seq, f"{what} carries out request entry {asked}, which was cancelled")
        elif asked in self.carried_out:
            self.fail(seq, f"{what} carries out request entry {asked} again (entry {self.carried_out[asked]} did)")
        else:
            self.carried_out[asked] = seq
            self.counts["two_person"] += 1

    def finish(self, last_seq: int) -> list[tuple[int, str]]:
        """Every problem, earliest entry first."""
        for seq, key, day, by in self.pending:
            found = self.erasures.get(by)
            if found is None:
                if not self.whole:
                    self.counts["unsettled"] += 1
                elif by > last_seq:
                    self.fail(seq, f"entry {seq} holds a sealed value marked erased by entry {by}, which is beyond "
                                   f"this export (erased after it was signed): export again")
                else:
                    self.fail(seq, f"entry {seq} holds a sealed value marked erased by entry {by}, which is not "
                                   f"personal_data_erased or personal_data_expired")
            elif key not in found[0]:
                self.fail(seq, f"entry {seq} holds a sealed value marked erased by entry {by}, which does not list "
                               f"its key {key}")
            elif found[1] != day:
                self.fail(seq, f"entry {seq} holds a sealed value marked erased on {day}, but entry {by} was "
                               f"written on {found[1]}")
            else:
                self.counts["erased"] += 1
        for by, (keys, _day) in sorted(self.erasures.items()):
            for key in sorted(keys & set(self.valued)):
                first = self.valued[key]
                self.fail(first, f"entry {first} opens a value sealed under key {key}, which entry {by} erased: "
                                 f"the erasure was not carried out")
        return sorted(self.problems, key=lambda p: p[0])

    def report(self, rep: Report, last_seq: int) -> None:
        problems = self.finish(last_seq)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            rep.fail("personal data", problems[0][1] + more)
            return
        c = self.counts
        left = [f"{n:,} {what}" for n, what in ((c["unopened"], "not opened"),
                                               (c["unsettled"], "erased by entries not in this file")) if n]
        if self.whole:
            left.append(f"{c['two_person']:,} erasures by two administrators")
        rep.check("personal data", True, f"{c['opened']:,} sealed values opened, each matching its digest; "
                                         f"{c['erased']:,} erased by the entry that lists their key"
                  + (f"; {', '.join(left)}" if left else ""))


# --- replay (VERIFY.md 7) ----------------------------------------------------------------------

class _Unknown:
    def __repr__(self) -> str:
        return "unknown"


UNKNOWN: Any = _Unknown()  # a value an older entry does not carry: never compared
CLOSINGS = frozenset({"withdrawn", "expired"})  # a request ended without a decision (VERIFY.md 7)
ESCALATIONS = frozenset({"escalated", "reminded"})  # an overdue stage given to a senior role too (VERIFY.md 7)
REQUEST_ACTIONS = frozenset({"created", "resubmitted", *CLOSINGS, *DECISIONS, *ESCALATIONS})
USER_CHANGES = frozenset({"user_role_changed", "user_deactivated", "user_reactivated", "user_admin_changed"})
FINAL = frozenset({"approved", "rejected", "withdrawn", "expired"})
FILED = ("payload", "payload_sha256", "justification", "agent", "owner", "expires_at")  # filed for approval
REVISED = ("payload", "payload_sha256", "justification")  # what a resubmission of such a request sends again
RISK_RANK = {"LOW": 0, "MEDIUM": 1, "HIGH": 2, "CRITICAL": 3}


class Replay:
    """The requests, approvals and users tables as the trail's entries build them (VERIFY.md 7),
    column by column as the tables hold them."""

    def __init__(self) -> None:
        self.requests: dict[str, dict[str, Any]] = {}
        #: (workflow_id, revision, stage, approver): a quorum or parallel stage has a row per voter
        self.approvals: dict[tuple[str, int, int, str], dict[str, Any]] = {}
        #: the stage roles the current stage's approvals filled, per request (VERIFY.md 7, stage rules)
        self.votes: dict[str, list[Any]] = {}
        self.stages_decided: set[tuple[str, int, int]] = set()
        self.users: dict[str, dict[str, Any]] = {}
        self.made_by: dict[Any, int] = {}  # row key -> the seq of the entry that made it
        self.problems: list[str] = []
        self.entries = 0
        self.legacy = 0

    def feed(self, seq: int, rec: dict[str, Any]) -> None:
        action = rec.get("action")
        if not isinstance(action, str) or not (action in REQUEST_ACTIONS or action.startswith("user_")):
            return
        d = rec.get("details") if isinstance(rec.get("details"), dict) else {}
        marked = d.get("replay") == 1  # entries from before replay details: their time is not the row's
        self.entries += 1
        self.legacy += not marked
        ts = rec.get("ts") if marked else UNKNOWN
        if action in REQUEST_ACTIONS:
            self._request(seq, rec, d, ts)
        else:
            self._user(seq, rec, d, ts)

    def _request(self, seq: int, rec: dict[str, Any], d: dict[str, Any], ts: Any) -> None:
        action, actor, wid = rec["action"], rec.get("actor"), str(rec.get("workflow_id"))
        req = self.requests.get(wid)
        if req is None:
            req = self.requests[wid] = {c: UNKNOWN for c in ("workflow_type", "title", "description", "requester",
                                                              "data", "risk_level", "risk_rank", "risk_field",
                                                              "risk_reason", "headline", "chain", "current_stage",
                                                              "current_role", "status", "revision", "created_at",
                                                              "updated_at", "deciders", "policy_version", *FILED,
                                                              "proposed_payload", "due_at", "due_left",
                                                              "escalated_to", "reminded", "stage_rules",
                                                              "awaited")}
            self.made_by[("request", wid)] = seq
            if action != "created":
                self.problems.append(f"entry {seq} ({action}) names {wid}, which no earlier entry created")
        before = d.get("status_before")
        if before is not None and req["status"] is not UNKNOWN and before != req["status"]:
            self.problems.append(f"entry {seq} says {wid} was {before}, but the trail so far left it {req['status']}")
        if action in ("created", "resubmitted"):
            for key in ("title", "description", "risk_level", "risk_field", "risk_reason", "policy_version"):
                req[key] = d.get(key, UNKNOWN)
            req["risk_rank"] = RISK_RANK.get(d.get("risk_level"), UNKNOWN) if isinstance(d.get("risk_level"), str) else UNKNOWN
            data, field_ = d.get("data"), d.get("risk_field")
            req["data"] = data if isinstance(data, dict) else UNKNOWN
            req["headline"] = (_py_str(data[field_]) if isinstance(data, dict) and isinstance(field_, str)
                               and field_ in data else UNKNOWN)
            chain = d.get("chain")
            req["chain"] = "," + ",".join(str(c) for c in chain) + "," if isinstance(chain, list) else UNKNOWN
            req["status"] = d.get("status_after", "awaiting_approval")
            req["current_stage"] = d.get("stage_after", 0)
            req["deciders"] = ","
            req["updated_at"] = ts
            req["proposed_payload"] = None  # filed or resubmitted: nothing proposed any more
            req["due_at"], req["due_left"] = d.get("due_at"), None  # due from now, or never
            req["escalated_to"] = req["reminded"] = None
            rules = d.get("stage_rules")  # the column's text: compact JSON with sorted keys, or null
            req["stage_rules"] = None if rules is None else json.dumps(rules, sort_keys=True, separators=(",", ":"))
            self.votes[wid] = []
            if action == "created":
                req["workflow_type"] = d.get("workflow_type", UNKNOWN)
                req["requester"] = actor
                req["revision"] = d.get("revision", 1)
                req["created_at"] = ts
                for key in FILED:  # null for a request filed without a payload
                    req[key] = d.get(key)
            else:
                req["revision"] = d.get("revision", UNKNOWN)
                for key in REVISED:  # a new revision of a request filed for approval (VERIFY.md 11)
                    if key in d:
                        req[key] = d[key]
            self._current_role(req, [])
        elif action in ESCALATIONS:  # the row's only change
            if action == "escalated":
                req["escalated_to"] = d.get("escalated_to", UNKNOWN)
            else:
                req["reminded"] = d.get("kind", UNKNOWN)
        elif action in CLOSINGS:
            req["status"] = d.get("status_after", action)
            req["current_stage"] = d.get("stage_after", req["current_stage"])
            req["current_role"] = None
            req["updated_at"] = ts
        else:
            before = req["status"], req["current_stage"]
            votes = self.votes.setdefault(wid, [])
            if action == "approved" and isinstance(req["stage_rules"], str):
                self._count(seq, wid, req, d, votes)  # a quorum or parallel stage moves on with its last vote only
            req["status"] = d.get("status_after", UNKNOWN)
            req["current_stage"] = d.get("stage_after", UNKNOWN)
            req["deciders"] = UNKNOWN if req["deciders"] is UNKNOWN else f"{req['deciders']}{actor},"
            req["updated_at"] = ts
            if before != (req["status"], req["current_stage"]):  # the stage is decided: the next starts afresh
                req["escalated_to"] = req["reminded"] = None
                votes.clear()
            self._current_role(req, votes)
            if rec["action"] == "changes_requested":  # a reviewer's proposed revision, or none
                req["proposed_payload"] = d.get("proposed_payload")
                if "due_left" in d:  # the due clock pauses while the requester has it
                    req["due_at"], req["due_left"] = None, d["due_left"]
            revision, stage = d.get("revision", req["revision"]), d.get("stage")
            if isinstance(revision, int) and isinstance(stage, int):
                key = (wid, revision, stage, str(actor))
                plain = not isinstance(req["stage_rules"], str)  # one approval: one decision of the stage at all
                if key in self.approvals or plain and key[:3] in self.stages_decided:
                    self.problems.append(f"entry {seq} decides stage {stage + 1} of {wid} revision {revision} again")
                proposal = d.get("agent_proposal")
                self.approvals[key] = {
                    "role": d.get("stage_role", UNKNOWN), "approver": actor, "approver_role": d.get("decider_role", UNKNOWN),
                    "decision": d.get("decision", UNKNOWN), "decided_at": ts, "comments": d.get("comments", UNKNOWN),
                    "proposed_by": proposal.get("agent") if isinstance(proposal, dict) else None,
                    "on_behalf_of": d.get("on_behalf_of")}
                self.made_by[("approval", key)] = seq
                self.stages_decided.add(key[:3])

    @staticmethod
    def _current_role(req: dict[str, Any], votes: list[Any]) -> None:
        status, stage, chain = req["status"], req["current_stage"], req["chain"]
        req["awaited"] = UNKNOWN if status is UNKNOWN else None
        if status is UNKNOWN:
            req["current_role"] = UNKNOWN
        elif status != "awaiting_approval":
            req["current_role"] = None
        else:
            roles = chain.strip(",").split(",") if isinstance(chain, str) else []
            ok = isinstance(stage, int) and not isinstance(stage, bool) and 0 <= stage < len(roles)
            req["current_role"] = roles[stage] if ok else UNKNOWN
            rule = _stage_rule(req["stage_rules"], stage) if ok else None
            if rule is not None and rule[0][1:]:  # a parallel stage: the roles it still awaits
                waiting = [r for r in rule[0] if r not in votes]
                req["current_role"] = waiting[0] if waiting else rule[0][0]
                req["awaited"] = "," + ",".join(waiting) + "," if waiting else None

    def _count(self, seq: int, wid: str, req: dict[str, Any], d: dict[str, Any], votes: list[Any]) -> None:
        """The chain moves on with the vote that completes a stage, never before nor after."""
        stage, after = req["current_stage"], d.get("stage_after")
        if not isinstance(stage, int) or req["status"] != "awaiting_approval":
            return
        votes.append(d.get("stage_role"))
        rule = _stage_rule(req["stage_rules"], stage)
        if rule is None or after is None:
            return
        roles, quorum = rule
        needed = len(roles) if roles[1:] else quorum
        done = all(r in votes for r in roles) if roles[1:] else len(votes) >= quorum
        if (after == stage + 1) != done or after not in (stage, stage + 1):
            how = (f"advances past stage {stage + 1} with {len(votes)} of the {needed} approvals it needs" if not done
                   else f"keeps stage {stage + 1} waiting after the approval that completes it")
            self.problems.append(f"entry {seq} {how} on {wid} (its approval chain's rule)")

    def _user(self, seq: int, rec: dict[str, Any], d: dict[str, Any], ts: Any) -> None:
        name = d.get("username")
        if not isinstance(name, str):
            return
        if rec["action"] == "user_added":
            admin = d.get("admin", UNKNOWN)
            self.users[name] = {"role": d.get("role", UNKNOWN), "email": d.get("email", UNKNOWN),
                                "display_name": d.get("display_name", UNKNOWN), "active": 1,
                                "admin": UNKNOWN if admin is UNKNOWN else int(bool(admin)),
                                "created_at": ts, "updated_at": ts,
                                "integration": int(bool(d.get("integration", False))), "owner": d.get("owner")}
            self.made_by[("user", name)] = seq
            return
        user = self.users.get(name)
        if user is None:
            return
        if rec["action"] in USER_CHANGES:
            after = d.get("after") if isinstance(d.get("after"), dict) else {}
            for key, value in after.items():
                if key in ("role", "email", "display_name"):
                    user[key] = value
                elif key in ("active", "admin"):
                    user[key] = int(bool(value))
            user["updated_at"] = ts
        else:  # another user_* entry (a key registered...) may move the row's updated_at
            user["updated_at"] = UNKNOWN


def _stage_rule(text: Any, stage: Any) -> tuple[list[str], int] | None:
    """(roles, quorum) of a stage from a request's stage_rules text (VERIFY.md 7): a role string
    is one approval; {"role", "quorum"}: that many people; {"all": [...]}: one of each role."""
    try:
        item = json.loads(text)[stage] if isinstance(text, str) and isinstance(stage, int) and stage >= 0 else None
    except (ValueError, IndexError, TypeError):
        return None
    if isinstance(item, str):
        return [item], 1
    if isinstance(item, dict) and isinstance(item.get("all"), list) and item["all"]:
        return [str(r) for r in item["all"]], 1
    if isinstance(item, dict) and isinstance(item.get("role"), str) and isinstance(item.get("quorum"), int):
        return [item["role"]], item["quorum"]
    return None


def _py_str(value: Any) -> str:
    """The text the lists show for a data value (Python's str, as the engine writes it)."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if value is None:
        return "None"
    return str(value)


def compare_state(replay: Replay, state: Any) -> list[str]:
    """Differences between the tables (state.json) and the replay, the earliest-made row first."""
    if not isinstance(state, dict):
        return ["the state file is not a JSON object"]
    found: list[tuple[float, str]] = []
    tables = (("requests", "request", lambda r: str(r.get("id")), replay.requests),
              ("approvals", "approval", lambda r: (str(r.get("workflow_id")), r.get("revision"), r.get("stage"),
                                                   str(r.get("approver"))),
               replay.approvals),
              ("users", "user", lambda r: r.get("username"), replay.users))
    for table, noun, key_of, replayed in tables:
        rows = state.get(table)
        if not isinstance(rows, list):
            return [f"the state file has no {table} table"]
        seen = set()
        for row in rows:
            if not isinstance(row, dict):
                return [f"a {noun} row of the state file is not an object"]
            key = key_of(row)
            try:
                seen.add(key)
            except TypeError:
                return [f"a {noun} row of the state file has a malformed key"]
            name = _row_name(noun, key, replay)
            want = replayed.get(key)
            if want is None:
                found.append((float("inf"), f"{name} is in the table, but no entry of the trail made it"))
                continue
            order = replay.made_by.get((noun, key), 0)
            for col, value in want.items():
                if value is UNKNOWN:
                    continue
                if col not in row:
                    found.append((order, f"{name} has no {col} column in the state file"))
                    break
                differs = _differs(col, row[col], value)
                if differs:
                    found.append((order, f"{name} {differs}"))
                    break
        for key in replayed:
            if key not in seen:
                found.append((replay.made_by.get((noun, key), 0), f"{_row_name(noun, key, replay)} is in the trail "
                                                                   f"but missing from the table"))
    return [text for _, text in sorted(found, key=lambda t: t[0])]


def _differs(col: str, table: Any, trail: Any) -> str | None:
    if col == "data":
        try:
            table_data = loads(table) if isinstance(table, str) else table
        except Bad:
            return f"data is not JSON in the table ({_short(table, 40)})"
        if isinstance(table_data, dict) and isinstance(trail, dict):
            for k in sorted(set(table_data) | set(trail)):
                if table_data.get(k, UNKNOWN) != trail.get(k, UNKNOWN):
                    return (f"{k} is {_short(table_data.get(k, 'missing'), 40)} in the table, "
                            f"{_short(trail.get(k, 'missing'), 40)} in the trail")
            return None
    if _same(table, trail):
        return None
    return f"{col} is {_short(table, 40)} in the table, {_short(trail, 40)} in the trail"


def _row_name(noun: str, key: Any, replay: Replay) -> str:
    if isinstance(key, tuple):
        stage = key[2] + 1 if isinstance(key[2], int) else key[2]
        return f"{key[0]}'s decision of stage {stage} (revision {key[1]})"
    return f"{key}" if noun == "request" else f"user {key}"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, (bool, int)) and isinstance(b, (bool, int)) and int(a) == int(b)
    return a == b


# --- checking an export ------------------------------------------------------------------------

@dataclass
class Outcome:
    """What checking the entries found, for the checks that compare it with something."""

    count: int = 0
    first_seq: int | None = None
    last_seq: int = 0
    head: bytes = GENESIS
    root: bytes = b""
    contiguous: bool = True
    leaves: dict[int, bytes] = field(default_factory=dict)  # seq -> leaf hash (for proofs)
    chain: dict[int, bytes] = field(default_factory=dict)  # seq -> chain hash
    request_of: dict[int, str | None] = field(default_factory=dict)  # seq -> workflow id
    keys: Keys = field(default_factory=Keys)
    replay: Replay = field(default_factory=Replay)


def _filtered(header: dict[str, Any]) -> bool:
    filters = header.get("filters")
    return isinstance(filters, dict) and any(v not in (None, "", [], {}) for v in filters.values())


def check_export(exp: Export, rep: Report, *, note_text: str | None, vkey: Vkey | None,
                 state: Any = None, keep_leaves: bool = False, key_entries: list[dict[str, Any]] | None = None) -> Outcome:
    header = exp.header
    history = list(key_entries or [])  # the key history of a partial export: the bundle's keys.json
    history.sort(key=lambda r: r["seq"])
    next_key = 0
    rep.check("export header", header.get("format") == EXPORT_FORMAT,
              f"{exp.kind} export of database {_short(header.get('database_id'), 40)}"
              if header.get("format") == EXPORT_FORMAT else f"format {_short(header.get('format'), 40)} is not {EXPORT_FORMAT}")
    database_id = str(header.get("database_id"))
    whole = exp.kind in ("jsonl", "csv") and not _filtered(header)
    if exp.kind in ("html", "md"):
        rep.note("scope", "a report embeds only its timeline entries: they are re-hashed and their signatures "
                          "checked; the tree, completeness and replay need the JSONL or CSV export")
    elif not whole:
        rep.note("scope", "a filtered export: each entry is re-hashed and consecutive entries linked; the tree root, "
                          "completeness and replay need the unfiltered export")
    out = Outcome()
    tree = TreeBuilder()
    digest = hashlib.sha256()
    chain_problem = sig_problem = None
    prev_seq, prev_hash = 0, GENESIS
    stop = header.get("stop_seq") if isinstance(header.get("stop_seq"), int) else None
    personal_data = Personal(whole)
    for where, rec, claimed, personal in exp.entries:
        seq = rec.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool):
            chain_problem = chain_problem or f"{where} has no sequence number"
            continue
        try:
            body = canonical(rec)
            claimed_raw = unhex(claimed, 32)
            recorded_prev = unhex(rec.get("prev_hash"), 32)
        except Bad as exc:
            chain_problem = chain_problem or f"entry {seq}: {exc}"
            continue
        if sha256(recorded_prev + body) != claimed_raw:
            chain_problem = chain_problem or f"entry {seq} does not match its hash: its content was edited"
        if seq <= prev_seq:
            chain_problem = chain_problem or f"entry {seq} comes after entry {prev_seq}: entries were reordered or repeated"
        elif seq != prev_seq + 1:
            out.contiguous = False
            if whole:
                chain_problem = chain_problem or f"entry {prev_seq + 1} is missing (the next entry is {seq}): entries were removed"
        elif recorded_prev != prev_hash and (whole or prev_seq):
            chain_problem = chain_problem or (f"entry {seq} does not link to entry {prev_seq}: "
                                              f"entries were replaced or inserted")
        if stop is not None and seq > stop:
            chain_problem = chain_problem or f"entry {seq} lies beyond the signed checkpoint ({stop} entries): it was added"
        if out.first_seq is None:
            out.first_seq = seq
            out.contiguous = seq == 1
        prev_seq, prev_hash = seq, claimed_raw
        out.count += 1
        digest.update(claimed_raw)
        leaf = leaf_hash(body)
        tree.add(leaf)
        if keep_leaves:
            out.leaves[seq], out.chain[seq] = leaf, claimed_raw
            wid = rec.get("workflow_id")
            out.request_of[seq] = wid if isinstance(wid, str) else None
        if not whole:  # first what the entries before this one did to the keys
            while next_key < len(history) and history[next_key]["seq"] <= seq:
                if history[next_key]["seq"] < seq:
                    out.keys.apply(history[next_key]["seq"], history[next_key])
                next_key += 1
        if whole or history:
            problem = out.keys.check(seq, rec, database_id)
            if problem and sig_problem is None:
                sig_problem = problem
        elif rec.get("action") in SIGNED_ACTIONS:
            out.keys.counts["unchecked"] += 1
        personal_data.feed(seq, rec, personal)
        if state is not None:  # the replay holds every row: only when there is a state to compare
            out.replay.feed(seq, {**rec, "details": opened(rec.get("details"), personal)})
    out.last_seq, out.head, out.root = prev_seq, prev_hash, tree.root()

    if exp.problems:
        rep.fail("file", exp.problems[0] + (f" (and {len(exp.problems) - 1} more)" if len(exp.problems) > 1 else ""))
    rep.check("entries", chain_problem is None, chain_problem or
              f"{out.count:,} entr{'y' if out.count == 1 else 'ies'} re-hashed; each matches its hash and links to the one before")

    trailer = exp.trailer()
    if not isinstance(trailer, dict) or trailer.get("record_type") != TRAILER_TYPE:
        rep.fail("complete file", "the export ends without its trailer: it was truncated")
    elif exp.kind in ("jsonl", "csv"):
        same = (trailer.get("entries_exported") == out.count and trailer.get("entries_sha256") == digest.hexdigest())
        rep.check("complete file", same, f"{out.count:,} entries, as the trailer says" if same else
                  f"the file holds {out.count:,} entries but the trailer says {_short(trailer.get('entries_exported'), 20)}, "
                  f"or their digest differs: entries were removed or added")

    k = out.keys.counts
    if sig_problem:
        rep.fail("signatures", sig_problem)
    elif k["unchecked"]:
        rep.note("signatures", f"{k['unchecked']:,} signed actions not checked: a partial export lacks the key history "
                               f"(pass --keys keys.json from the audit bundle)")
    else:
        rep.check("signatures", True, f"{k['signed']:,} signed by the key valid for their actor, {k['bootstrap']:,} "
                                      f"bootstrap, {k['legacy']:,} from before signatures, {k['first_use']:,} "
                                      f"first-use enrolments; "
                                      f"{k['unsigned_kind']:,} of kinds that are not signed")
    personal_data.report(rep, out.last_seq)
    if state is not None:
        if out.replay.problems and whole:
            rep.fail("trail consistency", out.replay.problems[0])
        if not whole:
            rep.fail("state", "a replay needs the unfiltered JSONL or CSV export")
        else:
            diffs = compare_state(out.replay, state)
            if isinstance(state, dict) and state.get("audit_size") not in (None, out.last_seq):
                diffs.insert(0, f"the state file was taken at {state.get('audit_size')} entries, the export holds {out.last_seq}")
            if isinstance(state, dict) and state.get("database_id") not in (None, database_id):
                diffs.insert(0, "the state file is of another database")
            legacy = f" ({out.replay.legacy:,} older entries compared for what they carry)" if out.replay.legacy else ""
            rep.check("state", not diffs, diffs[0] if diffs else
                      f"the tables are the replay of the trail: {len(out.replay.requests):,} requests, "
                      f"{len(out.replay.approvals):,} approvals, {len(out.replay.users):,} users{legacy}")
    note = _check_checkpoints(rep, header, out, whole, note_text, vkey, database_id)
    if key_entries is not None:
        _check_key_history(rep, key_entries, note)
    if header.get("chain_status") != "intact":
        rep.fail("chain at export time", f"the export records a broken chain: {header.get('banner')}")
    return out


def _header_note(header: dict[str, Any]) -> str | None:
    """The C2SP checkpoint note an export's header carries, if any (see VERIFY.md 6)."""
    cp = header.get("checkpoint")
    for candidate in (cp.get("note") if isinstance(cp, dict) else None,):
        if isinstance(candidate, str) and candidate.startswith(ORIGIN_PREFIX):
            return candidate
    return None


def _check_checkpoints(rep: Report, header: dict[str, Any], out: Outcome, whole: bool, note_text: str | None,
                       vkey: Vkey | None, database_id: str) -> Note | None:
    """Checks the checkpoint(s) an export carries or is given; returns the note once its
    signature verified."""
    old = header.get("checkpoint")
    if isinstance(old, dict) and old.get("format") == OLD_CHECKPOINT_FORMAT:
        try:
            ok = ed25519_ok(unhex(old.get("public_key"), 32), unhex(old.get("signature"), 64),
                            old_checkpoint_message(old))
        except Bad:
            ok = False
        rep.check("export's checkpoint", ok and old.get("database_id") == database_id,
                  f"signed over {old.get('size')} entries, head {str(old.get('head_hash'))[:16]}..." if ok else
                  "its signature does not verify: the checkpoint was altered or forged")
        if ok and whole and (old.get("size") != out.last_seq or old.get("head_hash") != out.head.hex()):
            rep.fail("whole chain", f"the entries end at {out.last_seq} with another head than the signed "
                                    f"{old.get('size')}: entries were added, removed or rewritten")
        elif ok and whole:
            rep.check("whole chain", out.contiguous, "re-hashed from entry 1 to the signed head" if out.contiguous
                      else "the entries do not run from entry 1")
    text = note_text if note_text is not None else _header_note(header)
    if text is None:
        if vkey is not None:
            rep.fail("checkpoint note", "a verifier key was given, but no signed checkpoint note (--checkpoint NOTE)")
        elif isinstance(old, dict) and old.get("format") == OLD_CHECKPOINT_FORMAT:
            rep.note("checkpoint note", "an older checkpoint: it signs the chain's head, not a tree root")
        elif header.get("chain_status") == "intact":
            rep.fail("checkpoint note", "the export carries no signed checkpoint, so nothing anchors its entries "
                                        "(give one with --checkpoint NOTE)")
        return None
    try:
        note = parse_note(text)
    except Bad as exc:
        rep.fail("checkpoint note", str(exc))
        return None
    origin = ORIGIN_PREFIX + database_id
    if note.origin != origin:
        rep.fail("checkpoint note", f"its origin {_short(note.origin, 60)} is not this database's ({origin})")
        return None
    if vkey is None:
        key = _header_vkey(header)
        if key is None:
            rep.fail("checkpoint note", "no verifier key to check it with (--vkey VKEY)")
            return None
        rep.note("checkpoint key", f"taken from the export itself ({key.text[:40]}...): pass --vkey to pin the key you trust")
        vkey = key
    if vkey.name != note.origin:
        rep.fail("checkpoint note", f"the verifier key is for {vkey.name}, the note for {note.origin}")
        return None
    if not rep.check("checkpoint note", note_signed_by(note, vkey),
                     f"Ed25519 signature by {vkey.name}+{vkey.key_hash.hex()} over {note.size:,} entries"
                     if note_signed_by(note, vkey) else "its signature does not verify: the checkpoint was altered or forged"):
        return None
    _check_tree(rep, note, out, whole)
    return note


def _check_tree(rep: Report, note: Note, out: Outcome, whole: bool) -> None:
    if not whole:
        if out.last_seq > note.size:
            rep.fail("tree", f"entry {out.last_seq} lies beyond the signed checkpoint ({note.size} entries)")
        return None
    if note.size != out.last_seq or not out.contiguous:
        rep.fail("tree", f"the signed checkpoint covers {note.size:,} entries, the export holds entries "
                         f"{out.first_seq or 0}..{out.last_seq}: entries were added or removed")
        return None
    rep.check("tree", note.root == out.root, f"the Merkle root of all {out.count:,} entries is the signed root"
              if note.root == out.root else "the Merkle root of the entries is not the signed root: the trail differs")
    chain = note.extensions.get("chain")
    if chain is not None:
        rep.check("chain head", chain == out.head.hex(), "the signed chain hash is the last entry's hash"
                  if chain == out.head.hex() else "the signed chain hash is not the last entry's hash")


def load_key_entries(path: str) -> list[dict[str, Any]]:
    """The registering entries of the bundle's keys.json (VERIFY.md 8), each re-hashed; their
    inclusion in the signed tree is checked by _check_key_history."""
    data = read_json_file(path)
    if not isinstance(data, dict) or data.get("format") != "hitl-tui-keys/1" or not isinstance(data.get("entries"), list):
        raise Bad(f"{path} is not a hitl-tui-keys/1 file")
    out = []
    for obj in data["entries"]:
        if not isinstance(obj, dict) or not isinstance(obj.get("seq"), int) or not isinstance(obj.get("proof"), list):
            raise Bad(f"{path}: an entry has no sequence number or no proof")
        rec, claimed, _ = _entry_record({k: v for k, v in obj.items() if k != "proof"}, f"entry {obj['seq']} of {path}")
        if sha256(unhex(rec.get("prev_hash"), 32) + canonical(rec)) != unhex(claimed, 32):
            raise Bad(f"{path}: entry {rec['seq']} does not match its hash: its content was edited")
        out.append({**rec, "_proof": obj["proof"], "_database": data.get("database_id")})
    return out


def _check_key_history(rep: Report, entries: list[dict[str, Any]], note: Note | None) -> None:
    if note is None:
        rep.fail("key history", "keys.json can only be trusted through the signed checkpoint, which did not verify")
        return
    if any(e["_database"] != note.origin[len(ORIGIN_PREFIX):] for e in entries):
        rep.fail("key history", "keys.json is of another database")
        return
    for e in entries:
        rec = {k: v for k, v in e.items() if k not in ("_proof", "_database")}
        try:
            ok = verify_inclusion(rec["seq"] - 1, note.size, leaf_hash(canonical(rec)),
                                  [unhex(h, 32) for h in e["_proof"]], note.root)
        except Bad:
            ok = False
        if not ok:
            rep.fail("key history", f"keys.json's entry {rec['seq']} is not in the signed tree: it was altered or added")
            return
    rep.check("key history", True, f"{len(entries)} registering entries of keys.json proven in the signed tree")


def _header_vkey(header: dict[str, Any]) -> Vkey | None:
    cp = header.get("checkpoint")
    for candidate in (cp.get("verifier_key") if isinstance(cp, dict) else None,):
        if isinstance(candidate, str):
            try:
                return parse_vkey(candidate)
            except Bad:
                return None
    return None


# --- bundles (VERIFY.md 8) ---------------------------------------------------------------------

def check_bundle(path: str, rep: Report, note_text: str | None, vkey: Vkey | None, state: Any) -> None:
    def p(name: str) -> str:
        return os.path.join(path, name)

    if note_text is None and os.path.exists(p("checkpoint.note")):
        note_text = read_text(p("checkpoint.note"))
    if vkey is None and os.path.exists(p("checkpoint.vkey")):
        vkey = parse_vkey(read_text(p("checkpoint.vkey")))
        rep.note("checkpoint key", "taken from the bundle (checkpoint.vkey): pass --vkey to pin the key you trust")
    if state is None and os.path.exists(p("state.json")):
        state = read_json_file(p("state.json"))
    if not os.path.exists(p("export.jsonl")):
        rep.fail("bundle", "export.jsonl is missing")
        return
    rep.note("bundle", "export.jsonl")
    full = check_export(open_jsonl(p("export.jsonl")), rep, note_text=note_text, vkey=vkey, state=state,
                        keep_leaves=True)
    if os.path.exists(p("export.csv")):
        rep.note("bundle", "export.csv")
        part = check_export(open_csv(p("export.csv")), rep, note_text=note_text, vkey=vkey, state=None)
        rep.check("csv = jsonl", (part.count, part.head, part.root) == (full.count, full.head, full.root),
                  "the CSV holds the same entries as the JSONL" if (part.count, part.root) == (full.count, full.root)
                  else "the CSV and the JSONL export hold different entries")
    if os.path.exists(p("proofs.jsonl")):
        check_proofs(p("proofs.jsonl"), rep, full, note_text)
    if os.path.exists(p("keys.json")):
        check_keys_file(p("keys.json"), rep, full)
    if os.path.isdir(p("vectors")):
        run_vectors(p("vectors"), rep)


def check_proofs(path: str, rep: Report, full: Outcome, note_text: str | None) -> None:
    """proofs.jsonl: a header line, then one line per request with an RFC 9162 inclusion proof
    of each of its entries against the signed tree (VERIFY.md 8). Every entry must be proven."""
    root = full.root
    if note_text:
        try:
            root = parse_note(note_text).root
        except Bad:
            pass
    proven: set[int] = set()
    problem = None
    with open(path, "rb") as fh:
        for number, line in _lines(fh, path):
            obj = loads(line)
            if number == 1:
                if not isinstance(obj, dict) or obj.get("format") != "hitl-tui-proofs/1" \
                        or obj.get("tree_size") != full.last_seq:
                    problem = "its header is not of hitl-tui-proofs/1 for the export's tree size"
                    break
                continue
            if not isinstance(obj, dict) or not isinstance(obj.get("entries"), list):
                problem = f"line {number} is not a request's proofs"
                break
            for item in obj["entries"]:
                seq = item.get("seq") if isinstance(item, dict) else None
                if not isinstance(seq, int) or not isinstance(item.get("path"), list):
                    problem = f"line {number}: a proof names no entry or has no path"
                    break
                leaf = full.leaves.get(seq)
                path_hashes = [unhex(h, 32) for h in item["path"]]
                if leaf is None or item.get("leaf_hash") != leaf.hex() \
                        or not verify_inclusion(seq - 1, full.last_seq, leaf, path_hashes, root):
                    problem = f"the inclusion proof of entry {seq} ({obj.get('workflow_id')}) does not verify"
                    break
                if full.request_of.get(seq) != obj.get("workflow_id"):
                    problem = f"entry {seq} is listed under {obj.get('workflow_id')}, not under its own request"
                    break
                proven.add(seq)
            if problem:
                break
    if problem is None and len(proven) != full.count:
        missing = min(set(full.leaves) - proven)
        problem = f"entry {missing} has no inclusion proof"
    rep.check("inclusion proofs", problem is None, problem or
              f"{len(proven):,} inclusion proofs, one per entry, verify against the signed root")


def check_keys_file(path: str, rep: Report, full: Outcome) -> None:
    """keys.json: every key the trail registers, as the trail registers it, and the registering
    entries themselves, equal to the export's (VERIFY.md 8)."""
    data = read_json_file(path)
    keys = data.get("keys") if isinstance(data, dict) else None
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(keys, list) or not isinstance(entries, list):
        rep.fail("keys.json", "it has no list of keys and entries")
        return
    trail = [{"username": k.username, "key_id": key_id(k.public), "public_key": "ed25519:" + k.public.hex(),
              "registered_seq": k.registered, "ended_seq": k.ended, "ended": k.how} for k in full.keys.keys]
    if keys != trail:
        listed = {json.dumps(k, sort_keys=True) for k in keys if isinstance(k, dict)}
        first = next((k for k in trail if json.dumps(k, sort_keys=True) not in listed), None)
        why = (f"key {first['key_id']} of {first['username']} (entry {first['registered_seq']}) is not listed as the "
               f"trail registers it" if first else "it lists keys the trail does not register")
        rep.fail("keys.json", why)
        return
    for obj in entries:
        seq = obj.get("seq") if isinstance(obj, dict) else None
        if not isinstance(seq, int) or full.chain.get(seq) is None or obj.get("hash") != full.chain[seq].hex():
            rep.fail("keys.json", f"its copy of entry {_short(seq, 12)} is not the export's entry")
            return
    rep.check("keys.json", True, f"{len(keys)} public keys, each as the trail registers and ends it; "
                                 f"{len(entries)} registering entries equal to the export's")


# --- test vectors (docs/vectors, VERIFY.md 9) --------------------------------------------------

def read_text(path: str) -> str:
    try:
        if os.path.getsize(path) > MAX_LINE:
            raise Bad(f"{path} is too large")
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()
    except OSError as exc:
        raise Bad(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise Bad(f"{path} is not UTF-8 text") from None


def read_json(path: str) -> Any:
    return loads(read_text(path))


def run_vectors(directory: str, rep: Report) -> None:
    def p(name: str) -> str:
        return os.path.join(directory, name)

    runners = (("canonical.json", _vec_canonical), ("entries.json", _vec_entries), ("tree.json", _vec_tree),
               ("checkpoint.json", _vec_checkpoint), ("signatures.json", _vec_signatures),
               ("privacy.json", _vec_privacy), ("receipts.json", _vec_receipts), ("broken.json", _vec_broken))
    found = False
    for name, run in runners:
        if not os.path.exists(p(name)):
            continue
        found = True
        try:
            problem, detail = run(read_json(p(name)), directory)
        except Bad as exc:
            problem, detail = str(exc), ""
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            problem, detail = f"malformed vector file ({type(exc).__name__}: {str(exc)[:60]})", ""
        rep.check(f"vectors {name}", problem is None, problem or detail)
    if not found:
        rep.fail("vectors", f"{directory} holds no vector files")


def _vec_canonical(data: Any, _dir: str) -> tuple[str | None, str]:
    for case in data["cases"]:
        got = canonical(case["value"])
        if got != unb64(case["canonical_b64"]):
            return f"canonical bytes of {case['name']!r} differ", ""
    return None, f"{len(data['cases'])} values written exactly"


def _vec_entries(data: Any, _dir: str) -> tuple[str | None, str]:
    prev = GENESIS
    for e in data["entries"]:
        body = canonical(e["record"])
        if body != unb64(e["canonical_b64"]):
            return f"entry {e['record'].get('seq')}: canonical bytes differ", ""
        if e["record"]["prev_hash"] != prev.hex():
            return f"entry {e['record'].get('seq')}: prev_hash is not the previous chain hash", ""
        prev = sha256(prev + body)
        if prev.hex() != e["chain_hash"]:
            return f"entry {e['record'].get('seq')}: chain hash differs", ""
        if leaf_hash(body).hex() != e["leaf_hash"]:
            return f"entry {e['record'].get('seq')}: leaf hash differs", ""
    keys = Keys()
    for e in data["entries"]:
        problem = keys.check(e["record"]["seq"], e["record"], data["database_id"])
        if problem:
            return problem, ""
    return None, (f"{len(data['entries'])} entries: canonical bytes, chain and leaf hashes, "
                  f"{keys.counts['signed'] + keys.counts['first_use']} signatures by the key history")


def _vec_tree(data: Any, _dir: str) -> tuple[str | None, str]:
    leaves = [unhex(h, 32) for h in data["leaf_hashes"]]
    roots = {int(k): unhex(v, 32) for k, v in data["roots"].items()}
    for size, root in roots.items():
        if tree_root(leaves[:size]) != root:
            return f"the root of the first {size} leaves differs", ""
    for pr in data["inclusion"]:
        path = [unhex(h, 32) for h in pr["path"]]
        if not verify_inclusion(pr["index"], pr["size"], leaves[pr["index"]], path, roots[pr["size"]]):
            return f"inclusion proof of leaf {pr['index']} in {pr['size']} does not verify", ""
    for pr in data["consistency"]:
        path = [unhex(h, 32) for h in pr["path"]]
        if not verify_consistency(pr["first"], pr["second"], roots[pr["first"]], roots[pr["second"]], path):
            return f"consistency proof {pr['first']} -> {pr['second']} does not verify", ""
    return None, (f"{len(roots)} roots, {len(data['inclusion'])} inclusion and {len(data['consistency'])} "
                  f"consistency proofs")


def _vec_checkpoint(data: Any, directory: str) -> tuple[str | None, str]:
    note_text = read_text(os.path.join(directory, data["note_file"]))
    vk = parse_vkey(read_text(os.path.join(directory, data["vkey_file"])))
    if note_key_hash(vk.name, vk.public).hex() != data["key_hash"]:
        return "the key hash differs", ""
    note = parse_note(note_text)
    if not note_signed_by(note, vk):
        return "the checkpoint note's signature does not verify", ""
    if (note.origin, note.size, b64(note.root)) != (data["origin"], data["size"], data["root"]):
        return "the note's origin, size or root differ from the vector", ""
    return None, f"{note.origin} at {note.size} entries, signed by {vk.name}+{vk.key_hash.hex()}"


def _vec_signatures(data: Any, _dir: str) -> tuple[str | None, str]:
    for k in data["keys"]:
        public = parse_public_key(k["public_key"])
        if key_id(public) != k["key_id"]:
            return f"key id of {k['public_key'][:20]}... differs", ""
    keys = {k["key_id"]: parse_public_key(k["public_key"]) for k in data["keys"]}
    for s in data["statements"]:
        msg = statement(s["database_id"], s["record"])
        if msg != unb64(s["statement_b64"]):
            return f"statement {s['name']!r}: its bytes differ", ""
        if not ed25519_ok(keys[s["key_id"]], unhex(s["signature"], 64), msg):
            return f"statement {s['name']!r}: the signature does not verify", ""
    return None, f"{len(data['keys'])} keys, {len(data['statements'])} signed statements"


def _personal_trail(entries: list[dict[str, Any]]) -> tuple[Personal, list[tuple[int, str]], str | None]:
    """An export's entries (record, personal, hash) through the checks of 10.3 and 10.5."""
    check, prev, chain_problem = Personal(whole=True), GENESIS, None
    for e in entries:
        rec = e["record"]
        prev = sha256(prev + canonical(rec))
        if prev.hex() != e["hash"] and chain_problem is None:
            chain_problem = f"entry {rec['seq']}: chain hash differs"
        check.feed(rec["seq"], rec, e.get("personal"))
    return check, check.finish(entries[-1]["record"]["seq"] if entries else 0), chain_problem


def _vec_receipts(data: Any, _dir: str) -> tuple[str | None, str]:
    """Each receipt case judged as --receipt judges it: genuine ones pass, the others fail for
    their stated reason (VERIFY.md 11)."""
    refused = 0
    for case in data["cases"]:
        trusted, database_id = receipt_key(case["trusted_key"])
        payload = case["payload"]
        digest = None if payload is None else sha256(canonical(payload)).hex()
        problem = receipt_problem(case["receipt"], trusted, digest, case["request_id"], database_id)
        if case["verdict"] == "genuine":
            if problem is not None:
                return f"receipt case {case['name']!r} is genuine, but was refused: {problem}", ""
        elif problem is None or case["refused_because"] not in problem:
            return (f"receipt case {case['name']!r} must be refused because {case['refused_because']!r}, but "
                    f"{'was accepted' if problem is None else 'was refused: ' + problem}"), ""
        else:
            refused += 1
    return None, f"{len(data['cases']) - refused} genuine receipts accepted, {refused} refused for their reason"


def _vec_privacy(data: Any, _dir: str) -> tuple[str | None, str]:
    prefix = data["prefix"].encode()
    if prefix != SEALED_PREFIX:
        return "the sealed-value prefix differs", ""
    for s in data["sealed"]:
        message = prefix + unhex(s["salt"], 16) + canonical(s["value"])
        if message != unb64(s["message_b64"]):
            return f"sealed value {s['path']} of entry {s['entry']}: its hashed bytes differ", ""
        if hashlib.sha256(message).hexdigest() != s["digest"]:
            return f"sealed value {s['path']} of entry {s['entry']}: its digest differs", ""
    shown = opened({"sealed": {"key": "0" * 32, "sealed": "0" * 64}},
                   {"0" * 64: {"erased": data["placeholder"]["erased_on"][:10], "by": 2}})["sealed"]
    if shown != data["placeholder"]["reads"]:
        return "an erased value does not read as the placeholder", ""
    check, problems, chain_problem = _personal_trail(data["trail"])
    if chain_problem or problems:
        return chain_problem or problems[0][1], ""
    got = {k: check.counts[k] for k in data["expect"]}
    if got != data["expect"]:
        return f"the trail's openings count {got}, not {data['expect']}", ""
    return None, (f"{len(data['sealed'])} sealed values; a trail of {len(data['trail'])} entries: "
                  f"{got['opened']} opened, {got['erased']} erased, {got['two_person']} erasure by two administrators")


def _vec_broken(data: Any, directory: str) -> tuple[str | None, str]:
    """Every broken case must FAIL, for the reason it gives."""
    for case in data["cases"]:
        if _broken_passes(case, directory):
            return f"broken case {case['name']!r} was accepted, but must fail: {case['must_fail_because']}", ""
    return None, f"{len(data['cases'])} broken cases, each rejected"


def _broken_passes(case: dict[str, Any], directory: str) -> bool:
    kind = case["kind"]
    try:
        if kind == "entry":
            body = canonical(case["record"])
            return sha256(unhex(case["record"]["prev_hash"], 32) + body).hex() == case["claimed_hash"]
        if kind == "inclusion":
            return verify_inclusion(case["index"], case["size"], unhex(case["leaf_hash"], 32),
                                    [unhex(h, 32) for h in case["path"]], unhex(case["root"], 32))
        if kind == "consistency":
            return verify_consistency(case["first"], case["second"], unhex(case["first_root"], 32),
                                      unhex(case["second_root"], 32), [unhex(h, 32) for h in case["path"]])
        if kind == "note":
            return note_signed_by(parse_note(case["note"]), parse_vkey(case["vkey"]))
        if kind == "statement":
            return ed25519_ok(parse_public_key(case["public_key"]), unhex(case["signature"], 64),
                              statement(case["database_id"], case["record"]))
        if kind == "chain":
            prev, last = GENESIS, 0
            for item in case["entries"]:
                rec = item["record"]
                body = canonical(rec)
                if rec["seq"] != last + 1 or unhex(rec["prev_hash"], 32) != prev \
                        or sha256(prev + body) != unhex(item["hash"], 32):
                    return last + 1 != case["first_bad_entry"]
                prev, last = unhex(item["hash"], 32), rec["seq"]
            return True
        if kind == "json":
            loads(case["text"])
            return True
        if kind == "personal":
            _check, problems, _ = _personal_trail(case["entries"])
            # it must fail at the entry the case names, not somewhere else by accident
            return not problems or not problems[0][1].startswith(f"entry {case['first_bad_entry']} ")
        if kind == "trail":
            keys = Keys()
            for i, rec in enumerate(case["records"], 1):
                problem = keys.check(i, rec, case["database_id"])
                if problem:  # it must fail at the forged entry, not somewhere else by accident
                    return not problem.startswith(f"entry {case['first_bad_entry']} ")
            return True
    except Bad:
        return False
    raise Bad(f"unknown broken-case kind {kind!r}")


# --- receipts (VERIFY.md 11) ---------------------------------------------------------------------

RECEIPT_FORMAT = "hitl-tui-receipt/1"
RECEIPT_DOMAIN = b"hitl-tui receipt v1\n"
RECEIPT_FIELDS = ("version", "database_id", "request_id", "payload_sha256", "policy_version", "outcome",
                  "decided_by", "decider_role", "decided_at", "audit_seq", "chain_head")
RECEIPT_OUTCOMES = ("approved", "rejected", "expired", "cancelled")


def _is_number(value: Any, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def receipt_problem(receipt: Any, trusted: bytes, payload_sha256: str | None = None, request_id: str | None = None,
                    database_id: str | None = None) -> str | None:
    """None when `receipt` is genuine (VERIFY.md 11): well formed, signed by the `trusted` key
    over exactly what it states, and (each when given) from the database `database_id`, for the
    request `request_id` and for the payload whose sha256 is `payload_sha256`; otherwise what is
    wrong. A genuine receipt of another request verifies too: only these bind it to yours."""
    if not isinstance(receipt, dict) or receipt.get("version") != RECEIPT_FORMAT:
        return f"it is not a {RECEIPT_FORMAT} receipt"
    members = set(receipt)
    if members != {*RECEIPT_FIELDS, "signature"}:
        odd = sorted(members ^ {*RECEIPT_FIELDS, "signature"})
        return f"it has the wrong members ({', '.join(odd)[:80]})"
    sig = receipt["signature"]
    if not (isinstance(sig, dict) and set(sig) == {"alg", "public_key", "value"} and sig["alg"] == "ed25519"):
        return "its signature is malformed"
    try:
        public, value = unhex(sig["public_key"], 32), unhex(sig["value"], 64)
        unhex(receipt["payload_sha256"], 32)
        unhex(receipt["chain_head"], 32)
    except Bad as exc:
        return f"it is malformed ({exc})"
    if not all(isinstance(receipt[k], str) for k in ("database_id", "request_id", "decided_by", "decided_at")):
        return "its database_id, request_id, decided_by and decided_at must be strings"
    if receipt["outcome"] not in RECEIPT_OUTCOMES:
        return f"its outcome {_short(receipt['outcome'], 30)} is not a final outcome"
    if not _is_number(receipt["audit_seq"], 1) or not (receipt["policy_version"] is None
                                                       or _is_number(receipt["policy_version"], 0)):
        return "its audit_seq or policy_version is not a number"
    if not (receipt["decider_role"] is None or isinstance(receipt["decider_role"], str)):
        return "its decider_role is not a string"
    if public != trusted:
        return f"it is signed by key {key_id(public)}, not by the trusted key {key_id(trusted)}"
    statement = {k: v for k, v in receipt.items() if k != "signature"}
    if not ed25519_ok(public, value, RECEIPT_DOMAIN + canonical(statement)):
        return "its signature does not verify: it was altered or forged"
    if database_id is not None and receipt["database_id"] != database_id:
        return (f"it is from database {_short(receipt['database_id'], 40)}, not {_short(database_id, 40)}: a receipt "
                f"of another database")
    if request_id is not None and receipt["request_id"] != request_id:
        return (f"it is for request {_short(receipt['request_id'], 40)}, not {_short(request_id, 40)}: a receipt of "
                f"another request")
    if payload_sha256 is not None and receipt["payload_sha256"] != payload_sha256:
        return (f"it is for another payload (sha256 {receipt['payload_sha256'][:16]}..., the payload given hashes "
                f"to {payload_sha256[:16]}...)")
    return None


def receipt_key(text: str) -> tuple[bytes, str | None]:
    """The trusted key for a receipt: a verifier key (NAME+HASH+BASE64), whose name is the
    checkpoint origin and so names the database (VERIFY.md 5), or ed25519:HEX, which names none."""
    value = text.strip()
    if value.startswith("ed25519:"):
        return parse_public_key(value), None
    vk = parse_vkey(value)
    origin = vk.name[len(ORIGIN_PREFIX):] if vk.name.startswith(ORIGIN_PREFIX) else ""
    return vk.public, origin or None


def check_receipt(path: str, rep: Report, key_text: str | None, payload_path: str | None,
                  request_id: str | None = None) -> None:
    if key_text is None:
        raise Bad("a receipt is checked against the key you trust: give --vkey (a file or the key itself)")
    receipt = read_json_file(path)
    digest = None
    if payload_path is not None:
        payload = read_json_file(payload_path)
        if not isinstance(payload, dict):
            raise Bad(f"{payload_path} is not a JSON object, so it is no payload")
        digest = sha256(canonical(payload)).hex()
    trusted, database_id = receipt_key(key_text)
    problem = receipt_problem(receipt, trusted, digest, request_id, database_id)
    if problem is None:
        rep.check("receipt", True, f"{receipt['request_id']} {receipt['outcome']} by {receipt['decided_by']}, entry "
                                   f"{receipt['audit_seq']}, payload sha256 {receipt['payload_sha256'][:16]}..."
                                   + (" (the payload given)" if digest else ""))
    else:
        rep.fail("receipt", problem)


# --- command line ------------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, never a usage dump
        sys.stderr.write(f"hitl_verify: {message} (see --help)\n")
        raise SystemExit(EXIT_USAGE)


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="hitl_verify.py", description=__doc__.split("\n\n")[0],
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("export", nargs="?", help="a JSONL/CSV export, an HTML/Markdown report, or a bundle directory")
    parser.add_argument("--checkpoint", metavar="NOTE", help="a signed checkpoint note (C2SP tlog-checkpoint) to check the tree against")
    parser.add_argument("--vkey", metavar="VKEY", help="the verifier key you trust: a file holding it, or the key string itself")
    parser.add_argument("--state", metavar="STATE.json", help="the tables' state, to compare with a replay of the trail")
    parser.add_argument("--keys", metavar="KEYS.json", help="the bundle's keys.json: the key history, to check the "
                                                            "signatures of a filtered export or a report")
    parser.add_argument("--vectors", metavar="DIR", help="run the test vectors in DIR (docs/vectors)")
    parser.add_argument("--receipt", metavar="RECEIPT.json", help="a signed receipt (`hitl-tui receipt`), checked "
                                                                  "against --vkey (VERIFY.md 11)")
    parser.add_argument("--payload", metavar="PAYLOAD.json", help="with --receipt: the payload it must be for")
    parser.add_argument("--request", metavar="WF-ID", help="with --receipt: the request it must be for")
    args = parser.parse_args(argv)
    if not args.export and not args.vectors and not args.receipt:
        parser.error("give an EXPORT to check, --receipt FILE, or --vectors DIR")
    if (args.payload or args.request) and not args.receipt:
        parser.error("--payload and --request go with --receipt")
    rep = Report(lambda line: print(line, flush=True))
    try:
        if Ed25519PublicKey is None:
            raise Bad("the Python package `cryptography` is needed for Ed25519 (pip install cryptography)")
        _run(args, rep)
    except Bad as exc:
        rep.fail("input", str(exc))
    except (OSError, MemoryError, RecursionError, UnicodeError, csv.Error) as exc:
        rep.fail("input", f"cannot read the input ({type(exc).__name__}: {str(exc)[:80]})")
    except Exception as exc:  # a hostile file must never produce a traceback
        rep.fail("input", f"the input is not what it claims to be ({type(exc).__name__}: {str(exc)[:80]})")
    if rep.ok:
        print("verified")
        return EXIT_OK
    print(f"FAILED: {_printable(rep.first_failure or '')}")
    return EXIT_FAILED


def _run(args: argparse.Namespace, rep: Report) -> None:
    note_text = read_text(args.checkpoint) if args.checkpoint else None
    vkey = None
    key_text = None if not args.vkey else (read_text(args.vkey) if os.path.exists(args.vkey) else args.vkey)
    if args.receipt:
        check_receipt(args.receipt, rep, key_text, args.payload, args.request)
        if not args.export and not args.vectors:
            return
    if key_text is not None:
        vkey = parse_vkey(key_text)
    state = read_json_file(args.state) if args.state else None
    if args.export:
        if os.path.isdir(args.export):
            check_bundle(args.export, rep, note_text, vkey, state)
        else:
            keys = load_key_entries(args.keys) if args.keys else None
            check_export(open_export(args.export), rep, note_text=note_text, vkey=vkey, state=state, key_entries=keys)
    if args.vectors:
        run_vectors(args.vectors, rep)


def read_json_file(path: str) -> Any:
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise Bad(f"cannot read {path}: {exc.strerror or exc}") from None
    if size > MAX_FILE_TEXT:
        raise Bad(f"{path} is too large")
    with open(path, "rb") as fh:
        return loads(fh.read())


if __name__ == "__main__":
    sys.exit(main())
