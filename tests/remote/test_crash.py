"""Crash safety of the service (issue 11): `kill -9` of `hitl-tui serve` while alice and bob, real
OS accounts, are deciding and filing through it, some with the installed console script, some
with a small driver on RemoteService. After a restart, everything a client was told was done is
in the database, nothing is half-way (the audit trail, its replay and the tables agree:
`verify-audit` as root, embedded, exits 0), and every client that was cut off said so in one
line, without a traceback.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import SCRIPT
from tests.remote.conftest import PYTHON, Account, Team, Wire

pytestmark = pytest.mark.xdist_group("remote-crash")

#: filed by the drivers: LOW risk, one manager stage
_EXPENSE = {"amount": "250", "category": "travel"}

#: a client on RemoteService: approve each request of argv[2] and file one more after each, for
#: argv[3] rounds; one JSON line per thing it was TOLD was done, one for a refusal, then exit 1
_DRIVER = r"""
import json, sys
from hitl_tui.core.errors import HitlError
from hitl_tui.remote.client import RemoteService

def say(**kw):
    print(json.dumps(kw), flush=True)

where, todo, rounds = sys.argv[1], [w for w in sys.argv[2].split(",") if w], int(sys.argv[3])
try:
    service = RemoteService.connect(where)
    me = service.username
    for n in range(rounds):
        if n < len(todo):
            service.decide(todo[n], me, "approve", "under load")
            say(op="approved", id=todo[n])
        wid = service.create_workflow_request("expense_approval", f"Filed by {me} under load {n}", "", me,
                                              {"amount": "250", "category": "travel"})
        say(op="filed", id=wid)
except HitlError as exc:
    say(op="refused", line=str(exc))
    sys.exit(1)
"""

#: the installed console script, one `hitl-tui approve` process after another
_CONSOLE = r"""
import json, subprocess, sys
for wid in [w for w in sys.argv[2].split(",") if w]:
    done = subprocess.run([sys.argv[1], "approve", wid, "-m", "by the console script"], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=60)
    print(json.dumps({"op": "approved" if done.returncode == 0 else "cli_failed", "id": wid,
                      "exit": done.returncode, "stdout": done.stdout, "stderr": done.stderr}), flush=True)
