"""`hitl-tui verify-audit` and `hitl-tui checkpoint`: checking the audit chain, and keeping a
signed statement of it somewhere the database key cannot reach."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .common import EXIT_BROKEN, Failure, echo_json, guarded, open_service, progress_printer, safe


def _tables_line(result) -> str:
    legacy = (f"; {result.legacy_entries:,} written before entries carried every detail, compared for what they carry"
              if result.legacy_entries else "")
    return (f"  tables: requests, approvals and users are what replaying {result.replayed_entries:,} "
            f"entries gives{legacy}")


def _print_file(rep) -> None:
    click.echo(f"{safe(rep.path)} ({rep.kind}{' export' if rep.kind != 'checkpoint' else ''}):")
    for c in rep.checks:
        click.echo(f"  {'ok  ' if c.ok else 'FAIL'}  {c.name}: {safe(c.detail)}")


@click.command("verify-audit", short_help="Verify the audit chain, and checkpoint or export files against it.")
@click.option("--checkpoint", "files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="A checkpoint file (from `checkpoint -o`) or an export (from `export-audit`) to check the "
                   "database against; repeatable.")
@click.option("--offline", is_flag=True, help="Check the --checkpoint files by themselves, without the database.")
@click.option("--since", "since", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A checkpoint file you trust: verify only the entries added after it (its signature, a "
                   "consistency proof from its tree to today's, the chain from its head, the new entries).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@guarded
def verify_audit(ctx: click.Context, files: tuple[Path, ...], offline: bool, since: Path | None, as_json: bool) -> None:
    """Re-hash the whole audit chain and check it against its recorded head, the signed
    checkpoints stored in the database, and any checkpoint or export files you give.

    An export given with --checkpoint is checked too: its signature, every entry re-hashed, its
    completeness, and that the database still holds exactly the entries it exported. A consistent
    rewrite of the whole chain by someone holding the database key passes the inner checks but not
    a checkpoint kept outside the database.

    Exit status: 0 everything verified; 3 the chain or a file failed (the first bad entry is
    named); 1 a file or the database could not be read.

    \b
    Examples:
      hitl-tui verify-audit
      hitl-tui verify-audit --checkpoint /secure/hitl-2025-03-31.checkpoint.json
      hitl-tui verify-audit --checkpoint audit-q1.jsonl --json
      hitl-tui verify-audit --offline --checkpoint audit-q1.html
      hitl-tui verify-audit --since /secure/hitl-2025-03-31.checkpoint
    """
    from ..core.reports import inspect_file
    from ..remote.export_client import exports_of

    if offline and not files:
        raise Failure("--offline checks files: give at least one --checkpoint FILE.", 2)
    if since is not None:
        if files or offline:
            raise Failure("--since verifies the database after one checkpoint: give it without --checkpoint or --offline.", 2)
        return _verify_since(ctx, since, as_json)
    reports = [inspect_file(f) for f in files] if offline else []
    result = None
    if not offline:
        with open_service(ctx) as service:
            progress = None if as_json else progress_printer("verifying")
            if not files:
                result = service.verify_audit(progress=progress)
            for f in files:  # by itself, then against the database (in team mode, by the service)
                rep, result = exports_of(service).check_file(f, progress)
                reports.append(rep)
            where = str(service.path)
    ok = (result is None or result.ok) and all(r.ok for r in reports)
    if as_json:
        echo_json({"ok": ok, "database": None if result is None else {"path": where, **result.model_dump(mode="json")},
                   "files": [r.to_json() for r in reports]})
    else:
        if result is not None:
            click.echo(f"Database {safe(where)}: {safe(result.summary())}")
            if result.ok and result.tables_checked:
                click.echo(_tables_line(result))
        for rep in reports:
            _print_file(rep)
        click.echo("Result: verified." if ok else "Result: VERIFICATION FAILED.")
    if not ok:
        ctx.exit(EXIT_BROKEN)


def _verify_since(ctx: click.Context, path: Path, as_json: bool) -> None:
    from ..core.checkpoints import read_checkpoint_file
    from ..remote.export_client import exports_of

    with open_service(ctx) as service:
        # a note is checked against the key of the account that signs this database's
        # checkpoints (this one; in team mode the service's)
        cp = read_checkpoint_file(path, exports_of(service).checkpoint_keys())
        result = service.verify_audit_since(cp, progress=None if as_json else progress_printer("verifying"))
        where = str(service.path)
    if as_json:
        echo_json({"ok": result.ok, "since": {"path": str(path), "size": cp.size, "root_hash": cp.root_hash},
                   "database": {"path": where, **result.model_dump(mode="json")}})
    else:
        click.echo(f"Database {safe(where)}: {safe(result.summary())}")
        click.echo("Result: verified." if result.ok else "Result: VERIFICATION FAILED.")
    if not result.ok:
        ctx.exit(EXIT_BROKEN)


@click.command(short_help="Sign a checkpoint of the audit chain (-o FILE keeps a copy).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the checkpoint note to this file (refuses to overwrite one). Without it, print it.")
@click.option("--json", "as_json", is_flag=True, help="Print the checkpoint as JSON (with its note) instead.")
@click.pass_context
@guarded
def checkpoint(ctx: click.Context, output: Path | None, as_json: bool) -> None:
    """Verify the chain, then sign a checkpoint with this account's signing key and store it in
    the database; -o also writes it to a file for safe keeping.

    The checkpoint is a C2SP tlog-checkpoint signed note: origin (hitl-tui.local/DATABASE_ID),
    entry count, the RFC 9162 Merkle tree root, the extension lines `chain HEAD_HASH` and
    `time ISO`, then the Ed25519 signature line. Transparency-log tools and witnesses read it with
    the verifier key printed here.

    Keep the file where the database key cannot reach it (another machine, an auditor's archive):
    it later exposes any rewrite of the entries it covers, via `verify-audit --checkpoint FILE`.
    A broken chain is never signed (exit 3).

    \b
    Examples:
      hitl-tui checkpoint -o /secure/hitl-$(date +%F).checkpoint
      hitl-tui checkpoint > latest.checkpoint
    """
    from ..core.checkpoints import ORIGIN_PREFIX, checkpoint_text, checkpoint_to_json, verifier_key, write_checkpoint_file

    if output is not None and output.exists():
        raise Failure(f"{output} already exists; a checkpoint file is evidence, so it is never overwritten. "
                      f"Choose a new name.")
    with open_service(ctx) as service:
        result = service.verify_audit(progress=progress_printer("verifying"))
        if not result.ok:
            raise Failure(f"{result.summary()}; no checkpoint was signed.", EXIT_BROKEN)
        cp = service.checkpoint()
    line = f"Signed checkpoint: {cp.size:,} entries, head {cp.head_hash[:16]}..., key {cp.fingerprint}"
    if cp.note is not None:
        line += f"\nVerifier key: {verifier_key(ORIGIN_PREFIX + cp.database_id, cp.public_key)}"
    if output is None:
        click.echo(json.dumps(checkpoint_to_json(cp), indent=2) if as_json else checkpoint_text(cp), nl=as_json)
        click.echo(line, err=True)
        return
    write_checkpoint_file(cp, output)
    click.echo(f"{line}\nWritten to {safe(output)}; keep it where the database key cannot reach it.")
