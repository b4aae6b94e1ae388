"""The desk's chat pane at 80x24 on the real model wrapper and the fake server: a server that
fails part-way through a turn is a red line saying so, and an empty final answer gives way to the
tools' own report; never "(no reply from the model)"."""

from __future__ import annotations

from hitl_tui.agents.factory import create_assistant
from hitl_tui.agents.settings import ModelSettings
from hitl_tui.app import make_app

from .fake_model import Break, Calls, Text
from .helpers import expense
from .test_tui_proposal import SIZE, ask_in_chat, settle


def chat_lines(app, cls: str = "") -> list[str]:
    chat = app.screen.chat
    return [str(w.render()) for w in chat.query(f".{cls}" if cls else "Static")]


def desk_on(service, fake_model, stream: bool):
    fake_model.strict_content = True  # as llama-cpp-python's server
    settings = ModelSettings(fake_model.base_url, "fake-model", None, "none", stream=stream, timeout=5, max_retries=0)
    return make_app(service, "sarah.manager", poll_interval=None, verify_on_start=False,
                    assistant_factory=lambda svc, user: create_assistant(svc, user, settings))


async def test_a_stream_that_breaks_on_the_second_request_is_a_clear_line(service, fake_model):
    wid = expense(service, 15000)
    fake_model.script(Calls([("list_pending_approvals", {})]), Break("You have one", deltas=2))
    app = desk_on(service, fake_model, stream=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await ask_in_chat(pilot, "show me my pending approvals")
        (error,) = chat_lines(app, "chat-error")
        assert error.startswith("  ⚠ ApprovalManager could not answer: The model server at ")
        assert "broke off its reply" in error and "Nothing was changed." in error
        assert not any("(no reply" in line for line in chat_lines(app))
    assert len(fake_model.requests) == 2 and service.get_workflow(wid).approvals == []


async def test_an_empty_answer_shows_the_pending_list(service, fake_model):
    wid = expense(service, 15000)
    fake_model.script(Calls([("list_pending_approvals", {})]), Text(""))
    app = desk_on(service, fake_model, stream=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await ask_in_chat(pilot, "show me my pending approvals")
        shown = "\n".join(chat_lines(app))
        assert "You have 1 pending approval:" in shown and wid in shown
        assert chat_lines(app, "chat-error") == [] and "(no reply" not in shown