"""


@dataclass
class Client:
    """One client process of one account, its JSON lines read as they come."""

    account: Account
    kind: str
    wire: Wire
    stderr: Path
    said: list[dict[str, Any]] = field(default_factory=list)

    def take(self, timeout: float) -> bool:
        """Read what it said meanwhile; False once it has said all (its stdout closed)."""
        try:
            message = self.wire.next(timeout)
        except queue.Empty:  # nothing new yet
            return True
        if message is None:
            return False
        self.said.append(message)
        return True


def _start(team: Team, account: Account, kind: str, code: str, *args: str) -> Client:
    stderr = team.base / f"crash-{account.key}-{kind}-{len(team.processes)}.err"
    with stderr.open("wb") as sink:
        proc = subprocess.Popen(account.argv(str(PYTHON), "-c", code, *args), env=account.env(), cwd=account.home,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=sink)
    wire = Wire(proc)
    team.processes.append(wire)
    return Client(account, kind, wire, stderr)


def _file_many(team: Team, account: Account, count: int) -> list[str]:
    done = account.python(_DRIVER, str(team.socket), "", str(count))
    assert done.returncode == 0, done.stdout + done.stderr
    return [json.loads(line)["id"] for line in done.stdout.splitlines()]


def _told_done(clients: list[Client]) -> int:
    return sum(1 for c in clients for m in c.said if m["op"] in ("approved", "filed"))


@pytest.mark.parametrize("cycle", range(3))  # three kills, each landing wherever the clients are
def test_kill_9_under_load_loses_nothing_a_client_was_told_and_leaves_nothing_half_way(team: Team, cycle: int):
    alice, bob = team["alice"], team["bob"]
    service = team.start_service("--rate", "10000")  # the load, not the rate limit, is under test
    # work for each: what the other filed (nobody decides their own request)
    for_bob, for_alice = _file_many(team, alice, 12), _file_many(team, bob, 12)
    clients = [_start(team, bob, "driver", _DRIVER, str(team.socket), ",".join(for_bob[:6]), "500"),
               _start(team, alice, "driver", _DRIVER, str(team.socket), ",".join(for_alice[:6]), "500"),
               _start(team, bob, "console", _CONSOLE, str(SCRIPT), ",".join(for_bob[6:])),
               _start(team, alice, "console", _CONSOLE, str(SCRIPT), ",".join(for_alice[6:]))]
    running = list(clients)
    # under load: both drivers busy, each console script past its first decision (so the next
    # `hitl-tui approve` is somewhere between starting and committing)
    while running and (_told_done(clients) < 12 + 4 * cycle or not all(c.said for c in clients)):
        running = [c for c in running if c.take(0.05)]
    assert len(running) == len(clients), "a client finished before the kill: it was not under load"
    service.proc.send_signal(signal.SIGKILL)
    assert service.proc.wait(20) == -signal.SIGKILL
    while running:
        running = [c for c in running if c.take(1.0)]
    for client in clients:
        client.wire.proc.wait(30)
    _each_cut_off_client_said_so_in_one_line(clients)

    restarted = team.start_service()
    try:
        with team.peek() as engine:
            _what_each_was_told_is_there(engine, clients)
            # nothing half-way: every decision entry has its table change and the other way round
            for wid in for_alice + for_bob:
                req = engine.get_workflow(wid)
                decided = [e.actor for e in engine.get_audit_trail(wid) if e.action == "approved"]
                assert decided == [a.approver for a in req.approvals], (wid, decided, req.approvals)
                assert (req.status.value == "approved") == bool(decided), (wid, req.status, decided)
            result = engine.verify_audit()
            assert result.ok and result.tables_problem is None, result.summary()
        # the clients find it again, and the work goes on
        left = [w for w in for_bob if not _approved(team, w)][:1]
        for wid in left:
            assert "Approved" in bob.ok("approve", wid, "-m", "after the restart").stdout
    finally:
        assert restarted.stop() == 0
    team.root_cli("verify-audit")  # embedded, as root, through the console script: exit 0


def _approved(team: Team, wid: str) -> bool:
    with team.peek() as engine:
        return engine.get_workflow(wid).status.value == "approved"


def _each_cut_off_client_said_so_in_one_line(clients: list[Client]) -> None:
    for client in clients:
        errors = client.stderr.read_text("utf-8", "replace")
        assert "Traceback" not in errors, f"{client.account.name} {client.kind}:\n{errors}"
        for message in client.said:
            if message["op"] == "refused":
                assert message["line"] and "\n" not in message["line"], message
            elif message["op"] == "cli_failed":
                lines = message["stderr"].strip().splitlines()
                assert message["exit"] == 1 and len(lines) == 1 and lines[0].startswith("hitl-tui: "), message
                assert "Traceback" not in message["stderr"], message
    drivers = [c for c in clients if c.kind == "driver"]  # they never run out of work: cut off, each
    assert all(c.said[-1]["op"] == "refused" and c.wire.proc.returncode == 1 for c in drivers), \
        [c.said[-1:] for c in drivers]


def _what_each_was_told_is_there(engine: Any, clients: list[Client]) -> None:
    for client in clients:
        me = client.account.name
        for message in client.said:
            if message["op"] == "approved":
                req = engine.get_workflow(message["id"])
                assert req.status.value == "approved", (me, message, req.status)
                assert [a.approver for a in req.approvals] == [me], (me, message, req.approvals)
            elif message["op"] == "filed":
                req = engine.get_workflow(message["id"])
                trail = engine.get_audit_trail(req.id)
                assert req.requester == me and [e.action for e in trail] == ["created"], (me, message)
