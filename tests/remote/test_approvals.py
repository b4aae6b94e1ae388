"""Team mode: an integration account (an agent's own OS account, prefix "hi") files requests for
approval through a real `hitl-tui serve` with the Python client, people decide on their own
accounts, and the waiter returns when the service pushes the outcome. The integration cannot
decide by the CLI, nor by the service's raw wire; its owner is refused by the policy's
segregation of duties; expiry is the service's own, pushed, and audited."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.remote.conftest import _MAKE_KEY, PYTHON, Account, Team, _account

#: run as the integration's account: file through the client, say the id, wait, say the decision
_WAITER = """
import asyncio, json, sys
from hitl_tui.client import Desk

async def main():
    desk = Desk.open()
    payload = json.loads(sys.argv[1])
    wid = await desk.file(type="tool_call", title="Refund order 1234", payload=payload,
                          justification="the customer was charged twice", timeout=float(sys.argv[2]),
                          agent="billing-agent")
    print(json.dumps({"filed": wid, "as": desk.username, "team": desk.team}), flush=True)
    if sys.argv[3] == "cancel":
        got = await desk.cancel_request(wid, "the customer called back")
    else:
        got = await desk.get_decision(wid, wait=float(sys.argv[2]) + 10)
    keys = [k.hex() for k in await desk.receipt_keys()]
    try:
        await desk.check_approved(got, payload)
        runs = True
    except Exception as exc:
        runs = str(exc)
    print(json.dumps({"decision": got.model_dump(mode="json"), "keys": keys, "runs": runs}), flush=True)
    desk.close()

