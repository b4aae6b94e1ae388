"""The service's method table: each JSON-RPC method a client may call, the parameters it takes,
and how it calls the engine as the CONNECTION's user.

Who acts is never a parameter: every method runs as the OS account on the other end of the
socket (server.py reads it from the kernel), so there is no "approver", "actor", "viewer" or
"requester" to forge. A parameter a method does not take is refused (INVALID_PARAMS), and so is
a value of the wrong type, before the engine is touched.

Signed writes come in two methods, "<name>.prepare" and "<name>.commit" (core/two_phase.py):
prepare answers the statements the person signs on their own account, with a ticket; commit
takes the ticket and one signature per statement. A ticket commits only on the connection that
prepared it, for the method that prepared it.

Every handler runs on the service's one engine thread (server.py); results are plain JSON
(pydantic models as model_dump(mode="json")).
"""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import TYPE_CHECKING, Any, Callable

from .. import __version__
from ..core.errors import SigningRefused
from ..core.models import AgentProposal, InboxView
from . import approvals, delegation_methods, desk_methods, exports, notify_methods, protocol, rekey, tokens

if TYPE_CHECKING:
    from ..core.policy_store import StoredPolicy
    from ..core.service import WorkflowService
    from ..core.two_phase import TwoPhase


class InvalidParams(Exception):
    """The parameters do not fit the method (answered as INVALID_PARAMS, one line)."""


@dataclass(frozen=True)
class Param:
    """One parameter: the JSON types it accepts, and its default when it is optional."""

    kinds: tuple[type, ...]
    required: bool = False
    default: Any = None


def _p(*kinds: type, required: bool = False, default: Any = None) -> Param:
    return Param(tuple(kinds), required, default)


@dataclass
class Call:
    """One request, as a handler sees it: the engine, the connection's user and its tickets."""

    service: "WorkflowService"
    username: str
    uid: int
    params: dict[str, Any]
    two_phase: "TwoPhase | None"
    #: tickets prepared on this connection: ticket -> the method that prepared it
    tickets: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Method:
    name: str
    run: Callable[[Call], Any]
    params: dict[str, Param] = field(default_factory=dict)
    #: needs the caller in the user directory (hello and whoami answer anyone who may connect)
    members_only: bool = True
    #: commits a change: the service tells its subscribers ("changed") afterwards
    writes: bool = False

    def bind(self, given: Any) -> dict[str, Any]:
        """The parameters with defaults filled in; InvalidParams for anything that does not fit."""
        if given is None:
            given = {}
        if not isinstance(given, dict):
            raise InvalidParams(f"{self.name} takes its parameters by name (a JSON object).")
        unknown = sorted(set(given) - set(self.params))
        if unknown:
            takes = ", ".join(self.params) or "no parameters"
            raise InvalidParams(f"{self.name} does not take {', '.join(map(repr, unknown))} (it takes {takes}); "
                                f"who acts is the OS account connected, never a parameter.")
        bound: dict[str, Any] = {}
        for name, spec in self.params.items():
            if name not in given or given[name] is None:
                if spec.required:
                    raise InvalidParams(f"{self.name} needs {name!r}.")
                bound[name] = spec.default
                continue
            value = given[name]
            # bool is an int in Python, never in JSON: true is not a limit of 1
            if not isinstance(value, spec.kinds) or (isinstance(value, bool) and bool not in spec.kinds):
                wanted = " or ".join(_JSON_NAMES[k] for k in spec.kinds)
                raise InvalidParams(f"{self.name}: {name!r} must be {wanted}.")
            bound[name] = value
        return bound


_JSON_NAMES = {str: "a string", int: "an integer", bool: "true or false", dict: "an object", list: "an array"}


