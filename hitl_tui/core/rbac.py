"""Who may do what. Every function either returns quietly or raises a PermissionDenied whose
message reads like a colleague explaining the rule.

The UI uses the `may_*` predicates to grey out keys; the service calls the `check_*` functions
inside its write transaction, so the UI check is a courtesy and these are the control.
Segregation of duties is not configurable: a requester never decides their own request, and one
person never decides two stages of the same revision of a request.
"""

from __future__ import annotations

from collections.abc import Sequence, Set as AbstractSet
from typing import TYPE_CHECKING, Any, Callable

from .errors import HitlError, PermissionDenied, SegregationOfDuties, UnknownUser, ValidationFailed
from .models import Role, User, WorkflowRequest, WorkflowStatus
from . import stage_rules
from .policy import Policy
from .workflow import Action, check_allowed

if TYPE_CHECKING:
    from .delegation import Covering


def _a(label: str) -> str:
    """'a Manager', 'an IT Admin', 'an Executive'."""
    return ("an " if label[:1].upper() in "AEIOU" else "a ") + label


def _require_active(user: User) -> None:
    if not user.active:
        raise PermissionDenied(f"{user.username} is deactivated and cannot act; an administrator can reactivate them.")


def check_decide(policy: Policy, user: User, request: WorkflowRequest, action: Action = Action.APPROVE,
                 delegations: "Sequence[Covering]" = ()) -> None:
    """May `user` approve / reject / request changes on the request's current stage? In their
    own right, or for a colleague who delegated to them (`delegations`: acting_for)."""
    _require_active(user)
    verb = action.verb
    if user.integration:  # first, whatever the request's state: no path lets an agent decide
        raise PermissionDenied(f"{user.username} is an integration (an AI agent or a system, owned by "
                               f"{user.owner or 'nobody'}): it may file requests and read its own, never {verb} "
                               f"one; a person with the stage's role decides {request.id}.")
    check_allowed(action, request.status, request.id)
    if user.username == request.requester:
        raise SegregationOfDuties(
            f"You requested {request.id}, so you cannot {verb} it (segregation of duties)."
        )
    owner_of = request.filing.owner if request.filing is not None else None
    if owner_of == user.username and policy.access.segregate_owners:
        raise SegregationOfDuties(
            f"{request.requester}, the integration you are responsible for, filed {request.id}, so you cannot {verb} "
            f"it (segregation of duties; the policy's [access] segregate_owners).")
    stage_role = request.current_role
    if stage_role is None:  # defensive: awaiting but past the last stage cannot happen
        raise PermissionDenied(f"{request.id} has no stage awaiting a decision.")
    if request.stage_rules:  # a parallel stage: the awaited role this person's vote would fill
        stage_role = stage_rules.slot_for(policy.stage_deciders, request, user.role)
    earlier = [a for a in request.approvals if a.revision == request.revision
               and user.username in (a.approver, a.on_behalf_of)]  # decided for them by a delegate: theirs
    if earlier and earlier[0].stage == request.current_stage and request.stage_rules \
            and earlier[0].approver == user.username:  # cast by their delegate: said below
        raise SegregationOfDuties(
            f"You already voted on stage {earlier[0].stage + 1} ({earlier[0].role.label}) of {request.id}; each "
            f"person counts once, so another person must cast the next vote (segregation of duties).")
    if earlier and earlier[0].approver != user.username:  # a delegate decided it for them (core/delegation.py)
        raise SegregationOfDuties(
            f"{earlier[0].approver} decided stage {earlier[0].stage + 1} ({earlier[0].role.label}) of {request.id} "
            f"for you (delegated); another person must decide the {stage_role.label} stage (segregation of duties).")
    if earlier:
        raise SegregationOfDuties(
            f"You already decided stage {earlier[0].stage + 1} ({earlier[0].role.label}) of {request.id}; "
            f"another person must decide the {stage_role.label} stage (segregation of duties)."
        )
    escalated = request.escalated_to is not None and role_may_decide(policy, user.role, request.escalated_to)
    if not role_may_decide(policy, user.role, stage_role) and not escalated \
            and acting_for(policy, user, request, delegations) is None:  # overdue: escalated to a senior role
        allowed = ", ".join(sorted(r.label for r in policy.stage_deciders(stage_role)))
        raise PermissionDenied(
            f"{request.id} is waiting for {_a(stage_role.label)}; as {_a(user.role.label)} you cannot {verb} it "
            f"(allowed: {allowed})."
        )


