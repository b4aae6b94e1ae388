"""The approval chain as one progress line: done / current / to come, with who and when."""

from __future__ import annotations

from rich.text import Text

from ..core import stage_rules
from ..core.models import Decision, User, WorkflowRequest, WorkflowStatus
from ..core.rbac import eligible_deciders
from ..core.policy import Policy
from .text import clean, local_time

DONE, CURRENT, TO_COME, REJECTED, RETURNED = "✔", "▶", "○", "✘", "↺"


def names(items: list[str], limit: int = 2) -> str:
    shown = ", ".join(items[:limit])
    return f"{shown} +{len(items) - limit}" if len(items) > limit else shown


def chain_progress(request: WorkflowRequest, viewer: User | None, policy: Policy, people: list[User],
                   *, you_may_decide: bool) -> Text:
    text = Text(end="")
    decided = {a.stage: a for a in request.approvals if a.revision == request.revision}
    earlier = {a.approver for a in request.approvals if a.revision == request.revision}
    awaiting = request.status is WorkflowStatus.AWAITING_APPROVAL
    for stage, role in enumerate(request.required_approvers):
        if stage:
            text.append("  ", style="dim")
        approval = decided.get(stage)
        # a quorum or parallel stage's votes: "1 of 2 votes (mike.manager)", "Security ✓ sam · Compliance waiting"
        votes = stage_rules.progress(request, stage, viewer.username if viewer else None)
        if approval is not None and not (awaiting and stage == request.current_stage):
            mark, style = {Decision.APPROVE: (DONE, "green"), Decision.REJECT: (REJECTED, "red"),
                           Decision.REQUEST_CHANGES: (RETURNED, "yellow")}[approval.decision]
            parallel_votes = votes is not None and stage_rules.rule_at(request, stage).parallel
            text.append(f"{mark} " if parallel_votes else f"{mark} {role.label} ", style=f"bold {style}")
            if votes is not None and approval.decision is Decision.APPROVE:
                text.append(clean(votes, single_line=True), style=style)
                continue
            who = "you" if viewer and approval.approver == viewer.username else approval.approver
            text.append(clean(who, single_line=True), style=style)
            text.append(f" {local_time(approval.decided_at, micro=False, date=False)}", style="dim")
        elif stage == request.current_stage and awaiting:
            if votes is None:
                text.append(f"{CURRENT} {role.label}", style="bold reverse")
            elif stage_rules.rule_at(request, stage).parallel:  # its words name its roles themselves
                text.append(f"{CURRENT} ", style="bold reverse")
                text.append(clean(votes, single_line=True), style="bold")
            else:
                text.append(f"{CURRENT} {role.label}:", style="bold reverse")
                text.append(f" {clean(votes, single_line=True)}", style="bold")
            if you_may_decide:
                text.append(" (you)", style="bold")
            else:
                waiting = request.current_role or role
                who = eligible_deciders(policy, people, request, waiting, earlier)
                text.append(f" {clean(names(who), single_line=True)}" if who else " (nobody eligible!)",
                            style="italic" if who else "bold red")
        else:
            text.append(f"{TO_COME} {role.label}", style="dim")
    return text