def dump(value: Any) -> Any:
    """A result as JSON: models as model_dump(mode="json"), the erasure's dataclasses as their
    fields, lists of them element by element."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if is_dataclass(value) and not isinstance(value, type):
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(value).items()}
    if isinstance(value, list):
        return [dump(v) for v in value]
    return value


def head(service: "WorkflowService") -> dict[str, Any]:
    """The audit chain's size and head hash as the service recorded them (for headers), and the
    policy version in force (a client re-reads its copy when that moves)."""
    size, digest = service.audit_head()
    return {"audit_size": size, "audit_head": digest, "policy_version": service.policy_in_force().version}


def change_notes(service: "WorkflowService", workflow_ids: list[str], usernames: set[str]) -> dict[str, dict[str, Any]]:
    """The "changed" notification for each listening person: the new head, and only those of the
    requests a change touched that they may see (rbac.may_view), so nobody hears of another's."""
    from ..core import rbac

    params = head(service)
    requests = service.get_workflows(workflow_ids) if workflow_ids else {}
    policy, notes = service.policy, {}
    for name in usernames:
        user = service.find_user(name)
        covering = [] if user is None else service.covering_for(name)  # a delegate's too (rbac.may_view)
        seen = [] if user is None else [w for w in workflow_ids
                                        if w in requests and rbac.may_view(policy, user, requests[w], covering)]
        notes[name] = {**params, "workflow_ids": seen}
    return notes


def _visible_requests(call: Call) -> list[Any]:
    from ..core import rbac

    user, policy = call.service.get_user(call.username), call.service.policy
    found = call.service.get_workflows(call.params["workflow_ids"][:500])
    covering = call.service.covering_for(user.username)  # a delegate's too (rbac.may_view)
    return [dump(r) for r in found.values() if rbac.may_view(policy, user, r, covering)]


# --- identity ------------------------------------------------------------------------------------

def _identity(call: Call) -> dict[str, Any]:
    user = call.service.find_user(call.username)
    return {"username": call.username, "uid": call.uid, "in_directory": user is not None,
            "role": user.role.value if user else None, "admin": bool(user and user.admin),
            "active": bool(user and user.active), "display_name": user.display_name if user else None}


def _hello(call: Call) -> dict[str, Any]:
    return {"service": "hitl-tui", "version": __version__, "protocol": protocol.VERSION,
            "database_id": call.service.database_id, "database": str(call.service.path),
            "max_message": protocol.MAX_MESSAGE, **_identity(call), **head(call.service)}


# --- reads -----------------------------------------------------------------------------------------

def _stored(stored: "StoredPolicy") -> dict[str, Any]:
    return {"version": stored.version, "sha256": stored.sha256, "text": stored.text,
            "applied_by": stored.applied_by, "applied_at": stored.applied_at, "source": stored.source}


def _policy(call: Call) -> dict[str, Any]:
    return _stored(call.service.policy_in_force())


def _show(call: Call) -> dict[str, Any]:
    req = call.service.get_workflow_for(call.username, call.params["workflow_id"])
    trail = call.service.get_audit_trail(req.id)
    return {"request": dump(req), "audit_trail": dump(trail)}


#: answered by server.py off the engine thread, by one verification shared by everyone asking
SHARED_VERIFY = "verify"


def verify_answer(result: Any) -> dict[str, Any]:
    return {**dump(result), "summary": result.summary()}


def _verify(call: Call) -> dict[str, Any]:
    return verify_answer(call.service.verify_audit())


# --- signed writes in two phases -----------------------------------------------------------------

def _two_phase(call: Call) -> "TwoPhase":
    if call.two_phase is None:  # pragma: no cover - the server always makes one
        raise SigningRefused("This service cannot take signed writes; nothing was written.")
    return call.two_phase


def _prepare(name: str, write: Callable[[Call], Callable[[], Any]]) -> Callable[[Call], Any]:
    def run(call: Call) -> dict[str, Any]:
        prepared = _two_phase(call).prepare(call.username, write(call))
        call.tickets[prepared.ticket] = name
        return {"ticket": prepared.ticket, "signer": prepared.signer, "key_id": prepared.key_id,
                "statements": [base64.b64encode(s).decode("ascii") for s in prepared.statements],
                "reauth": prepared.reauth, "expires_in": max(0.0, prepared.expires - _two_phase(call).clock())}
    return run


