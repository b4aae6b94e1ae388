"""A real desk in a real pty: the installed `hitl-tui` on a real encrypted database, driven
as a terminal would drive it (keys in, screen out, hang-ups), for the tests in tests/ui that
need the process itself rather than Pilot."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from hitl_tui.core.audit import os_login
from hitl_tui.core.service import WorkflowService

HITL = Path(sys.executable).with_name("hitl-tui")
EXIT_WITHIN = 5.0


class Db:
    """A real encrypted database with a 0600 key file; the OS login running the tests is a
    manager, so the desk opens on its inbox. Set up with checkpoint=False, so the chain has grown
    past its last checkpoint (none) and the desk's close has something to seal."""

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "hitl.db"
        self.key = os.urandom(32)
        self.key_file = tmp_path / "db.key"
        self.key_file.write_text(self.key.hex())
        self.key_file.chmod(0o600)
        svc = WorkflowService.open(self.path, key=self.key, create=True)
        svc.add_user(os_login(), "manager")
        svc.add_user("alice", "employee")
        self.request = svc.create_workflow_request("expense_approval", "Team lunch", "Quarterly", "alice",
                                                   {"amount": "80", "category": "meals"})
        svc.close(checkpoint=False)
        self.env = {**os.environ, "HITL_DB_PATH": str(self.path), "HITL_DB_KEY_FILE": str(self.key_file),
                    "TERM": "xterm-256color", "COLORTERM": "truecolor"}

    def service(self) -> WorkflowService:
        return WorkflowService.open(self.path, key=self.key)

    def state(self) -> tuple[int, list, object]:
        svc = self.service()
        try:
            return svc.audit_size(), svc.stored_checkpoints(), svc.get_workflow(self.request)
        finally:
            svc.close(checkpoint=False)

    def assert_sealed(self) -> None:
        size, checkpoints, _ = self.state()
        assert checkpoints, "the session was not sealed: no checkpoint was signed on the way out"
        assert checkpoints[-1].size == size, "the last checkpoint must cover the whole chain"
        svc = self.service()
        try:
            assert svc.verify_audit().ok
        finally:
            svc.close(checkpoint=False)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Desk:
    """`hitl-tui` in an 80x24 pty. controlling=True: the pty is its controlling terminal (it is
    a session leader, as a login shell's job is after a hang-up), so closing the master makes
    the kernel send it SIGHUP. controlling=False: it has no controlling terminal, so a closed
    master reaches it only as EOF on its input, with no signal at all."""

    def __init__(self, env: dict[str, str], *, controlling: bool, args: tuple[str, ...] = ()) -> None:
        self.output = b""
        argv = [str(HITL), *args]
        if controlling:
            pid, master = pty.fork()
            if pid == 0:  # the child: nothing but exec
                os.execve(argv[0], argv, env)
            self.pid, self.master = pid, master
        else:
            master, slave = os.openpty()
            self._size(slave)
            proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                    start_new_session=True)
            os.close(slave)
            self.pid, self.master, self._proc = proc.pid, master, proc
        if controlling:
            self._size(self.master)
        self.status: int | None = None
        self.cpu: float | None = None

    @staticmethod
    def _size(fd: int) -> None:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))

    def read(self, until: bytes, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while until not in self.output and time.monotonic() < deadline:
            self._pump(0.1)
        assert until in self.output, f"never shown: {until!r}; last output {self.output[-1500:]!r}"

    def _pump(self, wait: float) -> None:
        if self.master < 0:
            time.sleep(wait)
            return
        ready, _, _ = select.select([self.master], [], [], wait)
        if ready:
            try:
                self.output += os.read(self.master, 65536)
            except OSError:  # EIO: the child has closed its side
                time.sleep(wait)

    def press(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def close_master(self) -> None:
        os.close(self.master)
        self.master = -1

    def wait_exit(self, timeout: float = EXIT_WITHIN) -> float:
        """Wait for the exit (reading its last output while the pty is open); returns seconds.
        wait4 gives the CPU it used over its whole life, exactly."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            pid, status, usage = os.wait4(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                self.cpu = usage.ru_utime + usage.ru_stime
                if hasattr(self, "_proc"):
                    self._proc.returncode = self.status  # reaped here, not by Popen
                self._drain()
                return time.monotonic() - start
            self._pump(0.05)
        raise AssertionError(f"still running {timeout} s after losing its terminal "
                             f"(CPU so far {cpu_seconds(self.pid):.1f} s)")

    def _drain(self) -> None:
        for _ in range(20):
            if self.master < 0:
                return
            ready, _, _ = select.select([self.master], [], [], 0)
            if not ready:
                return
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.output += chunk

    def cleanup(self) -> None:
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            if hasattr(self, "_proc"):
                self._proc.returncode = -9
        if self.master >= 0:
            os.close(self.master)
            self.master = -1
