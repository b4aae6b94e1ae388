"""CLI fixtures: the real `main_group` on a real encrypted database with a 0600 key file.

Every CLI command acts as the OS login running the tests (`me`); the rest of the seed's cast is
added through the engine so that other people can file and decide requests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlcipher3
from click.testing import CliRunner

from hitl_tui.cli import main_group
from hitl_tui.core.audit import os_login
from hitl_tui.core.service import WorkflowService
from tests.cast import SEED_CAST
from tests.attacker import drop_audit_triggers

CAST = SEED_CAST
ME = os_login()


class Cli:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.db = root / "hitl.db"
        self.key_file = root / "db.key"
        self.env = {"HITL_DB_PATH": str(self.db), "HITL_DB_KEY_FILE": str(self.key_file)}
        self.runner = CliRunner()

    def __call__(self, *args: str, env: dict | None = None, input: str | None = None):
        # catch_exceptions=False: an exception escaping a command (a traceback) fails the test
        return self.runner.invoke(main_group, list(args), env={**self.env, **(env or {})}, input=input,
                                  catch_exceptions=False)

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
