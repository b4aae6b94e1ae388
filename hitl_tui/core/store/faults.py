"""Why the database could not be opened or written, told from its files and their filesystem.

The driver says what failed ("unable to open database file", "attempt to write a readonly
database", "disk I/O error", "database is locked"), never why. Each check here looks at one
possible cause (a read-only mount, a full disk, a directory or file this account may not write,
-wal/-shm files of another account, another process holding the write lock) and returns one line
that names the file, says that nothing was written, and gives the fix; None when it is not that.

Linux-first: /proc and statvfs are read where they exist; elsewhere the checks find nothing and
the caller's plainer message stands.
"""

from __future__ import annotations

import errno
import os
import shlex
from pathlib import Path
from typing import Callable, Literal, overload

from ..errors import DiskFull, StoreBusy, StoreError, StoreReadOnly, WalFilesForeign

#: the wait this process's connections use, per database path (open_connection notes it), so
#: that "did not let go within N s" says the wait that was really used
_BUSY_TIMEOUTS: dict[str, float] = {}
SIDECAR_SUFFIXES = ("-wal", "-shm")
#: SQLite's WAL write lock: byte 120 of the -shm file (WALINDEX_LOCK_OFFSET, slot 0)
_WAL_WRITE_LOCK_BYTE = 120
#: below this much free space a failed write is put down to a full disk
_NEARLY_FULL = 64 * 1024
# driver error names after which the filesystem is worth a look (a wrong key is NOTADB: never)
_FILESYSTEM_ERRORS = ("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_FULL", "SQLITE_PERM")


def busy_timeout(path: Path | str | None = None) -> float:
    """How long a connection waits for another writer's lock, in seconds: the wait the
    connection to `path` was opened with, else the busy_timeout setting (HITL_BUSY_TIMEOUT, the
    config file; settings.py checks it)."""
    if path is not None and str(path) in _BUSY_TIMEOUTS:
        return _BUSY_TIMEOUTS[str(path)]
    from ..errors import SettingsInvalid
    from ..settings import BUSY_TIMEOUT_S, Settings

    try:
        return Settings.load().busy_timeout
    except SettingsInvalid:  # only ever asked while explaining another error: never hide it
        return BUSY_TIMEOUT_S


def note_busy_timeout(path: Path | str, seconds: float) -> None:
    _BUSY_TIMEOUTS[str(path)] = seconds


def error_name(exc: BaseException) -> str:
    """SQLITE_BUSY, SQLITE_READONLY_CANTINIT, ...; '' when the driver gave none."""
    return str(getattr(exc, "sqlite_errorname", "") or "")


def sidecars(path: Path) -> list[Path]:
    return [Path(f"{path}{suffix}") for suffix in SIDECAR_SUFFIXES]


def q(path: Path | str) -> str:
    """A path as it would be typed in a shell command."""
    return shlex.quote(str(path))


def _owner(st: os.stat_result) -> str:
    import grp
    import pwd

    try:
        user = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        user = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return f"{user}:{group}"


def _me() -> str:
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


def _mode(st: os.stat_result) -> str:
    return f"{st.st_mode & 0o777:04o}"


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK, effective_ids=os.access in os.supports_effective_ids)


# --- before opening: -wal/-shm left with a mode that locks out the database's own writers ----

def repair_sidecar_modes(path: Path) -> None:
    """Give our own -wal/-shm the database's mode again.

    SQLite creates them with the database's mode at that moment: a read of a 0400 database
    leaves 0400 -wal/-shm behind (a read-only connection cannot remove them), and after
    `chmod 600` on the database every write then fails. SQLite's rule is "the same mode as the
    database", so restoring it is always right; files of other accounts are left alone (and
    reported by foreign_sidecar if they get in the way)."""
    try:
        db_mode = path.stat().st_mode & 0o777
    except OSError:
        return
    if not _writable(path):
        return  # a read-only database: its sidecars may well stay read-only too
    for side in sidecars(path):
        try:
            st = os.stat(side, follow_symlinks=False)
            if st.st_uid == os.geteuid() and (st.st_mode & 0o777) != db_mode and os.path.isfile(side):
                os.chmod(side, db_mode)
        except OSError:
            pass  # gone meanwhile, or not ours to change: the checks below say so if it matters


# --- after a failure: which cause it was -------------------------------------------------------

