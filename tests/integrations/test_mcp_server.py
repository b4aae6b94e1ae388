"""`hitl-tui mcp` as agent hosts run it: the installed console script launched by the mcp
package's own client (stdio_client + ClientSession), on an isolated HOME and a prepared
encrypted database, while people decide at a Pilot desk or with the installed CLI on their own
OS accounts (made with useradd, removed afterwards). The server runs as the OS account running
the tests, which the directory knows as an integration: it files and reads its own requests and
has no tool that decides. One test runs it in team mode, as an integration's own OS account,
through a real `hitl-tui serve`.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from hitl_tui.client import verify_receipt
from hitl_tui.core.service import WorkflowService
from tests.cli.conftest import ME, SCRIPT, Cli
from tests.cli.test_erase_cli import AsAccount, _home_env, _share

PAYLOAD = {"tool": "refund", "order_id": "1234", "amount": "25.00"}
TOOLS = {"request_approval", "get_decision", "list_my_requests", "resubmit_request", "cancel_request"}


# --- the MCP client -----------------------------------------------------------------------------

@dataclass
class Mcp:
    """One ClientSession on a `hitl-tui mcp` process; what it printed on stderr is in `log`."""

    session: ClientSession
    log: Path
    progress: list[tuple[float, float | None, str | None]] = field(default_factory=list)

    async def call(self, tool: str, *, progress: bool = False, **arguments: Any):
        async def heard(value: float, total: float | None, message: str | None) -> None:
            self.progress.append((value, total, message))

        return await self.session.call_tool(tool, arguments, progress_callback=heard if progress else None)

    async def ok(self, tool: str, **arguments: Any) -> dict[str, Any]:
        result = await self.call(tool, **arguments)
        assert not result.isError, result.content
        assert result.structuredContent is not None
        assert result.content[0].text == result.structuredContent["text"]  # the one line, for hosts that show text
        return result.structuredContent

    async def error(self, tool: str, **arguments: Any) -> str:
        """A tool error: exactly one line of text, no traceback."""
        result = await self.call(tool, **arguments)
        assert result.isError and result.structuredContent is None, result
        assert len(result.content) == 1
        line = result.content[0].text
        assert "\n" not in line and "Traceback" not in line, line
        return line


@asynccontextmanager
async def mcp(env: dict[str, str], log: Path, command: list[str] | None = None,
              cwd: Path | None = None) -> AsyncIterator[Mcp]:
    """The installed `hitl-tui mcp` (or `command`), launched as an agent host launches it."""
    argv = command or [str(SCRIPT), "mcp", "--agent", "test-host"]
    params = StdioServerParameters(command=argv[0], args=argv[1:], env=env, cwd=cwd)
    with log.open("w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                yield Mcp(session, log)
    assert "Traceback" not in log.read_text(), log.read_text()


def _env(cli: Cli) -> dict[str, str]:
    return {**os.environ, **cli.env}


def vkey(run_ok, where: Path) -> str:
    """The verifier key `hitl-tui checkpoint` prints: the key receipts are signed with."""
    out = run_ok("checkpoint", "-o", str(where)).stdout
    return next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("Verifier key: "))


# --- an embedded database, and a person on an OS account of their own --------------------------

@pytest.fixture
def bot(tmp_path: Path) -> Cli:
    """A database whose administrator is ann; the account running the tests is an integration
    owned by ann (segregate_owners: ann never decides what it files); bob.manager decides at the
    desk."""
    (tmp_path / "db").mkdir()
    cli = Cli(tmp_path / "db")
    key = os.urandom(32)
    cli.key_file.write_text(key.hex())
    cli.key_file.chmod(0o600)
    svc = WorkflowService.open(cli.db, key=key, create=True, operator="ann")
    svc.add_user("ann", "it_admin", admin=True, actor="ann")
    svc.add_user("bob.manager", "manager", actor="ann")
    svc.approvals.add_integration(ME, "employee", "ann", actor="ann", display_name="Billing agent")
    svc.close(checkpoint=False)
    return cli


@pytest.fixture
def approver(bot: Cli, tmp_path: Path) -> Iterator[AsAccount]:
    """A manager on a real OS account of their own (prefix hitlm), deciding with the installed
    CLI as themself: their own HOME, their own signing key (made there by `key show`,
    registered by ann), their own copy of the database key, the database shared by group."""
    if os.geteuid() != 0:
        pytest.skip("creating an OS account needs root")
    if not (shutil.which("useradd") and shutil.which("setpriv")):
        pytest.skip("needs useradd and setpriv")
    name = f"hitlm{os.getpid() % 100000}"
    group, home = f"{name}g", tmp_path / "approver"
    made = subprocess.run(["groupadd", group], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"groupadd refused: {made.stderr.strip()}")
    try:
        made = subprocess.run(["useradd", "--no-create-home", "--home-dir", str(home / "home"), "--shell",
                               "/usr/sbin/nologin", "--no-user-group", "--gid", group, name],
                              capture_output=True, text=True)
        if made.returncode != 0:
            pytest.skip(f"useradd refused: {made.stderr.strip()}")
        try:
            account = pwd.getpwnam(name)
            for sub in _home_env(home).values():
                Path(sub).mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.copyfile(bot.key_file, home / "db.key")
            for path in (home, *home.rglob("*")):
                os.chown(path, account.pw_uid, account.pw_gid)
            (home / "db.key").chmod(0o600)
            _share(bot, account.pw_gid)
            person = AsAccount(bot, account, home)
            public = re.search(r"ed25519:[0-9a-f]{64}", person.ok("key", "show").stdout)
            assert public, "key show printed no key"
            svc = WorkflowService.open(bot.db, key=bot.key, operator="ann")
            try:
                svc.add_user(name, "manager", actor="ann", public_key=public.group(0))
            finally:
                svc.close(checkpoint=False)
            yield person
        finally:
            subprocess.run(["userdel", name], check=False)
    finally:
        subprocess.run(["groupdel", group], check=False)


# --- the tools ----------------------------------------------------------------------------------

async def test_exactly_the_five_tools_and_none_decides(bot, tmp_path):
    async with mcp(_env(bot), tmp_path / "mcp.log") as client:
        listed = (await client.session.list_tools()).tools
        assert {t.name for t in listed} == TOOLS
        for tool in listed:
            assert tool.outputSchema is not None and tool.inputSchema["additionalProperties"] is False
            assert not re.search(r"\b(approve|reject)\b", tool.name)
        filed = await client.ok("request_approval", type="tool_call", title="Refund order 1234", payload=PAYLOAD,
                                wait_seconds=0)
        for verb in ("approve", "reject", "request_changes", "decide"):
            said = await client.error(verb, request_id=filed["request_id"])
            assert said.startswith(f"There is no tool '{verb}'") and "a human does" in said
        assert (await client.ok("get_decision", request_id=filed["request_id"], wait_seconds=0))["outcome"] == "pending"
    log = (tmp_path / "mcp.log").read_text()
    assert f"hitl-tui mcp: serving MCP on stdio as {ME}, on the database here" in log


async def test_a_pending_handle_then_a_person_approves_with_the_cli_while_get_decision_waits(bot, approver, tmp_path):
    async with mcp(_env(bot), tmp_path / "mcp.log") as client:
        filed = await client.ok("request_approval", type="tool_call", title="Refund order 1234", payload=PAYLOAD,
                                justification="the customer was charged twice", wait_seconds=1, progress=True)
        wid = filed["request_id"]
        assert (filed["outcome"], filed["final"], filed["receipt"]) == ("pending", False, None)
        assert filed["next"] == {"tool": "get_decision", "arguments": {"request_id": wid, "wait_seconds": 50.0},
                                 "why": "nobody has decided yet"}
        assert filed["text"].startswith(f"{wid} is pending: no human has decided yet after 1 s")
        assert filed["agent"] == "test-host"  # --agent, since the call named none
        assert client.progress and client.progress[0][0] == 0 and client.progress[0][1] == 1
        shown = approver.ok("request", "show", wid).stdout
        assert f"Filed by:   {ME} (integration of ann), agent test-host" in shown

        client.progress.clear()
        waiting = asyncio.create_task(client.ok("get_decision", request_id=wid, wait_seconds=30, progress=True))
        while not client.progress:  # the call is waiting: a person decides now
            await asyncio.sleep(0.02)
        await asyncio.to_thread(approver.ok, "approve", wid, "-m", "refund approved")
        decided = await asyncio.wait_for(waiting, 30)
    assert (decided["outcome"], decided["final"], decided["next"]) == ("approved", True, None)
    assert (decided["decided_by"], decided["decider_role"], decided["comments"]) == (approver.name, "manager",
                                                                                      "refund approved")
    assert decided["text"].startswith(f"{wid} was approved by {approver.name} (Manager): refund approved.")
    values = [p[0] for p in client.progress]
    assert values == sorted(set(values)) and all(p[1] == 30 for p in client.progress)  # increasing, of the wait
    key = vkey(bot.ok, tmp_path / "cp.note")
    receipt = decided["receipt"]
    assert receipt["request_id"] == wid and receipt["outcome"] == "approved"
    assert verify_receipt(receipt, key, PAYLOAD)
    assert not verify_receipt(receipt, key, {**PAYLOAD, "amount": "2500.00"})  # never for another payload
    assert not verify_receipt({**receipt, "decided_by": "ann"}, key, PAYLOAD)


@pytest.mark.parametrize("verb, outcome, said", [
    ("reject", "rejected", "A human rejected this ({who}, Manager): open a ticket first"),
    ("request-changes", "changes_requested", "A human asked for changes before this may run ({who}, Manager): "
                                             "open a ticket first"),
])
async def test_rejected_or_changes_requested_by_the_cli(bot, approver, tmp_path, verb, outcome, said):
    async with mcp(_env(bot), tmp_path / "mcp.log") as client:
        filed = await client.ok("request_approval", type="tool_call", title="Refund order 1234", payload=PAYLOAD,
                                wait_seconds=0, agent="billing-agent")
        wid = filed["request_id"]
        assert filed["agent"] == "billing-agent" and "after" not in filed["text"]
        approver.ok(verb, wid, "-m", "open a ticket first")
        got = await client.ok("get_decision", request_id=wid, wait_seconds=5)
        mine = await client.ok("list_my_requests", status=outcome)
    assert got["outcome"] == outcome and got["text"].startswith(said.format(who=approver.name))
    assert mine["count"] == 1 and mine["requests"][0]["request_id"] == wid
    if outcome == "rejected":
        assert got["final"] and got["next"] is None
        assert verify_receipt(got["receipt"], vkey(bot.ok, tmp_path / "cp.note"), PAYLOAD)
        assert got["receipt"]["outcome"] == "rejected"
    else:  # not final: nothing was proposed, so the integration is told to send a changed payload
        assert not got["final"] and got["receipt"] is None and got["proposed_payload"] is None
        assert got["next"] == {"tool": "resubmit_request", "arguments": {"request_id": wid}, "why": (
            "a human asked for changes: resubmit_request with a changed payload, or cancel_request")}


async def test_a_revision_proposed_with_the_cli_is_accepted_explicitly_and_its_approval_is_for_it(
        bot, approver, tmp_path):
    revised = {**PAYLOAD, "order_id": "1243"}
    proposal = bot.root / "revised.json"  # where the approver's account may read it (the shared directory)
    proposal.write_text(json.dumps(revised))
    os.chown(proposal, -1, bot.root.stat().st_gid)
    proposal.chmod(0o640)
    async with mcp(_env(bot), tmp_path / "mcp.log") as client:
        wid = (await client.ok("request_approval", type="tool_call", title="Refund order 1234", payload=PAYLOAD,
                               wait_seconds=0))["request_id"]
        said = approver.ok("request-changes", wid, "-m", "wrong order", "--payload", str(proposal))
        assert "Proposed a revised payload (sha256 " in said.stdout and f"{ME} must accept it" in said.stdout
        got = await client.ok("get_decision", request_id=wid, wait_seconds=5)
        assert (got["outcome"], got["proposed_payload"], got["revision"]) == ("changes_requested", revised, 1)
        assert got["next"]["tool"] == "resubmit_request" and got["next"]["arguments"] == {
            "request_id": wid, "payload": revised}
        assert "They propose this revision instead" in got["text"]
        # the agent accepts it, as `next` says; a human must still approve the revision
        again = await client.ok("resubmit_request", **got["next"]["arguments"], wait_seconds=0)
        assert (again["outcome"], again["revision"], again["proposed_payload"]) == ("pending", 2, None)
        approver.ok("approve", wid, "-m", "right order now")
        done = await client.ok("get_decision", request_id=wid, wait_seconds=5)
    key = vkey(bot.ok, tmp_path / "cp.note")
    assert done["outcome"] == "approved" and done["revision"] == 2
    assert verify_receipt(done["receipt"], key, revised)
    assert not verify_receipt(done["receipt"], key, PAYLOAD)  # the first payload was never approved


async def test_cancelled_and_what_is_no_longer_pending_cannot_be_cancelled_or_decided(bot, approver, tmp_path):
    async with mcp(_env(bot), tmp_path / "mcp.log") as client:
        wid = (await client.ok("request_approval", type="tool_call", title="Refund order 1234", payload=PAYLOAD,
                               wait_seconds=0))["request_id"]
        cancelled = await client.ok("cancel_request", request_id=wid, reason="the customer called back")
        assert (cancelled["outcome"], cancelled["final"], cancelled["decided_by"]) == ("cancelled", True, ME)
        assert cancelled["text"] == f"The request for approval was cancelled; this did not run. (request {wid})"
        assert verify_receipt(cancelled["receipt"], vkey(bot.ok, tmp_path / "cp.note"), PAYLOAD)
        again = await client.error("cancel_request", request_id=wid)
        assert wid in again
        assert (await client.ok("get_decision", request_id=wid, wait_seconds=2))["outcome"] == "cancelled"
        approver.refused("approve", wid, "-m", "too late")
        assert (await client.ok("get_decision", request_id=wid, wait_seconds=0))["outcome"] == "cancelled"
        assert [r["outcome"] for r in (await client.ok("list_my_requests"))["requests"]] == ["cancelled"]


async def test_unknown_ids_and_bad_arguments_are_one_line_and_file_nothing(bot, tmp_path):
    async with mcp(_env(bot), tmp_path / "mcp.log") as client:
        unknown = await client.error("get_decision", request_id="WF-0000000000-0000", wait_seconds=0)
        assert "No workflow request with id 'WF-0000000000-0000'" in unknown
        assert "WF-0000000000-0000" in await client.error("cancel_request", request_id="WF-0000000000-0000")
        base = {"type": "tool_call", "title": "Refund order 1234", "payload": PAYLOAD, "wait_seconds": 0}
        cases = [
            ({k: v for k, v in base.items() if k != "title"}, "'title' is a required property"),
            ({**base, "payload": "refund everything"}, "payload: 'refund everything' is not of type 'object'"),
            ({**base, "wait_seconds": 900}, "wait_seconds: 900 is greater than the maximum of 300"),
            ({**base, "approved": True}, "('approved' was unexpected)"),
            ({**base, "timeout_seconds": 0}, "timeout must be a number of seconds from 1"),  # the engine's line
            ({**base, "type": "no_such_type"}, "no_such_type"),
            ({**base, "payload": {"x": "a\x00b"}}, "NUL"),
        ]
        for arguments, expected in cases:
            said = await client.error("request_approval", **arguments)
            assert expected in said, (arguments, said)
        assert (await client.ok("list_my_requests"))["count"] == 0
    with bot.service() as s:  # nothing was filed, not even half-way
        assert [e.action for e in s.iter_audit() if e.workflow_id] == []


def test_a_wait_that_is_not_a_number_is_refused_before_anything_runs():
    """JSON has no NaN, but a client's own encoder may send one (Python's json does), and NaN
    passes a schema's bounds (every comparison with it is false): the server refuses it itself."""
    from hitl_tui.mcp_server import TOOLS, BadArguments, checked_arguments

    tool = next(t for t in TOOLS if t.name == "get_decision")
    assert checked_arguments(tool, {"request_id": "WF-1"})["wait_seconds"] == 50  # the default, filled in
    with pytest.raises(BadArguments, match="wait_seconds: nan is not a number of seconds"):
        checked_arguments(tool, {"request_id": "WF-1", "wait_seconds": float("nan")})
    with pytest.raises(BadArguments, match="wait_seconds: inf is greater than the maximum of 300"):
        checked_arguments(tool, {"request_id": "WF-1", "wait_seconds": float("inf")})


