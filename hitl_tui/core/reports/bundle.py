"""`export-audit --bundle DIR`: everything an auditor needs to check the trail offline.

One verification and ONE signed checkpoint serve every file, so the JSONL and CSV exports, the
proofs, the keys and the tables' state all describe the same entries 1..size. The directory is
built under a temporary name beside DIR and renamed into place only when complete: an
interrupted bundle leaves nothing under DIR. The files (docs/VERIFY.md section 8):

    export.jsonl, export.csv      the whole trail up to the checkpoint, with its evidence
    checkpoint.note, .vkey        the C2SP signed note and its verifier key
    proofs.jsonl                  an RFC 9162 inclusion proof of every entry, grouped by request
    keys.json                     every person's public keys, as the trail registers them
    state.json                    the requests, approvals and users tables, for the replay check
    VERIFY.md, vectors/, hitl_verify.py, README.txt
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Callable

from ..checkpoints import ORIGIN_PREFIX, verifier_key
from ..errors import BundleRefused
from ..merkle import inclusion_proof, leaf_hash, node_hash, verify_inclusion
from ..models import Checkpoint
from ..signatures import KEY_ACTIONS, KeyHistory
from .entries import jsonl_line
from .evidence import Integrity, as_bytes, build_header, gather_integrity
from .export import EXPORT_BATCH, ExportJob, check_may_export
from .filters import ExportFilter
from .tabular import write_csv, write_jsonl

if TYPE_CHECKING:
    from ..service import WorkflowService

#: where the auditor's kit lives: in a wheel (pyproject's force-include), else in the source tree
_PACKAGE = Path(__file__).resolve().parent.parent.parent
_KIT_DIRS = (_PACKAGE.parent, _PACKAGE / "auditor_kit")
_KIT = {"VERIFY.md": ("docs/VERIFY.md", "VERIFY.md"), "vectors": ("docs/vectors", "vectors"),
        "hitl_verify.py": ("verifier/hitl_verify.py", "hitl_verify.py")}

README = """\
hitl-tui audit bundle of database {database_id}: {size:,} entries, checkpoint signed {signed_at}.
Check it offline (Python 3.11+, `pip install cryptography`):  python hitl_verify.py .  --vkey '{vkey}'
Compare that key with the one the database's owner gave you separately (this folder cannot vouch for itself); VERIFY.md specifies every check.
"""


@dataclass(frozen=True)
class BundleResult:
    directory: Path
    integrity: Integrity
    entries: int
    files: dict[str, int]  # name -> bytes

    @property
    def ok(self) -> bool:
        return self.integrity.ok


def kit_sources() -> dict[str, Path]:
    """VERIFY.md, the vectors and the verifier as this installation holds them."""
    for base in _KIT_DIRS:
        found = {name: base / (src if base == _PACKAGE.parent else inside) for name, (src, inside) in _KIT.items()}
        if all(p.exists() for p in found.values()):
            return found
    raise BundleRefused("This installation of hitl-tui lacks the auditor's kit (docs/VERIFY.md, docs/vectors, "
                        "verifier/hitl_verify.py); reinstall it from a complete source tree.")


def check_target(directory: Path) -> None:
    """Refuse, before anything is verified or signed, a DIR that exists and is not empty."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        what = "is not a directory" if not directory.is_dir() else "is not empty"
        raise BundleRefused(f"{directory} {what}; give a new or empty directory for the bundle.")
    if not directory.parent.is_dir():
        raise BundleRefused(f"{directory.parent} does not exist; create it first or choose another place.")


def write_bundle(service: "WorkflowService", directory: Path, *, generated_by: str,
                 progress: Callable[[int, int], None] | None = None) -> BundleResult:
    directory = Path(directory)
    check_target(directory)
    check_may_export(service, generated_by)
    kit = kit_sources()
    integrity = gather_integrity(service, progress)
    tmp = directory.with_name(f".{directory.name}.{secrets.token_hex(4)}.tmp")
    os.mkdir(tmp, 0o700)  # the export is not encrypted: only its owner reads it until handed over
    try:
        sizes, count = _fill(service, tmp, integrity, generated_by, kit)
        _sync_tree(tmp)
        os.rename(tmp, directory)  # atomic; replaces an empty DIR, fails on one filled meanwhile
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return BundleResult(directory, integrity, count, sizes)


