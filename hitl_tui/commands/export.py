"""`hitl-tui export-audit`: the audit log as JSONL, CSV, HTML or Markdown, with its evidence."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .common import EXIT_BROKEN, Failure, guarded, me, open_service, progress_printer, safe

_SUFFIX_FORMAT = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".html": "html", ".htm": "html",
                  ".md": "md", ".markdown": "md"}


@click.command("export-audit")
@click.option("--format", "fmt", type=click.Choice(("jsonl", "csv", "html", "md")), default=None,
              help="jsonl (one entry per line, for Splunk/Datadog), csv (Excel), html (auditor's report), md. "
                   "Default: from the -o suffix, else jsonl.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (replaced atomically when complete). Default: standard output.")
@click.option("--since", default=None, help="Entries at or after this time: 2025-01-01, 2025-01-01T09:00+01:00, or 7d/12h.")
@click.option("--until", default=None, help="Entries before this time (a bare date includes that whole day).")
@click.option("--workflow", "workflows", multiple=True, metavar="WF-ID", help="Only this request's entries (repeatable).")
@click.option("--type", "types", multiple=True, metavar="TYPE", help="Only requests of this workflow type (repeatable).")
@click.option("--user", "users", multiple=True, metavar="USERNAME", help="Only entries by this person (repeatable).")
@click.option("--timelines", type=click.IntRange(0, 100_000), default=200, show_default=True,
              help="html/md: draw timelines for this many most recently active requests.")
@click.option("--bundle", type=click.Path(path_type=Path), default=None, metavar="DIR",
              help="Write the auditor's bundle into DIR (new or empty): the whole trail as JSONL and CSV, the "
                   "signed checkpoint and its key, proofs, public keys, the tables' state, VERIFY.md and the "
                   "standalone verifier.")
@click.pass_context
@guarded
def export_audit(ctx: click.Context, fmt: str | None, output: Path | None, since: str | None, until: str | None,
                 workflows: tuple[str, ...], types: tuple[str, ...], users: tuple[str, ...], timelines: int,
                 bundle: Path | None) -> None:
    """Export the audit log with its integrity evidence.

    The chain is verified first; if intact, a checkpoint is signed and every export carries the
    entry count, head hash, verification result and the signed checkpoint with its key
    fingerprint (JSONL: first and last line; CSV: first and last row; HTML/Markdown: the
    Integrity section plus an embedded machine-readable block). Check an export and the live
    database against each other with `hitl-tui verify-audit --checkpoint FILE`.

    A broken chain is exported anyway, with a warning banner at the top, and exits with status 3.
    Exporting needs an oversight role (executive, compliance) or administrator rights.

    \b
    Examples:
      hitl-tui export-audit --format jsonl > audit.jsonl
      hitl-tui export-audit -o q1-report.html --since 2025-01-01 --until 2025-03-31
      hitl-tui export-audit --format csv --type expense_approval --user sarah.manager -o sarah.csv
      hitl-tui export-audit --format md --workflow WF-1704462345-7892
    """
    from ..core.reports import ExportFilter
    from ..remote.export_client import exports_of

    if bundle is not None:
        given = [name for name, value in (("--format", fmt), ("-o", output), ("--since", since), ("--until", until),
                                          ("--workflow", workflows), ("--type", types), ("--user", users)) if value]
        if given:
            raise Failure(f"--bundle always holds the whole trail; drop {', '.join(given)}.", 2)
        return _bundle(ctx, bundle)
    fmt = fmt or (_SUFFIX_FORMAT.get(output.suffix.lower()) if output else None) or "jsonl"
    progress = progress_printer("verifying")
    with open_service(ctx) as service:
        filt = ExportFilter.build(service.policy, since=since, until=until, workflow_ids=workflows,
                                  workflow_types=types, actors=users)
        exports = exports_of(service)  # core's on the database, or the service's in team mode
        if output is None:
            result = exports.export_audit(fmt, sys.stdout.buffer, filt, generated_by=me(),
                                          max_timelines=timelines, progress=progress)
        else:
            result = _to_file(output, lambda fh: exports.export_audit(fmt, fh, filt, generated_by=me(),
                                                                      max_timelines=timelines, progress=progress))
    count = result.trailer["entries_exported"]
    where = f" to {safe(output)}" if output else ""
    cp = result.integrity.checkpoint
    signed = f"; checkpoint {cp.size:,} entries signed by {cp.fingerprint}" if cp else ""
    click.echo(f"Exported {count:,} entr{'y' if count == 1 else 'ies'} ({fmt}){where}{signed}.", err=True)
    if count == 0 and not filt.empty:
        click.echo(f"Nothing matched the filters ({safe(filt.describe())}).", err=True)
    if not result.ok:
        click.echo(f"hitl-tui: {safe(result.integrity.banner)} The export says so at the top.", err=True)
        ctx.exit(EXIT_BROKEN)


def _to_file(path: Path, write):
    from ..core.reports.export import export_to_file

    return export_to_file(path, write)  # temp file beside it, renamed when complete, 0600


def _bundle(ctx: click.Context, directory: Path) -> None:
    from ..core.reports.bundle import check_target
    from ..remote.export_client import exports_of

    check_target(directory)  # a non-empty DIR is refused before the database is even opened
    with open_service(ctx) as service:
        result = exports_of(service).write_bundle(directory, generated_by=me(), progress=progress_printer("verifying"))
    cp = result.integrity.checkpoint
    signed = f"; checkpoint {cp.size:,} entries signed by {cp.fingerprint}" if cp else ""
    click.echo(f"Wrote the audit bundle of {result.entries:,} entries to {safe(directory)}{signed}. "
               f"Check it with: python {safe(directory / 'hitl_verify.py')} {safe(directory)}", err=True)
    if not result.ok:
        click.echo(f"hitl-tui: {safe(result.integrity.banner)} The bundle says so.", err=True)
        ctx.exit(EXIT_BROKEN)