async def test_approved_at_a_pilot_desk_while_request_approval_waits(bot, tmp_path):
    from hitl_tui.app import make_app
    from hitl_tui.screens.decision_modal import DecisionModal
    from tests.ui.conftest import screen_text, settle, wait_for

    svc = WorkflowService.open(bot.db, key=bot.key)
    app = make_app(svc, "bob.manager", poll_interval=0.05, background_delay=0)
    try:
        async with mcp(_env(bot), tmp_path / "mcp.log") as client, app.run_test(size=(160, 48)) as pilot:
            await settle(pilot)
            asked = asyncio.create_task(client.ok(
                "request_approval", type="tool_call", title="Refund 25.00 on order 1234", payload=PAYLOAD,
                justification="charged twice", wait_seconds=40, progress=True))
            await wait_for(pilot, lambda: "Refund 25.00 on order 1234" in screen_text(app), timeout=20)
            await settle(pilot)
            assert not asked.done() and client.progress  # still waiting, and saying so
            await pilot.press("a")
            await settle(pilot)
            assert isinstance(app.screen, DecisionModal)
            await pilot.press(*"checked the order", "enter")
            await settle(pilot)
            decided = await asyncio.wait_for(asked, 30)
    finally:
        svc.close(checkpoint=False)
    assert (decided["outcome"], decided["decided_by"], decided["comments"]) == ("approved", "bob.manager",
                                                                                "checked the order")
    assert client.progress[0][2].startswith(f"{decided['request_id']} filed; waiting for a human to decide")
    assert verify_receipt(decided["receipt"], vkey(bot.ok, tmp_path / "cp.note"), PAYLOAD)


