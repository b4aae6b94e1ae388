"""`hitl-tui ask`: the reply on stdout; a decision or a draft only after `y` at a real terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from hitl_tui.commands.ask import NEEDS_TERMINAL
from hitl_tui.core.audit import os_login
from hitl_tui.core.models import WorkflowStatus

from .fake_model import closed_port
from .helpers import expense

ME = os_login()
SINGAPORE = "Create an expense approval request for $15,000 executive travel to Singapore for strategic planning"
SCRIPT = Path(sys.executable).with_name("hitl-tui")


def cli(db_path: Path, key: bytes, *args: str, env: dict[str, str] | None = None) -> SimpleNamespace:
    """`hitl-tui --db DB ask ARGS`: the installed console script as a real process (so the exit
    status is the process's), no terminal (stdin is /dev/null)."""
    proc = subprocess.run([str(SCRIPT), "--db", str(db_path), "ask", *args],
                          env={**os.environ, "HITL_DB_KEY": key.hex(), **(env or {})}, capture_output=True,
                          encoding="utf-8", errors="replace", timeout=120, stdin=subprocess.DEVNULL)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    return SimpleNamespace(exit_code=proc.returncode, stdout=proc.stdout, stderr=proc.stderr,
                           output=proc.stdout + proc.stderr)


def in_a_terminal(db_path: Path, key: bytes, question: str, typed: str,
                  env_more: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run `python -m hitl_tui ask` with a pseudo-terminal on stdin, typing `typed` into it."""
    keep = ("PATH", "HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME",
            "XDG_RUNTIME_DIR", "PYTHON_KEYRING_BACKEND")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(HITL_DB_KEY=key.hex(), LANG="C.UTF-8", PYTHONIOENCODING="utf-8", **(env_more or {}))
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "hitl_tui", "--db", str(db_path), "ask", question],
                                stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                cwd=db_path.parent)
        os.close(slave)
        os.write(master, typed.encode())  # waits in the terminal's input queue until read
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(master)
    return proc.returncode, out.decode(), err.decode()


def untouched(service, wid) -> bool:
    return [e.action for e in service.get_audit_trail(wid)] == ["created"] and not service.get_workflow(wid).approvals


def test_the_reply_is_printed(service, db_path, db_key):
    wid = expense(service, 15000)
    result = cli(db_path, db_key, "Check the status of workflow", wid)
    assert result.exit_code == 0, result.output
    assert f"{wid}: title \u201cExecutive travel to Singapore\u201d" in result.stdout
    assert "Status: awaiting approval, stage 1 of 3 (Manager)" in result.stdout
    assert f"· looked up {wid}" in result.stderr and "looked up" not in result.stdout


def test_a_proposal_without_a_terminal_is_refused_and_nothing_is_written(service, db_path, db_key):
    wid = expense(service, 15000)
    size = service.audit_size()
    result = cli(db_path, db_key, f"Approve workflow {wid} with comment 'Business justification confirmed'")
    assert result.exit_code == 1
    assert "Proposal from ApprovalManager (nothing is decided yet):" in result.stdout
    assert "Your comment (recorded with the decision): Business justification confirmed" in result.stdout
    assert "ApprovalManager's rationale (the agent's words, not recorded as your comment): " in result.stdout
    assert result.stderr.endswith(f"hitl-tui: {NEEDS_TERMINAL}\n")
    assert untouched(service, wid) and service.audit_size() == size


def test_a_draft_without_a_terminal_is_refused_and_nothing_is_filed(service, db_path, db_key):
    result = cli(db_path, db_key, SINGAPORE)
    assert result.exit_code == 1 and "Not done:" in result.stderr
    assert "Risk: HIGH" in result.stdout and "approval chain: Manager -> Director -> Executive" in result.stdout
    assert service.count_requests(ME, "mine") == 0


def test_a_failed_turn_exits_non_zero(service, db_path, db_key):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    result = cli(db_path, db_key, "hello", env={"HITL_LLM_BASE_URL": url, "HITL_LLM_MODEL": "m"})
    assert result.exit_code == 1
    assert result.stderr.startswith(f"hitl-tui: Cannot reach the model server at {url}")
    assert result.stdout == ""


def test_an_unknown_agent_is_a_usage_error(service, db_path, db_key):
    result = cli(db_path, db_key, "--agent", "Oracle", "hello")
    assert result.exit_code == 2 and "Unknown agent 'Oracle'" in result.output


# \x04 is ctrl-d: end of input without an answer
@pytest.mark.parametrize("typed, decided", [("y\n", True), ("n\n", False), ("yes please\n", False), ("\x04", False)])
def test_in_a_terminal_only_y_commits_with_the_proposal_recorded(service, db_path, db_key, typed, decided):
    wid = expense(service, 15000)
    code, out, err = in_a_terminal(db_path, db_key, f"Approve workflow {wid} with comment 'Business justification confirmed'",
                                   typed)
    assert code == 0, err
    assert f"Approve {wid} as {ME}? [y/N]" in out
    if not decided:
        assert "Not decided; nothing was changed." in out and untouched(service, wid)
        return
    assert f"Approved {wid} as {ME}; now waiting for Director (stage 2 of 3)." in out
    req = service.get_workflow(wid)
    (approval,) = req.approvals
    assert (approval.approver, approval.proposed_by, approval.comments) == (
        ME, "ApprovalManager", "Business justification confirmed")
    entry = service.get_audit_trail(wid)[-1]
    assert (entry.action, entry.actor) == ("approved", ME)
    assert entry.details["agent_proposal"] == {
        "agent": "ApprovalManager", "decision": "approve",
        "rationale": "Asked for in the chat; the offline assistant does not weigh requests itself."}


def test_in_a_terminal_a_draft_is_filed_after_y(service, db_path, db_key):
    code, out, err = in_a_terminal(db_path, db_key, SINGAPORE, "y\n")
    assert code == 0, err
    assert f"Submit this request as {ME}? [y/N]" in out
    (row,) = service.list_requests(ME, "mine")
    assert (row.title, row.risk_level.value, row.status) == (
        "Executive travel to Singapore for strategic planning", "HIGH", WorkflowStatus.AWAITING_APPROVAL)
    assert f"Created {row.id} requiring Manager -> Director -> Executive approval." in out


def test_text_from_the_database_cannot_drive_the_terminal(service, db_path, db_key):
    wid = expense(service, 500, "Trip\x1b[2J\x1b]0;pwned\x07 to Oslo")
    result = cli(db_path, db_key, f"Check the status of workflow {wid}")
    assert result.exit_code == 0
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "Trip\\x1b[2J\\x1b]0;pwned\\x07 to Oslo" in result.stdout
