"""RemoteService: the engine's methods, answered by a `hitl-tui serve` service over its socket.

The CLI calls the same methods with the same signatures as on WorkflowService, so a command
works unchanged in either mode. Arguments that name a person (requester, approver, viewer) are
NOT sent: the service acts as the OS account the kernel says this process runs as. A caller that
names someone else is refused here, before anything is sent, rather than quietly acting as
this account.

Signed writes (filing, deciding, withdrawing, resubmitting; the administrators' changes to the
directory, the keys and the policy; erasures) take two round trips: the service prepares the
write and answers the statements to sign; this account signs each with its own personal key
(core/personal_keys.py, never sent anywhere) and the service commits with the signatures.

Its collaborators: the connection (connection.py: answers by id, pushed changes, reconnecting)
and the account's signer (account_signer.py).
"""

from __future__ import annotations

import functools
import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from ..core.approvals import Revision
from ..core.decisions import Decides
from ..core.errors import HitlError, PermissionDenied, UnknownUser
from ..core.models import (AgentProposal, AuditEntry, Checkpoint, Decision, InboxView, RequestSummary, Role, User,
                           VerifyResult, WorkflowRequest)
from .account_signer import AccountSigner
from .connection import ServiceConnection
from .protocol import ServiceUnavailable

if TYPE_CHECKING:
    from ..core.delegation import Covering
    from ..core.filter_query import Filter
    from ..core.news import Changes
    from ..core.personal_keys import KeyStore
    from ..core.policy import Policy
    from ..core.policy_store import StoredPolicy
    from ..core.proofs import InclusionProof
    from ..core.settings import Settings
    from .approvals_client import RemoteApprovals
    from .erasure_client import RemoteErasure
    from .export_client import RemoteExports
    from .rekey import Rotated


class OutcomeUnknown(ServiceUnavailable):
    """The connection went while the service was committing a write: it may or may not be done."""

    code = "outcome_unknown"


class NotInTeamMode(HitlError, AttributeError):
    """What the engine can do but a service does not offer (yet). An AttributeError too, so that
    hasattr() on a RemoteService stays a plain question."""

    code = "not_in_team_mode"


