"""Checking an export or checkpoint file against the live database.

The chain must verify and agree with the file's signed checkpoint (a consistent rewrite of the
whole chain by someone holding the database key is exposed here); the signing key must be one
this database has signed with; and the export's selection, re-run on the database up to the
signed size, must give the same entry count and digest, so the file holds exactly the
database's entries. A report's embedded timeline entries must be in the database unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..models import VerifyResult
from .evidence import Progress, as_bytes, digest_selection
from .filters import ExportFilter
from .verify import MAX_LISTED, FileReport

if TYPE_CHECKING:
    from ..service import WorkflowService


def check_against_database(service: "WorkflowService", rep: FileReport,
                           progress: Progress | None = None) -> VerifyResult:
    """Run the database-side checks for one file; returns the VerifyResult of the live chain."""
    cps = [rep.checkpoint] if rep.checkpoint else []
    result = service.verify_audit(checkpoints=cps, progress=progress)
    if rep.header is not None and rep.header.get("database_id") != service.database_id:
        rep.add("same database", False, f"the export is of database {rep.header.get('database_id')}, "
                                        f"this is {service.database_id}")
        return result
    if rep.checkpoint is not None:
        rep.add("database matches the checkpoint", result.ok and result.external_checkpoints_checked >= 1,
                f"the live chain contains the {rep.checkpoint.size:,} signed entries unchanged" if result.ok
                else result.summary())
        known = {c.public_key for c in service.stored_checkpoints()}
        rep.add("signing key", rep.checkpoint.public_key in known,
                f"{rep.checkpoint.fingerprint} has signed checkpoints of this database" if rep.checkpoint.public_key in known
                else f"{rep.checkpoint.fingerprint} never signed a checkpoint of this database")
    if rep.header is not None and rep.trailer is not None:
        _check_selection(service, rep)
    return result


def _check_selection(service: "WorkflowService", rep: FileReport) -> None:
    header, trailer = rep.header or {}, rep.trailer or {}
    filt = ExportFilter.from_json(header.get("filters"))
    stop = header.get("stop_seq") or trailer.get("last_seq")
    if not stop:
        return
    digest = digest_selection(service, filt, stop)
    same = (digest.count, digest.entries_hex()) == (trailer.get("entries_exported"), trailer.get("entries_sha256"))
    rep.add("export matches the database", same,
            f"the database holds exactly these {digest.count:,} entries for the export's filters" if same else
            f"re-running the export's selection gives {digest.count:,} entries with a different digest: the export "
            f"or the database was changed")
    if rep.embedded:
        wanted = {}
        by_wid = service.iter_audit_rows(stop=stop, **{**filt.query_args(),
                                                         "workflow_ids": tuple(sorted(rep.embedded_wids))})
        for batch in by_wid:
            wanted.update({seq: as_bytes(h).hex() for seq, _b, h in batch})
        wrong = sorted(s for s, h in rep.embedded.items() if wanted.get(s) != h)
        rep.add("report entries match the database", not wrong,
                f"all {len(rep.embedded):,} timeline entries are in the database unchanged" if not wrong else
                f"entries {', '.join(map(str, wrong[:MAX_LISTED]))} differ from the database")
