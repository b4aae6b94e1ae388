"""Agents and systems ask a human (issue 12): a request filed with the exact action it is about,
a deadline after which it expires undecided, typed outcomes, and signed receipts.

A caller files a request of any policy type with a payload (payloads.py) instead of field
values: the policy reads the type's fields from the payload, so the risk and the chain follow
from exactly what is approved. The payload's canonical text and its sha256, the caller's
justification, the agent's name, the owner of the integration that filed it and the deadline go
into the request's row and its signed `created` entry (payload and justification sealed, as
personal data, like a description).

Expiry fails closed: once its deadline has passed nobody may decide a request (check_deadline,
in the engine's decide), and a sweep marks it `expired` with an audit entry of the engine's own
(actor `system`: no person decided, and no agent ever decides). Who sweeps: the team-mode
service on a clock of its own (remote/approvals.py), and otherwise every engine session on the
way to reading an inbox (sweep_on_read) and the client's waiters at their deadline.

What the caller gets back is an ApprovalDecision: an ApprovalOutcome, who settled it in which
role, their comments, and once final a receipt (receipts.py) signed with the checkpoint key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from . import draws, overdue, payloads, receipts
from .audit import iso
from .decisions import FINAL_ACTIONS, SYSTEM_ACTOR
from .errors import InvalidTransition, StoreError, ValidationFailed
from .models import ApprovalOutcome, InboxView, Role, User, WorkflowRequest, WorkflowStatus
from .policy import DESCRIPTION_MAX, Policy
from .store import requests as req_sql
from .text import check_inputs, check_text

if TYPE_CHECKING:
    from .service import WorkflowService

#: the shortest and longest time a caller may give a human to decide, in seconds
MIN_TIMEOUT = 1.0
MAX_TIMEOUT = 30 * 86_400.0
AGENT_MAX = 120


@dataclass(frozen=True)
class Draft:
    """What a caller asks to file, checked before anything is opened for writing."""

    payload: payloads.Payload
    justification: str
    agent: str | None
    timeout: float

    @classmethod
    def make(cls, payload: Any, *, justification: str = "", agent: str | None = None,
             timeout: float | int = 3600) -> "Draft":
        check_inputs(justification=justification, agent=agent)
        checked = payloads.checked(payload)
        words = check_text(justification or "", "justification", DESCRIPTION_MAX, required=False)
        name = check_text(agent, "agent", AGENT_MAX, required=False, single_line=True) if agent else None
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
                or not MIN_TIMEOUT <= float(timeout) <= MAX_TIMEOUT:
            raise ValidationFailed(f"timeout must be a number of seconds from {MIN_TIMEOUT:g} to {MAX_TIMEOUT:,.0f} "
                                   f"(30 days), not {str(timeout)[:30]!r}: how long a human has to decide.", "timeout")
        return cls(checked, words, name or None, float(timeout))

    def fields_for(self, policy: Policy, workflow_type: str) -> dict[str, Any]:
        """The type's field values, read from the payload (payloads.fields_for)."""
        wtype = policy.workflow_type(workflow_type)
        parsed = self.payload_object()
        found = payloads.fields_for([f.name for f in wtype.fields], parsed)
        money = [f.name for f in wtype.fields if f.kind == "money" and f.name in found]
        if money:
            payloads.check_currency(parsed, policy.currency, money[0])
        return found

    def payload_object(self) -> dict[str, Any]:
        import json

        parsed: dict[str, Any] = json.loads(self.payload.text)
        return parsed

    def filed(self, requester: User, when: datetime) -> dict[str, Any]:
        """The request's filing columns, which are also its `created` entry's members (one name
        for both: replay.py rebuilds the columns from the entry)."""
        return {"payload": self.payload.text, "payload_sha256": self.payload.sha256,
                "justification": self.justification, "agent": self.agent,
                "owner": requester.owner if requester.integration else None,
                "expires_at": iso(when + timedelta(seconds=self.timeout))}


#: the members filed() gives, in the order of the requests table (store/replay.py)
FILING_COLS = ("payload", "payload_sha256", "justification", "agent", "owner", "expires_at")
#: what a resubmission of a request filed for approval replaces of its filing (revised()); the
#: agent, the owner and the deadline stay as filed: a revision does not buy more time
REVISED_COLS = ("payload", "payload_sha256", "justification")