async def test_nothing_but_mcp_reaches_stdout_and_a_database_that_cannot_open_is_each_calls_line(bot, tmp_path):
    """A missing database: the server still speaks MCP (every line on stdout parsed as a message,
    else the client fails), each call answers the reason in one line, and the log says it once."""
    env = {**_env(bot), "HITL_DB_PATH": str(tmp_path / "nowhere" / "hitl.db")}
    async with mcp(env, tmp_path / "mcp.log") as client:
        for _ in range(2):
            said = await client.error("list_my_requests")
            assert "nowhere" in said
    log = (tmp_path / "mcp.log").read_text().strip().splitlines()
    assert len(log) == 1 and log[0].startswith("hitl-tui mcp: serving MCP on stdio, not ready yet: "), log


async def test_expired_undecided_while_it_waits(bot, tmp_path):
    async with mcp(_env(bot), tmp_path / "mcp.log") as client:
        got = await client.ok("request_approval", type="tool_call", title="Refund order 1234", payload=PAYLOAD,
                              timeout_seconds=1, wait_seconds=20)
    assert (got["outcome"], got["decided_by"], got["final"]) == ("expired", "system", True)
    assert got["text"].startswith("Nobody approved this before its deadline")
    assert got["receipt"]["outcome"] == "expired"
    assert verify_receipt(got["receipt"], vkey(bot.ok, tmp_path / "cp.note"), PAYLOAD)


