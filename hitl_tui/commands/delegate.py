"""`hitl-tui delegate`: out of office (core/delegation.py). On your own account you hand your
decisions to a colleague for a period (optionally for some workflow types only), list what you
gave or hold, and end yours early; an administrator may do it for someone else with --for.
Each grant and end is a signed audit entry. Works on the database and through the service alike.
"""

from __future__ import annotations

from typing import Any

import click

from .common import echo_json, guarded, me, open_service, safe


def delegations_of(service: Any) -> Any:
    """The delegation calls on this engine: the database's own, or the service's (team mode)."""
    from ..remote.client import RemoteService

    if isinstance(service, RemoteService):
        from ..remote.delegations_client import RemoteDelegations

        return RemoteDelegations(service)
    from ..core.delegation import Delegations

    return Delegations(service)


def _row(d: Any) -> dict[str, Any]:
    return {"id": d.id, "delegator": d.delegator, "delegate": d.delegate, "until": d.until,
            "ends_at": d.ends_at.isoformat(), "types": list(d.types) if d.types is not None else None,
            "reason": d.reason, "granted_at": d.granted_at, "granted_by": d.granted_by, "ended_at": d.ended_at,
            "ended_by": d.ended_by, "end_reason": d.end_reason}


@click.command("delegate", short_help="Out of office: delegate your decisions to a colleague until a date.")
@click.argument("delegate", required=False, metavar="PERSON")
@click.option("--until", "until", default=None, metavar="DAY",
              help="The last day you are away (YYYY-MM-DD, through its end in the desk's time zone), or an ISO time.")
@click.option("--types", default=None, metavar="TYPE,...", help="Only these workflow types (default: all).")
@click.option("--reason", default="", help="Why (recorded in the audit trail; needed to delegate).")
@click.option("--for", "for_", default=None, metavar="PERSON",
              help="Whose decisions (an administrator's, for someone else; default: yours).")
@click.option("--list", "list_", is_flag=True, help="List the delegations you gave or hold.")
@click.option("--all", "everyone", is_flag=True, help="With --list: everyone's (administrators, oversight roles).")
@click.option("--end", "end_", is_flag=True, help="End your running delegation now.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@guarded
def delegate(ctx: click.Context, delegate: str | None, until: str | None, types: str | None, reason: str,
             for_: str | None, list_: bool, everyone: bool, end_: bool, as_json: bool) -> None:
    """Delegate your decisions to PERSON until a day: while it runs, PERSON may decide the stages
    your role may decide (never your or their own requests, never two stages of one request), and
    each such decision is signed "PERSON for YOU (delegated until DAY)".

    \b
    Examples:
      hitl-tui delegate mike.director --until 2026-12-20 --reason "annual leave"
      hitl-tui delegate mike.director --until 2026-12-20 --types expense_approval --reason "conference"
      hitl-tui delegate --list
      hitl-tui delegate --end --reason "back early"
      hitl-tui delegate mike.director --for lisa.executive --until 2026-12-20 --reason "sick leave"  # administrator
    """
    modes = sum([list_, end_, delegate is not None])
    if modes != 1:
        raise click.UsageError("Give PERSON (with --until and --reason) to delegate, or --list, or --end.")
    if everyone and not list_:
        raise click.UsageError("--all goes with --list.")
    whose = for_ or me()
    if list_:
        with open_service(ctx) as service:
            found = delegations_of(service).listing(me(), everyone=everyone)
        _print_list(found, as_json)
        return
    if end_:
        with open_service(ctx, writes=True) as service:
            done = delegations_of(service).end(whose, reason, actor=me())
        _print_one(done, as_json, f"Ended the delegation of {safe(done.delegator)}'s decisions to "
                                  f"{safe(done.delegate)}; {safe(done.delegator)} decides again.")
        return
    if not until:
        raise click.UsageError("Say until when with --until YYYY-MM-DD (the last day away).")
    kinds = [t.strip() for t in types.split(",") if t.strip()] if types else None
    assert delegate is not None
    with open_service(ctx, writes=True) as service:
        made = delegations_of(service).grant(whose, delegate, until, reason, types=kinds, actor=me())
    scope = "" if made.types is None else f" ({', '.join(made.types)} only)"
    _print_one(made, as_json, f"Delegated {safe(made.delegator)}'s decisions to {safe(made.delegate)} until "
                              f"{safe(made.until)}{scope}; `hitl-tui delegate --end` ends it early.")


def _print_one(d: Any, as_json: bool, text: str) -> None:
    if as_json:
        echo_json(_row(d))
    else:
        click.echo(text)


def _print_list(found: list[Any], as_json: bool) -> None:
    if as_json:
        echo_json([_row(d) for d in found])
        return
    if not found:
        click.echo("No delegations; `hitl-tui delegate PERSON --until DAY --reason WHY` makes one.")
        return
    from .users import aligned

    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)
    rows = [["FROM", "TO", "UNTIL", "TYPES", "STATUS", "REASON"]]
    for d in found:
        state = (f"ended {d.ended_at} by {d.ended_by}" if d.ended_at else
                 f"running, granted by {d.granted_by}" if d.running(now) else "over")
        rows.append([safe(d.delegator), safe(d.delegate), safe(d.until), safe(",".join(d.types or ("all",))),
                     safe(state), safe(d.reason)])
    for line in aligned(rows):
        click.echo(line)


def assignments_of(service: Any) -> Any:
    """The reassignment calls on this engine: the database's own, or the service's (team mode)."""
    from ..remote.client import RemoteService

    if isinstance(service, RemoteService):
        from ..remote.delegations_client import RemoteAssignments

        return RemoteAssignments(service)
    from ..core.assignment import Assignments

    return Assignments(service)


@click.command("reassign", short_help="Name who should decide a request's current stage (administrators, directors).")
@click.argument("workflow_id", metavar="WF-ID")
@click.argument("person", required=False, metavar="PERSON")
@click.option("--clear", is_flag=True, help="Clear the assignment instead (anyone eligible decides).")
@click.option("--reason", default="", help="Why (recorded in the audit trail; needed).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@guarded
def reassign(ctx: click.Context, workflow_id: str, person: str | None, clear: bool, reason: str,
             as_json: bool) -> None:
    """Assign the current stage of WF-ID to PERSON, who should decide it: someone whose role may
    decide that stage, neither its requester nor a decider of an earlier stage. It lands first
    in their Awaiting me; the stage's other deciders still may decide it. For an administrator,
    a Director or an Executive; each change is a signed audit entry with its reason.

    \b
    Examples:
      hitl-tui reassign WF-1764579600-0042 mike.director --reason "Lisa is away; Mike knows the supplier"
      hitl-tui reassign WF-1764579600-0042 --clear --reason "Lisa is back"
    """
    if (person is None) == (not clear):
        raise click.UsageError("Give PERSON to assign the stage to, or --clear (not both).")
    with open_service(ctx, writes=True) as service:
        done = assignments_of(service).reassign(workflow_id.strip(), person, reason, actor=me())
    if as_json:
        from dataclasses import asdict

        echo_json(asdict(done))
        return
    where = f"stage {done.stage + 1} of {safe(done.workflow_id)}"
    if done.assignee is None:
        click.echo(f"Cleared the assignment of {where} (it was {safe(done.before)}'s).")
    else:
        was = f" (was {safe(done.before)})" if done.before else ""
        click.echo(f"Assigned {where} to {safe(done.assignee)}{was}.")