@dataclass(frozen=True)
class Revision:
    """A new revision of a request filed for approval: the payload the caller now asks to have
    approved (the reviewer's proposal, accepted, or another), checked before any write."""

    payload: payloads.Payload
    #: the caller's words for this revision; None keeps the filed justification
    justification: str | None

    @classmethod
    def make(cls, payload: Any, justification: str | None = None) -> "Revision":
        check_inputs(justification=justification)
        words = (None if justification is None
                 else check_text(justification, "justification", DESCRIPTION_MAX, required=False))
        return cls(payloads.checked(payload), words)

    def fields_for(self, policy: Policy, workflow_type: str) -> dict[str, Any]:
        return Draft(self.payload, "", None, MIN_TIMEOUT).fields_for(policy, workflow_type)

    def payload_object(self) -> dict[str, Any]:
        return Draft(self.payload, "", None, MIN_TIMEOUT).payload_object()

    def revised(self, req: WorkflowRequest) -> dict[str, Any]:
        """The row's new filing columns, which are also the `resubmitted` entry's members."""
        assert req.filing is not None
        words = req.filing.justification if self.justification is None else self.justification
        return {"payload": self.payload.text, "payload_sha256": self.payload.sha256, "justification": words}


def check_revision(req: WorkflowRequest, data: dict[str, Any] | None, revision: Revision | None) -> dict[str, Any]:
    """What a resubmission changes of the row's filing columns, or the ValidationFailed line
    when it does not fit how the request was filed: a request filed for approval is revised by
    its payload alone (the fields come from it), any other by its fields alone."""
    if req.filing is None:
        if revision is not None:
            raise ValidationFailed(f"{req.id} was not filed with a payload; resubmit it with its fields.", "payload")
        return {}
    if data is not None or revision is None:
        raise ValidationFailed(f"{req.id} was filed for approval with a payload, and its fields come from it: "
                               f"resubmit it with the payload to approve (the reviewer's proposal, or another).",
                               "payload")
    return {**revision.revised(req), "proposed_payload": None}


def revised_accepts(req: WorkflowRequest, revision: Revision) -> bool:
    """Whether the caller resubmitted exactly the revision the reviewer proposed."""
    return req.filing is not None and revision.payload.sha256 == req.filing.proposed_sha256


def proposed_revision(req: WorkflowRequest, payload: Any, policy: Policy) -> payloads.Payload:
    """A reviewer's proposed revision of `req`'s payload, checked as a filing would be (so the
    caller can file it as it is): a ValidationFailed line when it cannot be."""
    if req.filing is None:
        raise ValidationFailed(f"{req.id} was not filed with a payload, so there is none to revise; say what "
                               f"should change in the comment.", "payload")
    revision = Revision.make(payload)
    if revision.payload.sha256 == req.filing.payload_sha256:
        raise ValidationFailed(f"The proposed payload is the one {req.id} was filed with; change it, or leave "
                               f"it out and say in the comment what should change.", "payload")
    policy.assess(req.workflow_type, revision.fields_for(policy, req.workflow_type))
    return revision.payload
#: the statuses a deadline still applies to
_OPEN = (WorkflowStatus.AWAITING_APPROVAL, WorkflowStatus.CHANGES_REQUESTED)


def past_deadline(req: WorkflowRequest, now: datetime) -> bool:
    filing = req.filing
    return (filing is not None and filing.expires_at is not None and req.status in _OPEN
            and now >= filing.expires_at)


def check_deadline(req: WorkflowRequest, now: datetime) -> None:
    """Fail closed: a request whose deadline has passed is decided by nobody (the sweep records
    it as expired, if it has not yet)."""
    if past_deadline(req, now):
        assert req.filing is not None and req.filing.expires_at is not None
        raise InvalidTransition(f"{req.id} expired at {iso(req.filing.expires_at)}, before anyone decided it; it can "
                                f"no longer be decided (the caller must ask again).")