def test_stdout_carries_only_mcp_messages_and_sigterm_closes_the_session(bot):
    """Raw bytes, as a host reads them: every line on stdout is one JSON-RPC message, the log is
    on stderr, and SIGTERM (a host quitting) closes the Desk and exits 0."""
    proc = subprocess.Popen([str(SCRIPT), "mcp"], env=_env(bot), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        hello = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}
        proc.stdin.write(json.dumps(hello).encode() + b"\n")
        proc.stdin.flush()
        answer = json.loads(proc.stdout.readline())
        assert answer["id"] == 1 and answer["result"]["serverInfo"]["name"] == "hitl-tui"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out == b""  # nothing after the answer: no log line, no farewell
    assert err.decode().splitlines() == [f"hitl-tui mcp: serving MCP on stdio as {ME}, on the database here"]


# --- team mode ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def team_mcp() -> Iterator[Any]:
    """A real `hitl-tui serve` as root on a database only root reads, a manager (prefix hmb) and
    an integration owned by root (prefix hmi), each a real OS account of its own, built with
    tests/remote/conftest.py's helpers. Not its session `team` fixture: imported here it would
    be made a second time, with the same account names, beside tests/remote's own."""
    from tests.remote.conftest import _MAKE_KEY, _account, private_team

    with private_team("hitlmt", "hitl-mcp-") as (team, suffix):
        for key, prefix in (("bob", "hmb"), ("bot", "hmi")):
            account = _account(team, key, f"{prefix}{suffix}", team.group)
            public = account.python(_MAKE_KEY, team.database_id, account.name)
            assert public.returncode == 0, public.stderr
            role = ["--role", "manager"] if key == "bob" else ["--integration", "--owner", ME, "--role", "employee"]
            team.root_cli("users", "add", account.name, *role, "--key", public.stdout.strip())
        yield team


