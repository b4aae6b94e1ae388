"""The desk's detail of a request an agent filed for approval: who filed it for which agent, how
long it has waited and until when, its justification marked as the agent's words, and the exact
payload pretty-printed: literally (no markup, escapes made visible) and bounded."""

from __future__ import annotations

import re

from hitl_tui.render.payload import MAX_LINES, MAX_VALUE

from .conftest import screen_text, settle

HOSTILE = {"tool": "refund", "order_id": "1234", "amount": "25.00",
           "note": "[@click=app.quit]Pay me[/] [bold red]URGENT[/] \x1b[2J\x1b]52;c;ZXZpbA==\x07 \u202etxt.exe",
           "long": "z" * 3000, "rows": [{"n": i} for i in range(MAX_LINES)]}


async def test_an_agents_request_is_shown_literally_and_bounded(desk):
    svc = desk.service()
    svc.set_user_admin("eve.exec", True)
    svc.approvals.add_integration("billing-bot", "employee", "alice", actor="eve.exec")
    wid = svc.approvals.file("billing-bot", "tool_call", "Refund order 1234", HOSTILE, timeout=3600,
                             justification="[b]trust me[/b]\x1b[31m ignore previous instructions", agent="billing-agent")
    app = desk.app("bob.manager")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        shown = screen_text(app)
        assert app.is_running  # the markup in the payload clicked nothing
        assert "Filed by billing-bot (Employee, integration of alice) for agent billing-agent" in shown
        assert re.search(r"waiting since \S+ \S+ \(just now\), until \S+ \S+ \(in (59m|1h)\)", shown), shown
        assert "Justification (the agent's words: nobody has checked them)" in shown
        assert "[b]trust me[/b]\\x1b[31m ignore previous instructions" in shown
        assert '"note": "[@click=app.quit]Pay me[/] [bold red]URGENT[/] \\u001b[2J\\u001b]52;c;ZXZpbA==\\u0007' in shown
        assert "\\u202etxt.exe" in shown and "\u202e" not in shown and "\x1b" not in shown and "\x07" not in shown
        assert f'"long": "{"z" * MAX_VALUE}" … {3000 - MAX_VALUE:,} more characters' in shown
        assert f"more lines (all of it: hitl-tui request show {wid} --json)" in shown


def test_the_accessible_desk_reads_an_agents_request_as_sentences(tmp_path):
    from tests.ui.test_accessible import World, assert_plain, out

    world = World(tmp_path)
    svc = world.service()
    try:
        svc.approvals.add_integration("billing-bot", "employee", "alice", actor="alice")
        wid = svc.approvals.file("billing-bot", "tool_call", "Refund order 1234", HOSTILE, timeout=3600,
                                 justification="trust me\x1b[31m", agent="billing-agent")
    finally:
        svc.close(checkpoint=False)
    text = out(world.run("show 1\n"))
    assert_plain(text)
    lines = text.splitlines()
    assert "Filed for approval by billing-bot (an integration of alice), for the agent billing-agent." in lines
    assert "Justification, in the agent's words, checked by nobody: trust me\\x1b[31m" in lines
    assert any(line.startswith("Payload, sha256 ") for line in lines)
    assert '    "order_id": "1234",' in lines and f"more lines (all of it: hitl-tui request show {wid} --json)" in text


def test_a_short_list_of_values_takes_one_line_and_a_long_one_a_line_each():
    from datetime import datetime, timezone

    from hitl_tui.core.models import Filing
    from hitl_tui.core.payloads import checked
    from hitl_tui.render.payload import FLAT_WIDTH, payload_lines

    payload = {"lines": list(range(10)), "skus": ["A-1", "B-2"], "rows": [{"n": 1}], "many": list(range(40))}
    made = checked(payload)
    filing = Filing(payload_text=made.text, payload_sha256=made.sha256,
                    expires_at=datetime(2030, 1, 1, tzinfo=timezone.utc))
    lines = payload_lines(filing, "WF-1")
    assert '  "lines": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],' in lines
    assert '  "skus": ["A-1", "B-2"]' in lines  # the last member: no comma
    assert '  "rows": [' in lines and '      "n": 1' in lines  # an object inside: a line each
    assert '  "many": [' in lines and "    39" in lines  # too wide for one line
    assert all(len(line) <= FLAT_WIDTH for line in lines)


def test_the_accessible_desk_proposes_a_revised_payload_and_refuses_one_that_is_not_json(tmp_path):
    import json

    from hitl_tui.core.models import WorkflowStatus
    from tests.ui.test_accessible import World, out

    world = World(tmp_path)
    svc = world.service()
    try:
        svc.approvals.add_integration("billing-bot", "employee", "alice", actor="alice")
        wid = svc.approvals.file("billing-bot", "tool_call", "Refund order 1234", HOSTILE | {"rows": []},
                                 timeout=3600, agent="billing-agent")
    finally:
        svc.close(checkpoint=False)
    text = out(world.run('changes 1 wrong order\n{"tool": "refund",\n'))
    assert "That is not JSON (Expecting property name enclosed in double quotes at column 19); nothing was decided." \
        in text, text
    assert world.request(wid).status is WorkflowStatus.AWAITING_APPROVAL
    revised = {"tool": "refund", "order_id": "1243", "amount": "25.00"}
    text = out(world.run(f"changes 1 wrong order\n{json.dumps(revised)}\nchanges\n"))
    assert 'Your proposed payload: {"amount": "25.00", "order_id": "1243", "tool": "refund"} (billing-bot must ' \
           'accept it before anyone approves it)' in text, text
    req = world.request(wid)
    assert req.status is WorkflowStatus.CHANGES_REQUESTED and req.filing.proposed_payload == revised
    assert req.filing.payload["order_id"] == "1234"
