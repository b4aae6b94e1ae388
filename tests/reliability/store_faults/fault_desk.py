"""What the store-fault tests share: a database made by `hitl-tui init`, driven through the
installed console script, optionally as an ordinary account (see the package docstring)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hitl_tui.core.service import WorkflowService

HITL = Path(sys.executable).with_name("hitl-tui")
IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="needs root (mounts, accounts, capabilities)")

# run argv[1:] without the capabilities that let root ignore file modes (see the package docstring)
_AS_ORDINARY_ACCOUNT = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
for cap in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
    if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
        raise SystemExit("cannot drop capability %d: errno %d" % (cap, ctypes.get_errno()))
os.execv(sys.argv[1], sys.argv[1:])
"""


class Desk:
    """A database made by `hitl-tui init` with a 0600 key file, driven through the console script."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.db = root / "hitl.db"
        self.key_file = root.parent / f"{root.name}.key"  # beside, so a read-only db dir keeps it readable
        self.env = {**os.environ, "HITL_DB_PATH": str(self.db), "HITL_DB_KEY_FILE": str(self.key_file)}

    def run(self, *args: str, env: dict | None = None, ordinary: bool = False, timeout: float = 60):
        argv = [str(HITL), *args]
        if ordinary:
            argv = [sys.executable, "-c", _AS_ORDINARY_ACCOUNT, *argv]
        return subprocess.run(argv, env={**self.env, **(env or {})}, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def ok(self, *args: str, **kw):
        result = self.run(*args, **kw)
        assert result.returncode == 0, f"{args}: exit {result.returncode}\n{result.stdout}{result.stderr}"
        return result

    def refused(self, *args: str, **kw) -> str:
        """Exit status 1 and exactly one line on stderr, no traceback; returns the line."""
        result = self.run(*args, **kw)
        assert result.returncode == 1, f"{args}: exit {result.returncode}\n{result.stdout}{result.stderr}"
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("hitl-tui: "), result.stderr
        assert "Traceback" not in result.stdout + result.stderr
        return lines[0]

    def copy_to(self, other: "Desk") -> None:
        """`other` becomes a copy of this desk: its database, its key file, and the signing keys
        in its data directory (the first administrator's own key lives there): the same
        database, with the same people, held by the same account."""
        import shutil

        shutil.copy(self.db, other.db)
        shutil.copy(self.key_file, other.key_file)
        data = Path(other.env.get("XDG_DATA_HOME") or Path(other.env["HOME"]) / ".local" / "share")
        shutil.copytree(self.env["XDG_DATA_HOME"], data, dirs_exist_ok=True)

    @property
    def key(self) -> bytes:
        return bytes.fromhex(self.key_file.read_text().strip())

    def usernames(self) -> list[str]:
        with WorkflowService.open(self.db, key=self.key, create=False) as svc:
            return [u.username for u in svc.list_users()]


def nothing_written(line: str, path: Path) -> None:
    assert str(path) in line and "nothing was written" in line and "wrong key" not in line, line