def _commit(name: str, result: Callable[[Any], Any]) -> Callable[[Call], Any]:
    def run(call: Call) -> Any:
        ticket = call.params["ticket"]
        if call.tickets.pop(ticket, None) != name:
            raise SigningRefused(f"That signing ticket was not prepared by {name}.prepare on this connection; "
                                 f"nothing was written: prepare the action again.")
        signatures = call.params["signatures"]
        return result(_two_phase(call).commit(ticket, signatures, call.username))
    return run


def _create(call: Call) -> Callable[[], Any]:
    p, service, me = call.params, call.service, call.username
    return lambda: service.create_workflow_request(p["workflow_type"], p["title"], p["description"], me, p["data"])


def _decision(call: Call) -> Callable[[], Any]:
    p, service, me = call.params, call.service, call.username
    try:
        proposal = AgentProposal.model_validate(p["proposal"]) if p["proposal"] is not None else None
    except ValueError:  # pydantic's ValidationError
        raise InvalidParams("decide: 'proposal' must be {agent, decision, rationale}.") from None
    return lambda: service.decide(p["workflow_id"], me, p["decision"], p["comments"], proposal, payload=p["payload"])


def _withdrawal(call: Call) -> Callable[[], Any]:
    p, service, me = call.params, call.service, call.username
    return lambda: service.withdraw_workflow(p["workflow_id"], me, p["reason"])


def _resubmission(call: Call) -> Callable[[], Any]:
    p, service, me = call.params, call.service, call.username
    return lambda: service.resubmit(p["workflow_id"], me, title=p["title"], description=p["description"],
                                    data=p["data"], comments=p["comments"])


# --- the administrators' writes: each names the connection's user as its actor, never the default
# (the service's own account, WorkflowService.operator) ---------------------------------------------

def _user_added(call: Call) -> Callable[[], Any]:
    # no public_key: the engine refuses in one line (the person's key is made on their account)
    p, service, me = call.params, call.service, call.username
    return lambda: service.add_user(p["username"], p["role"], p["email"], display_name=p["display_name"],
                                    admin=p["admin"], actor=me, public_key=p["public_key"])


def _user_changed(change: str) -> Callable[[Call], Callable[[], Any]]:
    def write(call: Call) -> Callable[[], Any]:
        p, service, me = call.params, call.service, call.username
        if change == "role":
            return lambda: service.set_user_role(p["username"], p["role"], actor=me)
        if change == "active":
            return lambda: service.set_user_active(p["username"], p["active"], actor=me)
        return lambda: service.set_user_admin(p["username"], p["admin"], actor=me)
    return write


def _key_registered(call: Call) -> Callable[[], Any]:
    p, service, me = call.params, call.service, call.username
    return lambda: {"key_id": service.register_user_key(p["username"], p["public_key"], p["reason"], actor=me)}


def _key_revoked(call: Call) -> Callable[[], Any]:
    p, service, me = call.params, call.service, call.username
    return lambda: {"key_id": service.revoke_user_key(p["username"], p["reason"], actor=me)}


def _policy_applied(call: Call) -> Callable[[], Any]:
    # the text only: the client read and composed its file; the service reads no client's path
    p, service, me = call.params, call.service, call.username
    return lambda: service.apply_policy(p["text"], source=p["source"], actor=me)


def _erasure(step: str) -> Callable[[Call], Callable[[], Any]]:
    def write(call: Call) -> Callable[[], Any]:
        p, erasure, me = call.params, call.service.erasure, call.username
        if step == "request":
            return lambda: erasure.request(p["target"], p["reason"], actor=me)
        if step == "cancel":
            return lambda: erasure.cancel(p["target"], p["reason"], actor=me)
        if step == "confirm":
            return lambda: erasure.confirm(p["target"], actor=me)
        return lambda: erasure.apply_retention(actor=me)  # the service's clock says what is due
    return write


def _applied(result: Any) -> dict[str, Any]:
    stored, summary = result
    return {**_stored(stored), "summary": summary}


def _checkpoint(call: Call) -> Any:
    """The service signs with ITS checkpoint key (the one its sessions are sealed with)."""
    return dump(call.service.checkpoint(only_if_grown=call.params["only_if_grown"]))


