"""A real database driven through the INSTALLED `hitl-tui` in subprocesses, for the crash-point
and sealing tests: the environment the subprocesses inherit (HOME/XDG from conftest, the key
file and database path set here) is the one the in-process checks resolve keys from."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from hitl_tui.core import keys
from hitl_tui.core.audit import os_login
from hitl_tui.core.service import WorkflowService

SCRIPT = Path(sys.executable).with_name("hitl-tui")
ME = os_login()


class Desk:
    def __init__(self, root: Path, monkeypatch) -> None:
        self.root = root
        self.db = root / "hitl.db"
        self.key_file = root / "db.key"
        monkeypatch.setenv("HITL_DB_PATH", str(self.db))
        monkeypatch.setenv("HITL_DB_KEY_FILE", str(self.key_file))
        monkeypatch.delenv("HITL_CRASH_AT", raising=False)

    def run(self, *args: str, crash: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
        full = {**os.environ, **(env or {})}
        if crash:
            full["HITL_CRASH_AT"] = crash
        return subprocess.run([str(SCRIPT), *args], env=full, capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)

    def ok(self, *args: str, **kw) -> subprocess.CompletedProcess:
        done = self.run(*args, **kw)
        assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr
        return done

    def killed(self, *args: str, crash: str, **kw) -> subprocess.CompletedProcess:
        done = self.run(*args, crash=crash, **kw)
        assert done.returncode == -signal.SIGKILL, (
            f"{args} with HITL_CRASH_AT={crash} was not killed at its crash point: exit "
            f"{done.returncode}\n{done.stdout}\n{done.stderr}")
        return done

    def setup(self, *, my_role: str = "manager") -> str:
        """An initialised database (you: an administrator) with john.doe, and one request of his
        awaiting a manager; returns its id. Built in-process, as `init` would, to stay fast."""
        resolved = keys.create_key(self.db)
        with WorkflowService.open(self.db, key=resolved.key, create=True, operator=ME) as s:
            s.add_user(ME, my_role, f"{ME}@example.com", admin=True, actor=ME)
            s.add_user("john.doe", "employee", "john@example.com", actor=ME)
            return s.create_workflow_request("expense_approval", "Team offsite", "Planning day", "john.doe",
                                             {"amount": "800", "category": "travel"})

    def service(self) -> WorkflowService:
        """Opened the way every command opens it: the key resolved from where it is stored."""
        return WorkflowService.open(self.db, create=False)

    def actions(self) -> list[str]:
        with self.service() as s:
            return [e.action for e in s.iter_audit()]
