"""The desk and its terminal, with real processes: the installed `hitl-tui` in a real pty (or a
tmux pane) on a real encrypted database.

- Without a terminal it refuses in one line and writes nothing to stdout (it used to draw escape
  codes into the pipe and wait for ever).
- When its terminal goes away (SIGHUP; the pty master closed, as when an SSH connection drops,
  with or without the kernel's SIGHUP; a tmux pane or session killed) it exits within seconds
  with status 129, without spinning on the dead tty (it used to burn a full core for ever), and
  seals its session: closing the service signs a new checkpoint over the whole chain.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.ui.pty_desk import EXIT_WITHIN, HITL, Db, Desk, cpu_seconds

HANGUP = 128 + signal.SIGHUP
#: CPU seconds the process may use between losing its terminal and being gone. Closing (verify
#: nothing, sign one checkpoint) takes a few hundredths; the old spin used a full core per second.
CPU_WHILE_DYING = 1.0


@pytest.fixture
def db(tmp_path) -> Db:
    return Db(tmp_path)


@pytest.fixture
def open_desk(db):
    desks: list[Desk] = []

    def start(controlling: bool = True) -> Desk:
        desk = Desk(db.env, controlling=controlling)
        desks.append(desk)
        desk.read(b"Team lunch")  # the inbox is painted with alice's request awaiting me
        time.sleep(0.5)  # and the start-up work (counts, chain verification) has run
        return desk

    yield start
    for desk in desks:
        desk.cleanup()


def test_sighup_ends_the_desk_cleanly_keeping_what_was_decided_and_sealing_it(db, open_desk):
    desk = open_desk()
    desk.press(b"a")
    desk.read(b"Approving", timeout=10)
    desk.press(b"\r")
    deadline = time.monotonic() + 10
    while db.state()[2].status.value != "approved":  # written the moment it was confirmed
        assert time.monotonic() < deadline, "the approval was not recorded"
        time.sleep(0.1)
    cpu_before = cpu_seconds(desk.pid)
    os.kill(desk.pid, signal.SIGHUP)
    desk.wait_exit()
    assert desk.status == HANGUP
    assert desk.cpu - cpu_before < CPU_WHILE_DYING
    assert b"Traceback" not in desk.output
    assert b"\x1b[?1049l" in desk.output, "the terminal was not given back (it left the alternate screen)"
    db.assert_sealed()
    size, checkpoints, request = db.state()
    assert request.status.value == "approved" and len(checkpoints) == 1


@pytest.mark.parametrize("controlling", [True, False], ids=["sighup-from-the-kernel", "eof-without-a-signal"])
def test_a_dropped_connection_ends_the_desk_within_seconds_without_spinning(db, open_desk, controlling):
    """Closing the pty master is what sshd does when the connection drops."""
    desk = open_desk(controlling)
    cpu_before = cpu_seconds(desk.pid)
    desk.close_master()
    elapsed = desk.wait_exit()
    assert desk.status == HANGUP, "ended by a signal or an error, not by the desk's own orderly exit"
    assert elapsed < EXIT_WITHIN
    assert desk.cpu - cpu_before < CPU_WHILE_DYING
    db.assert_sealed()


def test_the_demo_removes_its_database_when_its_connection_drops(tmp_path):
    """The demo is the same app: EOF on a dropped connection ends it, and its cleanup runs."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "TERM": "xterm-256color", "COLORTERM": "truecolor"}
    demo = Desk(env, controlling=False, args=("--demo",))
    try:
        demo.read(b"TOUR", timeout=60)
        assert len(list(tmp.glob("hitl-demo-*"))) == 1
        cpu_before = cpu_seconds(demo.pid)
        demo.close_master()
        demo.wait_exit()
    finally:
        demo.cleanup()
    assert demo.status == HANGUP
    assert demo.cpu - cpu_before < CPU_WHILE_DYING
    assert list(tmp.glob("hitl-demo-*")) == [], "the throwaway database and its keys must be deleted"


