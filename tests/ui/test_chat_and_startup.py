"""The assistant pane's routing (with a small fake standing in for the agents of issue 4), the
placeholder assistant, and the screens shown instead of the desk: unknown user, locked database."""

from __future__ import annotations

import os
from pathlib import Path

from hitl_tui.agents.events import DecisionProposal, DraftRequest, TextDelta, ToolActivity, TurnDone, TurnFailed
from hitl_tui.agents.placeholder import PlaceholderAssistant
from hitl_tui.core.keys import derive_passphrase_key
from hitl_tui.core.models import Decision, WorkflowStatus
from hitl_tui.core.service import WorkflowService
from hitl_tui.launch import build_app
from hitl_tui.screens.decision_modal import DecisionModal
from hitl_tui.screens.desk import DeskScreen
from hitl_tui.screens.request_form import RequestForm
from hitl_tui.screens.unknown_user import UnknownUserScreen
from hitl_tui.screens.unlock import UnlockScreen

from .conftest import SIZE, screen_text, settle


class ScriptedAssistant:
    """Implements the Assistant protocol (agents/events.py) by replaying scripted turns."""

    agents = ("ApprovalManager",)

    def __init__(self, *turns: list) -> None:
        self.turns = list(turns)
        self.asked: list[str] = []
        self.closed = False

    def describe(self) -> str:
        return "scripted test assistant"

    async def ask(self, text: str, agent: str | None = None):
        self.asked.append(text)
        for event in self.turns.pop(0):
            yield event

    async def aclose(self) -> None:
        self.closed = True


async def ask(pilot, text: str) -> None:
    await pilot.press("v", "v")  # the lower half: detail -> timeline -> assistant
    await pilot.pause()
    pilot.app.screen.chat.focus()
    await pilot.press(*text, "enter")
    await settle(pilot)


async def test_agent_proposal_opens_the_same_modal_and_writes_only_on_confirm(desk):
    svc = desk.service()
    wid = svc.create_workflow_request("expense_approval", "Team lunch", "", "alice", {"amount": "300"})
    rationale = "Within the meals policy; [b]receipts[/b] attached."
    bot = ScriptedAssistant([
        ToolActivity("ApprovalManager", f"looked up {wid}"),
        TextDelta("ApprovalManager", "This looks "), TextDelta("ApprovalManager", "fine."),
        DecisionProposal("ApprovalManager", wid, Decision.APPROVE, rationale, comments="per policy"),
        TurnDone("ApprovalManager"),
    ])
    app = desk.app("bob.manager", assistant_factory=lambda service, user: bot)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await ask(pilot, "should I approve the lunch?")
        assert bot.asked == ["should I approve the lunch?"]
        assert isinstance(app.screen, DecisionModal)
        text = screen_text(app)
        assert "Proposed by agent ApprovalManager" in text and rationale in text  # literal, not bold markup
        assert svc.get_workflow(wid).approvals == [], "nothing is written before the human confirms"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DeskScreen)
        log = screen_text(app)
        assert "This looks fine." in log and f"looked up {wid}" in log
    req = svc.get_workflow(wid)
    assert req.status is WorkflowStatus.APPROVED
    assert (req.approvals[0].proposed_by, req.approvals[0].comments) == ("ApprovalManager", "per policy")
    entry = svc.get_audit_trail(wid)[-1]
    assert entry.details["agent_proposal"] == {"agent": "ApprovalManager", "decision": "approve",
                                               "rationale": rationale}
    assert bot.closed


async def test_dismissed_proposal_writes_nothing(desk):
    svc = desk.service()
    wid = svc.create_workflow_request("expense_approval", "Team lunch", "", "alice", {"amount": "300"})
    bot = ScriptedAssistant([DecisionProposal("ApprovalManager", wid, Decision.REJECT, "too pricey"),
                             TurnDone("ApprovalManager")])
    app = desk.app("bob.manager", assistant_factory=lambda service, user: bot)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await ask(pilot, "reject it?")
        assert isinstance(app.screen, DecisionModal)
        await pilot.press("escape")
        await settle(pilot)
    assert svc.get_workflow(wid).approvals == []
    assert len(svc.get_audit_trail(wid)) == 1


async def test_draft_opens_the_form_prefilled_and_failures_are_errors_not_answers(desk):
    svc = desk.service()
    bot = ScriptedAssistant(
        [DraftRequest("WorkflowCoordinator", "expense_approval", "Berlin trip", "Two nights", {"amount": "1200"},
                      missing=("cost_center",)), TurnDone("WorkflowCoordinator")],
        [TurnFailed("ApprovalManager", "the model endpoint did not answer"), TurnDone("ApprovalManager")],
    )
    app = desk.app("alice", assistant_factory=lambda service, user: bot)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await ask(pilot, "draft a Berlin trip")
        form = app.screen
        assert isinstance(form, RequestForm)
        assert form.query_one("#form-title").value == "Berlin trip"
        assert form.query_one("#field-amount").value == "1200"
        assert "Drafted by agent WorkflowCoordinator" in screen_text(app)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, DeskScreen)
        app.screen.chat.focus()
        await pilot.press(*"again", "enter")
        await settle(pilot)
        assert "ApprovalManager could not answer: the model endpoint did not answer" in screen_text(app)
    assert [r.title for r in svc.list_requests("alice", "mine")] == ["Berlin trip"]


async def test_placeholder_assistant_says_it_is_not_set_up(desk):
    app = desk.app("alice", assistant_factory=lambda service, user: PlaceholderAssistant())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await ask(pilot, "hello")
        assert "The assistant is not set up yet" in screen_text(app)
        assert isinstance(app.screen, DeskScreen)


async def test_unknown_os_account_gets_a_screen_saying_how_to_be_added(desk):
    app = desk.app("mallory")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, UnknownUserScreen)
        assert "hitl-tui users add mallory --role ROLE" in screen_text(app)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_wrong_key_opens_the_unlock_screen_and_the_passphrase_opens_the_desk(tmp_path, monkeypatch):
    db = tmp_path / "hitl.db"
    key = derive_passphrase_key(db, "correct horse", create_salt=True)
    svc = WorkflowService.open(db, key=key, create=True)
    svc.add_user("alice", "employee")
    svc.close(checkpoint=False)
    wrong = tmp_path / "wrong.key"
    wrong.write_text(os.urandom(32).hex())
    wrong.chmod(0o600)
    monkeypatch.setenv("HITL_DB_KEY_FILE", str(wrong))

    app, message = build_app(db, username="alice", poll_interval=None, background_delay=0)
    assert message is None
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, UnlockScreen)
        assert "wrong key" in screen_text(app)
        await pilot.press(*"wrong guess", "enter")
        await settle(pilot)
        assert isinstance(app.screen, UnlockScreen)
        assert "The passphrase does not open" in screen_text(app)
        await pilot.press(*"correct horse", "enter")
        await settle(pilot)
        assert isinstance(app.screen, DeskScreen)
        assert app.screen.user.username == "alice"
    app.service.close(checkpoint=False)


async def test_missing_database_is_one_plain_line(tmp_path):
    app, message = build_app(tmp_path / "nothing-here.db")
    assert app is None
    assert message.startswith("hitl-tui: No database at") and "\n" not in message
    assert not Path(tmp_path / "nothing-here.db").exists()