def _signed_method(name: str, write: Callable[[Call], Callable[[], Any]], params: dict[str, Param],
                   result: Callable[[Any], Any] = dump) -> list[Method]:
    """The two methods of one signed write: <name>.prepare and <name>.commit."""
    return [Method(f"{name}.prepare", _prepare(name, write), params),
            Method(f"{name}.commit", _commit(name, result), _TICKET, writes=True)]


_TICKET = {"ticket": _p(str, required=True), "signatures": _p(list, required=True)}
_CREATE = {"workflow_type": _p(str, required=True), "title": _p(str, required=True),
           "description": _p(str, default=""), "data": _p(dict)}
_DECIDE = {"workflow_id": _p(str, required=True), "decision": _p(str, required=True),
           "comments": _p(str, default=""), "proposal": _p(dict), "payload": _p(dict)}
_WITHDRAW = {"workflow_id": _p(str, required=True), "reason": _p(str, default="")}
_VIEW = {"view": _p(str, default="awaiting_me"), "search": _p(str)}
_RESUBMIT = {"workflow_id": _p(str, required=True), "title": _p(str), "description": _p(str), "data": _p(dict),
             "comments": _p(str, default="")}
_NAMED = {"username": _p(str, required=True)}
_ADD_USER = {**_NAMED, "role": _p(str, required=True), "email": _p(str), "display_name": _p(str),
             "admin": _p(bool, default=False), "public_key": _p(str)}
_REASON = {"reason": _p(str, default="")}
_TARGET = {"target": _p(str, required=True)}