@pytest.mark.parametrize("how", ["kill-pane", "kill-session"])
def test_a_killed_tmux_pane_ends_the_desk(db, tmp_path, how):
    if shutil.which("tmux") is None:
        pytest.fail("tmux is missing: scripts/test installs it")
    tmux = ["tmux", "-L", f"hitl-test-{os.getpid()}-{how}", "-f", "/dev/null"]
    status_file = tmp_path / "status"
    # the shell ignores the hang-up so that it lives to write the desk's exit status down
    command = f"trap '' HUP; '{HITL}'; echo $? > '{status_file}'"
    pid = None
    try:
        subprocess.run([*tmux, "new-session", "-d", "-s", "keep", "sleep 600"], check=True, env=db.env)
        subprocess.run([*tmux, "new-session", "-d", "-s", "desk", "-x", "80", "-y", "24", command],
                       check=True, env=db.env)
        deadline = time.monotonic() + 30
        while True:
            screen = subprocess.run([*tmux, "capture-pane", "-p", "-t", "desk"], capture_output=True,
                                    text=True).stdout
            if "Team lunch" in screen:
                break
            assert time.monotonic() < deadline, f"the desk never painted: {screen!r}"
            time.sleep(0.1)
        time.sleep(0.5)
        shell = int(subprocess.run([*tmux, "display", "-p", "-t", "desk", "#{pane_pid}"], capture_output=True,
                                   text=True, check=True).stdout)
        pid = _child_of(shell)
        cpu_before = last_cpu = cpu_seconds(pid)
        target = ["kill-pane", "-t", "desk"] if how == "kill-pane" else ["kill-session", "-t", "desk"]
        subprocess.run([*tmux, *target], check=True)
        start = time.monotonic()
        while Path(f"/proc/{pid}").exists() and _state(pid) != "Z":
            assert time.monotonic() - start < EXIT_WITHIN, f"still running {EXIT_WITHIN} s after {how}"
            last_cpu = max(last_cpu, _cpu_or(pid, last_cpu))
            time.sleep(0.05)
        assert last_cpu - cpu_before < CPU_WHILE_DYING
        deadline = time.monotonic() + 5
        while not status_file.exists() or not status_file.read_text().strip():
            assert time.monotonic() < deadline, "the shell never wrote the desk's exit status"
            time.sleep(0.05)
        assert int(status_file.read_text()) == HANGUP
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
        if pid is not None and _state(pid) not in ("gone", "Z"):  # a desk that failed to die must not spin on
            os.kill(pid, signal.SIGKILL)
    db.assert_sealed()


def _child_of(ppid: int, timeout: float = 5) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == ppid:
                        return int(entry.name)
                except (OSError, IndexError, ValueError):
                    continue
        time.sleep(0.05)
    raise AssertionError(f"no child of the pane's shell {ppid}")


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def _cpu_or(pid: int, default: float) -> float:
    try:
        return cpu_seconds(pid)
    except (OSError, IndexError, ValueError):
        return default


# --- no terminal at all ------------------------------------------------------------------------

@pytest.mark.parametrize("args", [[], ["--demo"]], ids=["desk", "demo"])
@pytest.mark.parametrize("which", ["stdin", "stdout", "stderr"])
def test_without_a_terminal_it_says_so_in_one_line_and_draws_nothing(db, args, which):
    """stdin from /dev/null (and stdout into a pipe), or only stdout or only stderr into a pipe,
    the rest a real terminal."""
    master, slave = os.openpty()
    try:
        streams = {"stdin": slave, "stdout": slave, "stderr": slave}
        streams[which] = subprocess.DEVNULL if which == "stdin" else subprocess.PIPE
        if which == "stdin":
            streams["stdout"] = subprocess.PIPE  # `hitl-tui </dev/null | ...`: stdin is named first
        if which != "stderr":
            streams["stderr"] = subprocess.PIPE  # to read the line
        done = subprocess.run([str(HITL), *args], env=db.env, timeout=30, **streams)
        ready, _, _ = select.select([master], [], [], 0.2)
        on_terminal = os.read(master, 65536) if ready else b""
    finally:
        os.close(master)
        os.close(slave)
    stream = {"stdin": "standard input", "stdout": "standard output", "stderr": "standard error"}[which]
    err = done.stderr.decode()
    assert done.returncode == 1
    assert done.stdout in (None, b"") and on_terminal == b"", "nothing may be drawn anywhere"
    assert err == (f"hitl-tui: the desk needs a terminal, and {stream} is not one; "
                   f"for scripts and pipes use the CLI (`hitl-tui --help`).\n")
    assert db.state()[1] == [], "nothing was opened, so nothing was signed"
