"""`hitl-tui ask`: ask the agents from the shell and print the reply.

The reply goes to stdout, tool activity to stderr. A decision or a draft the assistant proposes is
carried out only after the human at the keyboard answers `y`; that needs an interactive terminal
on stdin. Without one (a script, a pipe, `yes |`) the command refuses, changes nothing and exits
with status 1 (a refusal, in the CLI's exit-status convention: commands/common.py).

Everything printed that came from the database or the model goes through `safe()`: a request
title cannot smuggle terminal escape sequences onto the screen through the assistant's reply.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field

import click

from ..agents.events import DecisionProposal, DraftRequest, TextDelta, ToolActivity, TurnFailed
from ..agents.names import AGENT_NAMES, resolve_agent
from ..core.errors import HitlError
from ..core.decisions import TERMS
from ..core.models import AgentProposal
from ..core.values import format_money
from .common import EXIT_ERROR, Failure, guarded, me, open_service, safe

NEEDS_TERMINAL = ("Not done: a decision or a new request needs your `y` at an interactive terminal, and stdin "
                  "is not one. Run `hitl-tui ask` in a terminal, or use the TUI. Nothing was changed.")


@dataclass
class TurnOutcome:
    failed: str | None = None
    proposals: list[DecisionProposal] = field(default_factory=list)
    drafts: list[DraftRequest] = field(default_factory=list)


@click.command("ask")
@click.option("--agent", "-a", metavar="NAME",
              help=f"Who answers: {', '.join(AGENT_NAMES)} (default: chosen from the question).")
@click.argument("question", nargs=-1, required=True)
@click.pass_context
@guarded
def ask(ctx: click.Context, agent: str | None, question: tuple[str, ...]) -> None:
    """Ask the assistant QUESTION and print its reply.

    Uses the model in HITL_LLM_BASE_URL / HITL_LLM_MODEL, or the built-in offline assistant.
    Proposed decisions and drafts need `y` at an interactive prompt; with no terminal the command
    refuses them (exit status 1) and nothing is written.
    """
    try:
        resolve_agent(agent)
    except HitlError as exc:
        raise click.BadParameter(str(exc), param_hint="--agent") from None
    text = " ".join(question).strip()
    from ..agents.factory import create_assistant  # deferred: imports tframex (~0.6 s)

    username = me()
    # writes=True: open_service seals what a confirmed proposal or draft wrote, and reports a
    # refused seal (a broken chain) as every other writing command does; a question, or a
    # proposal refused, writes nothing, so nothing is sealed
    with open_service(ctx, writes=True) as service:
        assistant = create_assistant(service, username)
        outcome = asyncio.run(_converse(assistant, text, agent))
        if outcome.failed:
            raise Failure(outcome.failed)
        if (outcome.proposals or outcome.drafts) and not _interactive():
            for item in (*outcome.proposals, *outcome.drafts):
                _show(service, username, item)
            raise Failure(NEEDS_TERMINAL, EXIT_ERROR)
        for proposal in outcome.proposals:
            _confirm_decision(service, username, proposal)
        for draft in outcome.drafts:
            _confirm_draft(service, username, draft)


async def _converse(assistant, text: str, agent: str | None) -> TurnOutcome:
    outcome = TurnOutcome()
    ended_line = True
    try:
        async for event in assistant.ask(text, agent):
            if isinstance(event, TextDelta):
                click.echo(safe(event.text, multiline=True), nl=False)
                ended_line = event.text.endswith("\n")
            elif isinstance(event, ToolActivity):
                click.echo(click.style(f"  · {safe(event.summary)}", dim=True), err=True)
            elif isinstance(event, DecisionProposal):
                outcome.proposals.append(event)
            elif isinstance(event, DraftRequest):
                outcome.drafts.append(event)
            elif isinstance(event, TurnFailed):
                outcome.failed = event.message
    finally:
        await assistant.aclose()
    if not ended_line:
        click.echo()
    return outcome


def _interactive() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):  # closed or replaced stdin
        return False


def _answer(prompt: str) -> str:
    click.echo(prompt, nl=False)
    line = sys.stdin.readline()
    return line.strip()


def _show(service, username: str, item: DecisionProposal | DraftRequest) -> None:
    click.echo()
    if isinstance(item, DecisionProposal):
        title = service.get_workflow_for(username, item.workflow_id).title
        click.echo(f"Proposal from {item.agent} (nothing is decided yet):")
        click.echo(f"  {TERMS[item.decision].verb} {item.workflow_id} \u201c{safe(title)}\u201d")
        if item.comments:  # recorded with the decision: the human's words, or marked as the agent's
            whose = "Your comment" if item.comment_typed else f"Comment suggested by {item.agent}"
            click.echo(f"  {whose} (recorded with the decision): {safe(item.comments)}")
        click.echo(f"  {item.agent}'s rationale (the agent's words, not recorded as your comment): "
                   f"{safe(item.rationale)}")
        return
    wtype = service.policy.workflow_type(item.workflow_type)
    click.echo(f"Draft from {item.agent} (nothing is filed yet):")
    click.echo(f"  Type: {wtype.name}")
    click.echo(f"  Title: {safe(item.title) or '(missing)'}")
    click.echo(f"  Description: {safe(item.description) or '(none)'}")
    for name, value in item.data.items():
        spec_kind = next((f.kind for f in wtype.fields if f.name == name), "text")
        shown = format_money(value, service.policy.currency) if spec_kind == "money" else value
        click.echo(f"  {safe(name)}: {safe(shown)}")
    if not item.missing:
        a = service.policy.assess(item.workflow_type, item.data)
        click.echo(f"  Risk: {a.risk_level.value} ({a.risk_reason}); approval chain: "
                   f"{' -> '.join(r.label for r in a.chain)}")


def _confirm_decision(service, username: str, p: DecisionProposal) -> bool:
    _show(service, username, p)
    words = TERMS[p.decision]
    if _answer(f"{words.verb.capitalize()} {p.workflow_id} as {username}? [y/N] ").lower() not in ("y", "yes"):
        click.echo("Not decided; nothing was changed.")
        return False
    comments = p.comments
    if words.comment_required and not comments:
        comments = _answer("Reason for the requester (required): ")
        if not comments:
            click.echo("Not decided: a reason is required. Nothing was changed.")
            return False
    record = AgentProposal(agent=p.agent, decision=p.decision, rationale=p.rationale)
    from .keys import reauth_prompt  # the policy's re-authentication at signing asks here

    req = service.decide(p.workflow_id, username, p.decision, comments, proposal=record, unlock=reauth_prompt(username))
    role = req.current_role
    now = f"now waiting for {role.label} (stage {req.current_stage + 1} of {len(req.required_approvers)})" \
        if role else f"now {req.status.label}"
    click.echo(f"{words.done} {req.id} as {username}; {now}.")
    return True


def _confirm_draft(service, username: str, d: DraftRequest) -> bool:
    _show(service, username, d)
    if d.missing:
        click.echo(f"Not ready to submit; still needed: {', '.join(d.missing)}.")
        return False
    if _answer(f"Submit this request as {username}? [y/N] ").lower() not in ("y", "yes"):
        click.echo("Not submitted; nothing was changed.")
        return False
    wid = service.create_workflow_request(d.workflow_type, d.title, d.description, username, d.data)
    chain = " -> ".join(r.label for r in service.get_workflow(wid).required_approvers)
    click.echo(f"Created {wid} requiring {chain} approval.")
    return True


__all__ = ["ask", "NEEDS_TERMINAL"]
