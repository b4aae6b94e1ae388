"""Quorum and parallel stages (issue 14): what each stage of a chain needs, and the counting of
its votes. One place for these rules: the policy's parsing, the service, the replay, rbac, the
inbox's columns and the displays all ask here.

A chain element in the policy is a role (`"manager"`: one approval), `{ role = "manager",
quorum = 2 }` (two distinct people who may decide a manager stage), or `{ all = ["security",
"compliance"] }` (one approval for each role, in any order). Each person counts once per
revision of a request (rbac.check_decide: a voter never votes again, in this stage or another),
so one person never fills two roles of a parallel stage. A request filed before this, or under a
chain of plain roles, carries no rules: each stage is one approval of its role, as it always was.
The rules are stored with the request (the `stage_rules` column, migration 19) and carried in its
created/resubmitted entry, so the replay rebuilds them and re-counts every stage (replay.py).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Sequence

from .errors import PolicyError, ValidationFailed
from .models import Approval, Decision, Role, StageRule, User, WorkflowRequest, WorkflowStatus

if TYPE_CHECKING:
    from .policy import Policy

__all__ = ["parse_chain", "items", "details", "encode", "text_of", "decode", "encode_roles", "rule_at", "votes",
           "missing", "awaited", "all_roles", "slot_for", "completes", "columns", "opening", "replayed",
           "complete_after", "shortfalls", "stage_label", "rule_label", "chain_words", "progress"]


# --- the policy's form ---------------------------------------------------------------------------

def parse_chain(where: str, level: str, raw: Any) -> tuple[tuple[Role, ...], tuple[StageRule, ...]]:
    """(each stage's role, each stage's rule) of one risk level's chain, or one PolicyError line.
    A parallel stage's role in the first tuple is its first listed role (the chain column's)."""
    if not isinstance(raw, list) or not raw:
        raise PolicyError(f"{where}: no approval chain for risk level {level}.")
    rules = tuple(_stage(f"{where}: chain {level} stage {n}", item) for n, item in enumerate(raw, 1))
    return tuple(r.roles[0] for r in rules), rules


def _stage(where: str, item: Any) -> StageRule:
    if isinstance(item, str):
        return StageRule(roles=[_role(where, item)])
    if not isinstance(item, dict):
        raise PolicyError(f"{where} must be a role, {{ role = ..., quorum = N }} or {{ all = [...] }}, not {item!r}.")
    keys = set(item)
    if "all" in keys:
        if keys != {"all"}:
            raise PolicyError(f"{where}: `all` takes no other key ({', '.join(sorted(keys - {'all'}))}).")
        listed = item["all"]
        if not isinstance(listed, list) or not listed:
            raise PolicyError(f"{where}: `all` needs a list of one or more roles, not {listed!r}.")
        roles = [_role(where, r) for r in listed]
        twice = next((r for i, r in enumerate(roles) if r in roles[:i]), None)
        if twice is not None:
            raise PolicyError(f"{where}: `all` names {twice.value} twice; for several people of one role, use "
                              f"{{ role = \"{twice.value}\", quorum = N }}.")
        return StageRule(roles=roles)
    unknown = sorted(keys - {"role", "quorum"})
    if unknown or "role" not in keys:
        raise PolicyError(f"{where}: unknown key {unknown[0]!r}; a stage takes role and quorum, or all." if unknown
                          else f"{where}: a stage table needs `role` (or `all`).")
    quorum = item.get("quorum", 1)
    if isinstance(quorum, bool) or not isinstance(quorum, int) or quorum < 1:
        raise PolicyError(f"{where}: quorum must be a whole number of at least 1, not {quorum!r}.")
    return StageRule(roles=[_role(where, item["role"])], quorum=quorum)


def _role(where: str, value: Any) -> Role:
    if not isinstance(value, str):
        raise PolicyError(f"{where}: a role is a name such as \"manager\", not {value!r}.")
    try:
        return Role.parse(value)
    except ValidationFailed as exc:
        raise PolicyError(f"{where}: {exc}") from None


def _plain(rule: StageRule) -> bool:
    return not rule.parallel and rule.quorum == 1


def items(rules: Sequence[StageRule]) -> list[Any]:
    """The rules as the policy writes them: a role, {"role", "quorum"}, {"all"}."""
    return [r.roles[0].value if _plain(r) else {"all": [x.value for x in r.roles]} if r.parallel
            else {"role": r.roles[0].value, "quorum": r.quorum} for r in rules]


def details(rules: Sequence[StageRule]) -> dict[str, Any]:
    """What a created/resubmitted entry carries of them: nothing for a chain of plain stages."""
    return {} if all(_plain(r) for r in rules) else {"stage_rules": items(rules)}


def encode(rules: Sequence[StageRule]) -> str | None:
    """The `stage_rules` column: None for a chain of plain stages."""
    return text_of(details(rules).get("stage_rules"))


def text_of(value: Any) -> str | None:
    """The column's text for an entry's `stage_rules` (None when it carries none): the replay's
    form and the service's are this one function, so they are equal when the entry is."""
    return None if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"))


