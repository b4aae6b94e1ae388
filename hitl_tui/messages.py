"""Messages that cross panes or come back from database workers.

Workers run in threads and never touch widgets: each ends by posting one of these to the
screen that asked (post_message is thread-safe). Names are past tense: they report facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.message import Message

from .core.models import AuditEntry, Decision, InboxView, RequestSummary, User, VerifyResult, WorkflowRequest


@dataclass
class SessionOpened(Message):
    """The acting user was found; `people` is the directory, for naming the next deciders."""

    user: User
    people: list[User]


@dataclass
class PageLoaded(Message):
    """One page of the inbox. `token` tells a stale answer (the view changed since) apart."""

    token: int
    rows: list[RequestSummary]
    offset: int
    has_more: bool


@dataclass
class CountsLoaded(Message):
    token: int
    counts: dict[InboxView, int]


@dataclass
class RequestLoaded(Message):
    """The selected request in full, with its audit entries (oldest first)."""

    request: WorkflowRequest
    trail: list[AuditEntry]
    #: core.compliance flags (ComplianceFlag), most severe first
    flags: list = field(default_factory=list)


@dataclass
class RequestVanished(Message):
    """The selected request can no longer be shown (no longer visible to this user)."""

    workflow_id: str
    reason: str


@dataclass
class AuditVerified(Message):
    result: VerifyResult


@dataclass
class AuditProgress(Message):
    done: int
    total: int


@dataclass
class ExternalChange(Message):
    """Someone else committed: which requests their audit entries touched, and which of those
    now wait for this user (to be announced)."""

    touched: set[str] = field(default_factory=set)
    arrivals: list[WorkflowRequest] = field(default_factory=list)
    entries: int = 0


@dataclass
class DecisionRecorded(Message):
    request: WorkflowRequest
    decision: Decision


@dataclass
class RequestSaved(Message):
    """A request was filed, resubmitted or withdrawn by this user."""

    workflow_id: str
    what: str


@dataclass
class ChatAsked(Message):
    """The chat pane's input was submitted; the screen routes it to the assistant."""

    text: str
