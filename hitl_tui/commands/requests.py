"""`hitl-tui request`: file, list, inspect and resubmit workflow requests."""

from __future__ import annotations

from datetime import datetime, timezone
import shutil

import click

from ..core.errors import ValidationFailed
from .common import echo_json, fmt_time, guarded, me, open_service, safe, stage_text

VIEWS = ("awaiting_me", "mine", "visible", "decided")


def parse_fields(pairs: tuple[str, ...]) -> dict[str, str]:
    data: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValidationFailed(f"--field expects NAME=VALUE, e.g. --field amount=15000 (got {pair!r}).", "field")
        if name in data:
            raise ValidationFailed(f"--field {name} was given twice.", name)
        data[name] = value
    return data


class SortParam(click.ParamType):
    """--sort: the core's sort vocabulary (core/filter_query.py); a bad one is a usage error."""

    name = "order"

    def convert(self, value, param, ctx):
        from ..core.errors import FilterError
        from ..core.filter_query import parse_sort

        try:
            return parse_sort(value).spec
        except FilterError as exc:
            self.fail(str(exc), param, ctx)


def chain_text(req) -> str:
    from ..core.stage_rules import chain_words

    return chain_words(req)


@click.group(short_help="File, list, show and resubmit requests.")
def request() -> None:
    """File, list and inspect workflow requests (you act as your OS login).

    \b
    Examples:
      hitl-tui request types
      hitl-tui request create --type expense_approval --title "Singapore strategy offsite" \\
          --description "Executive travel for the APAC strategy review" \\
          --field amount=15000 --field category=travel
      hitl-tui request list --view awaiting_me
      hitl-tui request show WF-1704462345-7892
    """


@request.command("types")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@guarded
def types(ctx: click.Context, as_json: bool) -> None:
    """List the workflow types, their fields and their approval chains (from the policy in force,
    which is stored in the database: `hitl-tui policy show`).

    \b
    Example:
      hitl-tui request types
    """
    from ..core.stage_rules import items as stage_items

    with open_service(ctx) as service:
        policy = service.policy_in_force().policy
    if as_json:
        echo_json({k: {"name": t.name, "fields": {f.name: {"kind": f.kind, "required": f.required,
                                                            "choices": list(f.choices)} for f in t.fields},
                       "risk_field": t.risk.field,
                       "chains": {lv.value: [r.value for r in roles] for lv, roles in t.chains.items()},
                       **({"stage_rules": {lv.value: stage_items(rules) for lv, rules in t.stage_rules.items()}}
                          if t.stage_rules else {})}  # the levels with a quorum or parallel stage: each stage's rule
                   for k, t in policy.types.items()})
        return
    for key, t in policy.types.items():
        click.echo(f"{key}: {safe(t.name)}")
        for f in t.fields:
            extra = f" ({', '.join(f.choices)})" if f.choices else ""
            click.echo(f"    --field {f.name}=...  {f.kind}{' (required)' if f.required else ''}{extra}")
        from ..core.models import StageRule
        from ..core.stage_rules import rule_label

        for level, roles in t.chains.items():  # with a quorum or parallel stage's rule: "Manager ×2"
            rules = t.stage_rules.get(level) or [StageRule(roles=[r]) for r in roles]
            click.echo(f"    {level.value:<8} {' -> '.join(rule_label(r) for r in rules)}")