class ApprovalDecision(BaseModel):
    """Where a request filed for approval stands, as its caller sees it: never a boolean."""

    model_config = ConfigDict(frozen=True)

    request_id: str
    outcome: ApprovalOutcome
    title: str
    workflow_type: str
    payload_sha256: str | None = None
    policy_version: int | None = None
    #: who settled it: the decider, the integration that cancelled it, or `system` for an expiry
    decided_by: str | None = None
    decider_role: Role | None = None
    decided_at: datetime | None = None
    #: what the decider said (a rejection's reason, what should change)
    comments: str = ""
    filed_at: datetime
    expires_at: datetime | None = None
    agent: str | None = None
    #: the signed receipt (receipts.py), once the outcome is final and it was asked for
    receipt: dict[str, Any] | None = None
    #: the revision of the payload the reviewer proposes, with changes_requested: nothing runs on
    #: it until the caller accepts it explicitly by resubmitting it (Desk.accept_revision)
    proposed_payload: dict[str, Any] | None = None
    proposed_payload_sha256: str | None = None
    #: the request's revision: 1 as filed, one more for each resubmission
    revision: int = 1


def decision_of(req: WorkflowRequest) -> ApprovalDecision:
    """The request as its caller reads it: from the row and its decisions alone."""
    outcome = req.outcome
    by: str | None = None
    role: Role | None = None
    at: datetime | None = None
    comments = ""
    if outcome in (ApprovalOutcome.APPROVED, ApprovalOutcome.REJECTED, ApprovalOutcome.CHANGES_REQUESTED):
        mine = [a for a in req.approvals if a.revision == req.revision]
        if mine:
            last = mine[-1]
            by, role, at, comments = last.approver, last.approver_role, last.decided_at, last.comments
    elif outcome is ApprovalOutcome.CANCELLED:
        by, at = req.requester, req.updated_at  # only the requester withdraws (rbac.check_requester_action)
    elif outcome is ApprovalOutcome.EXPIRED:
        by, at = SYSTEM_ACTOR, req.updated_at
    filing = req.filing
    proposed = filing if filing is not None and outcome is ApprovalOutcome.CHANGES_REQUESTED else None
    return ApprovalDecision(
        request_id=req.id, outcome=outcome, title=req.title, workflow_type=req.workflow_type,
        payload_sha256=filing.payload_sha256 if filing else None,
        policy_version=filing.policy_version if filing else None, decided_by=by, decider_role=role, decided_at=at,
        comments=comments, filed_at=req.created_at, expires_at=filing.expires_at if filing else None,
        agent=filing.agent if filing else None, revision=req.revision,
        proposed_payload=proposed.proposed_payload if proposed else None,
        proposed_payload_sha256=proposed.proposed_sha256 if proposed else None)