def diagnose(path: Path, exc: BaseException) -> StoreError | None:
    """The filesystem-level cause of a driver error on `path`, if one can be seen."""
    name, text = error_name(exc), str(exc)
    full = name.startswith("SQLITE_FULL") or "database or disk is full" in text
    readonly = name.startswith("SQLITE_READONLY") or "readonly" in text
    opening = name.startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN")) or "disk I/O" in text or "unable to open" in text
    if not (full or readonly or opening or name.startswith("SQLITE_PERM")):
        return None  # a wrong key, a damaged page, a constraint...: not the filesystem
    path = Path(path)
    checks: list[Callable[[Path], StoreError | None]] = [read_only_filesystem, database_not_readable]
    if full:
        checks.append(lambda p: disk_full(p, certain=True))
    elif opening:  # SQLite reports a -shm it could not grow on a full disk as an I/O error
        checks.append(disk_full)
    checks.append(directory_not_writable)
    if readonly:  # a read-only database file is a cause only when something tried to write it
        checks.append(database_not_writable)
    checks.append(foreign_sidecar)
    for check in checks:
        found = check(path)
        if found is not None:
            return found
    return None


def _mount_point(path: Path) -> Path:
    """The mount point holding `path`: the longest one in /proc/self/mounts that contains it
    (a bind mount shares its device number with the filesystem it shows, so st_dev cannot tell)."""
    path = path.resolve()
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        lines = []
    best = Path("/")
    for line in lines:
        fields = line.split()
        if len(fields) < 2:
            continue
        point = Path(fields[1].encode().decode("unicode_escape"))  # \040 for a space, ...
        if (path == point or point in path.parents) and len(point.parts) > len(best.parts):
            best = point
    return best


def read_only_filesystem(path: Path) -> StoreReadOnly | None:
    try:
        if not os.statvfs(path.parent).f_flag & os.ST_RDONLY:
            return None
        mount = _mount_point(path.parent)
    except (OSError, AttributeError):
        return None
    return StoreReadOnly(
        f"{path} is on a read-only filesystem (mounted at {mount}), and SQLite must write its "
        f"-wal and -shm files beside it, even to read; nothing was written. Remount it read-write "
        f"(`mount -o remount,rw {q(mount)}`), or copy the database (and its .salt file, if any) "
        f"to a writable place and use that."
    )


@overload
def disk_full(path: Path, *, certain: Literal[True]) -> DiskFull: ...
@overload
def disk_full(path: Path, *, certain: bool = False) -> DiskFull | None: ...
def disk_full(path: Path, *, certain: bool = False) -> DiskFull | None:
    """The filesystem holding `path` is full (or, when not `certain`, nearly so); `certain`: the
    driver said so, so it is the cause even when the free space cannot be read."""
    try:
        st = os.statvfs(path.parent)
    except OSError:
        if not certain:
            return None
        free = None
    else:
        free = st.f_bavail * st.f_frsize
        if not certain and free >= _NEARLY_FULL:
            return None
    left = "no space" if not free else f"only {free:,} bytes"
    return DiskFull(
        f"The filesystem holding {path} is full ({left} left); nothing was written. Free some "
        f"space there (`df -h {q(path.parent)}`) and try again."
    )


def directory_not_writable(path: Path) -> StoreReadOnly | None:
    """The -wal/-shm are missing and this account may not create them."""
    directory = path.parent
    if all(s.exists() for s in sidecars(path)) or _writable(directory):
        return None
    try:
        st = directory.stat()
    except OSError:
        return None
    return StoreReadOnly(
        f"The directory {directory} (owner {_owner(st)}, mode {_mode(st)}) is not writable for "
        f"this account ({_me()}), and SQLite must create {path.name}-wal and {path.name}-shm "
        f"there, even to read {path}; nothing was written. Give this account write access to "
        f"it (for example `chmod u+w {q(directory)}`, or a shared group with `chmod g+ws "
        f"{q(directory)}`), or copy the database to a directory you can write."
    )


def database_not_writable(path: Path) -> StoreReadOnly | None:
    try:
        st = path.stat()
    except OSError:
        return None
    if _writable(path):
        return None
    if st.st_uid == os.geteuid():
        fix = f"make it writable with `chmod u+w {q(path)}`"
    else:
        fix = (f"ask its owner to give this account write access (for a shared database: a "
               f"common group and `chmod 660 {q(path)}`)")
    return StoreReadOnly(
        f"{path} (owner {_owner(st)}, mode {_mode(st)}) is read-only for this account "
        f"({_me()}); nothing was written. To change it, {fix}."
    )


