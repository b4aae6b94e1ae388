"""Messages that cross panes or come back from database workers.

Workers run in threads and never touch widgets: each ends by posting one of these to the node
that asked (post_message is thread-safe); they bubble up to the desk (and the demo, which watches
what the desk is told). Names are past tense: they report facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual.message import Message
from textual.worker import Worker, WorkerState

from .core.models import AuditEntry, Decision, InboxView, RequestSummary, User, VerifyResult, WorkflowRequest

if TYPE_CHECKING:
    from .core.service import WorkflowService


@dataclass
class SessionOpened(Message):
    """The acting user was found; `people` is the directory, for naming the next deciders."""

    user: User
    people: list[User]


@dataclass
class Unlocked(Message):
    """The database opened with what was typed on the unlock screen."""

    service: "WorkflowService"


@dataclass
class SessionRead(Message):
    """Who this user is, the directory and the first inbox page (an app.Preload)."""

    session: Any


@dataclass
class PageLoaded(Message):
    """One page of the inbox. `token` tells a stale answer (the view changed since) apart."""

    token: int
    rows: list[RequestSummary]
    offset: int
    has_more: bool


@dataclass
class CountsLoaded(Message):
    """How many requests each view holds under the filter `search`."""

    search: str
    counts: dict[InboxView, int]


@dataclass
class RequestLoaded(Message):
    """The selected request in full, with its audit entries (oldest first)."""

    request: WorkflowRequest
    trail: list[AuditEntry]


@dataclass
class FlagsLoaded(Message):
    """core.compliance flags (most severe first) for one revision of a request."""

    workflow_id: str
    revision: int
    flags: list


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
    """Someone else committed: which requests their audit entries touched, and what this user
    should be told of (core.notices.Notice: arrivals in their queue, outcomes of their requests)."""

    touched: set[str] = field(default_factory=set)
    news: list = field(default_factory=list)
    entries: int = 0
    version: int = 0
    size: int = 0


@dataclass
class ServiceLink(Message):
    """Team mode: the connection to the service was lost (`problem`: the one line saying so),
    or found again (problem None)."""

    problem: str | None = None
    #: it came back as another database or account: trying again cannot help
    final: bool = False


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
class ProposalReady(Message):
    """The request an agent proposed a decision on, read afresh for the decision dialog."""

    request: WorkflowRequest
    proposal: Any


class WorkFailed(Message):
    """A worker of some node ended in an exception. Textual tells only the node that owns the
    worker (Worker.StateChanged does not bubble); the node passes it up with this, and the app
    handles every failure in one place."""

    def __init__(self, worker: Any) -> None:
        super().__init__()
        self.worker = worker
        self.error = worker.error


def forward_failure(node: Any, event: Worker.StateChanged) -> None:
    """For a node's on_worker_state_changed: pass a failed worker up to the app's one handler."""
    if event.state is WorkerState.ERROR:
        node.post_message(WorkFailed(event.worker))
