"""Requests as plain sentences, for the accessible desk: what the inbox and the detail pane show,
said one line at a time, in words a screen reader reads well (no symbols, no colour, no columns).

Every text a person typed passes through `safe` (core's neutralise rule, as the CLI prints it):
a title can hold `[@click=app.quit]` or an escape byte and still prints as inert characters.
The rules themselves (who may decide, who could decide next, the compliance checks, how an
audit entry reads) are core's; this module only puts them into sentences.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Iterable

from ..core.due import due_line
from ..commands.common import safe
from ..core import rbac, stage_rules
from ..core.decisions import TERMS
from ..core.errors import HitlError
from ..core.models import Decision, RequestSummary, Role, User, WorkflowRequest, WorkflowStatus
from ..core.policy import Policy
from ..core.reports.entries import describe
from ..core.workflow import Action
from ..render.payload import filing_lines
from ..render.text import format_value, local_time, relative_age



#: relative_age's units, as a screen reader should say them ("12m" would be read as metres)
_UNITS = {"s": "second", "m": "minute", "min": "minute", "h": "hour", "d": "day", "w": "week", "wk": "week",
          "mo": "month", "y": "year"}
_AGE = re.compile(r"^([0-9]+) ?([a-z]+) ago$")


def spoken_age(then: datetime, now: datetime) -> str:
    """The desk's one age (render.text.relative_age: same clock, same rounding), with its unit
    spelled out: '12 minutes ago', '1 day ago', 'just now'."""
    text = relative_age(then, now)
    match = _AGE.match(text)
    if match is None or match.group(2) not in _UNITS:
        return text
    count, unit = match.groups()
    return f"{count} {_UNITS[unit]}{'' if count == '1' else 's'} ago"


def stage_words(status: WorkflowStatus, role: Role | None, stage: int, stages: int) -> str:
    """'awaiting Director, stage 2 of 3' while awaiting; the outcome otherwise ('approved')."""
    if status is WorkflowStatus.AWAITING_APPROVAL and role is not None:
        return f"awaiting {role.label}, stage {stage + 1} of {stages}"
    return status.label


def row_line(number: int, row: RequestSummary, now: datetime) -> str:
    """One inbox row: number, id, title, risk word, stage, requester, age."""
    stage = stage_words(row.status, row.current_role, row.current_stage, row.stage_count)
    return (f"{number}. {safe(row.id)}: {safe(row.title)}. {row.risk_level.value} risk, {stage}, "
            f"from {safe(row.requester)}, {spoken_age(row.created_at, now)}.")


def who(names: list[str], viewer: User | None) -> str:
    shown = ["you" if viewer and n == viewer.username else safe(n) for n in names]
    if len(shown) <= 1:
        return "".join(shown)
    return ", ".join(shown[:-1]) + " or " + shown[-1]


def chain_lines(req: WorkflowRequest, viewer: User | None, policy: Policy, people: list[User]) -> list[str]:
    """The approval chain, one sentence per stage: decided (by whom, when, what they said),
    waiting now (for whom), or still to come."""
    decided = {a.stage: a for a in req.approvals if a.revision == req.revision}
    earlier = {a.approver for a in req.approvals if a.revision == req.revision}  # each person counts once
    count = len(req.required_approvers)
    lines = [f"Approval chain, {count} stage{'s' if count != 1 else ''}: "
             + ", then ".join(stage_rules.stage_label(req, i) for i in range(count)) + "."]
    for stage, role in enumerate(req.required_approvers):
        head = f"  Stage {stage + 1} of {count}, {role.label}: "
        approval = decided.get(stage)
        waiting = stage == req.current_stage and req.status is WorkflowStatus.AWAITING_APPROVAL
        votes = stage_rules.progress(req, stage, viewer.username if viewer else None)  # quorum, parallel
        if votes is not None and (waiting or approval is not None and approval.decision is Decision.APPROVE):
            head += f"{safe(votes)}; "
        if approval is not None and not waiting:
            by = "you" if viewer and approval.approver == viewer.username else safe(approval.approver)
            text = (f"{TERMS[approval.decision].by} {by} ({approval.approver_role.label}) "
                    f"on {local_time(approval.decided_at, micro=False)}")
            if approval.proposed_by:
                text += f", proposed by the agent {safe(approval.proposed_by)}"
            if approval.comments:
                text += f", saying: {safe(approval.comments)}"
            lines.append(head + text + ".")
        elif waiting:
            if viewer is not None and rbac.may_decide(policy, viewer, req):
                lines.append(head + "waiting now, for you to decide.")
            else:
                names = rbac.eligible_deciders(policy, people, req, req.current_role or role, earlier)
                lines.append(head + (f"waiting now, for {who(names, viewer)}." if names
                                     else "waiting now, but nobody active may decide it."))
        elif req.status is WorkflowStatus.AWAITING_APPROVAL:
            lines.append(head + "to come.")
        else:
            lines.append(head + "not reached.")
    for a in req.approvals:
        if a.revision != req.revision:
            said = f", saying: {safe(a.comments)}" if a.comments else ""
            lines.append(f"  Earlier, revision {a.revision}, stage {a.stage + 1} ({a.role.label}): "
                         f"{TERMS[a.decision].by} {safe(a.approver)}{said}.")
    return lines


def data_lines(req: WorkflowRequest, policy: Policy) -> list[str]:
    wtype = policy.types.get(req.workflow_type)
    if wtype is None:  # a type the policy in force no longer has: show the stored fields as they are
        return [f"{safe(k)}: {safe(v)}." for k, v in req.data.items()]
    lines = []
    for spec in wtype.fields:
        value = req.data.get(spec.name)
        shown = (format_value(value, spec.kind, policy.currency if spec.kind == "money" else "")
                 if value is not None else "not given")
        lines.append(f"{safe(spec.label)}: {safe(shown)}.")
    return lines


def detail_lines(req: WorkflowRequest, viewer: User, policy: Policy, people: list[User],
                 flags: list[dict[str, Any]], trail: Iterable[Any], now: datetime, ref: str) -> list[str]:
    """The whole detail as a linear transcript; `ref` is how the user names it in a command
    (its row number, or its id)."""
    wtype = policy.types.get(req.workflow_type)
    status = req.status.label
    if req.current_role is not None:
        status = f"awaiting {req.current_role.label}, stage {req.current_stage + 1} of {len(req.required_approvers)}"
    requester = next((p for p in people if p.username == req.requester), None)
    lines = [
        f"Request {safe(req.id)}: {safe(req.title)}.",
        f"Type: {safe(wtype.name if wtype else req.workflow_type)}.",
        f"Requested by {'you' if req.requester == viewer.username else safe(req.requester)}"
        + (f" ({requester.role.label})" if requester else "")
        + f", {spoken_age(req.created_at, now)}, on {local_time(req.created_at, micro=False)}.",
        f"Status: {status}." + (f" Revision {req.revision}." if req.revision > 1 else ""),
        f"Risk: {req.risk_level.value}, because {safe(req.risk_reason)}.",
        *([] if (when_due := due_line(req, policy, now)) is None else [f"{when_due[:1].upper()}{when_due[1:]}."]),
        *data_lines(req, policy),
        *filing_lines(req, now),  # filed by an agent or a system: who, until when, its words, the payload
    ]
    if req.description:
        lines.append("Description:")
        lines.extend(f"  {line}" for line in safe(req.description, multiline=True).replace("\t", "    ").splitlines())
    else:
        lines.append("Description: none.")
    lines.extend(chain_lines(req, viewer, policy, people))
    if flags:
        lines.append(f"Compliance flags, {len(flags)}:")
        lines.extend(f"  {str(f['severity']).upper()}: {safe(f['title'])}. {safe(f['explanation'])}" for f in flags)
    else:
        lines.append("Compliance flags: none.")
    entries = list(trail)
    lines.append(f"Audit trail, {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}, oldest first:")
    for e in entries:
        text = describe({"action": e.action, "details": e.details})
        lines.append(f"  Entry {e.seq}, {local_time(e.timestamp, micro=False)}, {safe(e.actor)}: {safe(text)}.")
    lines.append(what_you_can_do(req, viewer, policy, ref))
    return lines


def what_you_can_do(req: WorkflowRequest, viewer: User, policy: Policy, ref: str) -> str:
    """The commands this viewer may use on it, or the rule that stops them (the desk greys keys)."""
    if rbac.may_decide(policy, viewer, req):
        return (f"You may decide it: approve {ref}, reject {ref} REASON, or changes {ref} COMMENT.")
    if rbac.may_resubmit(viewer, req):  # editing is a form; the CLI has it, line by line
        return (f"Changes were requested: edit and resubmit it with `hitl-tui request resubmit {safe(req.id)}`, "
                f"or withdraw it: withdraw {ref}.")
    if rbac.may_withdraw(viewer, req):
        return f"You may withdraw it: withdraw {ref}."
    if req.status is WorkflowStatus.AWAITING_APPROVAL:
        try:
            rbac.check_decide(policy, viewer, req, Action.APPROVE)
        except HitlError as exc:  # the rule's own sentence is what we want to say
            return f"You cannot decide it: {safe(exc)}"
    return "Nothing waits for you on it."


def summary_line(req: WorkflowRequest, policy: Policy) -> str:
    """The request a confirmation is about, in one sentence."""
    wtype = policy.types.get(req.workflow_type)
    value = ""
    if wtype is not None and req.risk_field:
        try:
            kind = wtype.field(req.risk_field).kind
        except KeyError:
            kind = ""
        value = format_value(req.headline_value, kind, policy.currency if kind == "money" else "") + ", "
    stage = stage_words(req.status, req.current_role, req.current_stage, len(req.required_approvers))
    return (f"{safe(req.id)}: {safe(req.title)}. {req.risk_level.value} risk, {safe(value)}"
            f"from {safe(req.requester)}, {stage}.")


def consequence(req: WorkflowRequest, decision: Decision | None, policy: Policy, people: list[User]) -> str:
    """core's sentence for what confirming does, with the people's text made inert."""
    from ..core.consequences import consequence as sentence

    return safe(sentence(req, decision, policy, people))


def outcome(req: WorkflowRequest) -> str:
    """Where a request stands after a decision: 'now awaiting Director, stage 2 of 3'."""
    return "now " + stage_words(req.status, req.current_role, req.current_stage, len(req.required_approvers))
