"""Two accounts racing on one stage (issue 11): alice and bob, both managers on their own OS
accounts, approve the same request at the same moment through the service. Exactly one decision
is recorded; the other gets one clear line and exit status 1; the trail shows one approval for
that stage. Six requests in a row (single-stage and two-stage ones), so that one lucky
interleaving cannot hide a bug.

Each racer is the installed console script's entry point (hitl_tui.cli.main) in a process of
its account, with every module `approve` needs already imported; both then wait on a FIFO and
are released together when the test opens it for writing.

One more account for this module (prefix "hk"): ray, an employee who files the requests.
"""

from __future__ import annotations

import os
import subprocess
from typing import Iterator

import pytest

from tests.remote.conftest import _MAKE_KEY, PYTHON, Account, Team, _account

pytestmark = pytest.mark.xdist_group("remote-race")

_RACER = r"""
import os, sys
from hitl_tui.cli import main
from hitl_tui.commands import common, decide  # what `approve` runs, imported before the start
from hitl_tui.remote import client
print("ready", flush=True)
os.close(os.open(sys.argv[1], os.O_RDONLY))  # the start: returns once the test opens the FIFO to write
main(["approve", sys.argv[2], "-m", "raced"])
"""


@pytest.fixture(scope="module")
def ray(team: Team) -> Iterator[Account]:
    account = _account(team, "ray", f"hkr{team['alice'].name[2:]}", team.group)
    public = account.python(_MAKE_KEY, team.database_id, account.name)  # on his own account
    assert public.returncode == 0, public.stderr
    team.root_cli("users", "add", account.name, "--role", "employee", "--key", public.stdout.strip(),
                  "--email", "ray@example.com")
    yield account


def _race(team: Team, wid: str, number: int) -> dict[str, subprocess.CompletedProcess[bytes]]:
    """alice and bob approve `wid`, released at the same moment; each one's finished process."""
    start = team.base / f"race-start-{number}"
    os.mkfifo(start, 0o644)
    racers = {}
    for key in ("alice", "bob"):
        account = team[key]
        racers[key] = subprocess.Popen(account.argv(str(PYTHON), "-c", _RACER, str(start), wid), env=account.env(),
                                       cwd=account.home, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE)
    try:
        for key, proc in racers.items():
            assert proc.stdout is not None
            ready = proc.stdout.readline()
            assert ready == b"ready\n", (key, ready, proc.stderr.read() if proc.stderr else b"")
        go = os.open(start, os.O_WRONLY)  # both are waiting to open it for reading: both go now
        try:
            done = {}
            for key, proc in racers.items():
                out, err = proc.communicate(timeout=60)
                done[key] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        finally:
            os.close(go)
    finally:
        for proc in racers.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        start.unlink()
    return done


def test_two_managers_approving_one_stage_at_once_give_exactly_one_decision(team: Team, ray: Account, service):
    alice, bob = team["alice"], team["bob"]
    names = {"alice": alice.name, "bob": bob.name}
    # 250: one manager stage; 2500: manager, then director (the stage moves on under the loser)
    for number, amount in enumerate(["250", "2500"] * 3):
        wid = ray.json("request", "create", "--type", "expense_approval", "--title", f"Raced {number}",
                       "-f", f"amount={amount}", "-f", "category=travel", "--json")["id"]
        done = _race(team, wid, number)
        codes = {key: run.returncode for key, run in done.items()}
        assert sorted(codes.values()) == [0, 1], (wid, {k: (r.returncode, r.stdout, r.stderr) for k, r in done.items()})
        winner = next(key for key, code in codes.items() if code == 0)
        loser = next(key for key in done if key != winner)
        assert done[winner].stdout.decode().startswith(f"Approved {wid} "), done[winner].stdout
        assert done[winner].stderr == b"", done[winner].stderr
        lines = done[loser].stderr.decode().splitlines()
        assert len(lines) == 1 and lines[0].startswith("hitl-tui: ") and wid in lines[0], lines
        # whether it lost while signing or before: the line says the stage is decided or moved on
        moved_on = "is approved, no longer awaiting approval" if amount == "250" else "is waiting for a Director"
        assert moved_on in lines[0], lines
        assert "Traceback" not in done[loser].stderr.decode() and done[loser].stdout == b""

        with team.peek() as engine:
            req = engine.get_workflow(wid)
            approvals = [(a.stage, a.approver) for a in req.approvals]
            decided = [e.actor for e in engine.get_audit_trail(wid) if e.action == "approved"]
        assert approvals == [(0, names[winner])] and decided == [names[winner]], (wid, approvals, decided)
        if amount == "250":
            assert req.status.value == "approved"
        else:  # the manager stage is done once; the director's stage awaits
            assert req.status.value == "awaiting_approval" and req.current_stage == 1
    result = alice.json("verify-audit", "--json")
    assert result["ok"] and result.get("tables_problem") is None, result