def _fill(service: "WorkflowService", tmp: Path, integrity: Integrity, generated_by: str,
          kit: dict[str, Path]) -> tuple[dict[str, int], int]:
    """Every file of the bundle; returns (name -> size, entries exported)."""
    filt = ExportFilter()
    count = 0
    for name, fmt, writer in (("export.jsonl", "jsonl", write_jsonl), ("export.csv", "csv", write_csv)):
        header = build_header(service, integrity, filt, fmt, generated_by)
        with _new(tmp / name) as fh:
            count = writer(ExportJob(service, fh, filt, integrity, header))["entries_exported"]
    cp = integrity.checkpoint
    if cp is not None and cp.note is not None:
        origin = ORIGIN_PREFIX + cp.database_id
        _write_text(tmp / "checkpoint.note", cp.note)
        vkey = verifier_key(origin, cp.public_key)
        _write_text(tmp / "checkpoint.vkey", vkey + "\n")
        _write_proofs_and_keys(service, tmp, cp)
        _write_text(tmp / "README.txt", README.format(database_id=cp.database_id, size=cp.size,
                                                      signed_at=cp.created_at.isoformat(timespec="seconds"),
                                                      vkey=vkey))
    else:
        _write_text(tmp / "README.txt", f"hitl-tui audit bundle: {integrity.banner}\n"
                    "No checkpoint was signed, so there is no tree root, proof or key list to check.\n"
                    "python hitl_verify.py .  reports what is wrong; VERIFY.md says what is checked.\n")
    if integrity.ok:  # a broken chain has no signed size for the tables to match
        with _new(tmp / "state.json") as fh:
            fh.write(json.dumps(_state(service, integrity), ensure_ascii=False, indent=1).encode("utf-8") + b"\n")
    shutil.copyfile(kit["VERIFY.md"], tmp / "VERIFY.md")
    shutil.copyfile(kit["hitl_verify.py"], tmp / "hitl_verify.py")
    shutil.copytree(kit["vectors"], tmp / "vectors", ignore=shutil.ignore_patterns("__pycache__"))
    return {p.relative_to(tmp).as_posix(): p.stat().st_size for p in sorted(tmp.rglob("*")) if p.is_file()}, count


class _Levels:
    """Every perfect subtree of the first `size` leaves, level by level: the `perfect` callback
    of merkle.py for proving every entry at once (about 2 hashes per entry in memory)."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.levels = [leaves]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])

    def perfect(self, level: int, index: int) -> bytes:
        return self.levels[level][index]


def _write_proofs_and_keys(service: "WorkflowService", tmp: Path, cp: Checkpoint) -> None:
    """proofs.jsonl and keys.json from one pass over the signed entries."""
    leaves: list[bytes] = []
    by_request: dict[str | None, list[int]] = {}
    history = KeyHistory()
    key_entries: list[dict[str, Any]] = []
    for batch in service.iter_audit_rows(stop=cp.size, batch=EXPORT_BATCH):
        for seq, body, digest in batch:
            body = as_bytes(body)
            leaves.append(leaf_hash(body))
            try:
                rec = json.loads(body)
            except ValueError:
                rec = {}
            rec = rec if isinstance(rec, dict) else {}
            wid = rec.get("workflow_id")
            by_request.setdefault(wid if isinstance(wid, str) else None, []).append(seq)
            if rec.get("action") in KEY_ACTIONS:
                history.apply(seq, rec)
                key_entries.append(json.loads(jsonl_line(seq, body, as_bytes(digest))))
    if len(leaves) != cp.size:
        raise BundleRefused(f"The database holds {len(leaves):,} of the {cp.size:,} entries just signed; "
                            "run `hitl-tui verify-audit`.")
    levels = _Levels(leaves)
    root = bytes.fromhex(cp.root_hash or "")
    with _new(tmp / "proofs.jsonl") as fh:
        fh.write(_line({"format": "hitl-tui-proofs/1", "tree_size": cp.size, "root_hash": cp.root_hash,
                        "hash": "sha256", "leaf": "sha256(0x00 || entry bytes)"}))
        order = sorted(by_request.items(), key=lambda kv: (kv[0] is None, kv[1][0]))
        for wid, seqs in order:
            items = []
            for seq in seqs:
                path = inclusion_proof(seq - 1, cp.size, levels.perfect)
                if not verify_inclusion(seq - 1, cp.size, leaves[seq - 1], path, root):
                    raise BundleRefused(f"Entry {seq} does not prove into the signed tree: the entries changed "
                                        "while the bundle was written; run `hitl-tui verify-audit`.")
                items.append({"seq": seq, "leaf_hash": leaves[seq - 1].hex(), "path": [h.hex() for h in path]})
            fh.write(_line({"workflow_id": wid, "entries": items}))
    for obj in key_entries:  # each registering entry proven in the signed tree, for filtered exports
        obj["proof"] = [h.hex() for h in inclusion_proof(obj["seq"] - 1, cp.size, levels.perfect)]
    keys = [{"username": p.username, "key_id": p.key_id, "public_key": "ed25519:" + p.public_key.hex(),
             "registered_seq": p.since, "ended_seq": p.until, "ended": p.ended} for p in history.periods]
    data = {"format": "hitl-tui-keys/1", "database_id": cp.database_id, "tree_size": cp.size, "keys": keys,
            "entries": key_entries}
    _write_text(tmp / "keys.json", json.dumps(data, ensure_ascii=False, indent=1) + "\n")


def _state(service: "WorkflowService", integrity: Integrity) -> dict[str, Any]:
    """The tables as the database holds them, for the verifier's replay (VERIFY.md 7). They must
    be read at the signed size: entries appended since would be in the tables, not the export."""
    state = service.table_state()
    size = integrity.stop or integrity.verification.entries
    if state["audit_size"] != size:
        raise BundleRefused(f"The trail grew from {size:,} to {state['audit_size']:,} entries while the bundle was "
                            "written, so its tables would not match its export; run the command again.")
    return {"format": "hitl-tui-state/1", "database_id": service.database_id, **state}


def _line(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def _new(path: Path) -> BinaryIO:
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def _write_text(path: Path, text: str) -> None:
    with _new(path) as fh:
        fh.write(text.encode("utf-8"))


def _sync_tree(root: Path) -> None:
    for p in root.rglob("*"):
        if p.is_file():
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())
    fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