def _table() -> dict[str, Method]:
    methods = [
        Method("hello", _hello, members_only=False),
        Method("whoami", _identity, members_only=False),
        Method(protocol.SUBSCRIBE, lambda call: {"subscribed": True, **head(call.service)}),
        Method("users.list", lambda c: dump(c.service.list_users(c.params["include_inactive"])),
               {"include_inactive": _p(bool, default=True)}),
        Method("users.get", lambda c: dump(c.service.get_user(c.params["username"])),
               {"username": _p(str, required=True)}),
        Method("users.find", lambda c: dump(c.service.find_user(c.params["username"])),
               {"username": _p(str, required=True)}),
        Method("users.key_ids", lambda c: c.service.user_key_ids()),
        # open to anyone who may connect: someone not yet in the directory makes their key first
        Method("key.mine", lambda c: {"key_id": c.service.user_key_ids().get(c.username)}, members_only=False),
        Method("policy.show", _policy),
        Method("request.get", lambda c: dump(c.service.get_workflow_for(c.username, c.params["workflow_id"])),
               {"workflow_id": _p(str, required=True)}),
        Method("request.trail", lambda c: dump(c.service.get_audit_trail_for(c.username, c.params["workflow_id"])),
               {"workflow_id": _p(str, required=True)}),
        Method("request.show", _show, {"workflow_id": _p(str, required=True)}),
        Method("request.list", lambda c: dump(c.service.list_requests(
            c.username, c.params["view"], search=c.params["search"], sort=c.params["sort"],
            limit=c.params["limit"], offset=c.params["offset"])),
            {**_VIEW, "sort": _p(str, default="oldest"), "limit": _p(int, default=100), "offset": _p(int, default=0)}),
        Method("request.count", lambda c: c.service.count_requests(c.username, c.params["view"],
                                                                  search=c.params["search"]), _VIEW),
        Method("request.count_views", lambda c: {str(view): n for view, n in c.service.count_views(
            c.username, [str(v) for v in c.params["views"]], search=c.params["search"]).items()},
            {"views": _p(list, default=[str(v) for v in InboxView]), "search": _p(str)}),
        # whose queue is a question, not who asks: the service checks the asker may see it
        Method("request.pending", lambda c: dump(c.service.get_pending_approvals_for(
            c.username, c.params["owner"] or c.username, c.params["limit"])), {"owner": _p(str), "limit": _p(int)}),
        Method("request.get_many", _visible_requests, {"workflow_ids": _p(list, required=True)}),
        Method("changes.since", lambda c: dump(c.service.changes_since(c.username, c.params["after"])),
               {"after": _p(int, required=True)}),
        Method("request.create.prepare", _prepare("request.create", _create), _CREATE),
        Method("request.create.commit", _commit("request.create", lambda wid: {"workflow_id": wid}), _TICKET,
               writes=True),
        Method("decide.prepare", _prepare("decide", _decision), _DECIDE),
        Method("decide.commit", _commit("decide", dump), _TICKET, writes=True),
        Method("withdraw.prepare", _prepare("withdraw", _withdrawal), _WITHDRAW),
        Method("withdraw.commit", _commit("withdraw", dump), _TICKET, writes=True),
        Method("verify", _verify),
        Method("audit.size", lambda c: head(c.service)),
        *_signed_method("request.resubmit", _resubmission, _RESUBMIT),
        # the administrators' (the engine refuses anyone else, in its own one line)
        *_signed_method("users.add", _user_added, _ADD_USER),
        *_signed_method("users.set_role", _user_changed("role"), {**_NAMED, "role": _p(str, required=True)}),
        *_signed_method("users.set_active", _user_changed("active"), {**_NAMED, "active": _p(bool, required=True)}),
        *_signed_method("users.set_admin", _user_changed("admin"), {**_NAMED, "admin": _p(bool, required=True)}),
        *_signed_method("users.key.register", _key_registered,
                        {**_NAMED, "public_key": _p(str, required=True), **_REASON}),
        *_signed_method("users.key.revoke", _key_revoked, {**_NAMED, **_REASON}),
        *_signed_method("policy.apply", _policy_applied,
                        {"text": _p(str, required=True), "source": _p(str, default="a team-mode client")}, _applied),
        *_signed_method("erase.request", _erasure("request"), {**_TARGET, **_REASON}),
        *_signed_method("erase.cancel", _erasure("cancel"), {**_TARGET, **_REASON}),
        *_signed_method("erase.confirm", _erasure("confirm"), _TARGET),
        Method("erase.pending", lambda c: dump(c.service.erasure.pending())),
        Method("retention.due", lambda c: dump(c.service.erasure.due())),
        *_signed_method("retention.apply", _erasure("retention"), {}),
        Method("checkpoint", _checkpoint, {"only_if_grown": _p(bool, default=False)}),
        *exports.export_methods(),  # export-audit, verify-audit FILE, prove (exports.py)
        *approvals.approval_methods(),  # requests filed for approval, receipts, integrations (approvals.py)
        *notify_methods.notify_methods(),  # webhooks, preferences, SMTP, the outbox (notify_methods.py)
        *delegation_methods.delegation_methods(),  # out of office: grant, end, list (delegation_methods.py)
        *desk_methods.desk_methods(),  # the desk's analytics and claims (desk_methods.py)
        Method("rekey", rekey.rotate, writes=True),  # the service makes the new key: it is no parameter
    ]
    table = {m.name: m for m in methods}
    # the HTTP API's bearer tokens, and calls as the account a token stands for (tokens.py)
    return {**table, **{m.name: m for m in tokens.token_methods(table)}}


METHODS: dict[str, Method] = _table()


def changed_ids(result: Any) -> list[str]:
    """The requests a write's result names (for the "changed" notification): its own, or those
    an erasure or a retention run rewrote."""
    if isinstance(result, list):
        return sorted({wid for item in result for wid in changed_ids(item)})
    if isinstance(result, dict):
        wid = result.get("workflow_id") or result.get("id")
        rewritten = result.get("requests")
        if isinstance(rewritten, list):
            return [w for w in rewritten if isinstance(w, str)]
        return [wid] if isinstance(wid, str) else []
    return []


def run(method: Method, call: Call) -> Any:
    """Run `method` for `call` (on the engine thread): the caller must be in the directory for
    every method but hello and whoami; the engine's refusals are raised as HitlError."""
    if method.members_only:
        call.service.get_user(call.username)  # UnknownUser: the same line as the embedded mode
    return method.run(call)