@request.command("create")
@click.option("--type", "workflow_type", required=True, help="Workflow type (see `hitl-tui request types`).")
@click.option("--title", required=True, help="One line saying what is requested.")
@click.option("--description", "-d", default="", help="The business justification.")
@click.option("--field", "-f", "fields", multiple=True, metavar="NAME=VALUE",
              help="A field of the type, e.g. amount=15000, category=travel, impact=high (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@guarded
def create(ctx: click.Context, workflow_type: str, title: str, description: str, fields: tuple[str, ...],
           as_json: bool) -> None:
    """File a new request; prints its id, risk level and approval chain.

    \b
    Examples:
      hitl-tui request create --type expense_approval --title "Q4 conference travel" \\
          -d "Flights and hotel for the industry conference" -f amount=5000 -f category=travel
      hitl-tui request create --type infrastructure_change --title "Orders DB migration to PG 16" \\
          -d "Major version upgrade with a 30 min write freeze" -f impact=high -f system=orders-db
    """
    data = parse_fields(fields)
    with open_service(ctx, writes=True) as service:
        wid = service.create_workflow_request(workflow_type, title, description, me(), data)
        req = service.get_workflow(wid)
    if as_json:
        echo_json({"id": req.id, "status": req.status, "risk_level": req.risk_level, "risk_reason": req.risk_reason,
                   "chain": [r.value for r in req.required_approvers], "awaiting": req.current_role})
        return
    click.echo(f"Created {req.id}: {safe(req.title)}")
    click.echo(f"Risk:  {req.risk_level.value} ({safe(req.risk_reason)})")
    waiting = req.current_role.label if req.current_role else "-"
    click.echo(f"Chain: {chain_text(req)} (now awaiting {waiting})")


@request.command("list")
@click.option("--view", type=click.Choice(VIEWS), default="awaiting_me", show_default=True,
              help="awaiting_me: your decisions; mine: what you filed; visible: all you may see; decided: what you decided.")
@click.option("--search", default=None, metavar="FILTER",
              help="Words (each a prefix, over title, description, requester, id and type), \"phrases\" and "
                   "key:value filters: risk:>=high type:expense requester:john status:approved stage:director "
                   "age:>2d amount:>1000 id:WF-1764 (see the README's Filtering section).")
@click.option("--sort", type=SortParam(), default="oldest", show_default=True, metavar="ORDER",
              help="oldest, newest, risk (highest first), or a column: created title requester type id value "
                   "risk stage status; '-' before a column reverses it (-value: largest first).")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@guarded
def list_(ctx: click.Context, view: str, search: str | None, sort: str, limit: int, as_json: bool) -> None:
    """List requests in one of your inbox views.

    \b
    Examples:
      hitl-tui request list
      hitl-tui request list --view visible --search travel --sort risk
      hitl-tui request list --view visible --search "risk:>=high type:expense age:>2d" --sort -value
      hitl-tui request list --view mine --json
    """
    with open_service(ctx) as service:
        rows = service.list_requests(me(), view, search=search, sort=sort, limit=limit)
        total = service.count_requests(me(), view, search=search)
    if as_json:
        echo_json([r.model_dump(mode="json") for r in rows])
        return
    if not rows:
        click.echo(f"No requests in {view}" + (f" matching {safe(search)!r}." if search else "."))
        return
    width = shutil.get_terminal_size((120, 24)).columns
    click.echo(f"{'ID':<18}  {'RISK':<8}  {'STATUS':<17}  {'STAGE':<14}  {'REQUESTER':<16}  {'VALUE':>12}  TITLE")
    for r in rows:
        line = (f"{r.id:<18}  {r.risk_level.value:<8}  {r.status.value:<17}  "
                f"{stage_text(r.status, r.current_stage, r.stage_count, r.current_role):<14}  "
                f"{safe(r.requester):<16}  {safe(r.headline)[:12]:>12}  {safe(r.title)}")
        click.echo(line if len(line) <= width else line[:max(40, width - 1)] + "…")
    if total > len(rows):
        click.echo(f"({len(rows)} of {total} shown; use --limit or --search)")


@request.command("show")
@click.argument("workflow_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@guarded
def show(ctx: click.Context, workflow_id: str, as_json: bool) -> None:
    """Show a request: data, risk and its reason, the approval chain with every decision,
    compliance flags, and its audit trail.

    \b
    Example:
      hitl-tui request show WF-1704462345-7892 --json
    """
    from ..core.reports.flags import gather_flags

    with open_service(ctx) as service:
        req = service.get_workflow_for(me(), workflow_id)
        trail = service.get_audit_trail_for(me(), req.id)
        flags = gather_flags(service, me(), req).as_json()
        from ..core.signatures import display_names

        signing = (display_names(service.list_users()), service.settings.zone)  # Part 11's printed name, time
    if as_json:
        echo_json({"request": req.model_dump(mode="json"), "compliance_flags": flags,
                   "audit_trail": [e.model_dump(mode="json") for e in trail]})
        return
    _print_request(service.policy, req, flags, trail, signing)


def _value(value, currency: str) -> str:
    from decimal import Decimal

    from ..core.values import format_money

    return format_money(value, currency) if isinstance(value, Decimal) else str(value)


def _for_whom(a, trail) -> str:
    """" for lisa.executive (delegated until 2026-12-20)" of a decision made under a delegation
    (its entry's signed details hold the day), "" of one made in the decider's own right."""
    from ..core.signatures import on_behalf_words

    if not a.on_behalf_of:
        return ""
    until = next((e.details.get("delegated_until") for e in reversed(trail) if e.actor == a.approver
                  and e.details.get("on_behalf_of") == a.on_behalf_of and e.details.get("stage") == a.stage
                  and e.details.get("revision") == a.revision), None)
    return on_behalf_words(a.on_behalf_of, until)


def _print_request(policy, req, flags, trail, signing=({}, None)) -> None:
    wtype = policy.types.get(req.workflow_type)
    click.echo(f"{req.id}  {safe(req.title)}")
    click.echo(f"  Type:       {safe(wtype.name if wtype else req.workflow_type)} ({req.workflow_type})")
    click.echo(f"  Requester:  {safe(req.requester)}")
    where = f", stage {req.current_stage + 1} of {len(req.required_approvers)} ({req.current_role.label})" \
        if req.current_role else ""
    click.echo(f"  Status:     {req.status.label}{where}   (revision {req.revision})")
    click.echo(f"  Risk:       {req.risk_level.value}: {safe(req.risk_reason)}")
    from ..core.due import due_line

    when_due = due_line(req, policy, datetime.now(timezone.utc))
    if when_due is not None:
        click.echo(f"  Due:        {when_due}")
    click.echo("  Data:       " + "; ".join(f"{k} = {safe(_value(v, policy.currency))}" for k, v in req.data.items()))
    click.echo(f"  Created:    {fmt_time(req.created_at)}    Updated: {fmt_time(req.updated_at)}")
    if req.filing is not None:
        _print_filing(req)
    if req.description:
        click.echo("  Description:")
        for line in safe(req.description, multiline=True).splitlines():
            click.echo(f"    {line}")
    click.echo(f"  Approval chain: {chain_text(req)}")
    from ..core.models import Decision
    from ..core.stage_rules import progress

    for i, role in enumerate(req.required_approvers):
        done = [a for a in req.approvals if a.revision == req.revision and a.stage == i]
        votes = progress(req, i)  # a quorum or parallel stage: its votes, then each one on a line
        current = req.current_role is not None and i == req.current_stage
        if votes is not None and (current or (done and done[-1].decision is Decision.APPROVE)):
            click.echo(f"    {i + 1}. {role.label:<10} {safe(votes)}{', awaiting decision' if current else ''}")
            for a in done:
                note = f': "{safe(a.comments)}"' if a.comments else ""
                click.echo(f"         {a.decision.past_tense} by {safe(a.approver)} ({a.approver_role.label}, for "
                           f"{a.role.label}){safe(_for_whom(a, trail))} {fmt_time(a.decided_at)}{note}")
            continue
        if done:
            a = done[-1]
            note = f': "{safe(a.comments)}"' if a.comments else ""
            agent = f" (proposed by {safe(a.proposed_by)})" if a.proposed_by else ""
            state = (f"{a.decision.past_tense} by {safe(a.approver)} ({a.approver_role.label}){safe(_for_whom(a, trail))} "
                     f"{fmt_time(a.decided_at)}{agent}{note}")
        elif req.current_role is not None and i == req.current_stage:
            state = "awaiting decision"
        else:
            state = "-"
        click.echo(f"    {i + 1}. {role.label:<10} {state}")
    earlier = [a for a in req.approvals if a.revision != req.revision]
    for a in earlier:
        click.echo(f"    (revision {a.revision}) stage {a.stage + 1} {a.decision.past_tense} by {safe(a.approver)}"
                   + (f': "{safe(a.comments)}"' if a.comments else ""))
    if flags:
        click.echo("  Compliance flags:")
        for f in flags:
            click.echo(f"    [{f['severity']}] {safe(f['title'])}: {safe(f['explanation'])}")
    click.echo("  Audit trail:")
    for e in trail:
        from ..core.reports.entries import describe

        rec = {"action": e.action, "details": e.details}
        click.echo(f"    #{e.seq:<6} {fmt_time(e.timestamp)}  {safe(e.actor)}: {safe(describe(rec))}")
        from ..core.signatures import entry_manifestation

        signed = entry_manifestation(e, names=signing[0], zone=signing[1])
        if signed:
            click.echo(f"            {safe(signed)}")


def _print_filing(req) -> None:
    """What an agent or a system filed: who, until when, its words, and the exact payload."""
    from datetime import datetime, timezone

    from ..render.payload import payload_lines, waiting_words

    filing = req.filing
    who = f" (integration of {safe(filing.owner)})" if filing.owner else ""
    agent = f", agent {safe(filing.agent)}" if filing.agent else ""
    click.echo(f"  Filed by:   {safe(req.requester)}{who}{agent}")
    click.echo(f"  Deadline:   {safe(waiting_words(req, datetime.now(timezone.utc)))}")
    click.echo("  Justification (the agent's words, checked by nobody):")
    for line in safe(filing.justification or "(none given)", multiline=True).splitlines():
        click.echo(f"    {line}")
    click.echo(f"  Payload (sha256 {filing.payload_sha256}):")
    for line in payload_lines(filing, req.id):
        click.echo(f"    {line}")


@request.command("resubmit")
@click.argument("workflow_id")
@click.option("--title", default=None, help="A new title.")
@click.option("--description", "-d", default=None, help="A new description.")
@click.option("--field", "-f", "fields", multiple=True, metavar="NAME=VALUE",
              help="Change a field (repeatable); the others keep their values.")
@click.option("-m", "--comment", default="", help="What you changed.")
@click.pass_context
@guarded
def resubmit(ctx: click.Context, workflow_id: str, title: str | None, description: str | None,
             fields: tuple[str, ...], comment: str) -> None:
    """After changes were requested: edit your request and restart its approval chain.

    \b
    Example:
      hitl-tui request resubmit WF-1704462345-7892 -f amount=12000 -m "Dropped the business-class upgrade"
    """
    changes = parse_fields(fields)
    with open_service(ctx, writes=True) as service:
        current = service.get_workflow_for(me(), workflow_id)
        data = {k: str(v) for k, v in current.data.items()} | changes if changes else None
        req = service.resubmit(current.id, me(), title=title, description=description, data=data, comments=comment)
    click.echo(f"Resubmitted {req.id} as revision {req.revision}: {req.risk_level.value} risk "
               f"({safe(req.risk_reason)}); chain {chain_text(req)}, now awaiting {req.current_role.label}.")
