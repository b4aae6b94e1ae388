"""export-audit: integrity first, then one of four formats, streamed to a binary output."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Iterator, TypeVar

from .. import rbac
from ..opened import OpenedRow, iter_audit_rows_opened
from .evidence import Integrity, Progress, build_header, gather_integrity
from .filters import ExportFilter

if TYPE_CHECKING:
    from ..service import WorkflowService

FORMATS = ("jsonl", "csv", "html", "md")
DEFAULT_TIMELINES = 200
#: rows per read: small enough that a batch of large entries stays a few MB, large enough that
#: the per-query cost disappears (the default 20,000 rows of ~800 bytes hold ~20 MB at once)
EXPORT_BATCH = 2_000
#: a batch's row: (seq, body, hash, ...): only its sequence number is read for the progress
B = TypeVar("B", bound=tuple[Any, ...])


@dataclass
class ExportJob:
    service: "WorkflowService"
    out: BinaryIO
    filter: ExportFilter
    integrity: Integrity
    header: dict[str, Any]
    max_timelines: int = DEFAULT_TIMELINES
    #: called after each batch of the main pass with (last sequence number, last one to export)
    progress: Progress | None = None

    def rows(self, filt: ExportFilter | None = None) -> Iterator[list[tuple[int, bytes, bytes]]]:
        """The selected entries, never past what was verified (and signed)."""
        # stop is None only for a broken chain: then show everything there is, damage included
        batches = self.service.iter_audit_rows(stop=self.integrity.stop, batch=EXPORT_BATCH,
                                               **(filt or self.filter).query_args())
        if filt is not None or self.progress is None:  # a report's second, narrowed pass is short
            return batches
        return self._reporting(batches)

    def opened_rows(self, filt: ExportFilter | None = None) -> Iterator[list[OpenedRow]]:
        """rows() with each entry's openings (VERIFY.md 10), for the writers that show or carry
        personal values: JSONL, CSV and the reports' timelines."""
        batches = iter_audit_rows_opened(self.service, stop=self.integrity.stop, batch=EXPORT_BATCH,
                                         **(filt or self.filter).query_args())
        if filt is not None or self.progress is None:
            return batches
        return self._reporting(batches)

    def _reporting(self, batches: Iterator[list[B]]) -> Iterator[list[B]]:
        # entries come in sequence order, so the last one read says how far through the log it is
        total = self.integrity.stop or self.integrity.verification.entries
        progress = self.progress
        assert progress is not None  # rows() reports only with a progress callback
        for batch in batches:
            yield batch
            if batch:
                progress(min(batch[-1][0], total), total)


@dataclass(frozen=True)
class ExportResult:
    integrity: Integrity
    header: dict[str, Any]
    trailer: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.integrity.ok


def check_may_export(service: "WorkflowService", username: str) -> None:
    """May `username` export the audit log? The rule is rbac.check_export; this looks them up
    (UnknownUser for someone not in the directory)."""
    rbac.check_export(service.policy, service.get_user(username))


def _writer(fmt: str) -> Callable[[ExportJob], dict[str, Any]]:
    if fmt == "jsonl":
        from .tabular import write_jsonl
        return write_jsonl
    if fmt == "csv":
        from .tabular import write_csv
        return write_csv
    if fmt == "html":
        from .render import write_html
        return write_html
    if fmt == "md":
        from .render import write_markdown
        return write_markdown
    from ..errors import ValidationFailed
    raise ValidationFailed(f"Unknown export format {fmt!r}; choose one of: {', '.join(FORMATS)}.", "format")


def export_audit(service: "WorkflowService", fmt: str, out: BinaryIO, filt: ExportFilter, *, generated_by: str,
                 max_timelines: int = DEFAULT_TIMELINES, progress: Progress | None = None,
                 write_progress: Progress | None = None) -> ExportResult:
    """Verify, sign, then stream the export. Everything that can refuse (format, permissions,
    signing key, time zone) refuses before the first byte is written. `progress` follows the
    verification, `write_progress` the writing; either may raise to stop the export."""
    writer = _writer(fmt)
    check_may_export(service, generated_by)
    if fmt in ("html", "md"):
        from .flags import session_zone

        session_zone(service)  # a bad time zone setting refuses now, not half-way through the report
    integrity = gather_integrity(service, progress)
    header = build_header(service, integrity, filt, fmt, generated_by)
    job = ExportJob(service, out, filt, integrity, header, max(0, int(max_timelines)), write_progress)
    trailer = writer(job)
    return ExportResult(integrity, header, trailer)


T = TypeVar("T")


def export_to_file(path: Path, write: Callable[[BinaryIO], T]) -> T:
    """Write through a temporary file beside the target, renamed into place only when complete:
    a failed or interrupted export (an exception from `write`, a progress callback that stops it)
    never leaves a half file under the real name, nor the temporary one. The file is 0600: the
    database is encrypted at rest, its export is not."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as fh:
            result = write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return result