class RemoteService(Decides):
    """One connection to the service, as this OS account."""

    def __init__(self, connection: ServiceConnection, settings: "Settings | None" = None) -> None:
        from ..core.settings import given_or_loaded

        self._conn = connection
        self.socket_path = connection.socket_path
        #: this account's settings (its key store, its time zone for the compliance flags)
        self.settings = given_or_loaded(settings)
        self._stored_policy: StoredPolicy | None = None
        # the service seals its own sessions; nothing here is left unsealed
        self.seal_refused_reason: str | None = None
        self.seal_error: str | None = None
        hello = self.hello = connection.hello
        self.database_id: str = hello["database_id"]
        #: who the service says this account is (the kernel's word, not this process's)
        self.username: str = hello["username"]
        self.role: str | None = hello.get("role")
        self.service_version: str = hello.get("version", "")
        #: the service's database file (for messages: this account cannot open it)
        self.path = Path(hello.get("database") or self.socket_path)
        self._signer = AccountSigner(self.database_id, self.username, self.settings)

    @classmethod
    def connect(cls, path: Path | str, *, settings: "Settings | None" = None,
                unset_hint: str = "unset HITL_SERVER") -> "RemoteService":
        """Connect and say hello; ServiceUnavailable (one line) when the service cannot be reached."""
        return cls(ServiceConnection.open(path, unset_hint), settings)

    # --- the connection (connection.py) --------------------------------------------------------

    def call(self, method: str, **params: Any) -> Any:
        """One request; its result, or the service's refusal raised as the engine's HitlError."""
        return self._conn.call(method, **params)

    def on_change(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """Call callback(params) after every change the service commits (on the reader thread)."""
        self._conn.on_change(callback)

    def on_link(self, callback: Callable[[HitlError | None], None]) -> None:
        """callback(why) when the connection is lost, callback(None) once reconnect() found it."""
        self._conn.on_link(callback)

    def reconnect(self) -> bool:
        return self._conn.reconnect()

    @property
    def connected(self) -> bool:
        return self._conn.connected

    def close(self, *, checkpoint: bool = False) -> None:  # noqa: ARG002 - the service seals, not the client
        self._conn.close()

    def __enter__(self) -> "RemoteService":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise NotInTeamMode(f"{name.replace('_', ' ')} is not available in team mode yet; run it on the "
                            f"service's account, where the database is.")

    # --- who acts ------------------------------------------------------------------------------

    def _as_me(self, name: Any, what: str) -> None:
        if name is not None and name != self.username:
            raise PermissionDenied(f"In team mode you act as {self.username}, the OS account connected to the "
                                   f"service; you cannot {what} as {name}. Nothing was done.")

    # --- the directory and the policy ---------------------------------------------------------

    def list_users(self, include_inactive: bool = True) -> list[User]:
        return [User.model_validate(u) for u in self.call("users.list", include_inactive=include_inactive)]

    def get_user(self, username: str) -> User:
        return User.model_validate(self.call("users.get", username=username))

    def assigned_to(self, viewer: str, workflow_id: str) -> str | None:
        """Who the request's current stage is assigned to (ReadsMixin.assigned_to), through the service."""
        self._as_me(viewer, "read assignments")
        got = self.call("assignment.of", workflow_id=workflow_id)
        return None if got is None else str(got)

    def covering_for(self, username: str) -> "list[Covering]":
        """The delegations running now to `username` (ReadsMixin.covering_for), through the service."""
        from .delegations_client import RemoteDelegations

        return RemoteDelegations(self).covering(username)

    def find_user(self, username: str) -> User | None:
        found = self.call("users.find", username=username)
        return None if found is None else User.model_validate(found)

    def user_key_ids(self) -> dict[str, str]:
        """username -> registered key id; for someone not in the directory yet, only their own
        (none), so `hitl-tui key show` works before an administrator adds them."""
        try:
            return dict(self.call("users.key_ids"))
        except UnknownUser:
            mine = self.call("key.mine").get("key_id")
            return {self.username: str(mine)} if mine else {}

    def policy_in_force(self) -> "StoredPolicy":
        """The version in force, read again when the service says it moved (hello, a push)."""
        stored = self._stored_policy
        if stored is None or (self._conn.policy_version is not None and stored.version != self._conn.policy_version):
            stored = self._stored_policy = _stored_policy(self.call("policy.show"))
        return stored

    @property
    def policy(self) -> "Policy":
        return self.policy_in_force().policy

    # --- the administrators' changes (the service refuses anyone else, in the engine's line) -----

    def add_user(self, username: str, role: "Role | str", email: str | None = None, *,
                 display_name: str | None = None, admin: bool = False, actor: str | None = None,
                 public_key: str | None = None) -> User:
        """Add a person with the key `public_key` made on their own account (`hitl-tui key show`
        there); without one the service refuses in one line: it never makes anyone's key."""
        self._as_me(actor, "change the user directory")
        return User.model_validate(self._signed("users.add", None, username=username, role=_role_text(role),
                                                email=email, display_name=display_name, admin=bool(admin),
                                                public_key=public_key))

    def set_user_role(self, username: str, role: "Role | str", *, actor: str | None = None) -> User:
        self._as_me(actor, "change the user directory")
        return User.model_validate(self._signed("users.set_role", None, username=username, role=_role_text(role)))

    def set_user_active(self, username: str, active: bool, *, actor: str | None = None) -> User:
        self._as_me(actor, "change the user directory")
        return User.model_validate(self._signed("users.set_active", None, username=username, active=bool(active)))

    def set_user_admin(self, username: str, admin: bool, *, actor: str | None = None) -> User:
        self._as_me(actor, "change the user directory")
        return User.model_validate(self._signed("users.set_admin", None, username=username, admin=bool(admin)))

    def register_user_key(self, username: str, public_key: str, reason: str, *, actor: str | None = None) -> str:
        self._as_me(actor, "register keys")
        return str(self._signed("users.key.register", None, username=username, public_key=public_key,
                                reason=reason or "")["key_id"])

    def revoke_user_key(self, username: str, reason: str, *, actor: str | None = None) -> str:
        self._as_me(actor, "revoke keys")
        return str(self._signed("users.key.revoke", None, username=username, reason=reason or "")["key_id"])

    def apply_policy(self, text: str, *, source: str = "Direct API",
                     actor: str | None = None) -> "tuple[StoredPolicy, str | None]":
        """Store the policy `text` (composed here, from this account's file) as the next version."""
        self._as_me(actor, "apply a policy")
        got = self._signed("policy.apply", None, text=text, source=source)
        self._stored_policy = None  # read the version in force again when next asked
        return _stored_policy(got), got.get("summary")

    @property
    def erasure(self) -> "RemoteErasure":
        from .erasure_client import RemoteErasure

        """Erasure and retention (core/erasure.py's methods), through the service."""
        return RemoteErasure(self)

    # --- requests -----------------------------------------------------------------------------

    def _request(self, raw: Any) -> WorkflowRequest:
        """A request as the engine returns it: money fields as Decimal, as the policy types them."""
        from ..core.hydrate import data_from_json

        req = WorkflowRequest.model_validate(raw)
        return req.model_copy(update={"data": data_from_json(self.policy, req.workflow_type, json.dumps(req.data))})

    def create_workflow_request(self, workflow_type: str, title: str, description: str, requester: str,
                                data: dict[str, Any] | None = None) -> str:
        self._as_me(requester, "file a request")
        done = self._signed("request.create", None, workflow_type=workflow_type, title=title,
                            description=description or "", data=_plain_data(data))
        return str(done["workflow_id"])

    def get_workflow(self, workflow_id: str) -> WorkflowRequest:
        return self._request(self.call("request.get", workflow_id=workflow_id))

    def get_workflow_for(self, viewer: str, workflow_id: str) -> WorkflowRequest:
        self._as_me(viewer, "look at requests")
        return self.get_workflow(workflow_id)

    def get_audit_trail(self, workflow_id: str) -> list[AuditEntry]:
        return [AuditEntry.model_validate(e) for e in self.call("request.trail", workflow_id=workflow_id)]

    def get_audit_trail_for(self, viewer: str, workflow_id: str) -> list[AuditEntry]:
        self._as_me(viewer, "look at requests")
        return self.get_audit_trail(workflow_id)

    def list_requests(self, viewer: str, view: InboxView | str = InboxView.AWAITING_ME, *,
                      search: "str | Filter | None" = None, sort: Any = "oldest", limit: int = 100,
                      offset: int = 0) -> list[RequestSummary]:
        self._as_me(viewer, "list requests")
        rows = self.call("request.list", view=str(view), search=_search_text(search), sort=_sort_text(sort),
                         limit=int(limit), offset=int(offset))
        return [RequestSummary.model_validate(r) for r in rows]

    def count_requests(self, viewer: str, view: InboxView | str = InboxView.AWAITING_ME, *,
                       search: "str | Filter | None" = None) -> int:
        self._as_me(viewer, "count requests")
        return int(self.call("request.count", view=str(view), search=_search_text(search)))

    def count_views(self, viewer: str, views: "Iterable[InboxView | str]" = tuple(InboxView), *,
                    search: "str | Filter | None" = None,
                    stop: Callable[[], bool] | None = None) -> dict[InboxView, int]:  # noqa: ARG002 - one call
        self._as_me(viewer, "count requests")
        got = self.call("request.count_views", views=[str(v) for v in views], search=_search_text(search))
        return {InboxView(view): int(n) for view, n in got.items()}

    def parse_filter(self, search: "str | Filter | None") -> "Filter":
        """The filter language against the policy in force, parsed here: what the desk asks on each
        keystroke (the service parses every filter again itself)."""
        from ..core.reads import filter_for

        return filter_for(self.policy, search)

    def get_pending_approvals(self, username: str, limit: int | None = None) -> list[WorkflowRequest]:
        self._as_me(username, "list pending approvals")
        return [self._request(r) for r in self.call("request.pending", limit=limit)]

    def get_pending_approvals_for(self, viewer: str, owner: str, limit: int | None = None) -> list[WorkflowRequest]:
        """`owner`'s queue, if the service lets this account see it."""
        self._as_me(viewer, "look at queues")
        return [self._request(r) for r in self.call("request.pending", owner=owner, limit=limit)]

    def get_workflows(self, workflow_ids: list[str]) -> dict[str, WorkflowRequest]:
        """Those of the requests this account may see (the others are not named back)."""
        return {r["id"]: self._request(r) for r in self.call("request.get_many", workflow_ids=list(workflow_ids))}

    # --- what changed -------------------------------------------------------------------------

    def data_version(self) -> int:
        """Moves with every change the service pushes and with every reconnection: a free "has
        anything changed?" for the watchers (asking subscribes this connection to the pushes)."""
        self._conn.subscribe()
        return self._conn.version

    def changes_since(self, viewer: str, after: int) -> "Changes":
        """What the entries after `after` changed, as the service lets this account see it."""
        from ..core.news import Changes
        from ..core.notices import Notice

        self._as_me(viewer, "follow changes")
        got = self.call("changes.since", after=int(after))
        return Changes(int(got["size"]), tuple(got["touched"]), tuple(Notice(**n) for n in got["news"]),
                       int(got["entries"]))

    def seal(self) -> bool:
        """The service seals its own sessions (and signs with its own key): nothing to do here."""
        return True

    def signing_key_locked(self, username: str) -> bool:
        """Is this account's registered signing key protected and not unlocked in this session?"""
        return username == self.username and self._signer.locked(self.call("key.mine").get("key_id"))

    # --- decisions ----------------------------------------------------------------------------

    def decide(self, workflow_id: str, username: str, decision: Decision | str, comments: str = "",
               proposal: AgentProposal | None = None, *,
               unlock: Callable[[], str] | None = None, payload: Any = None) -> WorkflowRequest:
        self._as_me(username, "decide")
        value = decision.value if isinstance(decision, Decision) else str(decision)
        revised = None if payload is None else Revision.make(payload).payload_object()  # refused here, in one line
        done = self._signed("decide", unlock, workflow_id=workflow_id, decision=value, comments=comments or "",
                            proposal=proposal.model_dump(mode="json") if proposal else None, payload=revised)
        return self._request(done)

    def withdraw_workflow(self, workflow_id: str, requester: str, reason: str = "") -> WorkflowRequest:
        self._as_me(requester, "withdraw requests")
        return self._request(self._signed("withdraw", None, workflow_id=workflow_id, reason=reason or ""))

    def resubmit(self, workflow_id: str, requester: str, *, title: str | None = None,
                 description: str | None = None, data: dict[str, Any] | None = None,
                 comments: str = "") -> WorkflowRequest:
        self._as_me(requester, "resubmit requests")
        return self._request(self._signed("request.resubmit", None, workflow_id=workflow_id, title=title,
                                          description=description, data=_plain_data(data), comments=comments or ""))

    # --- the audit trail ----------------------------------------------------------------------

    def verify_audit(self, checkpoints: list[Checkpoint] | None = None, progress: Any = None) -> VerifyResult:
        if checkpoints:
            raise NotInTeamMode("Checking checkpoint files against the database is not available in team mode yet; "
                                "run it on the service's account.")
        got = dict(self.call("verify"))
        got.pop("summary", None)
        return VerifyResult.model_validate(got)

    def checkpoint(self, *, only_if_grown: bool = False) -> Checkpoint | None:
        """A checkpoint the SERVICE signs now with its checkpoint key (and stores), after checking
        the chain itself; this account keeps the copy it is given (`checkpoint -o FILE`)."""
        got = self.call("checkpoint", only_if_grown=bool(only_if_grown))
        return None if got is None else Checkpoint.model_validate(got)

    def audit_size(self) -> int:
        return int(self.call("audit.size")["audit_size"])

    def audit_head(self) -> tuple[int, str]:
        got = self.call("audit.size")
        return int(got["audit_size"]), str(got["audit_head"])

    # --- signing on this account --------------------------------------------------------------

    @property
    def personal_keys(self) -> "KeyStore":
        """This OS account's store of personal signing keys for the service's database."""
        return self._signer.store

    def set_key_unlock(self, unlock: Callable[[str], str] | None) -> None:
        """How a passphrase-protected signing key's passphrase is asked for: unlock(username)."""
        self._signer.set_unlock(unlock)

    def _signed(self, name: str, reauth: Callable[[], str] | None, **params: Any) -> Any:
        prepared = self.call(f"{name}.prepare", **params)
        signatures = self._signer.sign(prepared, reauth)
        try:
            return self.call(f"{name}.commit", ticket=prepared["ticket"], signatures=signatures)
        except ServiceUnavailable as exc:
            if self._conn.connected:
                raise  # the service answered (it is stopping): nothing was written
            raise OutcomeUnknown(f"The connection to the hitl-tui service at {self.socket_path} was lost while it "
                                 f"recorded this, so whether it was recorded is not known here; look at the request "
                                 f"once the service is back before doing it again.") from exc

    def rekey(self, new_key: bytes | None = None, *, actor: str | None = None) -> "Rotated":
        """Have the SERVICE rotate the database key (remote/rekey.py): it makes the new key and
        keeps it where it kept the old one; this account never sees either."""
        from .rekey import rotated

        self._as_me(actor, "rotate the database key")
        if new_key is not None:
            raise NotInTeamMode("In team mode the service makes the new key; a client cannot give one. "
                                "Nothing was changed.")
        return rotated(self.call("rekey"))

    # --- exports, checks of files and proofs (export_client.py; the service: exports.py) -------

    @functools.cached_property
    def exports(self) -> "RemoteExports":
        """export-audit, its bundle and verify-audit FILE, built and checked by the service (one
        per connection: its pieces are paced together)."""
        from .export_client import RemoteExports

        return RemoteExports(self)

    def stored_checkpoints(self) -> list[Checkpoint]:
        return [Checkpoint.model_validate(c) for c in self.call("checkpoints.stored")]

    def audit_seqs_for(self, workflow_id: str) -> list[int]:
        """The request's entry numbers, if this account may see it (the service checks)."""
        return [int(s) for s in self.call("audit.seqs", workflow_id=workflow_id)]

    def prove_entries(self, seqs: list[int], cp: Checkpoint) -> "list[InclusionProof]":
        """The service's proofs, each checked here against `cp`'s signed root."""
        from .export_client import proven

        return proven(self, list(seqs), cp)

    def prove_consistency(self, first: int, second: int) -> list[str]:
        return [str(h) for h in self.call("prove.consistency", first=int(first), second=int(second))]

    def verify_audit_since(self, cp: Checkpoint, progress: Any = None) -> VerifyResult:  # noqa: ARG002
        got = dict(self.call("verify.since", checkpoint=cp.model_dump(mode="json")))
        got.pop("summary", None)
        return VerifyResult.model_validate(got)

    @functools.cached_property
    def approvals(self) -> "RemoteApprovals":
        """Requests filed for approval, receipts and integration accounts (approvals_client.py)."""
        from .approvals_client import RemoteApprovals

        return RemoteApprovals(self)


def _stored_policy(got: dict[str, Any]) -> "StoredPolicy":
    """A policy version as the service sent it, parsed here as the engine would name it."""
    from ..core.policy_store import StoredPolicy, parse_text

    name = (f"database, version {got['version']} (sha256 {got['sha256'][:12]})" if got["version"]
            else "built-in default (no policy applied yet)")
    policy = replace(parse_text(got["text"], name), source=name)
    return StoredPolicy(got["version"], got["sha256"], got["text"], policy, got.get("applied_by"),
                        got.get("applied_at"), got.get("source") or "")


def _role_text(role: "Role | str") -> str:
    return role.value if isinstance(role, Role) else str(role)


def _plain_data(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """Field values as JSON carries them: money as its digits (the service parses each again)."""
    return None if data is None else {k: str(v) if isinstance(v, Decimal) else v for k, v in data.items()}


# --- what a search is on the wire ------------------------------------------------------------------

def _sort_text(sort: Any) -> str:
    return str(getattr(sort, "spec", sort))


def _search_text(search: "str | Filter | None") -> str | None:
    """The filter language for a search: text as typed, or a Filter written back as text (the
    service parses every filter itself; it never takes a parsed one from a client)."""
    from ..core.filter_query import filter_text

    return search if search is None or isinstance(search, str) else filter_text(search)
