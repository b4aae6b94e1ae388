"""The conversation memory hands the model the RECENT messages, tool pairs kept together."""

from __future__ import annotations

from hitl_tui.agents.memory import RecentMemoryStore
from hitl_tui.agents.tfx import FunctionCall, Message, ToolCall


def exchange(n: int, with_tool: bool = True) -> list[Message]:
    msgs = [Message(role="user", content=f"question {n}")]
    if with_tool:
        call = ToolCall(id=f"c{n}", function=FunctionCall(name="get_workflow_status", arguments="{}"))
        msgs += [Message(role="assistant", tool_calls=[call]),
                 Message(role="tool", tool_call_id=f"c{n}", name="get_workflow_status", content="{}")]
    return msgs + [Message(role="assistant", content=f"answer {n}")]


async def filled(store: RecentMemoryStore, turns: int) -> RecentMemoryStore:
    for n in range(turns):
        for m in exchange(n):
            await store.add_message(m)
    return store


async def test_the_last_messages_cut_at_a_question():
    store = await filled(RecentMemoryStore(), 5)  # 20 messages
    history = await store.get_history(limit=10)
    # the last 10 would start inside turn 2, at its tool result; the cut moves on to turn 3
    assert [m.content for m in history if m.role == "user"] == ["question 3", "question 4"]
    assert history[0].role == "user" and len(history) == 8
    assert len(await store.get_history(limit=None)) == 20


async def test_one_long_turn_is_never_split():
    store = RecentMemoryStore()
    await store.add_message(Message(role="user", content="question"))
    for n in range(6):
        call = ToolCall(id=f"c{n}", function=FunctionCall(name="x", arguments="{}"))
        await store.add_message(Message(role="assistant", tool_calls=[call]))
        await store.add_message(Message(role="tool", tool_call_id=f"c{n}", content="r"))
    history = await store.get_history(limit=4)
    assert history[0].content == "question" and len(history) == 13


async def test_a_failed_turn_can_be_taken_back():
    store = await filled(RecentMemoryStore(), 2)
    mark = store.mark()
    await store.add_message(Message(role="user", content="lost question"))
    store.rollback(mark)
    assert [m.content for m in await store.get_history() if m.role == "user"] == ["question 0", "question 1"]


async def test_old_turns_are_dropped_whole():
    store = await filled(RecentMemoryStore(max_kept=10), 6)
    kept = await store.get_history()
    assert kept[0].role == "user" and len(kept) <= 10
    assert [m.content for m in kept if m.role == "user"] == ["question 4", "question 5"]
