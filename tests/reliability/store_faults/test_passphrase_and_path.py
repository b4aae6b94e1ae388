"""A passphrase database on a brand-new account and the wrong passphrase; where a missing
database's path came from (HITL_DB_PATH, --db, the default), also for the desk."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from pathlib import Path

import pytest

from hitl_tui.core.errors import WrongPassphrase
from hitl_tui.core.service import WorkflowService

from .fault_desk import HITL


# --- 6 and 7. passphrases ------------------------------------------------------------------

def test_passphrase_init_on_a_new_account_and_the_wrong_passphrase(tmp_path, monkeypatch):
    from hitl_tui.core.paths import data_dir

    env = {k: v for k, v in os.environ.items() if not k.startswith("HITL_")}
    assert not data_dir().exists()  # a brand-new account: not even the data directory
    made = subprocess.run([str(HITL), "init", "--role", "it_admin"], capture_output=True, text=True,
                          env={**env, "HITL_DB_PASSPHRASE": "correct horse"}, stdin=subprocess.DEVNULL)
    assert made.returncode == 0, made.stderr
    assert data_dir().stat().st_mode & 0o777 == 0o700
    db = data_dir() / "hitl.db"
    assert Path(f"{db}.salt").stat().st_mode & 0o777 == 0o600

    wrong = subprocess.run([str(HITL), "users", "list"], capture_output=True, text=True,
                           env={**env, "HITL_DB_PASSPHRASE": "wrong horse"}, stdin=subprocess.DEVNULL)
    assert wrong.returncode == 1
    assert wrong.stderr.strip() == (
        f"hitl-tui: The passphrase does not open {db}: it is the wrong passphrase for this database "
        f"(or {db}.salt is not the salt file it was created with); nothing was changed.")
    monkeypatch.setenv("HITL_DB_PASSPHRASE", "wrong horse")
    with pytest.raises(WrongPassphrase, match="wrong passphrase"):
        WorkflowService.open(db, create=False)


# --- 8. where the path came from -----------------------------------------------------------

def test_a_missing_database_names_where_its_path_came_from(tmp_path):
    from hitl_tui.core.paths import data_dir

    nowhere = tmp_path / "nowhere.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HITL_")}

    def line(*args: str, **extra: str) -> str:
        done = subprocess.run([str(HITL), *args, "users", "list"], capture_output=True, text=True,
                              env={**env, **extra}, stdin=subprocess.DEVNULL)
        assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1, done.stderr
        return done.stderr.strip()

    from_env = line(HITL_DB_PATH=str(nowhere))
    assert f"No database at {nowhere} (from HITL_DB_PATH);" in from_env and "--db" not in from_env
    assert "set HITL_DB_PATH to an existing database" in from_env
    from_option = line("--db", str(nowhere), HITL_DB_PATH=str(tmp_path / "other.db"))
    assert "HITL_DB_PATH" not in from_option and f"`hitl-tui --db {nowhere} init`" in from_option
    default = line()
    assert f"No database at {data_dir() / 'hitl.db'} (the default path)" in default
    assert "No key found" not in default  # the missing file is the cause, not the missing key


def test_the_desk_names_where_its_path_came_from(tmp_path):
    """`hitl-tui` with no command, on a terminal (a pty), before any key is looked for."""
    nowhere = tmp_path / "nowhere.db"
    master, slave = pty.openpty()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("HITL_")},
           "HITL_DB_PATH": str(nowhere), "TERM": "xterm-256color"}
    proc = subprocess.Popen([str(HITL)], stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert proc.wait(timeout=10) == 1
    text = out.decode(errors="replace").replace("\r", "")
    assert f"No database at {nowhere} (from HITL_DB_PATH)" in text, text
    assert "--db" not in text
