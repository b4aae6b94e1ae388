"""The tour's audit export: a real HTML report written by core.reports, the same code as
`hitl-tui export-audit --format html -o FILE`, into the demo's own directory (so it goes away
with the demo), then read back the way an auditor's `verify-audit --offline` would."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

REPORT_NAME = "audit-report.html"


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    size: int
    entries: int
    ok: bool
    banner: str
    #: the report's section headings, in order (what an auditor finds inside)
    sections: tuple[str, ...] = ()
    fingerprint: str | None = None
    #: what reading the file back says (verify-audit --offline): check name -> passed
    checks: dict[str, bool] = field(default_factory=dict)


def export_report(session, username: str) -> ExportSummary:
    """Export the whole audit log as `username` (who needs an oversight role or admin rights,
    like anyone running export-audit; the engine refuses otherwise)."""
    from ..core.reports import ExportFilter, export_audit, inspect_file

    path = session.directory / REPORT_NAME
    tmp = path.with_suffix(".tmp")
    # 0600 like the CLI's exports: the database is encrypted at rest, its export is not
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:
        result = export_audit(session.service, "html", fh, ExportFilter(), generated_by=username)
    os.replace(tmp, path)
    text = path.read_text("utf-8")
    sections = tuple(re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<h2[^>]*>(.*?)</h2>", text))
    report = inspect_file(path)
    cp = result.integrity.checkpoint
    return ExportSummary(path, path.stat().st_size, result.trailer["entries_exported"], result.ok,
                         result.integrity.banner, sections, cp.fingerprint if cp else None,
                         {c.name: c.ok for c in report.checks})
