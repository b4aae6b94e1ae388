"""`hitl-tui approve|reject|request-changes|withdraw`: decisions, as your OS login."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..core.decisions import TERMS
from ..core.models import Decision
from ..core.payloads import sha256_of
from .common import echo_json, guarded, me, open_service, safe
from .keys import reauth_prompt


def _outcome(req) -> str:
    from ..core.stage_rules import progress

    if req.current_role is not None:
        votes = progress(req, req.current_stage, me())  # a quorum or parallel stage: its votes so far
        return (f"now awaiting stage {req.current_stage + 1} of {len(req.required_approvers)} "
                f"({req.current_role.label}{'' if votes is None else ': ' + safe(votes)})")
    return f"now {req.status.label}"


def _report(req, verb: str, as_json: bool) -> None:
    if as_json:
        echo_json({"id": req.id, "status": req.status, "current_stage": req.current_stage,
                   "awaiting": req.current_role, "revision": req.revision})
    else:
        click.echo(f"{verb} {req.id} ({safe(req.title)}); {_outcome(req)}.")


def _decide(ctx: click.Context, decision: Decision, workflow_id: str, comments: str, as_json: bool,
            payload: Any = None) -> None:
    """One decision as your OS login, through the engine's one `decide` (words: decisions.TERMS)."""
    with open_service(ctx, writes=True) as service:
        req = service.decide(workflow_id.strip(), me(), decision, comments, unlock=reauth_prompt(me()),
                             payload=payload)
    _report(req, TERMS[decision].done, as_json)
    if payload is not None and not as_json:
        click.echo(f"Proposed a revised payload (sha256 {sha256_of(payload)[:16]}...): {safe(req.requester)} must "
                   f"accept it, or send another, before anyone may approve it.")


_JSON = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


@click.command(short_help="Approve the stage of a request that awaits your role.")
@click.argument("workflow_id")
@click.option("-m", "--comment", default="", help="Why you approve (optional, recorded in the audit log).")
@_JSON
@click.pass_context
@guarded
def approve(ctx: click.Context, workflow_id: str, comment: str, as_json: bool) -> None:
    """Approve the stage of WORKFLOW_ID that awaits your role.

    Refused (exit 1, nothing written) when you requested it, already decided a stage of it, your
    role may not decide its current stage, or it is no longer awaiting approval.

    \b
    Example:
      hitl-tui approve WF-1704462345-7892 -m "Business justification confirmed"
    """
    _decide(ctx, Decision.APPROVE, workflow_id, comment, as_json)


@click.command(short_help="Reject a request (a reason is required).")
@click.argument("workflow_id")
# Not required=True: the engine refuses an empty reason itself, in one line (a click usage
# error would print the usage text too).
@click.option("-m", "--reason", default="", help="Why (required; the requester sees it).")
@_JSON
@click.pass_context
@guarded
def reject(ctx: click.Context, workflow_id: str, reason: str, as_json: bool) -> None:
    """Reject WORKFLOW_ID at the stage awaiting your role; a reason is required.

    \b
    Example:
      hitl-tui reject WF-1704462345-7892 -m "Not in this quarter's budget"
    """
    _decide(ctx, Decision.REJECT, workflow_id, reason, as_json)


@click.command("request-changes", short_help="Send a request back to its requester for changes.")
@click.argument("workflow_id")
@click.option("-m", "--comment", default="", help="What must change (required).")
# readable=False: click's check asks access(2), which ignores what the account may read; reading says why it cannot
@click.option("--payload", "payload_file", type=click.Path(exists=True, dir_okay=False, readable=False, path_type=Path),
              default=None, help="A JSON file holding the revised payload you propose (a request filed for approval only).")
@_JSON
@click.pass_context
@guarded
def request_changes(ctx: click.Context, workflow_id: str, comment: str, payload_file: Path | None,
                    as_json: bool) -> None:
    """Send WORKFLOW_ID back to its requester for changes; they may resubmit it.

    On a request an agent or a system filed for approval, --payload proposes exactly what it
    should ask for instead: a proposal, signed with your decision, that nobody may approve until
    the caller accepts it by resubmitting it.

    \b
    Examples:
      hitl-tui request-changes WF-1704462345-7892 -m "Attach the vendor quote"
      hitl-tui request-changes WF-1704462345-7892 -m "Order 1243, not 1234" --payload revised.json
    """
    from .receipts import read_payload

    payload = None if payload_file is None else read_payload(payload_file)
    _decide(ctx, Decision.REQUEST_CHANGES, workflow_id, comment, as_json, payload)


@click.command(short_help="Withdraw a request you filed.")
@click.argument("workflow_id")
@click.option("-m", "--reason", default="", help="Why you withdraw it (optional).")
@_JSON
@click.pass_context
@guarded
def withdraw(ctx: click.Context, workflow_id: str, reason: str, as_json: bool) -> None:
    """Withdraw your own request WORKFLOW_ID (only its requester may).

    \b
    Example:
      hitl-tui withdraw WF-1704462345-7892 -m "Trip cancelled"
    """
    with open_service(ctx, writes=True) as service:
        req = service.withdraw_workflow(workflow_id.strip(), me(), reason)
    _report(req, "Withdrew", as_json)