async def test_team_mode_as_an_integrations_own_account_through_a_real_service(team_mcp, tmp_path):
    team = team_mcp
    bob, bot = team["bob"], team["bot"]
    service = team.start_service()
    try:
        command = bot.argv(str(SCRIPT), "mcp")
        async with mcp(bot.env(), tmp_path / "mcp.log", command=command, cwd=bot.home) as client:
            filed = await client.ok("request_approval", type="tool_call", title="Refund order 1234", payload=PAYLOAD,
                                    wait_seconds=1, agent="billing-agent")
            wid = filed["request_id"]
            assert filed["outcome"] == "pending"
            shown = bob.ok("request", "show", wid).stdout
            assert f"Filed by:   {bot.name} (integration of {ME}), agent billing-agent" in shown
            waiting = asyncio.create_task(client.ok("get_decision", request_id=wid, wait_seconds=30, progress=True))
            while not client.progress:
                await asyncio.sleep(0.02)
            await asyncio.to_thread(bob.ok, "approve", wid, "-m", "refund approved")
            decided = await asyncio.wait_for(waiting, 30)
            assert (decided["outcome"], decided["decided_by"]) == ("approved", bob.name)
            key = vkey(bob.ok, bob.home / "cp.note")
            assert verify_receipt(decided["receipt"], key, PAYLOAD)  # signed by the service's key

            service.stop()  # the service goes away: one line naming it, then back once it returns
            down = await client.error("get_decision", request_id=wid, wait_seconds=0)
            # closed the connection, or (had it noticed first) is not running: the service's own words
            assert re.match(rf"The hitl-tui service (is not running )?at {re.escape(str(team.socket))}", down), down
            service = team.start_service()
            assert (await client.ok("get_decision", request_id=wid, wait_seconds=0))["outcome"] == "approved"

            # the service goes away while a request_approval waits: the line names what was filed
            client.progress.clear()
            asked = asyncio.create_task(client.call("request_approval", type="tool_call", title="Refund order 99",
                                                    payload={**PAYLOAD, "order_id": "99"}, wait_seconds=30,
                                                    progress=True))
            while not client.progress:
                await asyncio.sleep(0.02)
            service.stop()
            failed = await asyncio.wait_for(asked, 30)
            assert failed.isError and len(failed.content) == 1, failed
            line = failed.content[0].text
            filed_anyway = re.match(r"(WF-[0-9-]+) was filed, but waiting for its decision failed: The hitl-tui "
                                    r"service", line)
            assert filed_anyway and "\n" not in line, line
            service = team.start_service()
            again = await client.ok("get_decision", request_id=filed_anyway.group(1), wait_seconds=0)
            assert again["outcome"] == "pending" and again["title"] == "Refund order 99"
        log = (tmp_path / "mcp.log").read_text()
        assert f"serving MCP on stdio as {bot.name}, through the service (team mode)" in log
        assert json.loads(bob.ok("request", "show", wid, "--json").stdout)["request"]["status"] == "approved"
    finally:
        service.stop()
