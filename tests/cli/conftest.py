"""CLI fixtures: the installed `hitl-tui` console script, run as a real process, on a real
encrypted database with a 0600 key file.

Every command runs as a subprocess of the dev venv's console script, so an exit status, an error
line or a missing import is exactly what a user's shell sees (click's CliRunner runs in-process
and reads the status from click, which hid exit status 3). Every CLI command acts as the OS
login running the tests (`me`); the rest of the seed's cast is added through the engine so that
other people can file and decide requests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlcipher3

from hitl_tui.core.audit import os_login
from hitl_tui.core.service import WorkflowService
from tests.cast import SEED_CAST
from tests.attacker import drop_audit_triggers

CAST = SEED_CAST
ME = os_login()


SCRIPT = Path(sys.executable).with_name("hitl-tui")


@dataclass
class Run:
    """One finished `hitl-tui` process, with the attributes tests read from click's Result."""

    args: tuple[str, ...]
    exit_code: int
    stdout_bytes: bytes
    stderr_bytes: bytes

    @property
    def stdout(self) -> str:
        return self.stdout_bytes.decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        return self.stderr_bytes.decode("utf-8", "replace")

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class Cli:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.db = root / "hitl.db"
        self.key_file = root / "db.key"
        self.env = {"HITL_DB_PATH": str(self.db), "HITL_DB_KEY_FILE": str(self.key_file)}

    def __call__(self, *args: str, env: dict | None = None, input: str | None = None) -> Run:
        """Run `hitl-tui ARGS` with the test's environment (temp HOME/XDG, conftest.py) plus this
        database's; a value of None in `env` unsets that variable. No terminal: stdin is
        /dev/null unless `input` is given."""
        full = {**os.environ, **self.env, **(env or {})}
        full = {k: v for k, v in full.items() if v is not None}
        proc = subprocess.run([str(SCRIPT), *args], env=full, cwd=self.root, capture_output=True, timeout=120,
                              input=None if input is None else input.encode(),
                              stdin=subprocess.DEVNULL if input is None else None)
        result = Run(tuple(args), proc.returncode, proc.stdout, proc.stderr)
        # as catch_exceptions=False did in-process: a traceback reaching the user fails the test
        assert "Traceback" not in result.output, f"{args}:\n{result.output}"
        return result

    def ok(self, *args: str, **kw):
        result = self(*args, **kw)
        assert result.exit_code == 0, f"{args}: exit {result.exit_code}\n{result.output}"
        return result

    def refused(self, *args: str, code: int = 1, match: str | None = None, **kw):
        """A refusal: the given exit status and exactly one line on stderr, no traceback."""
        result = self(*args, **kw)
        assert result.exit_code == code, f"{args}: exit {result.exit_code}\n{result.output}"
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("hitl-tui: "), result.stderr
        assert "Traceback" not in result.output
        if match:
            assert match in lines[0], lines[0]
        return result

    def json(self, *args: str, **kw):
        return json.loads(self.ok(*args, **kw).stdout)

    @property
    def key(self) -> bytes:
        return bytes.fromhex(self.key_file.read_text().strip())

    def service(self) -> WorkflowService:
        return WorkflowService.open(self.db, key=self.key, create=False)

    def raw(self):
        """A second connection holding the key: what an attacker with the key can do."""
        conn = sqlcipher3.connect(str(self.db), isolation_level=None)
        conn.execute(f"PRAGMA key = \"x'{self.key.hex()}'\"")
        return conn

    def audit_size(self) -> int:
        with self.service() as s:
            return s.audit_size()


@pytest.fixture
def cli(tmp_path) -> Cli:
    return Cli(tmp_path)


@pytest.fixture
def ready(cli) -> Cli:
    """An initialised database (you are its IT Admin administrator) with the seed's cast."""
    cli.ok("init", "--email", "me@example.com")
    with cli.service() as s:
        for name, role in CAST.items():
            s.add_user(name, role, f"{name}@example.com", actor=ME)
    return cli


def set_my_role(cli: Cli, role: str) -> None:
    cli.ok("users", "set-role", ME, role)


def file_request(cli: Cli, requester: str = "john.doe", title: str = "Q4 conference travel",
                 wtype: str = "expense_approval", data: dict | None = None,
                 description: str = "Flights and hotel for the industry conference in Berlin") -> str:
    with cli.service() as s:
        return s.create_workflow_request(wtype, title, description, requester,
                                         data or {"amount": "5000", "category": "travel"})


def tamper_body(cli: Cli, seq: int, old: bytes, new: bytes) -> None:
    """Edit one stored entry's content (not its hash) through a second connection."""
    conn = cli.raw()
    drop_audit_triggers(conn)
    body = bytes(conn.execute("SELECT body FROM audit_log WHERE seq = ?", (seq,)).fetchone()[0])
    assert old in body
    conn.execute("UPDATE audit_log SET body = ? WHERE seq = ?", (body.replace(old, new), seq))
    conn.close()


@pytest.fixture
def cli_factory(tmp_path):
    """More databases beside the main one (each in its own directory with its own key file)."""
    def make(name: str) -> Cli:
        root = tmp_path / name
        root.mkdir()
        return Cli(root)
    return make


def seq_of(cli: Cli, action: str) -> int:
    """The sequence number of the first audit entry with this action."""
    with cli.service() as s:
        return next(e.seq for e in s.iter_audit() if e.action == action)
