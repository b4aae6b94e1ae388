"""The approval chain as one progress line: done / current / to come, with who and when."""

from __future__ import annotations

from rich.text import Text

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
    earlier = {a.approver for a in decided.values()}
    for stage, role in enumerate(request.required_approvers):
        if stage:
            text.append("  ", style="dim")
        approval = decided.get(stage)
        if approval is not None:
            mark, style = {Decision.APPROVE: (DONE, "green"), Decision.REJECT: (REJECTED, "red"),
                           Decision.REQUEST_CHANGES: (RETURNED, "yellow")}[approval.decision]
            text.append(f"{mark} {role.label} ", style=f"bold {style}")
            who = "you" if viewer and approval.approver == viewer.username else approval.approver
            text.append(clean(who, single_line=True), style=style)
            text.append(f" {local_time(approval.decided_at, micro=False, date=False)}", style="dim")
        elif stage == request.current_stage and request.status is WorkflowStatus.AWAITING_APPROVAL:
            text.append(f"{CURRENT} {role.label}", style="bold reverse")
            if you_may_decide:
                text.append(" (you)", style="bold")
            else:
                who = eligible_deciders(policy, people, request, role, earlier)
                text.append(f" {clean(names(who), single_line=True)}" if who else " (nobody eligible!)",
                            style="italic" if who else "bold red")
        else:
            text.append(f"{TO_COME} {role.label}", style="dim")
    return text