class Approvals:
    """The service's collaborator for requests filed for approval (service.approvals)."""

    def __init__(self, service: "WorkflowService") -> None:
        self.service = service
        #: a service that sweeps on a clock of its own sets this (reads then leave expiry to it,
        #: so that every expiry is pushed to those who listen)
        self.swept_elsewhere = False

    # --- filing --------------------------------------------------------------------------------

    def file(self, requester: str, workflow_type: str, title: str, payload: Any, *, justification: str = "",
             timeout: float | int = 3600, agent: str | None = None, description: str = "") -> str:
        """File a request for approval bound to `payload`; its id. The engine's create_workflow_request,
        with the policy's fields read from the payload."""
        draft = Draft.make(payload, justification=justification, agent=agent, timeout=timeout)
        return self.service.create_workflow_request(workflow_type, title, description, requester, filing=draft)

    def resubmit(self, requester: str, workflow_id: str, payload: Any, *, justification: str | None = None,
                 comments: str = "") -> ApprovalDecision:
        """File a new revision of `workflow_id` (changes were requested): `payload` is what the
        caller now asks to have approved, the reviewer's proposal accepted or another; the risk
        is assessed again on it and the chain starts over. The decision as it now stands."""
        self.service.resubmit(workflow_id, requester, revision=Revision.make(payload, justification),
                              comments=comments)
        return self.decision(requester, workflow_id, receipt=False)

    def add_integration(self, username: str, role: Role | str, owner: str, *, email: str | None = None,
                        display_name: str | None = None, actor: str | None = None,
                        public_key: str | None = None, admin: bool = False) -> User:
        """Add an integration account (an AI agent or a system) owned by the person `owner`
        (`admin` is refused: rbac.check_new_integration)."""
        return self.service.add_user(username, role, email, display_name=display_name, actor=actor, admin=admin,
                                     public_key=public_key, integration=True, owner=owner)

    # --- reading -------------------------------------------------------------------------------

    def decision(self, viewer: str, workflow_id: str, *, receipt: bool = True) -> ApprovalDecision:
        """Where `workflow_id` stands, if `viewer` may see it; with its receipt once final."""
        self.sweep_on_read()
        req = self.service.get_workflow_for(viewer, workflow_id)
        found = decision_of(req)
        if receipt and found.outcome.is_final and req.filing is not None:
            found = found.model_copy(update={"receipt": self._receipt(req)})
        return found

    def mine(self, viewer: str, *, limit: int = 100) -> list[ApprovalDecision]:
        """What `viewer` filed for approval, newest first (no receipts: ask decision() for one)."""
        self.sweep_on_read()
        rows = self.service.list_requests(viewer, InboxView.MINE, sort="newest", limit=limit)
        found = self.service.get_workflows([r.id for r in rows])
        return [decision_of(found[r.id]) for r in rows if r.id in found and found[r.id].filing is not None]

    def receipt(self, viewer: str, workflow_id: str) -> dict[str, Any] | None:
        """The signed receipt of `workflow_id` (None while it is not final, or was filed without a payload)."""
        return self.decision(viewer, workflow_id).receipt

    def receipt_keys(self) -> list[str]:
        """The hex public key that signs receipts here (the checkpoint signing key)."""
        signer = self.service.signer(create=True)
        return [] if signer is None else [signer.public_hex]

    def next_deadline(self) -> datetime | None:
        """The earliest moment a sweep may have work: a caller's deadline or a due date."""
        found = [t for t in (self.service._read(req_sql.next_deadline), self.service._read(req_sql.next_due)) if t]
        return min(datetime.fromisoformat(t) for t in found) if found else None

    def _receipt(self, req: WorkflowRequest) -> dict[str, Any] | None:
        assert req.filing is not None
        trail = self.service.get_audit_trail(req.id)
        final = next((e for e in reversed(trail) if e.action in FINAL_ACTIONS), None)
        signer = self.service.signer(create=True)
        if final is None or signer is None:
            return None
        found = decision_of(req)
        role = final.details.get("decider_role")
        statement = receipts.body(
            database_id=self.service.database_id, request_id=req.id, payload_sha256=req.filing.payload_sha256,
            policy_version=req.filing.policy_version, outcome=found.outcome.value, decided_by=final.actor,
            decider_role=role if isinstance(role, str) else None, decided_at=iso(final.timestamp),
            audit_seq=final.seq, chain_head=final.hash)
        return receipts.signed(statement, signer)

    # --- expiry --------------------------------------------------------------------------------

    def sweep(self) -> list[str]:
        """Mark every open request whose deadline has passed `expired` (one entry each, actor
        `system`), in one transaction; the ids. Takes no write lock when nothing is due."""
        svc = self.service
        done = overdue.sweep(svc)  # overdue by the policy's due dates, where the type says expire
        if not svc._read(req_sql.overdue, iso(draws.now())):
            return done
        with svc._write() as conn:
            when = draws.now()
            for row in req_sql.overdue(conn, iso(when)):
                if overdue.expire(svc, conn, row, when, {"expires_at": row["expires_at"]}):
                    done.append(row["id"])
        return done

    def sweep_on_read(self) -> None:
        """The sweep on the way to a read, unless a service sweeps on its own clock; a database
        this account cannot write (read-only, busy) is read as it is."""
        if self.swept_elsewhere:
            return
        try:
            self.sweep()
        except StoreError:
            pass


__all__ = ["ApprovalDecision", "Approvals", "Draft", "FILING_COLS", "REVISED_COLS", "Revision", "check_deadline",
           "decision_of", "past_deadline", "proposed_revision"]
