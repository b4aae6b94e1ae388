"""The service's side of `hitl-tui delegate` (core/delegation.py), each as the CONNECTION's user:

    delegation.grant.prepare / .commit   delegate someone's decisions (their own; an
                                         administrator's for anyone)
    delegation.end.prepare / .commit     end a running one early
    delegation.list                      the delegations the user gave or holds (all: --all)
    assignment.set.prepare / .commit     name who should decide a stage, or clear it
                                         (core/assignment.py)

Grants and ends are two-phase writes like every signed change (two_phase.py): the client signs
what the service prepared, on its own account.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ..core import assignment as asg
from ..core import delegation as dg

if TYPE_CHECKING:
    from .methods import Call, Method


def as_wire(d: dg.Delegation) -> dict[str, Any]:
    """A Delegation as JSON (and back: of_wire)."""
    return {"id": d.id, "delegator": d.delegator, "delegate": d.delegate, "until": d.until,
            "ends_at": d.ends_at.isoformat(), "types": None if d.types is None else list(d.types),
            "reason": d.reason, "granted_at": d.granted_at, "granted_by": d.granted_by, "ended_at": d.ended_at,
            "ended_by": d.ended_by, "end_reason": d.end_reason}


def of_wire(got: dict[str, Any]) -> dg.Delegation:
    from datetime import datetime

    types = got.get("types")
    return dg.Delegation(**{**got, "ends_at": datetime.fromisoformat(str(got["ends_at"])),
                            "types": None if types is None else tuple(str(t) for t in types)})


def _granted(call: "Call") -> Callable[[], Any]:
    p = call.params
    return lambda: dg.grant(call.service, p["delegator"] or call.username, p["delegate"], p["until"], p["reason"],
                            types=p["types"], actor=call.username)


def _ended(call: "Call") -> Callable[[], Any]:
    p = call.params
    return lambda: dg.end(call.service, p["delegator"] or call.username, p["reason"], actor=call.username)


def _assigned(call: "Call") -> Callable[[], Any]:
    p = call.params
    return lambda: asg.reassign(call.service, p["workflow_id"], p["assignee"], p["reason"], actor=call.username)


def delegation_methods() -> list["Method"]:
    """The methods above, for methods._table() (built there, once Method exists: no import cycle)."""
    from .methods import Method, _p, _signed_method

    def wired(value: Any) -> Any:
        return as_wire(value)

    return [
        *_signed_method("delegation.grant", _granted, {
            "delegator": _p(str), "delegate": _p(str, required=True), "until": _p(str, required=True),
            "reason": _p(str, default=""), "types": _p(list)}, wired),
        *_signed_method("delegation.end", _ended, {"delegator": _p(str), "reason": _p(str, default="")}, wired),
        *_signed_method("assignment.set", _assigned, {
            "workflow_id": _p(str, required=True), "assignee": _p(str), "reason": _p(str, default="")}),
        Method("assignment.of", lambda c: c.service.assigned_to(c.username, c.params["workflow_id"]),
               {"workflow_id": _p(str, required=True)}),
        Method("delegation.list", lambda c: [as_wire(d) for d in dg.listing(c.service, c.username,
                                                                             everyone=c.params["everyone"])],
               {"everyone": _p(bool, default=False)}),
    ]
