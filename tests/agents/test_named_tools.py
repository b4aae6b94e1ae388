"""Two habits of a small real model (Qwen2.5-Coder-1.5B, scripts/eval-agents), against the real
model wrapper and tframex agents on the fake server: a tool named without its arguments
(llama-cpp-python's chatml-function-calling stops after "functions.NAME:"), and a proposal for an
id the model made up instead of looking up the request the human named."""

from __future__ import annotations

import json

from hitl_tui.agents.names import APPROVALS, COORDINATOR
from hitl_tui.core.models import Decision

from .fake_model import Calls, Text
from .helpers import expense, turn

OFFSITE = {"workflow_type": "expense_approval", "title": "Team offsite",
           "fields": {"amount": "900", "category": "travel"}}


async def test_a_tool_named_without_its_arguments_is_asked_for_them_with_that_tool_chosen(fake_model, session_with):
    fake_model.script(Text("functions.draft_request:"), Calls([("draft_request", OFFSITE)]), Text("Here is the draft."))
    t = await turn(session_with(stream=False), "Create an expense request for $900 for the team offsite",
                   agent=COORDINATOR)
    assert not t.failures and "functions." not in t.text
    (draft,) = t.drafts
    assert (draft.workflow_type, draft.title, str(draft.data["amount"])) == ("expense_approval", "Team offsite", "900.00")
    first, again, after = (r.body for r in fake_model.requests)
    assert first["tool_choice"] == "auto" and again["messages"] == first["messages"]
    assert again["tool_choice"] == {"type": "function", "function": {"name": "draft_request"}}
    assert after["tool_choice"] == "auto"  # only that one reply was asked with the tool chosen
    assert json.loads(after["messages"][-2]["tool_calls"][0]["function"]["arguments"]) == OFFSITE


async def test_asked_again_and_still_without_arguments_the_tool_says_what_it_needs(fake_model, session_with):
    fake_model.script(Text("functions.draft_request:"), Text("functions.draft_request:"), Text("Which type?"))
    t = await turn(session_with(stream=False), "Create a request", agent=COORDINATOR)
    assert not t.failures and not t.drafts and t.text.strip() == "Which type?"
    answered = fake_model.requests[2].messages[-1]  # the argument-less call, answered as the tool's error
    assert answered["role"] == "tool" and "workflow_type" in answered["content"]


async def test_a_tool_without_required_arguments_is_not_asked_again(fake_model, session_with):
    fake_model.script(Text("functions.list_workflow_types:"), Text("Ten types."))
    t = await turn(session_with(stream=False), "What types are there?", agent=COORDINATOR)
    assert not t.failures and len(fake_model.requests) == 2 and t.text.strip() == "Ten types."


async def test_a_proposal_for_an_invented_id_goes_to_the_request_the_human_named(service, fake_model, session_with):
    travel = expense(service, 15000, title="Executive travel to Singapore")
    expense(service, 900, title="Team offsite catering")
    fake_model.script(Calls([("propose_decision", {"workflow": "WF-1234", "decision": "approve",
                                                   "rationale": "Strategic travel within budget."})]),
                      Text("Proposed; please confirm."))
    t = await turn(session_with(), "Approve the executive travel workflow", agent=APPROVALS)
    (p,) = t.proposals
    assert (p.workflow_id, p.decision, p.rationale) == (travel, Decision.APPROVE, "Strategic travel within budget.")


async def test_the_request_the_human_named_wins_over_another_the_model_picked(service, fake_model, session_with):
    travel = expense(service, 15000, title="Executive travel to Singapore")
    other = expense(service, 900, title="Team offsite catering")
    fake_model.script(Calls([("propose_decision", {"workflow": other, "decision": "approve"})]), Text("Confirm."))
    (p,) = (await turn(session_with(), "Approve the executive travel workflow", agent=APPROVALS)).proposals
    assert p.workflow_id == travel


async def test_when_the_humans_words_name_nothing_the_models_reference_is_used(service, fake_model, session_with):
    other = expense(service, 900, title="Team offsite catering")
    fake_model.script(Calls([("propose_decision", {"workflow": other, "decision": "approve"})]), Text("Confirm."))
    (p,) = (await turn(session_with(), "approve it", agent=APPROVALS)).proposals
    assert p.workflow_id == other


async def test_a_reference_that_matches_nothing_is_refused_with_the_queue_to_choose_from(service, fake_model,
                                                                                       session_with):
    travel = expense(service, 15000, title="Executive travel to Singapore")
    fake_model.script(Calls([("propose_decision", {"workflow": "WF-1234", "decision": "approve"})]), Text("Sorry."))
    t = await turn(session_with(), "Approve the quarterly marketing budget", agent=APPROVALS)
    assert not t.proposals
    refused = json.loads(fake_model.requests[1].messages[-1]["content"])["refused"]
    assert "wf-1234" in refused and travel in refused and "Executive travel to Singapore" in refused