def decode(text: str | None) -> list[StageRule]:
    """The column's rules (written by encode; [] for NULL)."""
    if not text:
        return []
    out = []
    for item in json.loads(text):
        if isinstance(item, str):
            out.append(StageRule(roles=[Role(item)]))
        elif "all" in item:
            out.append(StageRule(roles=[Role(r) for r in item["all"]]))
        else:
            out.append(StageRule(roles=[Role(item["role"])], quorum=int(item["quorum"])))
    return out


def encode_roles(roles: Sequence[Role]) -> str:
    """',security,compliance,': the commas make `LIKE '%,role,%'` exact (as the chain column's)."""
    return "," + ",".join(r.value for r in roles) + ","


def decode_roles(text: str | None) -> tuple[str, ...]:
    """The role names of an `awaited` column written by encode_roles; () for NULL."""
    return tuple(r for r in (text or "").split(",") if r)


# --- counting ------------------------------------------------------------------------------------

def rule_at(request: WorkflowRequest, stage: int) -> StageRule:
    if request.stage_rules and 0 <= stage < len(request.stage_rules):
        return request.stage_rules[stage]
    return StageRule(roles=[request.required_approvers[stage]])


def votes(request: WorkflowRequest, stage: int | None = None) -> list[Approval]:
    """The approvals a stage of the current revision has had (the current stage by default)."""
    at = request.current_stage if stage is None else stage
    return [a for a in request.approvals if a.revision == request.revision and a.stage == at
            and a.decision is Decision.APPROVE]


def missing(rule: StageRule, filled: Sequence[Role]) -> tuple[Role, ...]:
    """The roles a stage still awaits after approvals filling `filled` (each vote's stage role)."""
    if rule.parallel:
        return tuple(r for r in rule.roles if r not in filled)
    return (rule.roles[0],) if len(filled) < rule.quorum else ()


def awaited(request: WorkflowRequest) -> tuple[Role, ...]:
    """The roles the current stage still awaits; () unless the request is awaiting approval."""
    if request.status is not WorkflowStatus.AWAITING_APPROVAL or \
            not 0 <= request.current_stage < len(request.required_approvers):
        return ()
    return missing(rule_at(request, request.current_stage), [a.role for a in votes(request)])


def all_roles(request: WorkflowRequest) -> list[Role]:
    """Every role any stage of the chain names (a parallel stage's too): who may see it."""
    if not request.stage_rules:
        return list(request.required_approvers)
    return [r for rule in request.stage_rules for r in rule.roles]


def slot_for(stage_deciders: Any, request: WorkflowRequest, role: Role) -> Role:
    """The stage role a vote by someone with `role` fills: their own role while the stage awaits
    it, else the first awaited role they may decide (`stage_deciders`: Policy.stage_deciders),
    else the first awaited (an escalated stage, a delegate's vote)."""
    waiting = awaited(request)
    if not waiting:
        return request.required_approvers[request.current_stage]
    if role in waiting:
        return role
    return next((r for r in waiting if role in stage_deciders(r)), waiting[0])


def completes(request: WorkflowRequest, slot: Role) -> bool:
    """Does an approval filling `slot` complete the current stage (so the chain moves on)?"""
    rule = rule_at(request, request.current_stage)
    return not missing(rule, [*(a.role for a in votes(request)), slot])


def columns(request: WorkflowRequest, status: WorkflowStatus, stage: int, slot: Role | None) -> dict[str, Any]:
    """The requests row's current_role and awaited after a decision that leaves it at `status`
    and `stage` (`slot`: the role an approval filled, which counts when the stage stays)."""
    if status is not WorkflowStatus.AWAITING_APPROVAL:
        return {"current_role": None, "awaited": None}
    rule = rule_at(request, stage)
    filled = [*(a.role for a in votes(request)), *([slot] if slot else [])] if stage == request.current_stage else []
    return _columns(rule, filled)


