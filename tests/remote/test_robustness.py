"""A client cannot harm the service or the other clients: garbage, oversized and slow messages,
a client that stops reading, too many requests, too many connections (conftest.py)."""

from __future__ import annotations

import json
import time

from hitl_tui.remote.protocol import MAX_MESSAGE
from tests.remote.conftest import Team


def _answered_quickly(wire, seconds: float = 1.5) -> None:
    start = time.monotonic()
    assert "result" in wire.request("whoami", timeout=seconds)
    assert time.monotonic() - start < seconds


def test_garbage_and_oversized_messages_are_refused_and_others_carry_on(team: Team, service):
    good, bad = team["bob"].wire(), team["alice"].wire()
    assert good.request("subscribe")["result"]["subscribed"] is True
    for garbage, code in ((b"\xff\xfe not json at all\n", -32700), (b"{\"jsonrpc\": \"2.0\", \"id\": \n", -32700),
                          (b"[1, 2, 3]\n", -32600), (b"42\n", -32600),
                          (b'{"jsonrpc": "2.0", "id": true, "method": "whoami"}\n', -32600),
                          (b'{"jsonrpc": "1.0", "id": 7, "method": "whoami"}\n', -32600),
                          (b'{"jsonrpc": "2.0", "id": 8, "method": "users.drop_all"}\n', -32601),
                          (b'{"jsonrpc": "2.0", "id": 9, "method": "request.list", "params": [1]}\n', -32602),
                          (b'{"jsonrpc": "2.0", "id": 10, "method": "request.list", "params": {"limit": "all"}}\n',
                           -32602)):
        bad.send(garbage)
        answer = bad.next()
        assert answer["error"]["code"] == code, (garbage, answer)
        assert answer["error"]["message"] and "\n" not in answer["error"]["message"]
        _answered_quickly(good)
    assert bad.request("whoami")["result"]["username"] == team["alice"].name  # still usable after all that
    bad.send(b'{"jsonrpc":"2.0","id":99,"method":"whoami","params":{"pad":"' + b"x" * MAX_MESSAGE + b'"}}\n')
    answer = bad.next()
    assert answer["error"]["code"] == -32002 and bad.closed_by_service(), answer
    _answered_quickly(good)
    assert service.proc.poll() is None
    log = service.log_text()
    assert "sent a message over the limit" in log and "xxxx" not in log  # no request text in the log


def test_slow_and_stalled_clients_are_dropped_without_delaying_others(team: Team):
    service = team.start_service("--idle-timeout", "2")
    try:
        alice, bob = team["alice"], team["bob"]
        description = "Quarterly planning offsite, every line of the agenda. " * 160  # ~9,000 characters
        wid = json.loads(alice.ok("request", "create", "--type", "expense_approval", "--title", "Long agenda",
                                  "-d", description, "-f", "amount=300", "-f", "category=travel", "--json").stdout)["id"]
        staller = alice.wire()
        staller.send(b'{"jsonrpc": "2.0", "id": 1, "method": "who')  # and never the rest
        hog = bob.wire(read=False)  # asks for ~1 MB of answers and reads none of them
        hog.send(b"".join(json.dumps({"jsonrpc": "2.0", "id": n, "method": "request.show",
                                      "params": {"workflow_id": wid}}).encode() + b"\n" for n in range(40)))
        good = bob.wire()
        started = time.monotonic()
        while time.monotonic() - started < 6.5:
            _answered_quickly(good)  # every 0.5 s, within the idle timeout
            time.sleep(0.5)
        assert staller.closed_by_service(timeout=1)
        log = service.log_text()
        assert f"({alice.name}, uid {alice.uid}" in log and "idle for 2 s" in log, log
        assert "stopped reading for 5 s; dropped" in log, log
        assert service.proc.poll() is None
    finally:
        assert service.stop() == 0


def test_a_client_over_its_request_rate_is_slowed_not_served_and_not_disconnected(team: Team, service):
    wire = team["alice"].wire()
    wire.send(b"".join(json.dumps({"jsonrpc": "2.0", "id": n, "method": "whoami"}).encode() + b"\n"
                       for n in range(1, 81)))
    answers = [wire.next() for _ in range(80)]
    served = [a for a in answers if "result" in a]
    limited = [a for a in answers if a.get("error", {}).get("code") == -32001]
    assert len(served) + len(limited) == 80 and 40 <= len(served) < 60 and limited, (len(served), len(limited))
    assert {a["id"] for a in answers} == set(range(1, 81))
    time.sleep(1.0)
    assert wire.request("whoami")["result"]["username"] == team["alice"].name


def test_connections_beyond_the_limit_are_refused_in_one_line(team: Team):
    service = team.start_service("--max-connections", "2")
    try:
        first, second = team["alice"].wire(), team["bob"].wire()
        assert "result" in first.request("hello") and "result" in second.request("hello")
        line = team["bob"].refused("request", "list")
        assert line == "hitl-tui: The hitl-tui service has 2 connections open, its limit; try again in a moment.", line
        first.close()
        time.sleep(0.3)
        assert team["bob"].ok("request", "list").exit_code == 0
        assert "result" in second.request("whoami")
    finally:
        assert service.stop() == 0
