"""What the desk writes: the dialogs a person confirms (a decision, the request form, a
withdrawal, the signing key's passphrase) and the thread workers that record what they confirmed,
and a claim on a request (which needs no dialog).

It draws nothing, like the ChangeWatcher beside it: the desk hands it the request to act on
(attributes down) and it reports each write as a message that bubbles up to the desk and the app
(DecisionRecorded, RequestSaved; a failed write as WorkFailed, through forward_failure). An
agent's proposal is read afresh and checked against the rules here before its dialog opens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from textual import on, work
from textual.message import Message
from textual.widget import Widget
from textual.worker import Worker

from ..core import rbac
from ..core.decisions import TERMS
from ..core.errors import HitlError
from ..core.models import Decision, User, WorkflowRequest
from ..messages import DecisionRecorded, ProposalReady, RequestSaved, forward_failure

if TYPE_CHECKING:
    from ..core.service import WorkflowService

def undelivered(exc: HitlError) -> bool:
    """Did this write fail to reach the service at all (team mode, the connection lost before it
    was sent), so that nothing was written? Not when the connection went while the service was
    committing it: then it may be done, and the desk reloads to show what is true."""
    return exc.code == "service_unavailable"


# The modals are imported where they are first needed, not here: the form alone pulls in Select
# and TextArea, tens of milliseconds the desk's first paint should not wait for.


class DeskWrites(Widget):
    DEFAULT_CSS = "DeskWrites { display: none; }"

    def __init__(self, service: "WorkflowService", user: User, people: list[User]) -> None:
        super().__init__()
        self.service = service
        self.policy = service.policy
        self.user = user
        self.people = people

    # --- deciding ------------------------------------------------------------------------------

    def open_decision(self, decision: Decision, req: WorkflowRequest, proposal=None) -> None:
        self.open_decision_again(decision, req, proposal, None)

    def open_decision_again(self, decision: Decision, req: WorkflowRequest, proposal, comments: str | None,
                            payload: dict | None = None) -> None:
        from .decision_modal import DecisionModal

        self.app.push_screen(DecisionModal(req, decision, self.policy, self.people, proposal=proposal,
                                           comments=comments, payload=payload),
                             lambda result: self._sign_decision(req, result, proposal))

    def _sign_decision(self, req: WorkflowRequest, result, proposal=None) -> None:
        """Where the policy asks for re-authentication at signing (reauth_at), the signing key's
        passphrase first, in its own modal (screens/passphrase_prompt.py); else straight on."""
        from .passphrase_prompt import PassphrasePrompt

        reauth = result is not None and self.service.policy.reauth_required(req.workflow_type, req.risk_level)
        locked = result is not None and not reauth and self.service.signing_key_locked(self.user.username)
        if not (reauth or locked):
            self._record_decision(req, result, proposal)
            return

        def signed(passphrase: str | None) -> None:
            if passphrase is None:
                return  # cancelled: nothing is recorded
            if reauth:
                self._record_decision(req, result, proposal, passphrase)  # for this one signing only
            else:
                self.service.set_key_unlock(lambda _username: passphrase)  # unlocks the key for the session
                self._record_decision(req, result, proposal)
        verb = TERMS[result.decision].verb
        self.app.push_screen(PassphrasePrompt(req.id, req.risk_level.value, self.user.username, verb,
                                              reauth=reauth), signed)

    @work(thread=True, group="write", exit_on_error=False, description="record decision")
    def _record_decision(self, req: WorkflowRequest, result, proposal=None, passphrase: str | None = None) -> None:
        if result is None:
            return  # the dialog was cancelled
        try:
            done = self.service.decide(result.workflow_id, self.user.username, result.decision, result.comments,
                                       proposal=result.proposal, payload=result.payload,
                                       unlock=(lambda: passphrase) if passphrase is not None else None)
        except HitlError as exc:
            if not undelivered(exc):
                raise
            self.post_message(self.Undelivered(str(exc), lambda: self.open_decision_again(
                result.decision, req, proposal, result.comments, result.payload)))
            return
        self.post_message(DecisionRecorded(done, result.decision))

    @dataclass
    class Undelivered(Message):
        """Team mode: a write did not reach the service (so nothing was written): say why, and
        open its dialog again with what the person typed."""

        problem: str
        reopen: Callable[[], None]

    @on(Undelivered)
    def _undelivered(self, msg: Undelivered) -> None:
        self.app.say(f"{msg.problem.rstrip('.')}. Nothing was recorded; the dialog is back with what you typed: "
                     f"confirm it again once the service is back.", "error", timeout=12)
        msg.reopen()

    # --- an agent's proposal -------------------------------------------------------------------

    def review_proposal(self, proposal) -> None:
        self._load_proposed(proposal)

    @work(thread=True, group="proposal", exit_on_error=False, description="load proposed request")
    def _load_proposed(self, proposal) -> None:
        req = self.service.get_workflow_for(self.user.username, proposal.workflow_id)
        self.post_message(ProposalReady(req, proposal))

    @on(ProposalReady)
    def _review_proposal(self, msg: ProposalReady) -> None:
        req, proposal = msg.request, msg.proposal
        decision = proposal.decision
        try:
            rbac.check_decide(self.policy, self.user, req, TERMS[decision].action)
        except HitlError as exc:
            self.app.say(f"{proposal.agent} proposed to {TERMS[decision].verb} {req.id}, but: {exc}",
                         "warning", timeout=10)
            return
        self.open_decision(decision, req, proposal=proposal)

    # --- filing, editing, withdrawing ----------------------------------------------------------

    def new_request(self, seed=None) -> None:
        self._open_form(seed)

    def _open_form(self, seed) -> None:
        from .request_form import RequestForm

        self.app.push_screen(RequestForm(self.policy, seed), lambda result: self._save_form(result, seed))

    def new_draft(self, draft) -> None:
        """The request form, filled in with what an agent drafted."""
        from .request_form import FormSeed

        self.new_request(FormSeed(draft.workflow_type, draft.title, draft.description,
                                  {k: str(v) for k, v in draft.data.items()},
                                  drafted_by=draft.agent, missing=tuple(draft.missing)))

    def resubmit(self, req: WorkflowRequest) -> None:
        from .request_form import FormSeed

        self._open_form(FormSeed.from_request(req))

    @work(thread=True, group="write", exit_on_error=False, description="save request")
    def _save_form(self, result, seed=None) -> None:
        from .request_form import FormSeed

        if result is None:
            return  # the form was closed without filing
        svc, me = self.service, self.user.username
        try:
            if result.workflow_id is None:
                wid = svc.create_workflow_request(result.workflow_type, result.title, result.description, me,
                                                  result.data)
                self.post_message(RequestSaved(wid, "filed"))
            else:
                svc.resubmit(result.workflow_id, me, title=result.title, description=result.description,
                             data=result.data, comments=result.comments)
                self.post_message(RequestSaved(result.workflow_id, "resubmitted"))
        except HitlError as exc:
            if not undelivered(exc):
                raise
            self.post_message(self.Undelivered(str(exc), lambda: self._open_form(FormSeed.from_result(result, seed))))

    def withdraw(self, req: WorkflowRequest) -> None:
        from .confirm_modal import ConfirmModal

        body = (f"“{req.title}” stops here: approvers no longer see it as waiting. "
                f"This cannot be undone; you can file a new request later.")
        self.app.push_screen(ConfirmModal(f"Withdraw {req.id}?", body, verb="withdraw"),
                             lambda reason: self._withdraw(req.id, reason))

    @work(thread=True, group="write", exit_on_error=False, description="withdraw")
    def _withdraw(self, workflow_id: str, reason: str | None) -> None:
        if reason is None:
            return  # the person changed their mind
        self.service.withdraw_workflow(workflow_id, self.user.username, reason)
        self.post_message(RequestSaved(workflow_id, "withdrawn"))

    # --- claims (core/claims.py): "I am looking at this", advisory and expiring ---------------

    @dataclass
    class ClaimSaid(Message):
        """A claim taken or released (done), or refused, in words for the person."""

        text: str
        done: bool

    @work(thread=True, group="claim", exit_on_error=False, description="claim")
    def claim(self, workflow_id: str, mine: bool) -> None:
        from ..remote import desk_client  # the engine's call, or the service's in team mode

        me = self.user.username
        try:
            if mine:
                desk_client.release(self.service, me, workflow_id)
                said = f"Released {workflow_id}: others of your role see it as free again."
            else:
                claim = desk_client.claim(self.service, me, workflow_id)
                minutes = round((claim.expires_at - claim.claimed_at).total_seconds() / 60)
                said = (f"Claimed {workflow_id} for {minutes} minutes: others who may decide it see "
                        f"“claimed by {me}”. m again releases it.")
        except HitlError as exc:
            self.post_message(self.ClaimSaid(str(exc), False))
            return
        self.post_message(self.ClaimSaid(said, True))

    # --- failures ------------------------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        forward_failure(self, event)
