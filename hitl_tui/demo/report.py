"""The tour's audit export: a real HTML report written by core.reports, the same code as
`hitl-tui export-audit --format html -o FILE`, into the demo's own directory (so it goes away
with the demo), then read back the way an auditor's `verify-audit --offline` would. Over SSH
there is no browser to open it in, so `keep_copy` saves it where the person chooses, outside
the demo's directory, to outlive the demo."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import ValidationFailed

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
    from ..core.reports import ExportFilter, export_audit, export_to_file, inspect_file

    path = session.directory / REPORT_NAME
    # temp file then rename, 0600, like the CLI's exports
    result = export_to_file(path, lambda fh: export_audit(session.service, "html", fh, ExportFilter(),
                                                          generated_by=username))
    text = path.read_text("utf-8")
    sections = tuple(re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<h2[^>]*>(.*?)</h2>", text))
    report = inspect_file(path)
    cp = result.integrity.checkpoint
    return ExportSummary(path, path.stat().st_size, result.trailer["entries_exported"], result.ok,
                         result.integrity.banner, sections, cp.fingerprint if cp else None,
                         {c.name: c.ok for c in report.checks})


def keep_copy(report: Path, target: Path, demo_directory: Path) -> Path:
    """Copy the report to `target` (checked by the caller: screens/export_dialog.check_target),
    written whole or not at all and 0600, like an export. A target inside the demo's directory
    would be deleted with it, so it is refused."""
    from ..core.reports import export_to_file

    target = Path(os.path.abspath(target))
    if target.resolve().is_relative_to(Path(demo_directory).resolve()):
        raise ValidationFailed(f"{target} is inside the demo's folder, which is deleted when you quit: "
                               f"choose another folder.", "path")
    with open(report, "rb") as src:
        export_to_file(target, lambda fh: shutil.copyfileobj(src, fh))
    return target
