"""What the desk's keys do: open a modal, take its typed result, and hand it to the engine in a
worker. Also the chat routing: the chat pane posts ChatAsked, this turns the assistant's events
into transcript lines, the decision modal (proposals) or the request form (drafts)."""

from __future__ import annotations

import asyncio
from typing import Any

from textual.timer import Timer
from textual.widgets import Input

from ..agents.events import DecisionProposal, DraftRequest, TextDelta, ToolActivity, TurnDone, TurnFailed
from ..core import rbac
from ..core.errors import HitlError
from ..core.models import Decision, InboxView, WorkflowStatus
from ..core.workflow import Action
from ..messages import ChatAsked, DecisionRecorded, RequestSaved

# The modals are imported where they open, not here: the form alone pulls in Select and TextArea,
# tens of milliseconds that the first paint of the inbox should not wait for.

DECISION_ACTION = {Decision.APPROVE: Action.APPROVE, Decision.REJECT: Action.REJECT,
                   Decision.REQUEST_CHANGES: Action.REQUEST_CHANGES}
PANES = ("inbox", "detail", "timeline", "chat")
FILTER_DELAY_S = 0.25


class DeskActions:
    """Mixed into DeskScreen."""

    _filter_timer: Timer | None

    # --- deciding ------------------------------------------------------------------------------

    def action_approve(self) -> None:
        self.open_decision(Decision.APPROVE)

    def action_reject(self) -> None:
        self.open_decision(Decision.REJECT)

    def action_request_changes(self) -> None:
        self.open_decision(Decision.REQUEST_CHANGES)

    def open_decision(self, decision: Decision, request=None, proposal: DecisionProposal | None = None) -> None:
        from .decision_modal import DecisionModal

        req = request or self.current_request()
        if req is None:
            return
        self.app.push_screen(DecisionModal(req, decision, self.policy, self.people, proposal=proposal),
                             self._decided)

    def _decided(self, result) -> None:
        if result is None:
            return
        svc, me = self.service, self.user.username
        call = {Decision.APPROVE: svc.approve_workflow, Decision.REJECT: svc.reject_workflow,
                Decision.REQUEST_CHANGES: svc.request_changes}[result.decision]

        def work() -> DecisionRecorded:
            return DecisionRecorded(call(result.workflow_id, me, result.comments, proposal=result.proposal),
                                    result.decision)

        self.app.db(work, group="write", done=self._recorded, description=f"{result.decision.value}")

    def _recorded(self, msg: DecisionRecorded) -> None:
        req = msg.request
        if msg.decision is Decision.APPROVE:
            after = (f"now awaiting {req.current_role.label}" if req.status is WorkflowStatus.AWAITING_APPROVAL
                     and req.current_role else "the request is approved")
            self.app.say(f"Approved {req.id}: {after}.")
        elif msg.decision is Decision.REJECT:
            self.app.say(f"Rejected {req.id}; {req.requester} will see your reason.")
        else:
            self.app.say(f"Sent {req.id} back to {req.requester} for changes.")
        if self._assistant is not None:
            self.chat.add_note(f"You {msg.decision.past_tense} {req.id}.")
        self.reload()

    # --- filing, editing, withdrawing ----------------------------------------------------------

    def action_new_request(self, seed=None) -> None:
        from .request_form import RequestForm

        self.app.push_screen(RequestForm(self.policy, seed), self._form_done)

    def action_resubmit(self) -> None:
        from .request_form import FormSeed, RequestForm

        req = self.current_request()
        if req is not None:
            self.app.push_screen(RequestForm(self.policy, FormSeed.from_request(req)), self._form_done)

    def _form_done(self, result) -> None:
        if result is None:
            return
        svc, me = self.service, self.user.username
        if result.workflow_id is None:
            def work() -> RequestSaved:
                wid = svc.create_workflow_request(result.workflow_type, result.title, result.description, me,
                                                  result.data)
                return RequestSaved(wid, "filed")
        else:
            def work() -> RequestSaved:
                svc.resubmit(result.workflow_id, me, title=result.title, description=result.description,
                             data=result.data, comments=result.comments)
                return RequestSaved(result.workflow_id, "resubmitted")
        self.app.db(work, group="write", done=self._saved, description="save request")

    def action_withdraw(self) -> None:
        from .confirm_modal import ConfirmModal

        req = self.current_request()
        if req is None:
            return
        body = (f"“{req.title}” stops here: approvers no longer see it as waiting. "
                f"This cannot be undone; you can file a new request later.")
        self.app.push_screen(ConfirmModal(f"Withdraw {req.id}?", body, verb="withdraw"),
                             lambda reason: self._withdraw(req.id, reason))

    def _withdraw(self, workflow_id: str, reason: str | None) -> None:
        if reason is None:
            return
        svc, me = self.service, self.user.username

        def work() -> RequestSaved:
            svc.withdraw_workflow(workflow_id, me, reason)
            return RequestSaved(workflow_id, "withdrawn")

        self.app.db(work, group="write", done=self._saved, description="withdraw")

    def _saved(self, msg: RequestSaved) -> None:
        hint = " (2 shows your requests)" if msg.what == "filed" and self.view is not InboxView.MINE else ""
        self.app.say(f"{msg.what.capitalize()} {msg.workflow_id}.{hint}")
        self.reload()

    # --- views, sort, filter -------------------------------------------------------------------

    def action_view(self, name: str) -> None:
        view = InboxView(name)
        if view is self.view:
            return
        self.view = view
        self.query_one("ViewBar").view = view
        self._new_query()
        self._title_panes()

    def action_cycle_sort(self) -> None:
        order = ("oldest", "newest", "risk")
        self.sort = order[(order.index(self.sort) + 1) % len(order)]
        self.query_one("ViewBar").sort = self.sort
        self._new_query()

    def _new_query(self, *, counts: bool = False) -> None:
        self.token += 1
        self.request = None
        self.load_page()
        if counts:
            self.load_counts()

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.display = True
        field.focus()

    # handlers named on_* (not @on): @on decorators are not collected from a mixin class
    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "filter":
            return
        event.stop()
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(FILTER_DELAY_S, lambda: self._apply_filter(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "filter":
            return
        event.stop()
        self._apply_filter(event.value)
        self._leave_filter()

    def _apply_filter(self, text: str) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
            self._filter_timer = None
        text = text.strip()
        if text == self.search:
            return
        self.search = text
        self.query_one("ViewBar").search = text
        self._new_query(counts=True)

    def _leave_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.display = False
        self.inbox.focus()

    # --- panes ---------------------------------------------------------------------------------

    def action_next_lower(self) -> None:
        self.action_show_lower(PANES[1:][(PANES[1:].index(self.lower) + 1) % 3])

    def action_show_lower(self, name: str) -> None:
        inside = self._focused_pane() in PANES[1:]
        self._show_lower(name)
        if inside or name == "chat":
            self.query_one(f"#{name}").focus()

    def action_next_pane(self, step: int = 1) -> None:
        current = self._focused_pane() or "inbox"
        target = PANES[(PANES.index(current) + step) % len(PANES)]
        if target != "inbox" and not self.wide:
            self._show_lower(target)
        self.query_one(f"#{target}").focus()

    def action_previous_pane(self) -> None:
        self.action_next_pane(-1)

    def _focused_pane(self) -> str | None:
        node = self.focused
        while node is not None and node is not self:
            if node.id in PANES:
                return node.id
            node = node.parent
        return None

    def action_open_detail(self) -> None:
        if self._focused_pane() not in (None, "inbox"):
            return
        if not self.wide:
            self._show_lower("detail")
        self.detail.focus()

    def action_back(self) -> None:
        field = self.query_one("#filter", Input)
        if field.display:
            if self.focused is field:
                self._leave_filter()
                return
        if self._focused_pane() not in (None, "inbox"):
            self.inbox.focus()
        elif self.search:
            field.value = ""
            field.display = False
            self._apply_filter("")

    def action_reload(self) -> None:
        self.reload()

    def action_verify(self) -> None:
        self.verify_chain()

    # --- the assistant -------------------------------------------------------------------------

    def on_chat_asked(self, event: ChatAsked) -> None:
        event.stop()
        self.chat.add_user(event.text)
        self.chat.set_busy(True)
        self.app.run_worker(self._converse(event.text), group="chat", exit_on_error=False, description="assistant")

    async def _converse(self, text: str) -> None:
        chat = self.chat
        try:
            if self._assistant is None:
                chat.set_status("Assistant: starting…")
                # the agents import tframex (~0.6 s): in a thread, only once someone asks
                self._assistant = await asyncio.to_thread(self._create_assistant)
                chat.set_status(f"Assistant: {self._assistant.describe()}")
            async for event in self._assistant.ask(text):
                self.route_chat_event(event)
        except HitlError as exc:
            chat.add_error("assistant", str(exc))
        except Exception as exc:  # a broken assistant must not take the desk down
            where = self.app._log_failure("assistant", exc)
            chat.add_error("assistant", f"{type(exc).__name__}: {exc} (details in {where})")
        finally:
            chat.set_busy(False)
            chat.end_turn()

    def _create_assistant(self) -> Any:
        factory = self.app.assistant_factory
        if factory is None:
            from ..agents.factory import create_assistant as factory
        return factory(self.service, self.user.username)

    def route_chat_event(self, event: Any) -> None:
        chat = self.chat
        if isinstance(event, TextDelta):
            chat.append_delta(event.agent, event.text)
        elif isinstance(event, ToolActivity):
            chat.add_tool(event.agent, event.summary)
        elif isinstance(event, DecisionProposal):
            chat.add_note(f"{event.agent} proposes to {event.decision.value.replace('_', ' ')} {event.workflow_id}; "
                          f"review it in the dialog: nothing is recorded until you confirm.")
            self._review_proposal(event)
        elif isinstance(event, DraftRequest):
            from .request_form import FormSeed

            chat.add_note(f"{event.agent} drafted a request; check it in the form, ctrl+s files it.")
            self.action_new_request(FormSeed(event.workflow_type, event.title, event.description,
                                             {k: str(v) for k, v in event.data.items()},
                                             drafted_by=event.agent, missing=tuple(event.missing)))
        elif isinstance(event, TurnFailed):
            chat.add_error(event.agent, event.message)
        elif isinstance(event, TurnDone):
            chat.end_turn()

    def _review_proposal(self, proposal: DecisionProposal) -> None:
        svc, me = self.service, self.user.username

        def work():
            return svc.get_workflow_for(me, proposal.workflow_id)

        def opened(req) -> None:
            try:
                rbac.check_decide(self.policy, self.user, req, DECISION_ACTION[proposal.decision])
            except HitlError as exc:
                self.app.say(f"{proposal.agent} proposed to {proposal.decision.value.replace('_', ' ')} "
                             f"{req.id}, but: {exc}", "warning", timeout=10)
                return
            self.open_decision(proposal.decision, request=req, proposal=proposal)

        self.app.db(work, group="proposal", done=opened, description="load proposed request")

    async def on_unmount(self) -> None:
        if self._assistant is not None:
            try:
                await self._assistant.aclose()
            except Exception:
                pass