def acting_for(policy: Policy, user: User, request: WorkflowRequest,
               delegations: "Sequence[Covering]") -> "Covering | None":
    """The delegation under which `user` decides the request's current stage, or None when they
    decide it in their own right (or may not at all). A delegate decides as the delegator would:
    never the delegator's own request, nor a stage after the delegator decided one of this revision
    (core/delegation.py). Only delegations given to `user` directly count: they never cascade.
    At a parallel (`all`) stage every role it still awaits counts, not only the first."""
    stage_role = request.current_role
    if stage_role is None:
        return None
    roles = stage_rules.awaited(request) or (stage_role,)
    if any(role_may_decide(policy, user.role, r) for r in roles) or (
            request.escalated_to is not None and role_may_decide(policy, user.role, request.escalated_to)):
        return None
    decided = {name for a in request.approvals if a.revision == request.revision
               for name in (a.approver, a.on_behalf_of) if name}
    for c in delegations:
        if c.delegation.delegate == user.username and c.delegation.covers(request.workflow_type) \
                and any(eligible_deciders(policy, [c.delegator], request, r, decided) for r in roles):
            return c
    return None


def role_may_decide(policy: Policy, role: Role, stage_role: Role) -> bool:
    """May someone with `role` decide a stage that needs `stage_role` (the policy's access
    rules: the role itself, a more senior role of the management line, `also_decides`)? The
    role part of check_decide, for records where only the roles are known (audit entries)."""
    return role in policy.stage_deciders(stage_role)


def sees_everything(policy: Policy, user: User) -> bool:
    """The oversight roles (executive and compliance by default) see every request; an
    integration only ever its own, whatever its role."""
    return not user.integration and user.role in policy.access.oversight_roles


def decidable_by(policy: Policy, user: User) -> frozenset[Role]:
    """The stage roles `user` may decide now: none for an integration or someone deactivated."""
    if user.integration or not user.active:
        return frozenset()
    return policy.decidable_roles(user.role)


def check_see_queue(policy: Policy, viewer: User, owner: str) -> None:
    """Someone's queue of pending approvals is theirs to see; another person's only with an
    oversight role (an executive or a compliance officer watching who is holding what up)."""
    if owner == viewer.username or sees_everything(policy, viewer):
        return
    roles = " or ".join(sorted(r.label for r in policy.access.oversight_roles))
    raise PermissionDenied(
        f"You can see only your own pending approvals; {owner}'s queue is visible to the {roles} roles.")


def check_export(policy: Policy, user: User) -> None:
    """An export shows every request in its window, so it is for those who may see every request:
    the oversight roles of the policy and the directory's administrators, who run the system's
    audit duties."""
    if not user.active:
        raise PermissionDenied(f"{user.username} is deactivated and cannot export the audit log.")
    if not (user.admin or sees_everything(policy, user)):
        roles = ", ".join(sorted(r.label for r in policy.access.oversight_roles))
        raise PermissionDenied(
            f"Exporting the audit log shows every request, so it needs an oversight role ({roles}) or directory "
            f"administrator rights; {user.username} is {user.role.label}."
        )


def may_export(policy: Policy, user: User) -> bool:
    return may(check_export, policy, user)


def check_requester_action(user: User, request: WorkflowRequest, action: Action) -> None:
    """Withdraw and resubmit belong to the requester alone."""
    _require_active(user)
    if user.username != request.requester:
        raise PermissionDenied(
            f"Only {request.requester}, who requested {request.id}, may {action.verb} it."
        )
    check_allowed(action, request.status, request.id)


def check_create(user: User) -> None:
    _require_active(user)  # every role may file requests (the seed's matrix: all "yes")


def may_view(policy: Policy, user: User, request: WorkflowRequest, delegations: "Sequence[Covering]" = ()) -> bool:
    """Who may open a request; `delegations` (the running ones to `user`, delegation.covering):
    a delegate also opens what their delegation lets them decide now (acting_for)."""
    if sees_everything(policy, user) or user.username == request.requester:
        return True
    if user.integration:
        return False  # an integration reads its own requests only
    if any(a.approver == user.username for a in request.approvals):
        return True
    decidable = policy.decidable_roles(user.role)
    if any(r in decidable for r in stage_rules.all_roles(request)):  # a parallel stage's roles too
        return True
    return bool(delegations) and user.active and request.status is WorkflowStatus.AWAITING_APPROVAL \
        and acting_for(policy, user, request, delegations) is not None


