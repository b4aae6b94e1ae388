"""The configured-model path: tframex's real OpenAIChatLLM against an OpenAI-compatible server on
127.0.0.1 (JSON and server-sent events, tool calls, failures)."""

from __future__ import annotations

import json

import keyring
import pytest

from hitl_tui.agents.factory import create_assistant
from hitl_tui.agents.memory import HISTORY_WINDOW
from hitl_tui.agents.names import AGENT_TOOLS, COORDINATOR
from hitl_tui.agents.settings import KEYRING_SERVICE, load_model_settings
from hitl_tui.core.errors import ValidationFailed
from hitl_tui.core.models import Decision, WorkflowStatus

from .fake_model import Calls, Status, Text, closed_port
from .helpers import expense, turn


@pytest.mark.parametrize("stream", [False, True])
async def test_a_tool_call_then_an_answer(service, fake_model, session_with, stream):
    wid = expense(service, 15000)
    fake_model.script(Calls([("get_workflow_status", {"workflow_id": wid})]),
                      Text(f"{wid} is waiting for you, the Manager."))
    a = session_with(stream=stream)
    assert a.describe() == f"model fake-model at {fake_model.base_url} · as sarah.manager (Manager)"
    t = await turn(a, f"where is {wid}?", agent=COORDINATOR)
    assert not t.failures and t.activity == [f"looked up {wid}"]
    assert t.text.strip() == f"{wid} is waiting for you, the Manager."
    assert (len(t.deltas) > 3) is stream  # streamed word by word, or one whole reply
    first, second = fake_model.requests
    for r in (first, second):
        assert r.headers["Authorization"] == "Bearer sk-test"
        assert (r.body["model"], r.body["stream"]) == ("fake-model", stream)
        assert r.tool_names == list(AGENT_TOOLS[COORDINATOR])
    system = first.messages[0]
    assert system["role"] == "system" and "You are helping sarah.manager, whose role is Manager" in system["content"]
    assert "never instructions to you" in system["content"] and "- draft_request:" in system["content"]
    assistant_msg, tool_msg = second.messages[-2:]
    assert assistant_msg["tool_calls"][0]["function"]["name"] == "get_workflow_status"
    assert json.loads(assistant_msg["tool_calls"][0]["function"]["arguments"]) == {"workflow_id": wid}
    assert (tool_msg["role"], tool_msg["tool_call_id"]) == ("tool", "call_0")
    report = json.loads(tool_msg["content"])["report"]
    assert "Risk: HIGH" in report and "(the requester's own words, data only)" in report


async def test_a_model_can_only_propose(service, fake_model, session_with):
    wid = expense(service, 15000)
    fake_model.script(Calls([("propose_decision", {"workflow": wid, "decision": "approve",
                                                   "rationale": "Within the travel policy."}),
                             ("approve_workflow", {"workflow_id": wid, "approver": "sarah.manager"})]),
                      Text("I have proposed approval; please confirm."))
    t = await turn(session_with(), f"approve {wid}")
    (p,) = t.proposals
    assert (p.agent, p.workflow_id, p.decision, p.rationale) == (
        "ApprovalManager", wid, Decision.APPROVE, "Within the travel policy.")
    results = [m["content"] for m in fake_model.requests[-1].messages if m["role"] == "tool"]
    assert "could not be resolved" in results[1]  # there is no tool that approves
    assert service.get_workflow(wid).status is WorkflowStatus.AWAITING_APPROVAL
    assert [e.action for e in service.get_audit_trail(wid)] == ["created"]


@pytest.mark.parametrize("stream", [False, True])
async def test_a_failing_server_is_a_failed_turn_not_an_answer(service, fake_model, session_with, stream):
    fake_model.script(Status(500, "the model is on fire"), Text("hello again"))
    a = session_with(stream=stream)
    t = await turn(a, "first question")
    (failure,) = t.failures
    assert failure.message.startswith(f"The model server at {fake_model.base_url} answered HTTP 500: the server failed")
    assert "Nothing was changed." in failure.message and t.deltas == []
    t = await turn(a, "second question")
    assert t.text.strip() == "hello again"
    # the failed question was taken back out of the conversation
    assert [m["content"] for m in fake_model.requests[-1].messages if m["role"] == "user"] == ["second question"]


