"""`hitl-tui ask` (the installed console script, in a subprocess) against the fake server playing
a real local model's habits: what the user sees, and the exit status."""

from __future__ import annotations

import json

import pytest

from hitl_tui.core.models import WorkflowStatus

from .fake_model import Break, Calls, Hang, Status, Text
from .helpers import expense
from .test_ask_command import ME, cli, in_a_terminal, untouched


def model_env(fake_model, **more: str) -> dict[str, str]:
    fake_model.strict_content = True  # as llama-cpp-python's server
    return {"HITL_LLM_BASE_URL": fake_model.base_url, "HITL_LLM_MODEL": "qwen2.5-coder-1.5b", **more}


@pytest.mark.parametrize("stream", ["1", "0"])
def test_a_text_tool_call_runs_and_its_json_is_never_printed(service, db_path, db_key, fake_model, stream):
    wid = expense(service, 15000)
    call = json.dumps({"name": "get_workflow_status", "arguments": {"workflow_id": wid}})
    fake_model.script(Text(f"<tools>\n{call}\n</tools>"), Text(""))  # and then an empty answer
    result = cli(db_path, db_key, f"Check the status of workflow {wid}",
                 env=model_env(fake_model, HITL_LLM_STREAM=stream))
    assert result.exit_code == 0, result.output
    assert f"· looked up {wid}" in result.stderr
    assert '"arguments"' not in result.stdout and "<tools>" not in result.stdout
    # the model said nothing after the tool ran: the tool's own report is the answer
    assert f"{wid}: title \u201cExecutive travel to Singapore\u201d" in result.stdout
    assert "Status: awaiting approval, stage 1 of 3 (Manager)" in result.stdout
    assert "(no reply" not in result.output


@pytest.mark.parametrize("stream", ["1", "0"])
@pytest.mark.parametrize("failure, words", [
    (Status(500, "llama_decode failed"), "answered HTTP 500: the server failed (llama_decode failed)"),
    (Break(), "broke off its reply"),
    (Hang(30, after_headers=True), "did not answer within 1 s (HITL_LLM_TIMEOUT)"),
], ids=["500", "breaks off", "hangs"])
def test_a_server_failure_on_the_second_request_exits_non_zero(service, db_path, db_key, fake_model,
                                                               stream, failure, words):
    wid = expense(service, 15000)
    fake_model.script(Calls([("list_pending_approvals", {"for_user": "sarah.manager"})]), failure)
    result = cli(db_path, db_key, "show me the pending approvals for sarah.manager",
                 env=model_env(fake_model, HITL_LLM_STREAM=stream, HITL_LLM_TIMEOUT="1"))
    assert result.exit_code == 1, result.output
    (line,) = result.stderr.splitlines()[-1:]
    assert line.startswith(f"hitl-tui: The model server at {fake_model.base_url} ") and words in line
    assert [ln for ln in result.stderr.splitlines() if ln.startswith("hitl-tui:")] == [line]  # one line
    assert "(no reply" not in result.output and wid not in result.stdout
    assert len(fake_model.requests) == 2 and untouched(service, wid)


def test_temperature_and_context_are_settings_sent_to_the_server(service, db_path, db_key, fake_model):
    fake_model.script(Text("Hello."))
    result = cli(db_path, db_key, "hello", env=model_env(fake_model, HITL_LLM_TEMPERATURE="0.05",
                                                         HITL_LLM_CONTEXT="100000"))
    assert result.exit_code == 0, result.output
    body = fake_model.requests[0].body
    assert (body["temperature"], body["max_tokens"]) == (0.05, 2048)


@pytest.mark.parametrize("name, value, allowed", [
    ("HITL_LLM_TEMPERATURE", "hot", "a number from 0 to 2"),
    ("HITL_LLM_CONTEXT", "100", "a number of tokens from 512 to 1048576"),
])
def test_a_bad_setting_is_one_line(service, db_path, db_key, fake_model, name, value, allowed):
    result = cli(db_path, db_key, "hello", env=model_env(fake_model, **{name: value}))
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and name in result.stderr and allowed in result.stderr
    assert fake_model.requests == []


def test_the_typed_comment_is_shown_and_recorded_though_the_model_kept_it_in_its_rationale(
        service, db_path, db_key, fake_model):
    wid = expense(service, 15000)
    rationale = "The user confirmed the business justification; HIGH risk, within the travel policy."
    fake_model.script(Calls([("propose_decision", {"workflow": wid, "decision": "approve", "rationale": rationale})]),
                      Text("I proposed the approval; confirm it with y."))
    code, out, err = in_a_terminal(db_path, db_key, f"Approve workflow {wid} with comment 'Business justification confirmed'",
                                   "y\n", env_more=model_env(fake_model, HITL_LLM_STREAM="0"))
    assert code == 0, err
    assert "Your comment (recorded with the decision): Business justification confirmed" in out
    assert f"ApprovalManager's rationale (the agent's words, not recorded as your comment): {rationale}" in out
    assert f"Approved {wid} as {ME}; now waiting for Director (stage 2 of 3)." in out
    req = service.get_workflow(wid)
    (approval,) = req.approvals
    assert (approval.approver, approval.comments, approval.proposed_by) == (
        ME, "Business justification confirmed", "ApprovalManager")
    assert service.get_audit_trail(wid)[-1].details["agent_proposal"]["rationale"] == rationale
    assert req.status is WorkflowStatus.AWAITING_APPROVAL


def test_without_y_the_typed_comment_decides_nothing(service, db_path, db_key, fake_model):
    wid = expense(service, 15000)
    fake_model.script(Calls([("propose_decision", {"workflow": wid, "decision": "approve", "rationale": "ok"})]),
                      Text(""))
    code, out, err = in_a_terminal(db_path, db_key, f"Approve workflow {wid} with comment 'Business justification confirmed'",
                                   "n\n", env_more=model_env(fake_model))
    assert code == 0, err
    assert "Proposal (NOT decided)" in out  # the empty answer gave way to the tool's report
    assert "Not decided; nothing was changed." in out and untouched(service, wid)