def database_not_readable(path: Path) -> StoreReadOnly | None:
    if not path.exists() or os.access(path, os.R_OK, effective_ids=os.access in os.supports_effective_ids):
        return None
    return unreadable(path, PermissionError(errno.EACCES, os.strerror(errno.EACCES)))


def unreadable(path: Path, err: OSError) -> StoreReadOnly:
    try:
        st = path.stat()
        whose, mine = f" (owner {_owner(st)}, mode {_mode(st)})", st.st_uid == os.geteuid()
    except OSError:
        whose, mine = "", False
    fix = (f"Make it yours to read and write again with `chmod 600 {q(path)}`" if mine else
           "Ask its owner for access (for a shared database: a common group and mode 0660)")
    return StoreReadOnly(
        f"{path}{whose} cannot be read by this account ({_me()}): {err.strerror}; nothing was "
        f"written. {fix}."
    )


def _unusable_sidecar(path: Path) -> Path | None:
    for side in sidecars(path):
        try:
            fd = os.open(side, os.O_RDWR | getattr(os, "O_NOFOLLOW", 0))
        except PermissionError:
            return side
        except OSError:  # missing (SQLite creates it), or some other trouble the driver names
            continue
        os.close(fd)
    return None


def foreign_sidecar(path: Path) -> WalFilesForeign | None:
    """A -wal/-shm this account cannot open read-write (another account's, a wrong group)."""
    side = _unusable_sidecar(path)
    if side is None:
        return None
    try:
        st = os.stat(side, follow_symlinks=False)
    except OSError:
        return None
    try:
        db = path.stat()
        want_owner, want_mode = _owner(db), _mode(db)
    except OSError:
        want_owner, want_mode = "OWNER:GROUP", "0660"
    both = " ".join(q(s) for s in sidecars(path))
    return WalFilesForeign(
        f"{side} belongs to {_owner(st)} with mode {_mode(st)}, so this account ({_me()}) cannot "
        f"use {path}; nothing was written. Give both files the database's owner and mode (as root: "
        f"`chown {want_owner} {both} && chmod {want_mode} {both}`); in a directory shared by a "
        f"group, also `chmod g+s {q(path.parent)}` so that new files take the directory's group."
    )


# --- another writer --------------------------------------------------------------------------

def busy(path: Path, waited: float | None = None) -> StoreBusy:
    waited = busy_timeout(path) if waited is None else waited
    holders = lock_holders(Path(path))
    if holders:
        who = f"{', '.join(holders)} holds its write lock"
    else:
        who = "another connection holds its write lock"
    return StoreBusy(
        f"{path} is busy: {who} and did not let go within {waited:g} s; nothing was written. "
        f"Try again when it has finished."
    )


def lock_holders(path: Path) -> list[str]:
    """'pid 123 (hitl-tui)' for whoever holds the WAL write lock, else for every other process
    that has the database open; [] when /proc says nothing."""
    pids = _wal_writer_pids(path) or _pids_with_open(path)
    out = []
    for pid in sorted(pids):
        if pid == os.getpid():
            out.append(f"this process (pid {pid}, another connection)")
            continue
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            comm = "?"
        out.append(f"pid {pid} ({comm})")
    return out


def _wal_writer_pids(path: Path) -> set[int]:
    try:
        st = os.stat(f"{path}-shm")
        locks = Path("/proc/locks").read_text()
    except OSError:
        return set()
    inode = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    pids = set()
    for line in locks.splitlines():
        fields = line.split()
        if len(fields) < 8 or fields[1] == "->" or fields[3] != "WRITE" or fields[5] != inode:
            continue
        start, end = fields[6], fields[7]
        try:
            if int(start) <= _WAL_WRITE_LOCK_BYTE and (end == "EOF" or int(end) >= _WAL_WRITE_LOCK_BYTE):
                pids.add(int(fields[4]))
        except ValueError:
            continue
    return pids


def _pids_with_open(path: Path) -> set[int]:
    try:
        targets = {str(path.resolve()), str(path.resolve()) + "-wal"}
        procs = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return set()
    pids = set()
    for pid in procs:
        if int(pid) == os.getpid():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") in targets:
                    pids.add(int(pid))
                    break
            except OSError:
                continue
    return pids