def check_view(policy: Policy, user: User, request: WorkflowRequest, delegations: "Sequence[Covering]" = ()) -> None:
    if not may_view(policy, user, request, delegations) and user.integration:
        raise PermissionDenied(f"{request.id} is outside what {user.username} may see: an integration reads only the "
                               f"requests it filed itself.")
    if not may_view(policy, user, request, delegations):
        raise PermissionDenied(
            f"{request.id} is outside what {_a(user.role.label)} may see (it needs no decision from your role)."
        )


def check_admin(actor: User | None, directory_has_admin: bool) -> None:
    """User-directory changes need an administrator, except to bootstrap an empty directory."""
    if not directory_has_admin:
        return
    if actor is None:
        raise PermissionDenied(
            "Only a user-directory administrator may change users, and you are not in the directory."
        )
    _require_active(actor)
    if not actor.admin:
        raise PermissionDenied(f"{actor.username} is not a user-directory administrator; ask one (`hitl-tui users "
                               f"list` shows who) to do it, or to make you one with `hitl-tui users set-admin`.")


def may(check: Callable[..., None], *args: Any) -> bool:
    """Turn a check_* function into a predicate for greying out keys."""
    try:
        check(*args)
    except HitlError:
        return False
    return True


def may_decide(policy: Policy, user: User, request: WorkflowRequest, delegations: "Sequence[Covering]" = ()) -> bool:
    return may(check_decide, policy, user, request, Action.APPROVE, delegations)


def may_withdraw(user: User, request: WorkflowRequest) -> bool:
    return may(check_requester_action, user, request, Action.WITHDRAW)


def may_resubmit(user: User, request: WorkflowRequest) -> bool:
    return user.username == request.requester and request.status is WorkflowStatus.CHANGES_REQUESTED and user.active


__all__ = [
    "check_decide", "check_requester_action", "check_create", "check_view", "check_admin",
    "may_view", "may_decide", "may_withdraw", "may_resubmit", "may", "eligible_deciders",
    "role_may_decide", "sees_everything", "check_see_queue", "check_export", "may_export", "decidable_by",
    "check_new_integration", "check_may_administer", "acting_for",
]


def eligible_deciders(policy: Policy, people: list[User], request: WorkflowRequest, role: Role,
                      exclude: AbstractSet[str] = frozenset()) -> list[str]:
    """Active people who could decide a stage needing `role`: never an integration, the requester,
    the owner of the integration that filed it (where the policy segregates owners), nor anyone
    in `exclude` (who decided an earlier stage of this revision)."""
    owner = request.filing.owner if request.filing is not None and policy.access.segregate_owners else None
    return [p.username for p in people if p.active and not p.integration and role_may_decide(policy, p.role, role)
            and p.username not in (request.requester, owner) and p.username not in exclude]


def check_new_integration(username: str, owner_name: str | None, owner: User | None, admin: bool) -> None:
    """An integration account has an owner, an active person responsible for it, and never
    administers the directory (it could then make itself a person)."""
    if not owner_name:
        raise ValidationFailed(f"An integration needs an owner: the person responsible for {username} "
                               f"(--owner PERSON).", "owner")
    if owner is None:
        raise UnknownUser(owner_name, "an integration's owner must be a person in it.")
    if owner.integration or not owner.active:
        why = "is an integration itself" if owner.integration else "is deactivated"
        raise PermissionDenied(f"{owner_name} {why}; an integration's owner is an active person.")
    if admin:
        raise PermissionDenied(f"{username} is an integration: it cannot be a directory administrator.")


def check_may_administer(user: User) -> None:
    if user.integration:
        raise PermissionDenied(f"{user.username} is an integration (an AI agent or a system): it cannot be a "
                               f"directory administrator.")


def check_erasure(actor: User | None) -> None:
    """Erasing personal data is for an active directory administrator, always: there is no
    bootstrap exception, since an erasure cannot be undone."""
    check_admin(actor, True)


def check_second_person(actor: str, requested_by: str) -> None:
    """An erasure is carried out by a different administrator from the one who asked for it."""
    if actor == requested_by:
        raise PermissionDenied(f"You ({actor}) requested this erasure; a second administrator must confirm it "
                               f"(two-person rule).")
