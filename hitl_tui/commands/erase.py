"""`hitl-tui erase` (a person's or a request's personal data, by two administrators) and
`hitl-tui retention` (the policy's retain_personal rules). The engine is core/erasure.py."""

from __future__ import annotations

import click

from .common import echo_json, guarded, me, open_service, safe


@click.command(short_help="Erase a person's or a request's personal data (two administrators).")
@click.argument("target", required=False)
@click.option("--reason", default="", help="Why (required to ask and to cancel; recorded in the audit log).")
@click.option("--confirm", is_flag=True, help="Carry out the erasure another administrator asked for.")
@click.option("--cancel", is_flag=True, help="Withdraw a waiting erasure (needs --reason).")
@click.option("--list", "list_", is_flag=True, help="List the erasures waiting for a second administrator.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (with --list).")
@click.pass_context
@guarded
def erase(ctx: click.Context, target: str | None, reason: str, confirm: bool, cancel: bool, list_: bool,
          as_json: bool) -> None:
    """Erase the personal data of TARGET: a person (a username, deactivated first) or one closed
    request (WF-...). Titles, descriptions, comments, names, emails and the data fields the
    policy marks personal then read "erased on DATE" everywhere; the audit trail, its proofs and
    its signatures stay whole and keep verifying.

    Two administrators: one asks (--reason), another confirms (--confirm). It cannot be undone.

    \b
    Examples:
      hitl-tui erase john.doe --reason "GDPR Art. 17 request of 2026-11-30"
      hitl-tui erase john.doe --confirm          # as a second administrator
      hitl-tui erase WF-1764581400-0042 --reason "customer asked to be forgotten"
      hitl-tui erase --list
    """
    if sum((confirm, cancel, list_)) > 1:
        raise click.UsageError("Choose one of --confirm, --cancel and --list.")
    if list_:
        _list(ctx, as_json)
        return
    if not target:
        raise click.UsageError("Name whose personal data to erase: a username or a request id (WF-...).")
    with open_service(ctx, writes=True) as service:
        if confirm:
            done = service.erasure.confirm(target, actor=me())
            where = f" in {len(done.requests)} request{'s' if len(done.requests) != 1 else ''}" if done.requests else ""
            click.echo(f"Erased the personal data of {safe(done.target)}: {done.values} value"
                       f"{'s' if done.values != 1 else ''}{where}, under {done.keys} key{'s' if done.keys != 1 else ''} "
                       f"now destroyed (audit entry {done.seq}). They read \"erased on {done.erased_on[:10]}\"; "
                       f"the trail still verifies.")
            click.echo("Backups made before now still hold the keys: replace or destroy them too.")
        elif cancel:
            waiting = service.erasure.cancel(target, reason, actor=me())
            click.echo(f"Cancelled the erasure of {safe(waiting.target)} that {safe(waiting.requested_by)} asked for "
                       f"(entry {waiting.seq}); nothing was erased.")
        else:
            asked = service.erasure.request(target, reason, actor=me())
            click.echo(f"Erasure of {safe(asked.target)} requested (audit entry {asked.seq}). A second administrator "
                       f"carries it out with: hitl-tui erase {safe(asked.target)} --confirm")


def _list(ctx: click.Context, as_json: bool) -> None:
    with open_service(ctx) as service:
        waiting = service.erasure.pending()
    if as_json:
        echo_json([{"target": w.target, "requested_by": w.requested_by, "requested_at": w.requested_at,
                    "reason": w.reason, "seq": w.seq} for w in waiting])
        return
    if not waiting:
        click.echo("No erasure is waiting for a second administrator.")
        return
    for w in waiting:
        click.echo(f"{safe(w.target)}  asked by {safe(w.requested_by)} at {w.requested_at[:16].replace('T', ' ')} UTC "
                   f"(entry {w.seq}): {safe(w.reason)}")


@click.command(short_help="List or apply the policy's retention rules for personal data.")
@click.option("--apply", "apply_", is_flag=True, help="Erase what the rules have expired (an administrator).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@guarded
def retention(ctx: click.Context, apply_: bool, as_json: bool) -> None:
    """The requests whose personal data the policy's retain_personal rules have expired (for
    example retain_personal = "P2Y" on a type: two years after the request was closed). With
    --apply, an administrator erases it, one audit entry per type; the trail keeps verifying.

    \b
    Examples:
      hitl-tui retention
      hitl-tui retention --apply
    """
    with open_service(ctx, writes=apply_) as service:
        if not apply_:
            due = service.erasure.due()
            if as_json:
                echo_json([{"workflow_id": d.workflow_id, "workflow_type": d.workflow_type, "retain": d.retain}
                           for d in due])
            elif not due:
                click.echo("No request has outlived its type's retain_personal rule.")
            else:
                for d in due:
                    click.echo(f"{d.workflow_id}  {safe(d.workflow_type)}  (retain_personal = {safe(d.retain)})")
                click.echo(f"{len(due)} request{'s' if len(due) != 1 else ''} due; erase with: hitl-tui retention --apply")
            return
        done = service.erasure.apply_retention(actor=me())
    if as_json:
        echo_json([{"workflow_type": d.target, "requests": list(d.requests), "values": d.values, "seq": d.seq}
                   for d in done])
    elif not done:
        click.echo("No request has outlived its type's retain_personal rule; nothing was erased.")
    else:
        for d in done:
            click.echo(f"Expired the personal data of {len(d.requests)} {safe(d.target)} request"
                       f"{'s' if len(d.requests) != 1 else ''} ({d.values} values, audit entry {d.seq}).")
