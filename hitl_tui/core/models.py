"""Domain vocabulary: roles, risk levels, statuses, and the records the engine hands out.

Models are pydantic v2 so that the agents' tools and the CLI's `--json` output serialise them the
same way. Money values inside `data` are kept as `Decimal`, never float.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Role(StrEnum):
    EMPLOYEE = "employee"
    MANAGER = "manager"
    DIRECTOR = "director"
    EXECUTIVE = "executive"
    COMPLIANCE = "compliance"
    SECURITY = "security"
    IT_ADMIN = "it_admin"

    @property
    def label(self) -> str:
        return "IT Admin" if self is Role.IT_ADMIN else self.value.capitalize()

    @classmethod
    def parse(cls, text: str) -> "Role":
        """Accept `it_admin`, `IT Admin`, `it-admin`, `Manager`...; anything else is an error."""
        from .errors import ValidationFailed

        norm = str(text).strip().lower().replace("-", "_").replace(" ", "_")
        try:
            return cls(norm)
        except ValueError:
            choices = ", ".join(r.value for r in cls)
            raise ValidationFailed(f"Unknown role {text!r}; choose one of: {choices}.", "role") from None


class RiskLevel(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        return _RISK_RANK[self]

    @classmethod
    def parse(cls, text: str) -> "RiskLevel":
        from .errors import ValidationFailed

        try:
            return cls(str(text).strip().upper())
        except ValueError:
            raise ValidationFailed(
                f"Unknown risk level {text!r}; choose LOW, MEDIUM, HIGH or CRITICAL.", "risk"
            ) from None


_RISK_RANK = {RiskLevel.LOW: 0, RiskLevel.MEDIUM: 1, RiskLevel.HIGH: 2, RiskLevel.CRITICAL: 3}


class WorkflowStatus(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    CHANGES_REQUESTED = "changes_requested"
    WITHDRAWN = "withdrawn"
    #: its deadline (expires_at) passed before anyone decided: final, and in nobody's inbox
    EXPIRED = "expired"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")

    @property
    def is_final(self) -> bool:
        return self in (WorkflowStatus.APPROVED, WorkflowStatus.REJECTED, WorkflowStatus.WITHDRAWN,
                        WorkflowStatus.EXPIRED)


class ApprovalOutcome(StrEnum):
    """What a caller that asked for approval (an agent, a system) gets back: never a boolean.
    One outcome per status, named for the caller (a withdrawal is the caller's own cancel)."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CHANGES_REQUESTED = "changes_requested"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @classmethod
    def of(cls, status: "WorkflowStatus") -> "ApprovalOutcome":
        return _OUTCOME_OF[status]

    @property
    def is_final(self) -> bool:
        """Nothing changes it any more (changes_requested waits for a resubmission or a cancel)."""
        return self not in (ApprovalOutcome.PENDING, ApprovalOutcome.CHANGES_REQUESTED)


_OUTCOME_OF = {
    WorkflowStatus.AWAITING_APPROVAL: ApprovalOutcome.PENDING, WorkflowStatus.APPROVED: ApprovalOutcome.APPROVED,
    WorkflowStatus.REJECTED: ApprovalOutcome.REJECTED, WorkflowStatus.CHANGES_REQUESTED: ApprovalOutcome.CHANGES_REQUESTED,
    WorkflowStatus.WITHDRAWN: ApprovalOutcome.CANCELLED, WorkflowStatus.EXPIRED: ApprovalOutcome.EXPIRED,
}


class Decision(StrEnum):
    """What a human decided on one stage."""

    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_CHANGES = "request_changes"

    @property
    def past_tense(self) -> str:
        from .decisions import TERMS  # the vocabulary lives once, in decisions.py

        return TERMS[self].past_tense


class InboxView(StrEnum):
    """The inbox's views; RBAC decides what each contains for a given user."""

    AWAITING_ME = "awaiting_me"
    MINE = "mine"
    VISIBLE = "visible"
    DECIDED = "decided"

    @classmethod
    def parse(cls, text: "InboxView | str") -> "InboxView":
        from .errors import ValidationFailed

        try:
            return cls(str(text).strip().lower().replace("-", "_"))
        except ValueError:
            choices = ", ".join(v.value for v in cls)
            raise ValidationFailed(f"Unknown view {str(text)[:40]!r}; choose one of: {choices}.", "view") from None


class User(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    username: str
    role: Role
    email: str | None = None
    display_name: str | None = None
    active: bool = True
    #: may manage the user directory (add people, change roles, deactivate)
    admin: bool = False
    created_at: datetime
    #: an AI agent or a system, not a person: it files requests and reads its own, never decides
    integration: bool = False
    #: the person responsible for an integration (None for people)
    owner: str | None = None


class Approval(BaseModel):
    """One human decision on one stage of one revision of a request."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    stage: int
    role: Role
    approver: str
    approver_role: Role
    decision: Decision
    decided_at: datetime
    comments: str = ""
    revision: int = 1
    #: set when an AI agent proposed this decision and the human confirmed it
    proposed_by: str | None = None
    #: the colleague the approver decided for, under their delegation (core/delegation.py)
    on_behalf_of: str | None = None


class AgentProposal(BaseModel):
    """An agent's suggestion, kept beside the human's decision in the audit trail."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    agent: str
    decision: Decision
    rationale: str = ""


class Filing(BaseModel):
    """What a caller filed for approval beside the request's fields: the exact action (its
    payload, canonical JSON, and that text's sha256), in whose words, by which agent, and until
    when it may be decided (core/approvals.py). In the signed `created` entry, so the trail,
    replays, exports and receipts carry it."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    #: the payload's canonical JSON (audit.canonical_bytes), or `erased on DATE` once erased
    payload_text: str
    payload_sha256: str
    #: the caller's words: why it wants to do this (an agent's, never a person's)
    justification: str = ""
    #: the agent's own name, as the integration gave it ("billing-bot"); None when it gave none
    agent: str | None = None
    #: the person responsible for the integration that filed it, when it filed it
    owner: str | None = None
    expires_at: datetime | None = None
    #: the policy version the request was assessed under (0: the built-in default)
    policy_version: int | None = None
    #: a reviewer who asked for changes proposed this revision of the payload (canonical JSON):
    #: it is not approved, nor filed, until the caller accepts it by resubmitting it
    proposed_payload_text: str | None = None

    @property
    def proposed_payload(self) -> dict[str, Any] | None:
        return _json_object(self.proposed_payload_text)

    @property
    def proposed_sha256(self) -> str | None:
        """The sha256 of the proposed revision's canonical text (what accepting it would file)."""
        import hashlib

        text = self.proposed_payload_text
        return None if text is None or self.proposed_payload is None else hashlib.sha256(text.encode()).hexdigest()

    @property
    def payload(self) -> dict[str, Any] | None:
        """The payload as an object; None once erased."""
        return _json_object(self.payload_text)


def _json_object(text: str | None) -> dict[str, Any] | None:
    """A stored payload's object; None when absent or erased (`erased on DATE` is not JSON)."""
    import json

    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class StageRule(BaseModel):
    """What one stage of a chain needs (core/stage_rules.py counts the votes): `quorum` distinct
    people who may decide `roles[0]`, or, with several roles, one approval for each, in any
    order, each person counting once. A plain stage is one role, quorum 1."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    roles: list[Role]
    quorum: int = 1

    @property
    def parallel(self) -> bool:
        return len(self.roles) > 1

    @property
    def needed(self) -> int:
        """How many approvals complete the stage."""
        return len(self.roles) if self.parallel else self.quorum


class WorkflowRequest(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    id: str
    workflow_type: str
    title: str
    description: str = ""
    requester: str
    data: dict[str, Any] = Field(default_factory=dict)
    risk_level: RiskLevel
    #: the data field the risk rule looked at ("amount", "impact"...)
    risk_field: str = ""
    #: the rule that produced risk_level, in words: "amount 15,000.00 >= 10,000"
    risk_reason: str
    required_approvers: list[Role]
    #: index into required_approvers of the stage awaiting a decision; == len() once approved
    current_stage: int
    status: WorkflowStatus
    approvals: list[Approval] = Field(default_factory=list)
    revision: int = 1
    created_at: datetime
    updated_at: datetime
    #: set when the request was filed with a payload for approval (an agent's, a system's)
    filing: Filing | None = None
    #: when its approvers are due to have decided (core/due.py); None without a due date, and
    #: while changes are requested, when due_left holds the seconds that were left
    due_at: datetime | None = None
    due_left: float | None = None
    #: overdue under an "escalate" rule: the role that may decide the current stage too, until it is decided
    escalated_to: Role | None = None
    #: the last reminder its current stage's approvers had: "due_soon" or "overdue" (core/overdue.py)
    reminded: str | None = None
    #: each stage's rule (quorum, parallel roles; core/stage_rules.py); empty: every stage is one
    #: approval of its role in required_approvers (which holds a parallel stage's first role)
    stage_rules: list[StageRule] = Field(default_factory=list)

    @property
    def outcome(self) -> ApprovalOutcome:
        return ApprovalOutcome.of(self.status)

    @property
    def current_role(self) -> Role | None:
        if self.status is not WorkflowStatus.AWAITING_APPROVAL:
            return None
        if self.current_stage >= len(self.required_approvers):
            return None
        if self.stage_rules:  # a parallel stage: the first of the roles it still awaits
            from .stage_rules import awaited

            return next(iter(awaited(self)), self.required_approvers[self.current_stage])
        return self.required_approvers[self.current_stage]

    @property
    def headline_value(self) -> Any:
        """The value the risk rule looked at (amount, impact...), for list columns."""
        return self.data.get(self.risk_field)

    @property
    def change_request(self) -> "Approval | None":
        """The decision that sent this revision back for changes (who asked, when, and what
        for), or None when it was not sent back."""
        if self.status is not WorkflowStatus.CHANGES_REQUESTED:
            return None
        asked = [a for a in self.approvals if a.revision == self.revision and a.decision is Decision.REQUEST_CHANGES]
        return asked[-1] if asked else None



class AuditEntry(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    seq: int
    timestamp: datetime
    actor: str
    action: str
    workflow_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    session_id: str
    os_login: str | None = None
    tty: str | None = None
    remote_addr: str | None = None
    prev_hash: str
    hash: str
    #: the actor's signature {"alg", "key", "value"} (signatures.py); None on unsigned entries
    sig: dict[str, str] | None = None


class VerifyResult(BaseModel):
    """Outcome of checking the whole audit chain (and any checkpoints) end to end."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    ok: bool
    entries: int
    head_hash: str
    #: first sequence number at which the chain stops being trustworthy
    first_bad_seq: int | None = None
    problem: str | None = None
    checkpoints_checked: int = 0
    external_checkpoints_checked: int = 0
    #: > 0 for `verify-audit --since`: entries up to here were vouched for by a trusted checkpoint
    verified_from: int = 0
    #: signed actions whose signature verified against the key valid for their actor then;
    #: unsigned ones accepted while the directory had no administrator (bootstrap) or before
    #: any key was registered (legacy); first-use key enrolments among the checked ones
    signatures_checked: int = 0
    signatures_bootstrap: int = 0
    signatures_legacy: int = 0
    signatures_first_use: int = 0
    #: the tables were compared with a replay of the trail (core/replay.py; not when the chain broke)
    tables_checked: bool = False
    #: the first difference between the requests, approvals and users tables and the replay,
    #: in words ("WF-... amount is 9,000 in the table, 90,000 in the trail"); None when they match
    tables_problem: str | None = None
    replayed_entries: int = 0
    #: entries from before every entry carried its replay details: compared for what they carry
    legacy_entries: int = 0

    def signature_summary(self) -> str:
        if not (self.signatures_checked or self.signatures_bootstrap or self.signatures_legacy):
            return ""
        extra = [f"{n:,} {what}" for n, what in ((self.signatures_bootstrap, "unsigned at bootstrap"),
                 (self.signatures_legacy, "unsigned from before signatures"),
                 (self.signatures_first_use, "first-use key enrolments")) if n]
        return f"; {self.signatures_checked:,} signatures verified" + (f" ({', '.join(extra)})" if extra else "")

    def summary(self) -> str:
        if not self.ok and self.problem is None and self.tables_problem:
            return f"TABLES OUT OF STEP WITH THE AUDIT TRAIL: {self.tables_problem}"
        if self.ok and self.verified_from:
            return (f"audit log verified since the checkpoint at entry {self.verified_from:,}: "
                    f"{self.entries - self.verified_from:,} new entries, {self.entries:,} in all{self.signature_summary()}")
        if self.ok:
            cps = self.checkpoints_checked + self.external_checkpoints_checked
            extra = f", {cps} signed checkpoint{'s match' if cps != 1 else ' matches'}" if cps else ""
            return f"audit chain verified: {self.entries:,} entries{extra}{self.signature_summary()}"
        return f"AUDIT CHAIN BROKEN at entry {self.first_bad_seq}: {self.problem}"


class Checkpoint(BaseModel):
    """A signed statement "the chain had `size` entries and its head hash was `head_hash`", and
    (in the C2SP tlog-checkpoint format, checkpoints.py) "the Merkle tree of those entries has the
    root `root_hash`". `note` is the exact signed note; None for the older format, whose
    signature covers checkpoints.checkpoint_message instead."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    size: int
    head_hash: str
    created_at: datetime
    database_id: str
    public_key: str  # hex of the raw Ed25519 public key
    signature: str  # hex of the 64-byte Ed25519 signature
    root_hash: str | None = None  # hex of the RFC 9162 tree root; None in the older format
    note: str | None = None

    @property
    def fingerprint(self) -> str:
        import hashlib

        return "SHA256:" + hashlib.sha256(bytes.fromhex(self.public_key)).hexdigest()[:32]




class RequestSummary(BaseModel):
    """One inbox row: enough to list and sort without loading the chain's decisions."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    id: str
    workflow_type: str
    title: str
    requester: str
    headline: str
    risk_level: RiskLevel
    status: WorkflowStatus
    current_stage: int
    stage_count: int
    current_role: Role | None
    created_at: datetime
    updated_at: datetime
    #: when its approvers are due to have decided (core/due.py); None without a due date
    due_at: datetime | None = None


def trusted(cls: type[BaseModel], **values: Any) -> Any:
    """A model from values the engine itself read from its own database: every field given, no
    validation, no defaults to fill. What model_construct does, minus its per-field bookkeeping,
    which dominated listing a page of requests (a pending-approvals page builds ~150 models)."""
    if values.keys() != cls.model_fields.keys():  # a programming error, not user input
        raise TypeError(f"{cls.__name__} needs exactly {sorted(cls.model_fields)}")
    obj = cls.__new__(cls)
    object.__setattr__(obj, "__dict__", {name: values[name] for name in cls.model_fields})  # field order
    object.__setattr__(obj, "__pydantic_fields_set__", set(values))
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj
