"""The habits of real local models and servers (llama.cpp, llama-cpp-python), reproduced by the
fake server, against the real model wrapper and the real tframex agents: tool calls written as
text, empty final answers, <think> blocks, replies that break off or hang, and the human's own
comment."""

from __future__ import annotations

import json

import pytest

from hitl_tui.agents.checked_llm import MAX_REPLY_TOKENS, MIN_REPLY_TOKENS
from hitl_tui.agents.names import APPROVALS, COORDINATOR
from hitl_tui.core.models import Decision, WorkflowStatus

from .fake_model import Break, Calls, Hang, Status, Text
from .helpers import expense, turn

STREAMS = pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])


def call_json(name: str, **arguments) -> str:
    return json.dumps({"name": name, "arguments": arguments})


# The shapes Qwen2.5-Coder wrote its calls in under llama-server --jinja, and their cousins.
SHAPES = {
    "fenced json": "```json\n{call}\n```",
    "fenced, prose before": "Let me look that up.\n```\n{call}\n```",
    "tool_call tags": "<tool_call>\n{call}\n</tool_call>",
    "tools tags": "<tools>\n{call}\n</tools>",
    "bare object": "{call}",
    "a list": "[{call}]",
    "thinking first": "<think>The user wants the status. I should call the tool.</think>\n{call}",
    # seen from Qwen2.5-Coder-1.5B under llama-server --jinja (scripts/eval-agents): braces doubled
    "doubled braces": "<tools>\n{{{call}}}\n</tools>",
}


@STREAMS
@pytest.mark.parametrize("shape", list(SHAPES))
async def test_a_tool_call_written_as_text_runs_and_is_never_shown(service, fake_model, session_with, stream, shape):
    wid = expense(service, 15000)
    written = SHAPES[shape].format(call=call_json("get_workflow_status", workflow_id=wid))
    fake_model.script(Text(written), Text(f"{wid} waits for the Manager."))
    t = await turn(session_with(stream=stream), f"where is {wid}?", agent=COORDINATOR)
    assert not t.failures and t.activity == [f"looked up {wid}"]
    assert '"arguments"' not in t.text and "```" not in t.text and "<tool" not in t.text and "<think" not in t.text
    assert t.text.strip().endswith(f"{wid} waits for the Manager.")
    second = fake_model.requests[1]
    assistant_msg, tool_msg = second.messages[-2:]
    assert assistant_msg["content"] == "" or "```" not in assistant_msg["content"]
    (call,) = assistant_msg["tool_calls"]
    assert (call["function"]["name"], json.loads(call["function"]["arguments"])) == (
        "get_workflow_status", {"workflow_id": wid})
    assert (tool_msg["role"], tool_msg["tool_call_id"]) == ("tool", call["id"])
    assert "Risk: HIGH" in json.loads(tool_msg["content"])["report"]


# Also seen from Qwen2.5-Coder-1.5B under llama-server --jinja: the call as XML-ish tags
FUNCTION_TAGS = {
    "arguments attribute": "<tools>\n  <function name=\"get_workflow_status\" arguments='{args}'/>\n</tools>",
    "arguments element, JSON": "<tools>\n  <function>\n    <name>get_workflow_status</name>\n    <arguments>\n"
                               "      {args}\n    </arguments>\n  </function>\n</tools>",
    "arguments element, tags": "<tools>\n  <function>\n    <name>get_workflow_status</name>\n    <arguments>\n"
                               "      <workflow_id>{wid}</workflow_id>\n    </arguments>\n  </function>\n</tools>",
}


@STREAMS
@pytest.mark.parametrize("shape", list(FUNCTION_TAGS))
async def test_a_call_written_as_function_tags_runs_and_is_never_shown(service, fake_model, session_with, stream,
                                                                       shape):
    wid = expense(service, 15000)
    written = FUNCTION_TAGS[shape].replace("{args}", json.dumps({"workflow_id": wid})).replace("{wid}", wid)
    fake_model.script(Text(written), Text(f"{wid} waits for the Manager."))
    t = await turn(session_with(stream=stream), f"where is {wid}?", agent=COORDINATOR)
    assert not t.failures and t.activity == [f"looked up {wid}"]
    assert "<function" not in t.text and "<tools>" not in t.text and "<name>" not in t.text
    assert t.text.strip().endswith(f"{wid} waits for the Manager.")


async def test_a_bare_functions_prefix_is_a_call_and_never_shown(service, fake_model, session_with):
    # seen from llama-cpp-python 0.3.36 --chat_format chatml-function-calling (scripts/eval-agents):
    # the reply is the text "functions.draft_request:" with no arguments, finish_reason "stop"
    # (streamed; a whole reply is asked again for the arguments: test_named_tools.py)
    stream = True
    wid = expense(service, 15000)
    fake_model.script(Text("functions.draft_request:"),
                      Text(f"functions.get_workflow_status: {json.dumps({'workflow_id': wid})}"),
                      Text(f"{wid} waits for the Manager."))
    t = await turn(session_with(stream=stream), f"where is {wid}?", agent=COORDINATOR)
    assert not t.failures and "functions." not in t.text
    assert t.activity[-1] == f"looked up {wid}" and t.text.strip().endswith(f"{wid} waits for the Manager.")
    answered = fake_model.requests[1].messages[-1]  # the argument-less call was answered, as a tool's error
    assert answered["role"] == "tool" and "workflow_type" in answered["content"], answered


def test_a_function_tag_whose_json_holds_the_attributes_quote_is_one_call():
    from hitl_tui.agents.text_calls import TextCall, find_calls

    written = ("<tools>\n  <function name=\"draft_request\" arguments='{\"workflow_type\": \"expense_approval\", "
               "\"description\": \"the company's APAC plan\"}'/>\n</tools>")
    assert find_calls(written) == (
        [TextCall("draft_request", {"workflow_type": "expense_approval", "description": "the company's APAC plan"})], "")


@STREAMS
async def test_json_that_is_not_a_call_stays_text(fake_model, session_with, stream):
    answer = 'The policy field looks like {"amount": 5000} in the data.'
    fake_model.script(Text(answer))
    t = await turn(session_with(stream=stream), "what does a field look like?", agent=COORDINATOR)
    assert t.text.strip() == answer and t.activity == [] and len(fake_model.requests) == 1


@STREAMS
async def test_a_tool_call_message_carries_empty_content(service, fake_model, session_with, stream):
    """llama-cpp-python's server answers 500 to a tool-call message without content; the fake
    does too, so the second request getting through is part of the check."""
    wid = expense(service, 15000)
    fake_model.script(Calls([("get_workflow_status", {"workflow_id": wid})]), Text("Waiting for the Manager."))
    t = await turn(session_with(stream=stream), f"status of {wid}", agent=COORDINATOR)
    assert not t.failures and t.text.strip() == "Waiting for the Manager."
    assistant_msg = fake_model.requests[1].messages[-2]
    assert assistant_msg["tool_calls"] and assistant_msg["content"] == ""


@STREAMS
async def test_the_think_block_never_reaches_the_chat(fake_model, session_with, stream):
    fake_model.script(Text("<think>Secret reasoning about the user.\nMore of it.</think>\n\nThree types need a Director."))
    t = await turn(session_with(stream=stream), "which types need a director?", agent=COORDINATOR)
    assert "Secret" not in t.text and "think>" not in t.text
    assert t.text.strip() == "Three types need a Director."


@STREAMS
@pytest.mark.parametrize("final", ["", "  \n", ".", "<tools>\n{}\n</tools>\n"])
async def test_an_empty_final_answer_shows_the_tools_report(service, fake_model, session_with, stream, final):
    wid = expense(service, 15000)
    fake_model.script(Calls([("list_pending_approvals", {})]), Text(final))
    t = await turn(session_with(stream=stream), "show me my pending approvals", agent=APPROVALS)
    assert not t.failures and "(no reply" not in t.text
    assert "You have 1 pending approval:" in t.text and wid in t.text and "Executive travel to Singapore" in t.text


async def test_a_call_repeated_gives_its_report_once(service, fake_model, session_with):
    expense(service, 15000)
    fake_model.script(*[Calls([("list_pending_approvals", {})])] * 3, Text(""))
    t = await turn(session_with(), "show me my pending approvals", agent=APPROVALS)
    assert t.activity == ["listed 1 pending approval for sarah.manager"] * 3
    assert t.text.count("You have 1 pending approval:") == 1


@STREAMS
async def test_an_empty_answer_with_nothing_computed_is_a_failure(fake_model, session_with, stream):
    fake_model.script(Text(""))
    t = await turn(session_with(stream=stream), "hello?")
    (failure,) = t.failures
    assert failure.message.startswith("The model (model fake-model at") and "gave an empty answer" in failure.message
    assert "(no reply" not in t.text


FAILURES = {
    "HTTP 500": (Status(500, "llama_decode failed"), "answered HTTP 500: the server failed (llama_decode failed)"),
    "breaks off": (Break(), "broke off its reply"),
    "hangs": (Hang(30), "did not answer within 1 s (HITL_LLM_TIMEOUT)"),
    "hangs mid-stream": (Hang(30, after_headers=True), "did not answer within 1 s (HITL_LLM_TIMEOUT)"),
}


@STREAMS
@pytest.mark.parametrize("at", ["first request", "second request"])
@pytest.mark.parametrize("how", list(FAILURES))
async def test_a_server_failure_anywhere_in_a_turn_is_a_failed_turn(service, fake_model, session_with,
                                                                    stream, at, how):
    wid = expense(service, 15000)
    failure, words = FAILURES[how]
    if at == "second request":
        fake_model.script(Calls([("propose_decision", {"workflow": wid, "decision": "approve", "rationale": "fine"})]))
    fake_model.script(failure)
    t = await turn(session_with(stream=stream, timeout=1), f"approve {wid}", agent=APPROVALS)
    (failed,) = t.failures
    assert words in failed.message and failed.message.endswith("Nothing was changed.")
    assert t.proposals == [] and "(no reply" not in t.text  # a proposal from a broken turn is dropped
    assert service.get_workflow(wid).status is WorkflowStatus.AWAITING_APPROVAL


@STREAMS
async def test_the_comment_the_human_typed_wins(service, fake_model, session_with, stream):
    wid = expense(service, 15000)
    fake_model.script(Calls([("propose_decision", {
        "workflow": wid, "decision": "approve",
        "rationale": "Business justification confirmed by the user; HIGH risk within policy.",
        "comments": "Looks good to me"})]), Text("Proposed; please confirm."))
    t = await turn(session_with(stream=stream),
                   f"Approve {wid} with comment 'Business justification confirmed'", agent=APPROVALS)
    (p,) = t.proposals
    assert (p.decision, p.comments, p.comment_typed) == (Decision.APPROVE, "Business justification confirmed", True)
    assert p.rationale == "Business justification confirmed by the user; HIGH risk within policy."


async def test_without_a_typed_comment_the_models_suggestion_is_marked_as_its_own(service, fake_model, session_with):
    wid = expense(service, 15000)
    fake_model.script(Calls([("propose_decision", {"workflow": wid, "decision": "approve", "rationale": "ok",
                                                   "comments": "Approved per policy"})]), Text("Please confirm."))
    (p,) = (await turn(session_with(), f"approve {wid}", agent=APPROVALS)).proposals
    assert (p.comments, p.comment_typed) == ("Approved per policy", False)


@pytest.mark.parametrize("context, budget", [(3000, None), (1_000_000, MAX_REPLY_TOKENS), (512, MIN_REPLY_TOKENS)])
async def test_temperature_and_context_are_sent(fake_model, session_with, context, budget):
    fake_model.script(Text("hi"))
    await turn(session_with(temperature=0.1, context=context), "hello", agent=COORDINATOR)
    body = fake_model.requests[0].body
    assert body["temperature"] == 0.1
    if budget is not None:
        assert body["max_tokens"] == budget
    else:  # what the prompt (system prompt and tool schemas) leaves of a 3000-token context
        prompt = len(json.dumps([body["messages"], body["tools"]], ensure_ascii=False)) // 3
        assert body["max_tokens"] == 3000 - prompt and MIN_REPLY_TOKENS < body["max_tokens"] < MAX_REPLY_TOKENS


async def test_a_count_without_the_requests_is_followed_by_the_list_the_tools_made(service, fake_model, session_with):
    """Seen from the 1.5B model (scripts/eval-agents, pending_for): "The user has 2 pending
    approvals." and none of them named; the user asked for the list, which the tool made."""
    first, second = expense(service, 15000), expense(service, 12000)
    fake_model.script(Calls([("list_pending_approvals", {})]), Text("You have 2 pending approvals."))
    t = await turn(session_with(), "show me my pending approvals", agent=APPROVALS)
    assert t.text.startswith("You have 2 pending approvals.")
    assert first in t.text and second in t.text and "Executive travel to Singapore" in t.text
    fake_model.script(Calls([("list_pending_approvals", {})]), Text(f"The first is {first}."))
    t = await turn(session_with(), "show me my pending approvals", agent=APPROVALS)
    assert second not in t.text  # an answer that names them is the model's own: nothing is added


async def test_draft_fields_sent_as_value_objects_are_read_as_their_values(service, fake_model, session_with):
    """Seen from the 1.5B model: "fields": {"amount": {"value": "15000"}, ...}."""
    from hitl_tui.agents.names import COORDINATOR as COORD

    fake_model.script(Calls([("draft_request", {"workflow_type": "expense_approval", "title": "Team offsite",
                                                "fields": {"amount": {"value": "4200", "currency": "USD"},
                                                           "category": {"value": "travel"}}})]),
                      Text("Drafted it."))
    t = await turn(session_with(), "draft an expense of 4200 for the team offsite", agent=COORD)
    assert not t.failures
    (draft,) = t.drafts
    assert str(draft.data["amount"]).startswith("4200") and draft.data["category"] == "travel"


def test_no_tool_description_offers_an_example_id_to_copy(service):
    """The 1.5B model copied "WF-1704462345-7892" from a description into propose_decision."""
    import re

    from hitl_tui.agents import registry

    source = open(registry.__file__).read()
    assert not re.search(r"WF-\d{6,}-\d{4}", source)
