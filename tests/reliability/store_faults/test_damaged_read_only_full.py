"""A damaged file (not "the wrong key"), read-only mounts, directories and files, a full disk."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from hitl_tui.core.errors import DatabaseDamaged, DiskFull, StoreReadOnly, WrongKey
from hitl_tui.core.service import WorkflowService

from .fault_desk import Desk, needs_root, nothing_written


# --- 1. a truncated or corrupt file is damaged, not "the wrong key" ---------------------------

def _truncate_to_page_1(db: Path) -> None:
    os.truncate(db, 4096)


def _overwrite(offset: int):
    def spoil(db: Path) -> None:
        with open(db, "r+b") as fh:
            fh.seek(offset)
            fh.write(b"\xa5" * 200)
    return spoil


@pytest.mark.parametrize("spoil", [_truncate_to_page_1, _overwrite(4096 + 100), _overwrite(1000)],
                         ids=["truncated-after-page-1", "page-2-corrupt", "page-1-corrupt"])
def test_a_damaged_database_is_named_damaged(desk, spoil):
    spoil(desk.db)
    before = desk.db.read_bytes()
    line = desk.refused("users", "list")
    nothing_written(line, desk.db)
    assert "is damaged" in line and "Restore it from a backup" in line
    with pytest.raises(DatabaseDamaged):
        with WorkflowService.open(desk.db, key=desk.key, create=False) as svc:
            svc.list_users()
    assert desk.db.read_bytes() == before


def test_the_wrong_key_is_still_the_wrong_key_and_names_where_it_came_from(desk, tmp_path):
    other = tmp_path / "other.key"
    other.write_text(os.urandom(32).hex())
    other.chmod(0o600)
    line = desk.refused("users", "list", env={"HITL_DB_KEY_FILE": str(other)})
    assert f"The key in {other} (HITL_DB_KEY_FILE) does not open {desk.db}" in line
    assert "the wrong key for this database" in line
    with pytest.raises(WrongKey, match="wrong key"):
        WorkflowService.open(desk.db, key=os.urandom(32), create=False)


# --- 2. read-only: a mount, a directory, a file ----------------------------------------------

def test_a_read_only_mount_is_named_with_its_mount_point(desk, mounted):
    mounted("--bind", "-o", "ro", str(desk.root), point=desk.root)
    for args in (("users", "list"), ("users", "add", "bob", "--role", "manager")):
        line = desk.refused(*args)
        nothing_written(line, desk.db)
        assert f"is on a read-only filesystem (mounted at {desk.root})" in line and "remount,rw" in line
    with pytest.raises(StoreReadOnly, match="read-only filesystem"):
        WorkflowService.open(desk.db, key=desk.key, create=False)


@needs_root
def test_a_directory_this_account_cannot_write(desk):
    desk.root.chmod(0o555)
    try:
        line = desk.refused("users", "list", ordinary=True)
    finally:
        desk.root.chmod(0o755)
    nothing_written(line, desk.db)
    assert f"The directory {desk.root} (owner root:root, mode 0555) is not writable" in line
    assert f"chmod u+w {desk.root}" in line


@needs_root
def test_a_database_file_this_account_cannot_write_still_reads(desk):
    desk.db.chmod(0o444)
    assert "it_admin" in desk.ok("users", "list", ordinary=True).stdout  # reads need no write access
    line = desk.refused("users", "add", "bob", "--role", "manager", ordinary=True)
    nothing_written(line, desk.db)
    assert "(owner root:root, mode 0444) is read-only for this account" in line
    assert f"chmod u+w {desk.db}" in line
    desk.db.chmod(0o600)
    assert "bob" not in desk.usernames()


@needs_root
def test_a_database_file_this_account_cannot_read(desk):
    desk.db.chmod(0o000)
    line = desk.refused("users", "list", ordinary=True)
    nothing_written(line, desk.db)
    assert "(owner root:root, mode 0000) cannot be read by this account" in line
    assert f"chmod 600 {desk.db}" in line


def test_a_directory_given_as_the_database_names_no_option(desk):
    """click's own path check said "Invalid value for '--db'" even for HITL_DB_PATH."""
    line = desk.refused("users", "list", env={"HITL_DB_PATH": str(desk.root)})
    assert line == f"hitl-tui: {desk.root} is a directory, not a hitl-tui database."


@needs_root
def test_after_reading_a_0400_database_chmod_600_makes_it_writable_again(desk):
    """A read of a 0400 database leaves 0400 -wal/-shm behind (SQLite copies the database's
    mode); they must not lock out the writes that `chmod 600` on the database allows."""
    desk.db.chmod(0o400)
    desk.ok("users", "list", ordinary=True)
    leftovers = [p for p in (Path(f"{desk.db}-wal"), Path(f"{desk.db}-shm")) if p.exists()]
    assert leftovers and all(p.stat().st_mode & 0o777 == 0o400 for p in leftovers)  # what SQLite did
    desk.db.chmod(0o600)
    desk.ok("users", "add", "bob", "--role", "manager", ordinary=True)
    assert "bob" in desk.ok("users", "list", ordinary=True).stdout
    for side in leftovers:
        assert not side.exists() or side.stat().st_mode & 0o777 == 0o600


# --- 3. a full disk ------------------------------------------------------------------------

def fill(directory: Path) -> Path:
    """Write a file until the filesystem has no byte left."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (1 << 16, 1 << 12, 1 << 9, 1):
            while True:
                try:
                    os.write(fd, b"\0" * chunk)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
                    break
    finally:
        os.close(fd)
    return filler


@pytest.fixture
def small_disk(mounted, tmp_path, made_by_init) -> Desk:
    root = mounted("-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", point=tmp_path / "full")
    d = Desk(root)
    made_by_init.copy_to(d)
    return d


def test_a_full_disk_with_the_database_idle(small_disk):
    filler = fill(small_disk.root)
    for args in (("users", "list"), ("users", "add", "bob", "--role", "manager")):
        line = small_disk.refused(*args)
        nothing_written(line, small_disk.db)
        assert "is full (no space left)" in line and f"df -h {small_disk.root}" in line
    filler.unlink()
    assert "bob" not in small_disk.ok("users", "list").stdout  # and the database is fine


def test_a_full_disk_with_the_database_in_use(small_disk):
    """The write fails inside its transaction; SQLite has already rolled back, and the error
    must be the full disk, not "cannot rollback - no transaction is active"."""
    with WorkflowService.open(small_disk.db, key=small_disk.key, create=False) as svc:
        size = svc.audit_size()
        filler = fill(small_disk.root)
        line = small_disk.refused("users", "add", "bob", "--role", "manager")
        nothing_written(line, small_disk.db)
        assert "is full" in line and "rollback" not in line
        with pytest.raises(DiskFull, match="nothing was written"):
            svc.add_user("carol", "manager")
        filler.unlink()
        assert svc.audit_size() == size  # nothing half-written, and the connection still works
        svc.add_user("dave", "manager")
        assert {u.username for u in svc.list_users()} >= {"dave"}
        assert not {"bob", "carol"} & {u.username for u in svc.list_users()}
