"""`hitl-tui doctor`: check a deployment and say what to fix, one line each.

Each check prints `ok    <what holds>` or `FIX   <what is wrong>: <the fix>`; a check that needs
an earlier one (the directory needs the service to answer, the chain needs the key) is not run
when that one failed, so one cause gives one FIX line. The last line sums up; exit 0 when every
check passed, 1 when something needs fixing.

What is checked is what the commands of this account would use: in team mode (a socket chosen,
as commands.common.team_server chooses it) the service, from this account; otherwise the
database itself (embedded mode, or the service account on its own database). `--db` given with
a socket checks both, for the service account on the service's host.

The doctor fixes nothing itself: it never makes a key, seals a checkpoint or changes a mode; the
FIX lines say what to run. It never prints a secret (paths, key ids and public keys only).
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import click

from ..core.errors import HitlError
from .common import db_path, guarded, me, passphrase_prompt, progress_printer, safe, settings_of, team_server

if TYPE_CHECKING:
    from ..core.models import VerifyResult
    from ..core.personal_keys import KeyStore
    from ..core.service import WorkflowService
    from ..core.settings import Settings

#: below either, the disk is reported: a full disk stops every write (and every seal)
LOW_DISK_BYTES = 100 * 1024 * 1024
LOW_DISK_FRACTION = 0.05
#: how long the service may take to say hello and who this account is (not the chain check)
ANSWER_TIMEOUT_S = 15.0

_LOG_HINT = "see the service's log (`journalctl -u hitl-tui`, or its terminal)"
_SLOW_NOTE = "checking the audit chain; this may take a while for a large trail (--quick skips it)"


def _q(path: Path | str) -> str:
    """A path as it goes into a command to copy: quoted when the shell needs it."""
    return shlex.quote(str(path))


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


class Report:
    """The lines, printed as they come (a slow check shows what is already known)."""

    def __init__(self) -> None:
        self.passed = 0
        self.to_fix = 0
        self.not_run = False
        self.chain_skipped = False

    def ok(self, text: str) -> None:
        self.passed += 1
        click.echo(f"ok    {safe(text)}")

    def fix(self, problem: str, fix: str) -> None:
        self.to_fix += 1
        click.echo(f"FIX   {safe(problem)}: {safe(fix)}")

    def skip(self) -> None:
        """Checks that depend on a failed one were not run (the summary says so)."""
        self.not_run = True

    def summary(self) -> str:
        total = self.passed + self.to_fix
        if self.to_fix:
            checks, needs = ("check" if total == 1 else "checks"), ("needs" if self.to_fix == 1 else "need")
            line = f"{self.to_fix} of {total} {checks} {needs} fixing"
            if self.not_run:
                line += f"; the checks that depend on {'them' if self.to_fix > 1 else 'it'} were not run"
        else:
            line = f"All {total} checks passed"
        if self.chain_skipped:
            line += "; the audit chain was not verified (--quick)"
        return line + "."


@click.command(short_help="Check this deployment and say what to fix, one line each.")
@click.option("--quick", is_flag=True,
              help="Skip verifying the audit chain (it re-hashes the whole trail: a while when it is large).")
@click.pass_context
@guarded
def doctor(ctx: click.Context, quick: bool) -> None:
    """Check this deployment and say what to fix, one line each ("ok" or "FIX ...: the fix");
    exit 0 when everything passed, 1 when something needs fixing. It fixes nothing itself:
    every fix is for you to run.

    In team mode (--server, HITL_SERVER, server = ... in the config file, or the system socket)
    it checks the service from this account: the socket answers, this account is in the
    socket's group and in the user directory, holds the signing key registered for it, and the
    chain verifies. Otherwise it checks the database: the files are private, the key is there
    and opens it, the checkpoint signing key, the OS keyring (personal_keys = "keyring"), free
    disk space, your signing key, and the chain. Give --db as well as --server to check both
    (on the service's account).

    \b
    Examples:
      hitl-tui doctor
      hitl-tui doctor --quick                      # without the chain check
      hitl-tui --db /var/lib/hitl-tui/hitl.db doctor
    """
    from .doctor_service import check_service  # team mode's checks (it imports this module's)

    report = Report()
    team = team_server(ctx)
    if team is not None:
        check_service(report, ctx, *team, quick=quick)
    if team is None or (ctx.find_root().obj or {}).get("db_path"):
        _check_database(report, ctx, quick=quick, my_key_checked=team is not None)
    click.echo(report.summary())
    ctx.exit(1 if report.to_fix else 0)


# --- the account's own signing key (both modes) --------------------------------------------------

def _store_place(store: "KeyStore", name: str) -> str:
    if store.backend == "keyring":
        return "the OS keyring"
    return str(store.path(name))


def _check_personal_key(report: Report, service: Any, name: str) -> None:
    """`name` has a signing key registered and this account's key store holds it. `service`:
    the engine or the RemoteService (the same two methods)."""
    store: KeyStore = service.personal_keys
    if store.backend == "keyring" and not _check_keyring(report, 'personal_keys = "keyring"'):
        report.skip()  # the key store is in there
        return
    kid = service.user_key_ids().get(name)
    if not kid:
        report.fix(f"no signing key is registered for {name}, so {name} cannot sign decisions",
                   "run `hitl-tui key show` on this account; a directory administrator runs the "
                   "`hitl-tui users key register` line it prints")
        return
    try:
        held = store.find(name, kid)
    except HitlError as exc:
        report.fix(f"{name}'s signing key store cannot be read", _one_line(exc))
        return
    if held is None:
        report.fix(f"{name}'s registered signing key {kid} is not held by this account ({_store_place(store, name)})",
                   "restore it from a backup, or run `hitl-tui key new` and have a directory administrator "
                   "register the key it prints")
        return
    state = "protected by a passphrase" if held.protected else "no passphrase"
    report.ok(f"{name}'s registered signing key {kid} is held by this account ({_store_place(store, name)}; {state})")


def _check_keyring(report: Report, why: str) -> bool:
    from ..core.os_keyring import keyring_backend_status

    usable, description = keyring_backend_status()
    if not usable:
        report.fix(f"{why}, but the OS keyring is not reachable ({description})",
                   "unlock it or run inside a desktop session, or set personal_keys = \"file\" in the config file")
        return False
    report.ok(f"the OS keyring is reachable ({description})")
    return True


# --- the database itself (embedded mode, the service account) ------------------------------------

def _check_database(report: Report, ctx: click.Context, *, quick: bool, my_key_checked: bool) -> None:
    from .serve import with_credential  # systemd's credential, exactly as `serve` takes it

    settings = with_credential(settings_of(ctx))
    path = db_path(ctx)
    try:
        os.stat(path)
    except FileNotFoundError:
        report.fix(f"there is no database at {path} ({settings.where('db_path')})",
                   "create it with `hitl-tui init`, or name yours with --db or HITL_DB_PATH")
        report.skip()
        return
    except OSError as exc:
        report.fix(f"this account cannot read {path} ({exc.strerror})",
                   "run the doctor on the account that owns it (in team mode: the service account)")
        report.skip()
        return
    _check_file_modes(report, path)
    _check_disk(report, path)
    service = _open(report, path, settings)
    if service is None:
        report.skip()
        return
    try:
        _check_signing_key(report, service, settings)
        if not my_key_checked:  # (through the service just now: the same key store)
            _check_my_key(report, service, settings)
        if quick:
            report.chain_skipped = True
            return
        _verify(report, lambda: service.verify_audit(progress=progress_printer("verifying")))
    finally:
        service.close(checkpoint=False)  # the doctor seals nothing (it would make the signing key)


def _check_my_key(report: Report, service: "WorkflowService", settings: "Settings") -> None:
    """This account's own signing key, when it is one of the directory's people (a team's
    service account need not be); the keyring it would live in, either way."""
    if service.find_user(me()) is not None:
        _check_personal_key(report, service, me())
    elif settings.personal_keys == "keyring":
        _check_keyring(report, 'personal_keys = "keyring"')


def _check_file_modes(report: Report, path: Path) -> None:
    """The database and its -wal/-shm: private to this account (0600). The key protects the
    content, but a readable file can be copied away and kept until the key leaks (a backup, an
    old key file after a rotation)."""
    files, wide = [], []
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            mode = file.stat().st_mode & 0o777
        except FileNotFoundError:  # no -wal/-shm while nobody has it open (or gone just now)
            continue
        files.append(file)
        if mode & 0o077:
            wide.append(file)
            report.fix(f"database file {file} is open to group or others (mode {mode:04o})", f"chmod 600 {_q(file)}")
    if not wide:
        names = ", ".join(str(f) for f in files)
        report.ok(f"database file{'s' if len(files) > 1 else ''} private to this account: {names}")


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover - the loop returns


def _check_disk(report: Report, path: Path) -> None:
    usage = shutil.disk_usage(path.parent)
    share = usage.free / usage.total if usage.total else 0.0
    text = f"{_size(usage.free)} free ({share:.0%}) on the filesystem of {path}"
    if usage.free < LOW_DISK_BYTES or share < LOW_DISK_FRACTION:
        report.fix(f"only {text}", "free some space there or move the database: a full disk stops every "
                                   "decision and every checkpoint (the doctor warns under 100 MiB or 5%)")
        return
    report.ok(text)


def _open(report: Report, path: Path, settings: "Settings") -> "WorkflowService | None":
    """The database opened with its key, as every command finds it; None after a FIX line."""
    from ..core.service import WorkflowService

    key_file = settings.db_key_file
    if key_file is not None:
        try:
            mode = key_file.stat().st_mode & 0o777
        except OSError:
            mode = None  # opening says it is missing
        if mode is not None and mode & 0o077:
            report.fix(f"key file {key_file} ({settings.where('db_key_file')}) is open to group or others "
                       f"(mode {mode:04o})", f"chmod 600 {_q(key_file)}")
            return None
    try:
        service = WorkflowService.open(path, passphrase_prompt=passphrase_prompt(path), create=False,
                                       operator=me(), settings=settings)
    except HitlError as exc:
        report.fix(f"cannot open {path} with its key", _one_line(exc))
        return None
    source = service.key_source
    how = f"{source.source}: {source.detail}" if source is not None else "given"
    report.ok(f"the database key opens {path} ({how})")
    return service


def _check_signing_key(report: Report, service: "WorkflowService", settings: "Settings") -> None:
    from ..core.checkpoints import load_signer, signing_key_path

    path = signing_key_path(service.database_id, settings)
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        report.fix(f"the checkpoint signing key {path} does not exist",
                   "restore it from a backup, or run `hitl-tui checkpoint` to make a new one (checkpoints signed "
                   "before still verify by the public key kept with them)")
        return
    except OSError as exc:
        report.fix(f"cannot read the checkpoint signing key {path} ({exc.strerror})",
                   "run the doctor on the account that owns it")
        return
    if mode & 0o077:
        report.fix(f"the checkpoint signing key {path} is open to group or others (mode {mode:04o})",
                   f"chmod 600 {_q(path)}")
        return
    try:
        load_signer(service.database_id, create=False, settings=settings)
    except HitlError as exc:  # empty or damaged: its message says how to move it aside
        report.fix(f"the checkpoint signing key {path} is unusable", _one_line(exc))
        return
    report.ok(f"the checkpoint signing key {path} is private to this account (mode {mode:04o})")


# --- the chain (both modes) ---------------------------------------------------------------------

def _verify(report: Report, verify: "Callable[[], VerifyResult]") -> None:
    """The whole chain re-hashed (the engine's or the service's verify_audit)."""
    if sys.stderr.isatty():
        click.echo(f"hitl-tui doctor: {_SLOW_NOTE}", err=True)
    try:
        result = verify()
    except HitlError as exc:
        report.fix(f"the audit chain could not be verified ({_one_line(exc)})", "run `hitl-tui verify-audit`")
        return
    if result.ok:
        report.ok(result.summary())
        return
    report.fix(result.summary(), "nothing repairs a broken chain and no checkpoint is signed over it: "
                                 "run `hitl-tui verify-audit` for the details and tell your auditor")
