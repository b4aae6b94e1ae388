"""`hitl-tui doctor` in team mode: the service, checked from this account (doctor.py runs these
first, then the database checks where this account has one). Each check reports through
doctor.Report, one `ok` or `FIX` line."""

from __future__ import annotations

import os
import socket
import stat
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import click

from ..core.errors import HitlError
from .common import me, settings_of
from .doctor import ANSWER_TIMEOUT_S, _LOG_HINT, Report, _check_personal_key, _one_line, _q, _verify

if TYPE_CHECKING:
    from ..core.personal_keys import KeyStore
    from ..remote.client import RemoteService


# --- team mode: the service, from this account ---------------------------------------------------

def _start_hint(path: Path) -> str:
    from ..remote.protocol import SYSTEM_SOCKET

    if str(path) == SYSTEM_SOCKET:
        return "start it with `sudo systemctl start hitl-tui` (why it stopped: `journalctl -u hitl-tui`)"
    return f"start it on the service's account with `hitl-tui serve --socket {_q(path)}` (and its --db, --group)"


def check_service(report: Report, ctx: click.Context, path: Path, chosen_by: str, *, quick: bool) -> None:
    where = f"{path} (from {chosen_by})"
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        report.fix(f"the hitl-tui service is not running: there is no socket at {where}", _start_hint(path))
        report.skip()
        return
    except PermissionError:
        mode = None  # its directory is closed to this account: the group check says why
    except OSError as exc:
        report.fix(f"cannot look at the socket {where} ({exc.strerror})", _start_hint(path))
        report.skip()
        return
    if mode is not None and not stat.S_ISSOCK(mode):
        report.fix(f"{where} is not a socket", "name the service's socket (`hitl-tui serve` logs where it listens)")
        report.skip()
        return
    may_connect = _check_group(report, path, mode)
    connected = _connect(report, ctx, path, where, group_failed=not may_connect)
    if connected is None:
        report.skip()
        return
    remote, sock = connected
    with remote:
        timed_out = threading.Event()
        try:
            with _answered_within(sock, ANSWER_TIMEOUT_S, timed_out):
                if not _check_directory(report, remote):
                    report.skip()
                    return
                _check_personal_key(report, remote, remote.username)
        except HitlError as exc:  # the connection went while asking
            why = f"did not answer within {ANSWER_TIMEOUT_S:g} s" if timed_out.is_set() else _one_line(exc)
            report.fix(f"the service at {where} stopped answering ({why})", _LOG_HINT)
            report.skip()
            return
        if quick:
            report.chain_skipped = True
            return
        _verify(report, remote.verify_audit)


def _check_group(report: Report, path: Path, mode: int | None) -> bool:
    """Is this account let in by the socket's mode (owner, group, others)? False after a FIX line."""
    import grp
    import pwd

    try:
        st = os.stat(path) if mode is not None else os.stat(path.parent)
    except OSError:
        return True  # nothing to go by: connecting says what is wrong
    if os.geteuid() == 0 or st.st_uid == os.geteuid() or (mode is not None and mode & 0o002):
        report.ok(f"this account may connect to {path}")
        return True
    try:
        group = grp.getgrgid(st.st_gid)
        name = group.gr_name
        listed = me() in group.gr_mem or pwd.getpwuid(os.geteuid()).pw_gid == st.st_gid
    except KeyError:
        name, listed = str(st.st_gid), False
    if st.st_gid == os.getegid() or st.st_gid in os.getgroups():
        report.ok(f"this account is in group {name}, which may connect to {path}")
        return True
    if listed:  # added to the group after this login began: the kernel still has the old list
        report.fix(f"{me()} was added to group {name} after this login began, so it cannot connect to {path} yet",
                   f"log out and in again (or run `newgrp {name}`)")
        return False
    report.fix(f"{me()} is not in group {name}, whose members may connect to {path}",
               f"a system administrator runs `sudo usermod -aG {name} {me()}`; then log in again "
               f"(a new login is needed)")
    return False


@contextmanager
def _answered_within(sock: socket.socket, seconds: float, timed_out: threading.Event) -> Iterator[None]:
    """Cut the connection if the service has not answered within `seconds` (a hung service must
    not hang the doctor): the call waiting then fails, and `timed_out` says why."""
    def cut() -> None:
        timed_out.set()
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    timer = threading.Timer(seconds, cut)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _connect(report: Report, ctx: click.Context, path: Path, where: str, *,
             group_failed: bool) -> "tuple[RemoteService, socket.socket] | None":
    """The service, connected and greeted, and its socket; None after a FIX line (or none, when
    the group's FIX line already says why the door is shut)."""
    from ..remote.client import RemoteService
    from ..remote.connection import ServiceConnection

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(ANSWER_TIMEOUT_S)  # for connecting only; the client reads without a limit
    try:
        sock.connect(str(path))
        sock.settimeout(None)
    except (FileNotFoundError, ConnectionRefusedError):
        sock.close()
        report.fix(f"the hitl-tui service is not running: nobody listens on {where}", _start_hint(path))
        return None
    except PermissionError:
        sock.close()
        if not group_failed:
            report.fix(f"this account may not connect to {where} (permission denied)",
                       "ask an administrator to add it to the socket's group, then log in again")
        return None
    except OSError as exc:
        sock.close()
        report.fix(f"cannot reach the service at {where} ({exc.strerror or exc})", _start_hint(path))
        return None
    timed_out = threading.Event()
    try:
        with _answered_within(sock, ANSWER_TIMEOUT_S, timed_out):
            remote = RemoteService(ServiceConnection(sock, path), settings_of(ctx))
    except HitlError as exc:
        sock.close()
        why = f"did not answer within {ANSWER_TIMEOUT_S:g} s" if timed_out.is_set() else f"refused: {_one_line(exc)}"
        report.fix(f"the service at {where} {why}", _LOG_HINT)
        return None
    report.ok(f"the hitl-tui service answers at {where}: version {remote.service_version}, "
              f"database {remote.database_id}")
    return remote, sock


def _check_directory(report: Report, remote: "RemoteService") -> bool:
    """Is this account a member of the service's directory (what the service says, by the kernel's uid)?"""
    identity = remote.call("whoami")
    name = str(identity["username"])
    if not identity.get("in_directory"):
        key = _newest_public_key(remote.personal_keys, name)
        report.fix(f"{name} is not in the service's user directory",
                   f"on this account run `hitl-tui key show`; a directory administrator then adds you with "
                   f"`hitl-tui users add {name} --role ROLE --key {key}`")
        return False
    if not identity.get("active"):
        report.fix(f"{name} is deactivated in the service's user directory",
                   f"a directory administrator runs `hitl-tui users reactivate {name}`")
        return True  # the key is still theirs to check
    report.ok(f"{name} is in the service's user directory (role {identity.get('role')})")
    return True


def _newest_public_key(store: "KeyStore", name: str) -> str:
    try:
        newest = store.newest(name)
    except HitlError:
        newest = None
    return newest.public_key if newest is not None else "<the key it prints>"