def opening(chain: Sequence[Role], rules: Sequence[StageRule]) -> dict[str, Any]:
    """current_role and awaited of a request filed (or resubmitted) at its first stage."""
    return _columns(rules[0] if rules else StageRule(roles=[chain[0]]), [])


def _columns(rule: StageRule, filled: Sequence[Role]) -> dict[str, Any]:
    waiting = missing(rule, filled)
    return {"current_role": (waiting[0] if waiting else rule.roles[0]).value,
            "awaited": encode_roles(waiting) if rule.parallel and waiting else None}


def replayed(rules_text: str, stage: int, filled: Sequence[Any]) -> tuple[str, str | None] | None:
    """For the replay: (current_role, awaited) of `stage` after votes filling `filled` (the
    entries' stage roles); None when the rules cannot be read (an edited entry)."""
    rule = _rule_of(rules_text, stage)
    if rule is None:
        return None
    cols = _columns(rule, _roles(filled))
    return cols["current_role"], cols["awaited"]


def complete_after(rules_text: str, stage: int, filled: Sequence[Any]) -> tuple[bool, int] | None:
    """For the replay: (do votes filling `filled` complete `stage`?, approvals it needs); None
    when the rules cannot be read."""
    rule = _rule_of(rules_text, stage)
    if rule is None:
        return None
    return not missing(rule, _roles(filled)), rule.needed


def _roles(filled: Sequence[Any]) -> list[Role]:
    known = {r.value for r in Role}
    return [Role(f) for f in filled if isinstance(f, str) and f in known]


def _rule_of(rules_text: str, stage: int) -> StageRule | None:
    try:
        rules = decode(rules_text)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return rules[stage] if 0 <= stage < len(rules) else None


def shortfalls(policy: "Policy", people: Sequence[User]) -> list[str]:
    """What the policy's quorums ask of more people than the directory has: "expense_approval
    HIGH stage 1 needs 3 of the 2 active people who may decide Manager". Allowed (people are
    added later; until then such a stage waits), but said when the policy is applied."""
    out = []
    deciders = [p for p in people if p.active and not p.integration]
    for key, wtype in policy.types.items():
        for level, rules in wtype.stage_rules.items():
            for n, rule in enumerate(rules, 1):
                if rule.parallel or rule.quorum == 1:
                    continue
                may = policy.stage_deciders(rule.roles[0])
                count = sum(1 for p in deciders if p.role in may)
                if count < rule.quorum:
                    out.append(f"{key} {level.value} stage {n} needs {rule.quorum} of the {count} active "
                               f"{'person' if count == 1 else 'people'} who may decide {rule.roles[0].label}")
    return out


# --- in words ------------------------------------------------------------------------------------

def stage_label(request: WorkflowRequest, stage: int) -> str:
    """"Manager", "Manager ×2", "Security + Compliance": what a stage needs, in a few words."""
    return rule_label(rule_at(request, stage))


def rule_label(rule: StageRule) -> str:
    if rule.parallel:
        return " + ".join(r.label for r in rule.roles)
    return rule.roles[0].label if rule.quorum == 1 else f"{rule.roles[0].label} ×{rule.quorum}"


def chain_words(request: WorkflowRequest) -> str:
    """"Manager ×2 -> Security + Compliance -> Director": the chain with its rules."""
    return " -> ".join(stage_label(request, i) for i in range(len(request.required_approvers)))


def progress(request: WorkflowRequest, stage: int, you: str | None = None) -> str | None:
    """A quorum or parallel stage's votes in words, for the chain views: "1 of 2 votes
    (mike.manager)", "Security ✓ sam.security · Compliance waiting"; None for a plain stage."""
    rule = rule_at(request, stage)
    if _plain(rule):
        return None
    got = votes(request, stage)

    def who(a: Approval) -> str:
        return "you" if you is not None and a.approver == you else a.approver

    if not rule.parallel:
        names = f" ({', '.join(who(a) for a in got)})" if got else ""
        return f"{len(got)} of {rule.quorum} votes{names}"
    parts = []
    for role in rule.roles:
        filled = [a for a in got if a.role is role]
        parts.append(f"{role.label} ✓ {who(filled[0])}" if filled else f"{role.label} waiting")
    return " · ".join(parts)
