"""text_calls: the calls a model writes as text, found the same however the stream splits them."""

from __future__ import annotations

import json

import pytest

from hitl_tui.agents.text_calls import StreamedText, TextCall, find_calls, strip_think

CALL = json.dumps({"name": "list_pending_approvals", "arguments": {"for_user": "sarah.manager"}})
WANT = [TextCall("list_pending_approvals", {"for_user": "sarah.manager"})]

REPLIES = {
    f"```json\n{CALL}\n```": ("", WANT),
    f"Checking.\n<tool_call>{CALL}</tool_call>": ("Checking.", WANT),
    f"<think>a {{plan}} </think>{CALL}": ("", WANT),
    '{"type": "function", "function": {"name": "get_audit_trail", "arguments": "{\\"workflow_id\\": \\"WF-1-2\\"}"}}':
        ("", [TextCall("get_audit_trail", {"workflow_id": "WF-1-2"})]),
    'A set {"amount": 5} and a <b>tag</b>, no call.': ('A set {"amount": 5} and a <b>tag</b>, no call.', []),
    "<think>hidden</think>Plain answer, `code` and ``two``.": ("Plain answer, `code` and ``two``.", []),
    '{"name": "x", "arguments": [1]} is not a call': ('{"name": "x", "arguments": [1]} is not a call', []),
}


@pytest.mark.parametrize("reply", list(REPLIES))
def test_every_split_of_the_stream_gives_the_same_result(reply):
    text, calls = REPLIES[reply]
    for cut in range(len(reply) + 1):
        for size in (1, 3, len(reply) or 1):
            stream, shown = StreamedText(), []
            pieces = [reply[:cut]] + [reply[cut:][i:i + size] for i in range(0, len(reply) - cut, size)]
            for piece in pieces:
                shown.append(stream.feed(piece))
            rest, found = stream.finish()
            assert ("".join(shown) + rest).strip() == text, (cut, size)
            assert found == calls


@pytest.mark.parametrize("reply", list(REPLIES))
def test_a_whole_reply_gives_the_same_result(reply):
    text, calls = REPLIES[reply]
    found, rest = find_calls(strip_think(reply))
    assert (rest.strip(), found) == (text, calls)


def test_an_unclosed_think_block_shows_nothing_of_it():
    stream = StreamedText()
    assert stream.feed("Sure. <think>still thinking about the") == "Sure. "
    assert stream.finish() == ("", [])
    assert strip_think("Sure. <think>still thinking") == "Sure. "
