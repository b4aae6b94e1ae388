"""The service's side of the desk's analytics (view 5, `hitl-tui stats`) and claims (`m`), each
as the CONNECTION's user:

    analytics        the figures over what the user may see (core/analytics.py), as to_json()
    claim.take       claim a request's current stage (core/claims.py); writes, unsigned: a claim
    claim.release    is advisory and no audit entry, so there is nothing to sign
    claim.shown      the claims the user is shown on some requests
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core import analytics, claims

if TYPE_CHECKING:
    from .methods import Call, Method

#: the most request ids one claim.shown asks about (a page of the inbox is 150)
MAX_IDS = 1000


def claim_wire(c: claims.Claim) -> dict[str, Any]:
    return {"workflow_id": c.workflow_id, "username": c.username, "role": c.role.value,
            "claimed_at": c.claimed_at.isoformat(), "expires_at": c.expires_at.isoformat()}


def _ids(call: "Call") -> list[str]:
    from ..core.errors import ValidationFailed

    given = call.params["workflow_ids"]
    if len(given) > MAX_IDS or not all(isinstance(w, str) for w in given):
        raise ValidationFailed(f"claim.shown takes at most {MAX_IDS} request ids, as strings.", "workflow_ids")
    return list(given)


def _take(call: "Call") -> dict[str, Any]:
    return claim_wire(claims.claim(call.service, call.username, call.params["workflow_id"]))


def _release(call: "Call") -> dict[str, Any]:
    claims.release(call.service, call.username, call.params["workflow_id"])
    return {"workflow_id": call.params["workflow_id"]}


def desk_methods() -> list["Method"]:
    """The methods above, for methods._table() (built there, once Method exists: no import cycle)."""
    from .methods import Method, _p

    return [
        Method("analytics", lambda c: analytics.figures(c.service, c.username, c.params["since"]).to_json(),
               {"since": _p(str)}),
        Method("claim.take", _take, {"workflow_id": _p(str, required=True)}, writes=True),
        Method("claim.release", _release, {"workflow_id": _p(str, required=True)}, writes=True),
        Method("claim.shown", lambda c: {w: claim_wire(x) for w, x in claims.shown(c.service, c.username,
                                                                                   _ids(c)).items()},
               {"workflow_ids": _p(list, required=True)}),
    ]