asyncio.run(main())
"""
PAYLOAD = {"tool": "refund", "arguments": {"order_id": "1234", "amount": "25.00"}}


class Waiter:
    def __init__(self, account: Account, payload: dict[str, Any], timeout: float, then: str = "wait") -> None:
        self.proc = subprocess.Popen(account.argv(str(PYTHON), "-c", _WAITER, json.dumps(payload), str(timeout), then),
                                     env=account.env(), cwd=account.home, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()
        assert first, self.proc.stderr.read() if self.proc.stderr else "the waiter said nothing"
        self.filed = json.loads(first)
        self.wid: str = self.filed["filed"]

    def result(self, timeout: float = 60) -> dict[str, Any]:
        out, err = self.proc.communicate(timeout=timeout)
        assert self.proc.returncode == 0 and "Traceback" not in err, err
        return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def bot(team: Team) -> Account:
    """billing's integration: an OS account of its own, in the socket's group, owned by alice."""
    suffix = team["alice"].name[2:]
    account = _account(team, "bot", f"hi{suffix}", team.group)  # removed with the team's accounts
    made = account.python(_MAKE_KEY, team.database_id, account.name)
    assert made.returncode == 0, made.stderr
    team.root_cli("users", "add", account.name, "--integration", "--owner", team["alice"].name, "--role", "manager",
                  "--key", made.stdout.strip())
    return account


def _service_vkey(team: Team) -> str:
    out = team["bob"].ok("checkpoint", "-o", str(team["bob"].home / "cp.note")).stdout
    (team["bob"].home / "cp.note").unlink()
    return next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("Verifier key: "))


def test_an_integration_files_a_person_decides_and_the_waiter_returns_with_a_receipt(team: Team, service, bot):
    bob = team["bob"]
    waiter = Waiter(bot, PAYLOAD, 120)
    assert waiter.filed["as"] == bot.name and waiter.filed["team"] is True
    shown = bob.ok("request", "show", waiter.wid).stdout
    assert f"Filed by:   {bot.name} (integration of {team['alice'].name}), agent billing-agent" in shown
    assert '"order_id": "1234"' in shown
    bob.ok("approve", waiter.wid, "-m", "refund approved")
    got = waiter.result()
    decision = got["decision"]
    assert (decision["outcome"], decision["decided_by"], decision["decider_role"], decision["comments"]) == (
        "approved", bob.name, "manager", "refund approved")
    assert got["runs"] is True  # the receipt verifies for this very payload, with the service's key
    vkey = _service_vkey(team)
    path = bot.home / "receipt.json"
    bot.ok("receipt", waiter.wid, "-o", str(path))
    assert json.loads(path.read_text()) == decision["receipt"]
    assert bot.ok("verify-receipt", str(path), "--key", vkey).stdout.startswith(f"verified: {waiter.wid} approved")
    from hitl_tui.core.receipts import parse_key

    assert got["keys"] == [parse_key(vkey).hex()]


def test_the_integration_cannot_decide_by_the_cli_nor_the_raw_wire_and_its_owner_is_refused(team: Team, service,
                                                                                             bot):
    alice, bob = team["alice"], team["bob"]
    waiter = Waiter(bot, {"tool": "send_email", "to": "customer@example.com"}, 120)
    before = bot.json("request", "show", waiter.wid, "--json")["audit_trail"]
    for verb in ("approve", "reject", "request-changes"):
        bot.refused(verb, waiter.wid, "-m", "self-approved", match=f"{bot.name} is an integration")
    wire = bot.wire()
    for decision in ("approve", "reject", "request_changes"):
        answer = wire.request("decide.prepare", {"workflow_id": waiter.wid, "decision": decision, "comments": "x"})
        assert answer["error"]["data"]["kind"] == "permission_denied", answer
        assert f"{bot.name} is an integration" in answer["error"]["message"]
    forged = wire.request("decide.commit", {"ticket": "0" * 32, "signatures": ["0" * 128]})
    assert forged["error"]["data"]["kind"] == "signing_refused", forged
    added = wire.request("users.add_integration.prepare", {"username": "sneaky", "role": "executive",
                                                            "owner": bot.name})
    assert added["error"]["data"]["kind"] == "permission_denied", added  # an integration administers nothing
    wire.close()
    alice.refused("approve", waiter.wid, match="the integration you are responsible for")  # its owner
    assert bot.json("request", "show", waiter.wid, "--json")["audit_trail"] == before  # nothing was written
    assert bot.json("request", "list", "--view", "awaiting_me", "--json") == []
    bob.ok("reject", waiter.wid, "-m", "we do not email customers from bots")
    got = waiter.result()
    assert got["decision"]["outcome"] == "rejected"
    assert got["runs"] == (f"A human rejected this ({bob.name}, Manager): we do not email customers from bots "
                           f"(request {waiter.wid})")


def test_expiry_is_the_services_own_pushed_audited_and_out_of_every_inbox(team: Team, service, bot):
    bob = team["bob"]
    listener = bob.listen()
    waiter = Waiter(bot, {"tool": "deploy", "environment": "staging"}, 2)
    _notes_until(listener, waiter.wid)  # filed: bob's role may decide it, so he hears of it
    got = waiter.result()
    assert got["decision"]["outcome"] == "expired" and got["decision"]["decided_by"] == "system"
    assert got["runs"].startswith("Nobody approved this before its deadline")
    _notes_until(listener, waiter.wid)  # and its expiry is pushed to him too
    assert f"expired {waiter.wid}" in service.log_text()
    assert waiter.wid not in bob.ok("request", "list", "--view", "awaiting_me").stdout
    trail = bob.json("request", "show", waiter.wid, "--json")["audit_trail"]
    assert (trail[-1]["action"], trail[-1]["actor"], trail[-1]["sig"]) == ("expired", "system", None)
    bob.refused("approve", waiter.wid, match="no longer awaiting approval")
    listener.close()
    assert "audit chain verified" in bob.ok("verify-audit").stdout


def test_the_integration_cancels_its_request(team: Team, service, bot):
    waiter = Waiter(bot, PAYLOAD, 120, then="cancel")
    got = waiter.result()
    assert got["decision"]["outcome"] == "cancelled" and got["decision"]["receipt"]["outcome"] == "cancelled"
    assert got["runs"].startswith("The request for approval was cancelled")
    assert waiter.wid not in team["bob"].ok("request", "list", "--view", "awaiting_me").stdout


def _notes_until(listener, wid: str, timeout: float = 20.0) -> list[str]:
    """The "changed" notes the listener printed, up to the first that names `wid`."""
    seen = []
    while True:
        note = listener.next(timeout)
        assert note is not None, "the listener stopped"
        seen.append(json.dumps(note))
        if wid in note.get("workflow_ids", []):
            return seen
