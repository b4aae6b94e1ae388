"""The integrity evidence every export carries, and how it is gathered.

Order matters. The chain is verified first, from its own snapshot; only an intact chain is
signed (a signature over a tampered chain would vouch for the tampering). The checkpoint is then
taken at the current head, and any entries appended between the verification and the signature
are re-hashed too, so the checkpoint covers nothing that was not checked. Exported entries are
read with `stop = checkpoint.size`, so the file matches the signed statement exactly.

A broken chain is never hidden: the export is still written (an auditor needs to see what is
there), with no new signature, the failure in its header/banner, and a non-zero exit status.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

from ..audit import ChainWalker, iso, utc_now
from ..checkpoints import checkpoint_to_json
from ..errors import CheckpointError
from ..models import Checkpoint, VerifyResult
from .filters import ExportFilter

if TYPE_CHECKING:
    from ..service import WorkflowService

EXPORT_FORMAT = "hitl-tui-audit-export/1"
HEADER_TYPE = "hitl_export_header"
TRAILER_TYPE = "hitl_export_trailer"
ENTRY_TYPE = "audit_entry"

Progress = Callable[[int, int], None]


def as_bytes(value: Any) -> bytes:
    """A stored body or hash as bytes. The engine writes BLOBs; someone editing the database
    by hand may leave TEXT (SQL's replace() returns TEXT), which must not crash an export."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    return b"" if value is None else bytes(value)


@dataclass(frozen=True)
class Integrity:
    verification: VerifyResult
    checkpoint: Checkpoint | None
    #: why there is no checkpoint (empty when there is one)
    note: str
    #: the last sequence number the export may include (the checkpoint's size when signed)
    stop: int | None

    @property
    def ok(self) -> bool:
        return self.verification.ok and self.checkpoint is not None

    @property
    def banner(self) -> str:
        if self.verification.ok:
            return f"AUDIT CHAIN INTACT: {self.verification.summary()}"
        return f"WARNING: {self.verification.summary()}. Do not rely on this log without investigation."


def gather_integrity(service: "WorkflowService", progress: Progress | None = None) -> Integrity:
    """Verify, then (only if intact) sign a checkpoint and check the entries in between."""
    result = service.verify_audit(progress=progress)
    if not result.ok:
        return Integrity(result, None, "no checkpoint was signed: the chain failed verification", None)
    cp = service.checkpoint()  # raises CheckpointError when the signing key is unusable
    if cp is None:  # only a seal "if the chain grew" may sign nothing; this one always signs
        raise CheckpointError("No checkpoint could be signed for the export; nothing was exported.")
    walker = ChainWalker()
    walker.prev, walker.count = bytes.fromhex(result.head_hash), result.entries
    if cp.size > result.entries:
        for batch in service.iter_audit_rows(start=result.entries + 1, stop=cp.size):
            if not walker.feed([(seq, as_bytes(body), as_bytes(h)) for seq, body, h in batch]):
                break
    if walker.bad_seq is None and (walker.count != cp.size or walker.prev.hex() != cp.head_hash):
        walker.fail(walker.count + 1, "entries changed between verification and signing")
    if walker.bad_seq is not None:
        broken = result.model_copy(update={"ok": False, "first_bad_seq": walker.bad_seq, "problem": walker.problem})
        return Integrity(broken, None, "the chain changed while it was being signed", None)
    verified = result.model_copy(update={"entries": cp.size, "head_hash": cp.head_hash})
    return Integrity(verified, cp, "", cp.size)


def build_header(service: "WorkflowService", integrity: Integrity, filt: ExportFilter, fmt: str, generated_by: str,
                 generated_at: datetime | None = None) -> dict[str, Any]:
    """Everything a reader needs to judge the export, written before any entry."""
    v = integrity.verification
    return {
        "record_type": HEADER_TYPE,
        "format": EXPORT_FORMAT,
        "export_format": fmt,
        "generated_at": iso(generated_at or utc_now()),
        "generated_by": generated_by,
        "database_id": service.database_id,
        "database_path": str(service.path),
        "policy_source": service.policy.source,
        "filters": filt.to_json(),
        "chain_status": "intact" if v.ok else "BROKEN",
        "banner": integrity.banner,
        "verification": v.model_dump(mode="json"),
        "checkpoint": checkpoint_to_json(integrity.checkpoint) if integrity.checkpoint else None,
        "checkpoint_note": integrity.note,
        "stop_seq": integrity.stop,
        "how_to_verify": "hitl-tui verify-audit --checkpoint THIS_FILE  (add --offline without the database)",
    }


class ExportDigest:
    """Counts the exported entries and hashes their chain hashes in order: two exports of the
    same selection have the same digest, and verification recomputes it from the database."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self.count = 0
        self.first_seq: int | None = None
        self.last_seq: int | None = None

    def add(self, seq: int, digest: bytes) -> None:
        self._sha.update(digest)
        self.count += 1
        if self.first_seq is None:
            self.first_seq = seq
        self.last_seq = seq

    def entries_hex(self) -> str:
        return self._sha.hexdigest()

    def trailer(self, integrity: Integrity) -> dict[str, Any]:
        return {
            "record_type": TRAILER_TYPE,
            "format": EXPORT_FORMAT,
            "entries_exported": self.count,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "entries_sha256": self.entries_hex(),
            "chain_status": "intact" if integrity.verification.ok else "BROKEN",
        }


def digest_selection(service: "WorkflowService", filt: ExportFilter, stop: int | None) -> ExportDigest:
    """The digest of what an export with this filter and stop contains, read from the database."""
    digest = ExportDigest()
    for batch in service.iter_audit_rows(stop=stop, **filt.query_args()):
        for seq, _body, h in batch:
            digest.add(seq, as_bytes(h))
    return digest
