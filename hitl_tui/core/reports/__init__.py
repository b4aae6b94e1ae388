"""export-audit: JSONL, CSV, HTML and Markdown exports of the audit log, each carrying its own
integrity evidence, and the checks that read an export back.

Modules: filters (which entries), evidence (verify, sign, header/trailer, digest), entries (one
entry as a line / in words), openings (sealed personal values as they read, and their checks),
tabular (JSONL, CSV), stats + report + layout + render (the
auditor's HTML/Markdown report), flags (compliance checks per request), verify (reading an
export back) and crosscheck (an export against the live database).
Core code: no textual or rich here.
"""

from .evidence import EXPORT_FORMAT, Integrity, gather_integrity
from .export import DEFAULT_TIMELINES, FORMATS, ExportResult, check_may_export, export_audit, export_to_file
from .filters import ExportFilter, parse_when
from .crosscheck import check_against_database
from .verify import Check, FileReport, inspect_file

__all__ = [
    "DEFAULT_TIMELINES", "EXPORT_FORMAT", "FORMATS", "Check", "ExportFilter", "ExportResult", "FileReport",
    "Integrity", "check_against_database", "check_may_export", "export_audit", "export_to_file", "gather_integrity",
    "inspect_file", "parse_when",
]