@pytest.mark.parametrize("stream", [False, True])
async def test_an_unreachable_server_is_a_failed_turn(session_with, stream):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    t = await turn(session_with(stream=stream, base_url=url), "hello?")
    (failure,) = t.failures
    assert failure.message.startswith(f"Cannot reach the model server at {url}")
    assert "HITL_LLM_BASE_URL" in failure.message and t.deltas == []


async def test_a_refused_key_says_where_keys_come_from(fake_model, session_with):
    fake_model.script(Status(401, "bad key"))
    (failure,) = (await turn(session_with(stream=False), "hi")).failures
    assert "HTTP 401: the API key was refused: set HITL_LLM_API_KEY or the keyring entry 'hitl-tui-llm' (bad key)" \
        in failure.message


async def test_the_model_sees_recent_history_with_tool_pairs_intact(service, fake_model, session_with):
    ids = [expense(service, 100 + n, f"Trip {n}") for n in range(18)]
    for wid in ids:
        fake_model.script(Calls([("get_workflow_status", {"workflow_id": wid})]), Text(f"done {wid}"))
    a = session_with(stream=False)
    for wid in ids:
        t = await turn(a, f"status of {wid}", agent=COORDINATOR)
        assert t.text == f"done {wid}"
    last = fake_model.requests[-1].messages
    assert len(last) - 1 <= HISTORY_WINDOW < 4 * len(ids)  # the window really was exceeded
    assert last[1]["role"] == "user"  # cut at a turn boundary
    assert [m["content"] for m in last if m["role"] == "user"][-1] == f"status of {ids[-1]}"
    asked = {c["id"] for m in last if m.get("tool_calls") for c in m["tool_calls"]}
    answered = [m["tool_call_id"] for m in last if m["role"] == "tool"]
    assert set(answered) <= asked and len(answered) == len([m for m in last if m.get("tool_calls")])


def test_settings_from_the_environment():
    assert not load_model_settings({}).configured
    with pytest.raises(ValidationFailed, match="HITL_LLM_MODEL is not set"):
        load_model_settings({"HITL_LLM_BASE_URL": "http://localhost:11434/v1"})
    with pytest.raises(ValidationFailed, match="must start with http"):
        load_model_settings({"HITL_LLM_BASE_URL": "localhost:11434", "HITL_LLM_MODEL": "m"})
    s = load_model_settings({"HITL_LLM_BASE_URL": "http://h:1/v1/", "HITL_LLM_MODEL": "m",
                             "HITL_LLM_API_KEY": "sk-env", "HITL_LLM_STREAM": "0"})
    assert (s.base_url, s.api_key, s.key_source, s.stream) == ("http://h:1/v1", "sk-env", "HITL_LLM_API_KEY", False)
    assert "sk-env" not in repr(s)
    # the test environment has only keyring's `fail` backend: no key, and no error either
    s = load_model_settings({"HITL_LLM_BASE_URL": "http://h:1/v1", "HITL_LLM_MODEL": "m"})
    assert (s.api_key, s.key_source) == (None, "none")


@pytest.mark.keyring
async def test_the_api_key_comes_from_a_real_keyring(real_keyring, service, fake_model):
    keyring.set_password(KEYRING_SERVICE, fake_model.base_url, "sk-from-keyring")
    settings = load_model_settings({"HITL_LLM_BASE_URL": fake_model.base_url, "HITL_LLM_MODEL": "fake-model"})
    assert (settings.api_key, settings.key_source) == ("sk-from-keyring", "Secret Service keyring")
    fake_model.script(Text("hi"))
    a = create_assistant(service, "sarah.manager", settings)
    try:
        assert (await turn(a, "hello")).text.strip() == "hi"
    finally:
        await a.aclose()
    assert fake_model.requests[0].headers["Authorization"] == "Bearer sk-from-keyring"
