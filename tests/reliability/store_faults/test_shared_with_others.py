"""Another account's -wal/-shm, and another writer holding the database's write lock."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hitl_tui.core.errors import StoreBusy
from hitl_tui.core.service import WorkflowService

from .fault_desk import IS_ROOT, nothing_written


# --- 4. -wal/-shm of another account -------------------------------------------------------

@pytest.fixture
def throwaway_account():
    if not IS_ROOT:
        pytest.skip("creating an account needs root")
    name = f"hitlt{os.getpid() % 100000}"
    done = subprocess.run(["useradd", "--no-create-home", "--home-dir", "/nonexistent",
                           "--shell", "/usr/sbin/nologin", name], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"useradd refused: {done.stderr.strip()}")
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], check=False)


_WRITE_AND_DIE = """
import os, sys
from hitl_tui.core.service import WorkflowService
svc = WorkflowService.open(sys.argv[1], key=bytes.fromhex(sys.argv[2]), create=False)
svc.add_user("walter", "manager", actor="root")
os._exit(0)  # killed: the -wal (holding walter) and -shm stay behind
"""


def test_wal_and_shm_of_another_account(desk, throwaway_account):
    subprocess.run([sys.executable, "-c", _WRITE_AND_DIE, str(desk.db), desk.key.hex()], check=True,
                   env=desk.env)
    wal, shm = Path(f"{desk.db}-wal"), Path(f"{desk.db}-shm")
    assert wal.exists() and shm.exists()
    uid, gid, name = throwaway_account.pw_uid, throwaway_account.pw_gid, throwaway_account.pw_name
    for side, mode in ((wal, 0o600), (shm, 0o640)):
        os.chown(side, uid, gid)
        side.chmod(mode)
    for args in (("users", "list"), ("users", "add", "bob", "--role", "manager")):
        line = desk.refused(*args, ordinary=True)
        nothing_written(line, desk.db)
        assert f"{wal} belongs to {name}:" in line and "with mode 0600" in line, line
        assert f"chown root:root {wal} {shm}" in line and f"chmod g+s {desk.root}" in line
    for side in (wal, shm):  # the fix the line gives
        os.chown(side, 0, 0)
        side.chmod(0o600)
    listed = desk.ok("users", "list", ordinary=True).stdout
    assert "walter" in listed and "bob" not in listed  # the other account's committed work is kept


# --- 5. another writer holds the database --------------------------------------------------

_HOLD_WRITE_LOCK = """
import sys, sqlcipher3
conn = sqlcipher3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA key = \\"x'%s'\\"" % sys.argv[2])
conn.execute("BEGIN IMMEDIATE")
print("held", flush=True)
sys.stdin.read()  # until the test lets go
conn.execute("ROLLBACK")
"""


@pytest.fixture
def writer(desk):
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_WRITE_LOCK, str(desk.db), desk.key.hex()],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    yield holder
    holder.stdin.close()
    holder.wait(timeout=10)


def test_reads_do_not_wait_for_another_writer(desk, writer):
    started = time.monotonic()  # the default 15 s busy timeout applies: waiting would show
    assert "it_admin" in desk.ok("users", "list").stdout
    assert time.monotonic() - started < 10
    started = time.monotonic()
    with WorkflowService.open(desk.db, key=desk.key, create=False) as svc:  # open takes no write lock
        assert [u.username for u in svc.list_users()]
    assert time.monotonic() - started < 10


def test_a_write_past_the_busy_timeout_names_the_writer(desk, writer, monkeypatch):
    started = time.monotonic()
    line = desk.refused("users", "add", "bob", "--role", "manager", env={"HITL_BUSY_TIMEOUT": "1"})
    assert time.monotonic() - started < 10
    nothing_written(line, desk.db)
    assert f"is busy: pid {writer.pid} (" in line and "holds its write lock" in line and "within 1 s" in line
    monkeypatch.setenv("HITL_BUSY_TIMEOUT", "0.5")
    with WorkflowService.open(desk.db, key=desk.key, create=False) as svc:
        with pytest.raises(StoreBusy, match=f"pid {writer.pid} "):
            svc.add_user("bob", "manager")
        writer.stdin.close()
        writer.wait(timeout=10)
        svc.add_user("carol", "manager")  # the lock is free again: the same service writes
    names = desk.usernames()
    assert "carol" in names and "bob" not in names


def test_a_busy_timeout_that_is_not_a_number_is_refused(desk):
    line = desk.refused("users", "list", env={"HITL_BUSY_TIMEOUT": "soon"})
    assert "HITL_BUSY_TIMEOUT='soon' is not a number of seconds" in line
