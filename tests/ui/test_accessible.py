"""`hitl-tui --accessible`: the desk as a linear transcript for screen readers, driven as a user
drives it, through the installed console script on a real encrypted database: through pipes
(every line is read, then answered) and in a real pty (readline, ctrl-d, signals).

What it promises, each guarded below: numbered rows in words; the detail as sentences (chain in
words, compliance flags, audit entries); a decision only after its word is typed, through the
engine's own calls (the audit entry is the engine's); refusals in the engine's own words, before
any confirmation and with nothing written; hostile text printed inert; news announced between
commands; the session sealed on quit, end of input, SIGTERM and a hang-up; never an escape
sequence, so nothing is redrawn.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlcipher3

from hitl_tui.core.audit import os_login
from hitl_tui.core.errors import HitlError
from hitl_tui.core.models import WorkflowStatus
from hitl_tui.core.service import WorkflowService
from tests.attacker import drop_audit_triggers
from tests.ui.pty_desk import HITL, Desk

ME = os_login()
#: what a transcript may never contain: ESC (colour, cursor movement, the alternate screen), CSI,
#: BEL, and the bidi override a hostile title carries
RAW = ("\x1b", "\x9b", "\x07", "\u202e")


class World:
    """A database where the OS login running the tests is a manager, beside other people."""

    def __init__(self, root: Path, my_role: str = "manager") -> None:
        self.path = root / "hitl.db"
        self.key = os.urandom(32)
        self.key_file = root / "db.key"
        self.key_file.write_text(self.key.hex())
        self.key_file.chmod(0o600)
        svc = self.service(create=True)
        svc.add_user(ME, my_role)
        svc.add_user("alice", "employee")
        svc.add_user("bob.manager", "manager")
        svc.add_user("dora.director", "director")
        svc.close(checkpoint=False)  # nothing signed yet: the session's seal is the first
        self.env = {**os.environ, "HITL_DB_PATH": str(self.path), "HITL_DB_KEY_FILE": str(self.key_file),
                    "TERM": "xterm-256color", "COLORTERM": "truecolor"}

    def service(self, create: bool = False) -> WorkflowService:
        return WorkflowService.open(self.path, key=self.key, create=create)

    def file(self, title: str = "Team lunch", requester: str = "alice", amount: str = "80",
             description: str = "Quarterly team lunch for the platform group after the release") -> str:
        svc = self.service()
        try:
            return svc.create_workflow_request("expense_approval", title, description, requester,
                                               {"amount": amount, "category": "meals"})
        finally:
            svc.close(checkpoint=False)

    def run(self, script: str | bytes, *args: str) -> subprocess.CompletedProcess:
        """`hitl-tui --accessible` with `script` piped in; end of input ends it."""
        raw = script.encode() if isinstance(script, str) else script
        proc = subprocess.run([str(HITL), "--accessible", *args], input=raw, env=self.env,
                              capture_output=True, timeout=60)
        out = proc.stdout.decode() + proc.stderr.decode()
        assert "Traceback" not in out, out
        return proc

    def audit(self) -> list:
        svc = self.service()
        try:
            return list(svc.iter_audit())
        finally:
            svc.close(checkpoint=False)

    def request(self, wid: str):
        svc = self.service()
        try:
            return svc.get_workflow(wid)
        finally:
            svc.close(checkpoint=False)

    def assert_sealed(self) -> None:
        svc = self.service()
        try:
            checkpoints = svc.stored_checkpoints()
            assert checkpoints, "the session was not sealed: no checkpoint was signed on the way out"
            assert checkpoints[-1].size == svc.audit_size(), "the last checkpoint must cover the whole chain"
            assert svc.verify_audit().ok
        finally:
            svc.close(checkpoint=False)


def out(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout.decode()


def assert_plain(text: str) -> None:
    for ch in RAW:
        assert ch not in text, f"{ch!r} reached the terminal: {text!r}"


@pytest.fixture
def world(tmp_path) -> World:
    return World(tmp_path)


# --- the inbox and the detail ----------------------------------------------------------------

def test_list_says_each_row_in_words_numbered_and_pages_with_next(world):
    ids = [world.file(f"Lunch {n:02d}", amount=str(10 + n)) for n in range(12)]
    proc = world.run("next\nview mine\nlist awaiting\n")
    text = out(proc)
    assert proc.returncode == 0
    assert "Awaiting me, oldest first: 12 requests." in text
    assert f"1. {ids[0]}: Lunch 00. LOW risk, awaiting Manager, stage 1 of 1, from alice, just now." in text
    assert f"10. {ids[9]}: Lunch 09." in text and "Rows 1 to 10 of 12. Type next for more." in text
    assert f"11. {ids[10]}: Lunch 10." in text and "Rows 11 to 12 of 12." in text  # `next`
    assert "My requests, oldest first: no requests." in text
    assert text.count("Awaiting me, oldest first: 12 requests.") == 2  # `list awaiting` switched back
    assert_plain(text)


def test_filter_and_an_unknown_view_or_command_each_get_one_line(world):
    world.file("Team lunch")
    taxi = world.file("Airport taxi")
    text = out(world.run("filter taxi\nview everything\nfrobnicate\n"))
    assert "Awaiting me, oldest first, filtered by taxi: 1 request." in text
    assert f"1. {taxi}: Airport taxi." in text and "Team lunch" not in text.split("filtered by taxi")[1]
    assert "Unknown view everything; choose awaiting, mine, all or decided." in text
    assert "Unknown command frobnicate; type help for the commands." in text


def test_show_reads_the_detail_as_a_linear_transcript(world):
    wid = world.file("Conference travel", amount="5000")  # MEDIUM: Manager, then Director
    text = out(world.run("show 1\n"))
    lines = text.splitlines()
    start = lines.index(f"Request {wid}: Conference travel.")
    detail = lines[start:]
    assert detail[1] == "Type: Expense approval."
    assert detail[2].startswith("Requested by alice (Employee), just now, on ")
    assert "Status: awaiting Manager, stage 1 of 2." in detail
    assert "Risk: MEDIUM, because amount 5,000.00 >= 1,000, < 10,000." in detail
    assert "Amount: 5,000 USD." in detail
    assert "Approval chain, 2 stages: Manager, then Director." in detail
    assert "  Stage 1 of 2, Manager: waiting now, for you to decide." in detail
    assert "  Stage 2 of 2, Director: to come." in detail
    assert any(line.startswith("Compliance flags") for line in detail)
    assert "Audit trail, 1 entry, oldest first:" in detail
    assert any(line.startswith("  Entry ") and "alice: created expense_approval" in line for line in detail)
    assert "You may decide it: approve 1, reject 1 REASON, or changes 1 COMMENT." in detail


# --- decisions --------------------------------------------------------------------------------

def test_approve_happens_only_when_the_word_is_typed_and_through_the_engine(world):
    wid = world.file("Conference travel", amount="5000")
    before = len(world.audit())
    proc = world.run("approve 1 Looks right\nyes\n")
    text = out(proc)
    assert "Approving moves it to Director: dora.director." in text
    assert "Type approve to confirm; anything else cancels." in text
    assert "Cancelled; nothing was decided." in text
    assert [e.action for e in world.audit()[before:]] == ["signing_key_registered"]  # the seal's; no decision
    assert world.request(wid).status is WorkflowStatus.AWAITING_APPROVAL

    text = out(world.run("approve 1 Looks right\napprove\n"))
    assert f"Approved {wid} (Conference travel); now awaiting Director, stage 2 of 2." in text
    decision = [e for e in world.audit() if e.action == "approved"]
    assert len(decision) == 1 and decision[0].actor == ME and decision[0].workflow_id == wid
    assert decision[0].details["comments"] == "Looks right"
    req = world.request(wid)
    assert req.current_stage == 1 and req.approvals[0].approver == ME


def test_reject_asks_for_the_reason_and_refuses_an_empty_one(world):
    wid = world.file()
    text = out(world.run("reject 1\n\n"))
    assert "Type the reason (required: the requester sees it):" in text
    assert "A reason is required, so alice knows what to do; nothing was decided." in text
    assert "Type reject to confirm" not in text
    assert world.request(wid).status is WorkflowStatus.AWAITING_APPROVAL

    text = out(world.run("reject 1\nNot in this quarter's budget\nreject\n"))
    assert f"Rejected {wid} (Team lunch); now rejected." in text
    req = world.request(wid)
    assert req.status is WorkflowStatus.REJECTED and req.approvals[0].comments == "Not in this quarter's budget"


def test_changes_sends_it_back_and_the_requester_is_told_how_to_resubmit(world):
    theirs = world.file("Team lunch")
    mine = world.file("My own taxi", requester=ME)
    svc = world.service()
    svc.request_changes(mine, "bob.manager", "Attach the receipt")
    svc.close(checkpoint=False)
    text = out(world.run(f"changes 1 Attach the vendor quote\nchanges\nshow {mine}\n"))
    assert "Requesting changes sends it back to alice, who can edit and resubmit it" in text
    assert f"Requested changes on {theirs} (Team lunch); now changes requested." in text
    req = world.request(theirs)
    assert req.status is WorkflowStatus.CHANGES_REQUESTED and req.approvals[0].comments == "Attach the vendor quote"
    assert ("  Stage 1 of 1, Manager: sent back for changes by bob.manager (Manager) on ") in text
    assert ", saying: Attach the receipt." in text
    assert (f"Changes were requested: edit and resubmit it with `hitl-tui request resubmit {mine}`, "
            f"or withdraw it: withdraw {mine}.") in text


def _engine_refusal(world: World, call: str, wid: str) -> str:
    svc = world.service()
    try:
        with pytest.raises(HitlError) as refused:
            getattr(svc, call)(wid, ME, "")
        return str(refused.value)
    finally:
        svc.close(checkpoint=False)


def test_refusals_are_the_engines_own_line_before_any_confirmation_and_write_nothing(world):
    mine = world.file("My own taxi", requester=ME)
    # a MEDIUM request whose Manager stage bob approved: it now waits for a Director
    upper = world.file("Conference travel", amount="5000")
    svc = world.service()
    svc.approve_workflow(upper, "bob.manager", "fine")
    svc.close(checkpoint=False)
    own_line = _engine_refusal(world, "approve_workflow", mine)
    role_line = _engine_refusal(world, "approve_workflow", upper)
    assert "segregation of duties" in own_line and "as a Manager you cannot approve it" in role_line
    before = world.audit()
    text = out(world.run(f"approve {mine}\napprove\nview all\nshow {upper}\napprove {upper}\napprove\n"))
    assert f"Refused: {own_line}" in text
    assert f"Refused: {role_line}" in text
    assert "Type approve to confirm" not in text  # refused before the question: "approve" typed next is no command
    assert f"You cannot decide it: {role_line}" in text  # the detail says which rule stops it
    assert [e.action for e in world.audit()][: len(before)] == [e.action for e in before]
    assert not [e for e in world.audit()[len(before):] if e.action in ("approved", "rejected")]


def test_withdraw_is_for_the_requester_and_needs_its_word(world):
    mine = world.file("My own taxi", requester=ME)
    text = out(world.run("view mine\nwithdraw 1 Trip cancelled\nwithdraw\n"))
    assert "Withdrawing ends" in text and "Type withdraw to confirm" in text
    assert f"Withdrew {mine} (My own taxi); now withdrawn." in text
    assert world.request(mine).status is WorkflowStatus.WITHDRAWN

    other = world.file("Team lunch")
    line = str(_withdraw_refusal(world, other))
    assert f"Refused: {line}" in out(world.run(f"withdraw {other}\nwithdraw\n"))
    assert world.request(other).status is WorkflowStatus.AWAITING_APPROVAL


def _withdraw_refusal(world: World, wid: str) -> str:
    svc = world.service()
    try:
        with pytest.raises(HitlError) as refused:
            svc.withdraw_workflow(wid, ME)
        return str(refused.value)
    finally:
        svc.close(checkpoint=False)


# --- hostile text -----------------------------------------------------------------------------

def test_hostile_text_is_printed_inert(world):
    title = "Pay \x1b[31mnow\x1b[0m [@click=app.quit]x[/] \u202eevil\x9b2J\x07"
    wid = world.file(title, description="line one\nline two \x1b]0;owned\x07 end")
    text = out(world.run("list\nshow 1\napprove 1 ok \x1b[2J\napprove\n"))
    assert_plain(text)
    assert r"Pay \x1b[31mnow\x1b[0m [@click=app.quit]x[/] \u202eevil\x9b2J\x07" in text
    assert "  line one" in text and r"  line two \x1b]0;owned\x07 end" in text
    assert r"Your comment: ok \x1b[2J" in text
    svc = world.service()
    try:  # stored exactly as typed: only its display is neutralised
        assert svc.get_workflow(wid).approvals[0].comments == "ok \x1b[2J"
        other = svc.create_workflow_request("expense_approval", "Taxi", "Airport taxi for the Berlin offsite",
                                            "alice", {"amount": "40", "category": "travel"})
    finally:
        svc.close(checkpoint=False)
    # a byte that is not UTF-8: the engine's own refusal naming the field, before any question
    text = out(world.run(b"approve 1 fine \xff\napprove\n"))
    assert ("Refused: comments contains a lone surrogate (U+DCFF), which is not valid text: it stands for the "
            "byte 0xFF") in text
    assert "Type approve to confirm" not in text
    assert world.request(other).status is WorkflowStatus.AWAITING_APPROVAL


# --- sessions -----------------------------------------------------------------------------------

def test_end_of_input_seals_the_session(world):
    world.file()
    proc = world.run("approve 1\napprove\n")
    text = out(proc)
    assert proc.returncode == 0
    assert "End of input." in text and "Session sealed: a signed checkpoint covers all" in text
    world.assert_sealed()


def test_on_a_tampered_trail_the_decision_stays_nothing_is_signed_and_the_exit_is_3(world):
    wid = world.file()
    conn = sqlcipher3.connect(str(world.path), isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{world.key.hex()}'\"")
    drop_audit_triggers(conn)
    body = bytes(conn.execute("SELECT body FROM audit_log WHERE seq = 1").fetchone()[0])
    conn.execute("UPDATE audit_log SET body = ? WHERE seq = 1", (body.replace(b'"manager"', b'"director"'),))
    conn.close()
    proc = world.run("approve 1\napprove\n")
    text = out(proc)
    assert proc.returncode == 3
    assert "The session was not sealed: AUDIT CHAIN BROKEN at entry 1" in text
    assert world.request(wid).status is WorkflowStatus.APPROVED  # what was decided stays decided
    svc = world.service()
    try:
        assert svc.stored_checkpoints() == []  # a broken trail is never signed
    finally:
        svc.close(checkpoint=False)


def test_a_missing_database_and_bad_flags_are_one_line(world, tmp_path):
    missing = subprocess.run([str(HITL), "--accessible", "--db", str(tmp_path / "nope.db")], env=world.env,
                             capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
    assert missing.returncode == 1 and missing.stdout == b""
    assert len(missing.stderr.decode().strip().splitlines()) == 1 and "nope.db" in missing.stderr.decode()
    both = subprocess.run([str(HITL), "--accessible", "--demo"], env=world.env, capture_output=True,
                          stdin=subprocess.DEVNULL, timeout=60)
    assert both.returncode == 2 and len(both.stderr.decode().strip().splitlines()) == 1
    assert "--accessible opens the line-by-line desk; it takes neither --demo nor a command" in both.stderr.decode()


def test_an_account_missing_from_the_directory_is_told_the_command(tmp_path):
    root = tmp_path / "db"
    root.mkdir()
    key = os.urandom(32)
    (root / "db.key").write_text(key.hex())
    (root / "db.key").chmod(0o600)
    svc = WorkflowService.open(root / "hitl.db", key=key, create=True)
    svc.add_user("alice", "employee")
    svc.close(checkpoint=False)
    env = {**os.environ, "HITL_DB_PATH": str(root / "hitl.db"), "HITL_DB_KEY_FILE": str(root / "db.key")}
    proc = subprocess.run([str(HITL), "--accessible"], env=env, capture_output=True, stdin=subprocess.DEVNULL,
                          timeout=60)
    err = proc.stderr.decode().strip().splitlines()
    assert proc.returncode == 1 and proc.stdout == b"" and len(err) == 1
    assert f"hitl-tui users add {ME} --role ROLE" in err[0]


def test_the_setting_opens_the_accessible_desk(world):
    world.file()
    proc = subprocess.run([str(HITL)], input=b"", env={**world.env, "HITL_UI_ACCESSIBLE": "1"},
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "hitl-tui accessible desk." in proc.stdout.decode()


def test_help_lists_the_commands_and_no_textual_is_loaded(world):
    proc = subprocess.run([sys.executable, "-X", "importtime", str(HITL), "--accessible"], input=b"help\n",
                          env=world.env, capture_output=True, timeout=60)
    assert proc.returncode == 0
    text = proc.stdout.decode()
    for usage in ("list [VIEW]", "show [N]", "approve N [COMMENT]", "reject N [REASON]", "changes N [COMMENT]",
                  "withdraw N [REASON]", "filter [TEXT]", "verify", "quit"):
        assert f"  {usage}" in text, usage
    imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.decode().splitlines()
                if line.startswith("import time:")]
    assert "hitl_tui.accessible.session" in imported  # the list does show what the session loaded
    assert not [m for m in imported if m.split(".")[0] == "textual"]


# --- news between commands (a session kept open, lines written one at a time) -------------------

class Piped:
    def __init__(self, world: World) -> None:
        self.proc = subprocess.Popen([str(HITL), "--accessible"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=world.env)
        self.output = b""

    def read(self, until: bytes, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while until not in self.output and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                self.output += chunk
        assert until in self.output, f"never shown: {until!r}; output {self.output[-1500:]!r}"

    def send(self, line: str) -> None:
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def close(self) -> int:
        self.proc.stdin.close()  # end of input: the session ends, sealed
        fd = self.proc.stdout.fileno()
        while chunk := os.read(fd, 65536):
            self.output += chunk
        return self.proc.wait(timeout=20)


def test_news_is_announced_between_commands(world):
    mine = world.file("My own taxi", requester=ME)
    desk = Piped(world)
    desk.read(b"Awaiting me, oldest first: no requests.")
    arrived = world.file("Late lunch")
    svc = world.service()
    svc.approve_workflow(mine, "bob.manager", "Have a good trip")
    svc.close(checkpoint=False)
    desk.send("")
    desk.read(b"Your request")
    assert desk.close() == 0
    text = desk.output.decode()
    assert f"New in Awaiting me: {arrived} “Late lunch” from alice (LOW, Manager stage)" in text
    assert f"Your request {mine} “My own taxi” was approved by bob.manager; fully approved." in text


# --- in a real terminal -----------------------------------------------------------------------

@pytest.fixture
def pty_desk(world):
    desks: list[Desk] = []

    def open_() -> Desk:
        d = Desk(world.env, controlling=True, args=("--accessible",))
        desks.append(d)
        return d
    yield open_
    for d in desks:
        d.cleanup()


def prompts(d: Desk, count: int, timeout: float = 20) -> None:
    """Wait for the `count`th prompt: readline is then waiting for a line."""
    deadline = time.monotonic() + timeout
    while d.output.count(b"hitl> ") < count and time.monotonic() < deadline:
        d._pump(0.05)
    assert d.output.count(b"hitl> ") >= count, d.output[-1500:]


def test_in_a_terminal_readline_edits_nothing_is_redrawn_and_ctrl_d_seals(world, pty_desk):
    wid = world.file()
    d = pty_desk()
    prompts(d, 1)
    d.press(b"approve 1\r")
    d.read(b"confirm: ")
    d.press(b"\x03")  # ctrl-c at the question: no answer, no decision, and the session goes on
    d.read(b"Cancelled; nothing was decided.")
    prompts(d, 2)
    assert world.request(wid).status is WorkflowStatus.AWAITING_APPROVAL
    d.press(b"approve 9\x7f1\r")  # readline's backspace: "approve 1"
    deadline = time.monotonic() + 20
    while d.output.count(b"confirm: ") < 2 and time.monotonic() < deadline:
        d._pump(0.05)
    d.press(b"approve\r")
    d.read(b"Approved")
    prompts(d, 3)
    d.press(b"\x04")
    d.wait_exit()
    assert d.status == 0
    # the only control sequence is readline erasing the character backspace took back; no
    # colour, no cursor addressing, no alternate screen, no bracketed paste, no meta key
    text = d.output.decode().replace("9\x08\x1b[K1", "1", 1)
    assert "hitl> approve 1\r\n" in text
    assert_plain(text)
    assert "End of input." in text
    assert world.request(wid).status is WorkflowStatus.APPROVED
    world.assert_sealed()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_while_waiting_ends_and_seals(world, pty_desk, sig):
    world.file()
    d = pty_desk()
    prompts(d, 1)
    d.press(b"approve 1\r")
    d.read(b"confirm: ")  # even in the middle of a confirmation: nothing is decided
    os.kill(d.pid, sig)
    d.wait_exit()
    assert d.status == 128 + sig
    assert not [e for e in world.audit() if e.action == "approved"]
    world.assert_sealed()



def test_sort_takes_the_desks_vocabulary_and_refuses_an_unknown_order(world):
    world.file("Team lunch", amount="80")
    world.file("Hotel", amount="900")
    text = out(world.run("sort -value\nsort newest\nsort colour\n"))
    assert "Awaiting me, sorted by value, largest first: 2 requests." in text
    listed = text.split("largest first: 2 requests.")[1]
    assert listed.index("Hotel") < listed.index("Team lunch")  # the largest first
    assert "Awaiting me, newest first: 2 requests." in text
    assert "Sort by oldest, newest, or one of created, risk, title" in text and "(not colour)." in text


def test_a_filter_that_cannot_be_read_says_why_and_keeps_the_old_one(world):
    world.file("Team lunch")
    world.file("Airport taxi")
    text = out(world.run("filter taxi\nfilter risk:hgh\nlist\n"))
    assert "Bad filter 'risk:hgh': unknown risk level 'hgh'" in text and "The filter stays taxi." in text
    assert text.count("filtered by taxi: 1 request.") == 2  # the list after it still uses taxi
