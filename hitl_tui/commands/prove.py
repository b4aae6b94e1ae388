"""`hitl-tui prove`: RFC 9162 inclusion proofs of a request's audit entries against a signed
checkpoint, and consistency proofs between two checkpoints, for an auditor to check by hand or
with any transparency-log library."""

from __future__ import annotations

from pathlib import Path

import click

from .common import EXIT_BROKEN, Failure, echo_json, guarded, me, open_service, safe


@click.command(short_help="Prove entries are in the signed audit log (Merkle inclusion / consistency proofs).")
@click.argument("workflow_id", required=False)
@click.option("--seq", "seqs", type=int, multiple=True, help="Prove this audit entry (repeatable).")
@click.option("--checkpoint", "cp_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Prove against this checkpoint file (one you hold) instead of the latest signed one.")
@click.option("--from", "from_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --to: prove that the later checkpoint's log extends this one's.")
@click.option("--to", "to_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The later checkpoint file of a consistency proof.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@guarded
def prove(ctx: click.Context, workflow_id: str | None, seqs: tuple[int, ...], cp_file: Path | None,
          from_file: Path | None, to_file: Path | None, as_json: bool) -> None:
    """Print an inclusion proof for each audit entry of WORKFLOW_ID (or each --seq) against the
    latest signed checkpoint (or --checkpoint FILE): the entry's leaf hash and the ~log2(size)
    sibling hashes that lead from it to the checkpoint's signed tree root (RFC 9162 2.1.3).
    Every proof is checked before it is printed.

    With --from A --to B: a consistency proof that checkpoint B's log extends checkpoint A's
    (RFC 9162 2.1.4), without the entries in between.

    Exit status: 0 proven; 3 the stored tree cannot prove it (the log or its index was edited);
    1 bad input or an unreadable file.

    \b
    Examples:
      hitl-tui prove WF-1764150000-0421
      hitl-tui prove --seq 812 --checkpoint /secure/hitl-2025-03-31.checkpoint --json
      hitl-tui prove --from q1.checkpoint --to q2.checkpoint
    """
    from ..core.checkpoints import read_checkpoint_file
    from ..core.errors import AuditChainBroken
    from ..remote.export_client import exports_of

    if (from_file is None) != (to_file is None):
        raise Failure("A consistency proof needs both --from A.checkpoint and --to B.checkpoint.", 2)
    if from_file is not None:
        if workflow_id or seqs or cp_file:
            raise Failure("--from/--to prove two checkpoints consistent: give no request, --seq or --checkpoint.", 2)
        return _consistency(ctx, from_file, to_file, as_json)
    if not workflow_id and not seqs:
        raise Failure("Name a request (hitl-tui prove WF-...) or an entry (--seq N) to prove.", 2)
    with open_service(ctx) as service:
        # a note names its key by a hash: it is checked against the keys of the account that signs
        # this database's checkpoints (this one; in team mode the service's)
        cp = read_checkpoint_file(cp_file, exports_of(service).checkpoint_keys()) if cp_file else _latest(service)
        if cp.database_id != service.database_id:
            raise Failure(f"The checkpoint is of another database ({cp.database_id}, this is {service.database_id}).")
        wanted = list(seqs)
        if workflow_id:
            service.get_workflow_for(me(), workflow_id.strip())  # unknown, or not yours to see: one clear line
            wanted = service.audit_seqs_for(workflow_id.strip()) + wanted
        try:
            proofs = service.prove_entries(sorted(set(wanted)), cp)
        except AuditChainBroken as exc:
            raise Failure(str(exc), EXIT_BROKEN) from None
    if as_json:
        echo_json({"checkpoint": {"size": cp.size, "root_hash": cp.root_hash, "fingerprint": cp.fingerprint,
                                  "note": cp.note},
                   "proofs": [p.to_json() for p in proofs]})
        return
    click.echo(f"Checkpoint: {cp.size:,} entries, root {cp.root_hash}, signed by {cp.fingerprint}")
    for p in proofs:
        click.echo(f"entry {p.seq} ({safe(p.action)}{', ' + safe(p.workflow_id) if p.workflow_id else ''}): "
                   f"leaf {p.leaf_hash}, {len(p.path)} hashes, verified")
        for h in p.path:
            click.echo(f"  {h}")


def _latest(service):
    from ..core.checkpoints import signature_valid

    for cp in reversed(service.stored_checkpoints()):
        if cp.note is not None and signature_valid(cp):
            return cp
    raise Failure("No signed checkpoint states a tree root yet: sign one with `hitl-tui checkpoint`.")


def _consistency(ctx: click.Context, from_file: Path, to_file: Path, as_json: bool) -> None:
    from ..core.checkpoints import read_checkpoint_file
    from ..core.merkle import verify_consistency
    from ..remote.export_client import exports_of

    with open_service(ctx) as service:
        keys = exports_of(service).checkpoint_keys()  # as for --checkpoint FILE
        a, b = read_checkpoint_file(from_file, keys), read_checkpoint_file(to_file, keys)
        if a.database_id != b.database_id:
            raise Failure(f"The two checkpoints are of different databases ({a.database_id}, {b.database_id}).")
        if a.root_hash is None or b.root_hash is None:
            raise Failure("An older-format checkpoint states no tree root; both must be signed notes.")
        if a.size > b.size:
            a, b = b, a
        if service.database_id != a.database_id:
            raise Failure(f"The checkpoints are of another database ({a.database_id}, this is {service.database_id}).")
        proof = service.prove_consistency(a.size, b.size)
    ok = verify_consistency(a.size, b.size, bytes.fromhex(a.root_hash), bytes.fromhex(b.root_hash),
                            [bytes.fromhex(h) for h in proof])
    if as_json:
        echo_json({"ok": ok, "first": {"size": a.size, "root_hash": a.root_hash},
                   "second": {"size": b.size, "root_hash": b.root_hash}, "proof": proof})
    else:
        click.echo(f"From {a.size:,} entries (root {a.root_hash}) to {b.size:,} entries (root {b.root_hash}): "
                   f"{len(proof)} hashes, " + ("consistent: the later log extends the earlier one" if ok else
                                               "NOT CONSISTENT: the later log rewrote the earlier one"))
        for h in proof:
            click.echo(f"  {h}")
    if not ok:
        ctx.exit(EXIT_BROKEN)
