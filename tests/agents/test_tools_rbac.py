"""Permissions live inside the tools: identity comes from the session, reads go through RBAC, and a
tool the agent does not advertise (which tframex runs anyway) still refuses."""

from __future__ import annotations

import inspect
import json

import pytest

from hitl_tui.agents.events import DecisionProposal, DraftRequest, ToolActivity
from hitl_tui.agents.factory import create_assistant
from hitl_tui.agents.names import AGENT_TOOLS
from hitl_tui.agents.settings import ModelSettings
from hitl_tui.agents.tools import EventSink, SessionTools
from hitl_tui.core.errors import UnknownUser

from .fake_model import Calls, Text
from .helpers import expense, turn


def tools_for(service, username):
    sink = EventSink()
    tools = SessionTools(service, username, sink)
    tools.start_turn("TestAgent")
    return tools, sink


def refused(result: str) -> str:
    payload = json.loads(result)
    assert set(payload) == {"refused"}, payload
    return payload["refused"]


def test_an_employee_cannot_read_someone_elses_request(service):
    wid = expense(service, 500, "Jane's trip", requester="jane.roe")
    tools, sink = tools_for(service, "john.doe")
    for call in (tools.get_workflow_status, tools.get_audit_trail, tools.check_compliance):
        assert "is outside what an Employee may see" in refused(call(wid))
    assert all(isinstance(e, ToolActivity) and e.summary.startswith("refused") for e in sink.drain())
    own, _ = tools_for(service, "jane.roe")
    assert "Jane's trip" in json.loads(own.get_workflow_status(wid))["report"]


def test_pending_approvals_of_another_user_need_an_oversight_role(service):
    wid = expense(service, 500)
    manager, _ = tools_for(service, "tom.manager")
    assert refused(manager.list_pending_approvals("sarah.manager")) == (
        "You can see only your own pending approvals; sarah.manager's queue is visible to the "
        "Compliance or Executive roles.")
    auditor, _ = tools_for(service, "carol.compliance")
    assert wid in json.loads(auditor.list_pending_approvals("sarah.manager"))["report"]
    assert "No user named 'nobody'" in refused(auditor.list_pending_approvals("nobody"))


@pytest.mark.parametrize("who, why", [
    ("john.doe", "You requested"),                                        # segregation of duties
    ("sarah.manager", "You already decided stage 1"),                     # two stages, one person
    ("tom.manager", "waiting for a Director; as a Manager you cannot approve"),  # wrong role
    ("jane.roe", "is outside what an Employee may see"),                  # cannot even see it
])
def test_no_proposal_for_a_decision_the_human_could_not_make(service, who, why):
    wid = expense(service, 5000)
    service.approve_workflow(wid, "sarah.manager", "ok")
    tools, sink = tools_for(service, who)
    assert why in refused(tools.propose_decision(wid, "approve", "looks fine"))
    assert not [e for e in sink.drain() if isinstance(e, DecisionProposal)]


def test_one_proposal_per_turn(service):
    first, second = expense(service, 500), expense(service, 600)
    tools, sink = tools_for(service, "sarah.manager")
    assert json.loads(tools.propose_decision(first, "approve", "fine"))["proposed"] is True
    assert "One decision per turn" in refused(tools.propose_decision(second, "approve", "fine"))
    assert [e.workflow_id for e in sink.drain() if isinstance(e, DecisionProposal)] == [first]


def test_identity_is_never_a_tool_argument(service):
    tools, _ = tools_for(service, "sarah.manager")
    for name in {n for names in AGENT_TOOLS.values() for n in names}:
        params = set(inspect.signature(getattr(tools, name)).parameters)
        assert not params & {"username", "user", "approver", "actor", "requester", "as_user", "viewer"}, name
    wid = expense(service, 500)
    with pytest.raises(TypeError):  # tframex turns this into an error result for the model
        tools.propose_decision(wid, "approve", "x", approver="lisa.executive")


def test_a_session_for_an_unknown_user_cannot_be_made(service):
    with pytest.raises(UnknownUser):
        create_assistant(service, "mallory")


def test_a_draft_never_files_and_reports_problems(service):
    tools, sink = tools_for(service, "john.doe")
    payload = json.loads(tools.draft_request("expense_approval", "Taxi", "", {"amount": "-5", "colour": "red"}))
    assert payload["missing"] == ["amount"]
    assert any("cannot be negative" in p for p in payload["problems"])
    assert any("colour is not a field" in p for p in payload["problems"])
    (draft,) = [e for e in sink.drain() if isinstance(e, DraftRequest)]
    assert draft.missing == ("amount",)
    assert service.count_requests("john.doe", "mine") == 0
    assert "Unknown workflow type 'teleport'" in refused(tools.draft_request("teleport", "x"))


@pytest.mark.parametrize("call", [
    {"fields": {"amount": "15k", "category": "travel"}},
    {"fields": '{"amount": 15000, "category": "travel"}'},   # the object sent as JSON text
    {"amount": "$15,000", "category": "Travel"},             # fields flattened into the call
])
def test_drafts_accept_the_shapes_models_send(service, call):
    tools, sink = tools_for(service, "john.doe")
    payload = json.loads(tools.draft_request("Expense approval", "Singapore", "Strategy offsite with partners", **call))
    assert (payload["risk_level"], payload["chain"]) == ("HIGH", ["manager", "director", "executive"])
    (draft,) = [e for e in sink.drain() if isinstance(e, DraftRequest)]
    assert (draft.workflow_type, str(draft.data["amount"]), draft.data["category"]) == (
        "expense_approval", "15000.00", "travel")


async def test_an_unadvertised_tool_run_by_name_still_enforces_permissions(service, fake_model):
    """The ComplianceOfficer does not advertise list_pending_approvals; tframex runs it anyway
    when the model names it. The tool still refuses an employee another person's queue."""
    secret = expense(service, 15000, "Board retreat in Monaco", requester="jane.roe")
    fake_model.script(Calls([("list_pending_approvals", {"for_user": "sarah.manager"}),
                             ("get_workflow_status", {"workflow_id": secret})]),
                      Text("I could not list those."))
    settings = ModelSettings(fake_model.base_url, "fake-model", stream=False, max_retries=0)
    assistant = create_assistant(service, "john.doe", settings)
    try:
        t = await turn(assistant, "what is sarah waiting on?", agent="ComplianceOfficer")
    finally:
        await assistant.aclose()
    first, second = fake_model.requests
    assert "list_pending_approvals" not in first.tool_names
    tool_results = [m["content"] for m in second.messages if m["role"] == "tool"]
    assert "You can see only your own pending approvals" in tool_results[0]
    assert "is outside what an Employee may see" in tool_results[1]
    assert "Monaco" not in json.dumps(second.body) and secret not in " ".join(tool_results[:1])
    assert t.text.strip() == "I could not list those." and len(t.activity) == 2
