"""What every operator command shares: opening the engine, acting as the OS login, one-line
errors, JSON output, and making user-supplied text safe to print on a terminal.

Exit status, for every command: 0 success; 1 refusal or error (one line on stderr, never a
traceback); 2 usage error (click); 3 the audit chain or an export failed verification.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import traceback
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Iterator

import click

from ..core.audit import os_login
from ..core.errors import HitlError
from ..core.text import neutralise
from ..remote.choice import choose_server, leave_team_mode

EXIT_ERROR = 1
EXIT_BROKEN = 3

# Bidirectional overrides and isolates can make a title display as something else entirely
# ("Trojan Source"); they are category Cf, so they are escaped with the control characters.
_KEEP_IN_MULTILINE = "\n\t"


class Failure(click.ClickException):
    """A refusal or error shown as `hitl-tui: <one line>` with the given exit status."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None) -> None:  # noqa: ARG002 - click's signature
        click.echo(f"hitl-tui: {safe(' '.join(self.message.split()))}", err=True)


def safe(value: Any, *, multiline: bool = False) -> str:
    """Text a user typed, neutralised for the terminal: control characters, ANSI escapes and
    invisible format characters become visible escapes (\\x1b, \\u202e), so a title can never
    move the cursor, recolour the screen or hide text. The rule is core's (text.neutralise),
    the same one every export format uses."""
    return neutralise("" if value is None else str(value), keep=_KEEP_IN_MULTILINE if multiline else "")


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot put {type(value).__name__} in JSON output")


def echo_json(data: Any) -> None:
    """Machine-readable output. ensure_ascii escapes every control and non-ASCII character, so
    JSON on a terminal is as safe as the plain text."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=True, default=_json_default))


def guarded(fn: Callable) -> Callable:
    """Turn every failure of a command into one line and an exit status (no traceback ever).

    cli.main() already does this for HitlError; doing it here too makes the commands behave the
    same under click.testing, the TUI or any other caller. Unexpected errors are logged with
    their traceback, but no request content, to the log directory (log_traceback); the debug
    setting (HITL_DEBUG=1, or debug = true in the config file) re-raises them instead.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, KeyboardInterrupt):
            raise
        except HitlError as exc:
            raise Failure(str(exc)) from None
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            raise Failure(f"{exc.strerror or exc}{where}; nothing more was done.") from None
        except Exception as exc:  # noqa: BLE001 - the promise is one line, never a traceback
            if _debug():
                raise
            raise Failure(f"unexpected error {type(exc).__name__}: {exc} ({log_traceback()})") from None

    return wrapper


def _debug() -> bool:
    """The debug setting of this command's settings (never raises: it decides how to report)."""
    try:
        return settings_of(click.get_current_context(silent=True)).debug
    except Exception:  # noqa: BLE001 - a setting that does not load cannot ask for tracebacks
        return False


def log_traceback() -> str:
    """Append the exception being handled to cli-errors.log in the log directory; say where.

    The log is private (0600, also when it existed wider) and holds no request content: the
    command's name (`request create`), never its arguments (titles, comments), and the frames
    and type of each exception but never its message, which may quote what the user typed."""
    try:
        from .. import __version__
        from ..core.paths import log_dir

        entry = (f"--- {datetime.now().astimezone().isoformat()} hitl-tui {__version__}: {_command_name()}\n"
                 f"{_frames_only(sys.exc_info()[1])}\n")
        path = log_dir() / "cli-errors.log"
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # O_NOFOLLOW: a symlink planted in the log directory cannot redirect the write
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            if os.fstat(fd).st_mode & 0o077:  # made by an older version, or under another umask
                os.fchmod(fd, 0o600)
            os.write(fd, entry.encode("utf-8", "backslashreplace"))
        finally:
            os.close(fd)
        return f"details in {path}"
    except Exception:  # noqa: BLE001 - the log is a courtesy; it must never hide the error itself
        return "set HITL_DEBUG=1 for details"


def _command_name() -> str:
    """`request create`: the names of the commands invoked (each one of ours, never user text)."""
    ctx = click.get_current_context(silent=True)
    names = []
    while ctx is not None and ctx.parent is not None:
        names.append(ctx.info_name or "?")
        ctx = ctx.parent
    return " ".join(reversed(names)) or "(no command)"


def _frames_only(exc: BaseException | None) -> str:
    """Like traceback.format_exception, chained exceptions included, without the messages."""
    parts: list[str] = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        kind = type(exc)
        parts.append("Traceback (most recent call last):\n"
                     + "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
                     + f"{kind.__module__}.{kind.__qualname__} (message not logged: it may quote request content)\n")
        if exc.__cause__ is not None:
            parts.append("\nThe above exception was the direct cause of the following exception:\n\n")
            exc = exc.__cause__
        elif exc.__context__ is not None and not exc.__suppress_context__:
            parts.append("\nDuring handling of the above exception, another exception occurred:\n\n")
            exc = exc.__context__
        else:
            exc = None
    return "".join(reversed(parts))  # oldest first, as Python prints them


# --- the engine ------------------------------------------------------------------------------

def settings_of(ctx: click.Context | None):
    """The Settings main_group built once for this invocation (with --db folded in), or this
    process's settings for a command invoked on its own (click's test runner)."""
    found = (ctx.find_root().obj or {}).get("settings") if ctx is not None else None
    if found is None:
        from ..core.settings import Settings

        found = Settings.load()
        if ctx is not None:
            ctx.find_root().ensure_object(dict)["settings"] = found
    return found


def db_path(ctx: click.Context) -> Path:
    """The database: --db, else the db_path setting (HITL_DB_PATH, the config file), else hitl.db
    in the data directory."""
    from ..core.paths import default_db_path

    explicit = (ctx.find_root().obj or {}).get("db_path")
    return Path(explicit).expanduser() if explicit else default_db_path(settings_of(ctx))


def passphrase_prompt(path: Path) -> Callable[[], str] | None:
    """Ask for a passphrase only when a person is at the terminal; scripts get a clear error."""
    if not sys.stdin.isatty():
        return None
    return lambda: click.prompt(f"Passphrase for {path}", hide_input=True, err=True)


# --- team mode: a `hitl-tui serve` service instead of the database -------------------------

#: the commands that work against a service so far (`hitl-tui <these words>`); every other one
#: says in one line that it is not available in team mode yet
TEAM_COMMANDS = frozenset({"key show", "key new", "key passphrase", "users list", "request create", "request list", "request show", "request types",
                           "approve", "reject", "request-changes", "withdraw", "verify-audit", "request resubmit",
                           # the administrators' (the service refuses anyone else with the engine's line)
                           "users add", "users set-role", "users deactivate", "users reactivate", "users set-admin",
                           "users key register", "users key revoke", "policy show", "policy diff", "policy apply",
                           "erase", "retention", "checkpoint", "rekey", "ask",
                           "export-audit", "prove",  # built and proven by the service (remote/exports.py)
                           "receipt", "verify-receipt",  # signed by the service's key (remote/approvals.py)
                           "token create", "token list", "token revoke",  # the HTTP API's (remote/tokens.py)
                           "delegate", "reassign",  # out of office, reassignment (remote/delegation_methods.py)
                           "stats",  # the desk's analytics (remote/desk_methods.py)
                           # notifications (remote/notify_methods.py); flush refuses: the service delivers itself
                           "notify webhook add", "notify webhook list", "notify webhook remove", "notify email set",
                           "notify email show", "notify retry", "notify prefs", "notify outbox", "notify flush"})
#: top-level commands that open the database themselves, never through open_service
_OPEN_THEIR_OWN = ("init",)


def team_server(ctx: click.Context) -> tuple[Path, str] | None:
    """(the service's socket, what chose it) in team mode, None in embedded mode: --server, else
    the server setting (HITL_SERVER, the config file), else the system service's socket when it
    exists and no database was named (--db, HITL_DB_PATH, db_path in the config file)."""
    root = ctx.find_root()
    return choose_server(settings_of(ctx), (root.obj or {}).get("server"), db_named=bool((root.obj or {}).get("db_path")))


def _not_in_team_mode(command: str | None, socket: Path, chosen_by: str) -> Failure:
    what = f"`hitl-tui {command}`" if command else "The desk"
    return Failure(f"{what} is not available in team mode yet (the service at {safe(socket)}, from "
                   f"{safe(chosen_by)}); run it on the service's account, or {leave_team_mode(chosen_by)}.")


def refuse_outside_team_mode(ctx: click.Context) -> None:
    """In team mode, refuse at once what never goes through open_service or team_desk: init."""
    invoked = ctx.invoked_subcommand
    if invoked is None or invoked not in _OPEN_THEIR_OWN:
        return  # the desk opens through team_desk
    team = team_server(ctx)
    if team is not None:
        raise _not_in_team_mode(invoked, *team)


def team_desk(ctx: click.Context) -> Any | None:
    """In team mode the desk's connection to the service (ServiceUnavailable, one line, when it
    cannot be reached); None in embedded mode, where the desk opens the database itself."""
    team = team_server(ctx)
    if team is None:
        return None
    from ..remote.client import RemoteService

    socket, chosen_by = team
    return RemoteService.connect(socket, settings=settings_of(ctx), unset_hint=leave_team_mode(chosen_by))


@contextmanager
def _remote_service(ctx: click.Context, socket: Path, chosen_by: str) -> Iterator[Any]:
    command = _command_name()
    if command not in TEAM_COMMANDS:
        raise _not_in_team_mode(command, socket, chosen_by)
    from ..remote.client import RemoteService
    from .keys import unlock_prompt

    service = RemoteService.connect(socket, settings=settings_of(ctx), unset_hint=leave_team_mode(chosen_by))
    service.set_key_unlock(unlock_prompt())  # a passphrase-protected signing key is asked for here
    try:
        yield service
    finally:
        service.close()


@contextmanager
def open_service(ctx: click.Context, *, writes: bool = False) -> Iterator[Any]:
    """The engine on the chosen database, or in team mode (team_server) the service that holds
    it (remote/client.py: the same methods, as this OS account). `writes=True` seals the session
    with a signed checkpoint once the command's work is done; read-only commands never sign (in
    team mode the service seals its own sessions).

    The command's own work and the seal are reported apart, because what committed stays
    committed: a seal that fails never turns a done action into "nothing was done". Its line
    comes after the command's own output (click runs it as the command's context closes):
    - the seal was REFUSED (the chain does not verify from this account's last trusted
      checkpoint, so nothing was signed): one line naming the first bad entry, exit status 3;
    - the seal could not be made (no usable signing key, a full disk): one warning line saying
      what was committed and why it was not sealed; the exit status stays the command's own.
    """
    team = team_server(ctx)
    if team is not None:
        with _remote_service(ctx, *team) as remote:
            yield remote
        return
    from ..core.service import WorkflowService

    path = db_path(ctx)
    service = WorkflowService.open(path, passphrase_prompt=passphrase_prompt(path), create=False,
                                   operator=me(), settings=settings_of(ctx))
    service.approvals.sweep_on_read()  # no service sweeps here: requests past their deadline expire now
    start = service.audit_size() if writes else 0
    from .keys import unlock_prompt

    service.set_key_unlock(unlock_prompt())  # a passphrase-protected signing key is asked for here
    try:
        yield service
    except BaseException:  # the command's own error is the one reported
        service.close(checkpoint=bool(writes and _session_entries(service, start)))
        raise
    try:
        done = _session_entries(service, start) if writes else []
        if done and not service.seal():  # a session that wrote nothing has nothing to seal
            _report_unsealed(ctx, service, _done_text(done))
    finally:
        service.close(checkpoint=False)


def _session_entries(service, start: int) -> list[str]:
    """What this session committed, from its own audit entries: ["approved WF-1-0001"]."""
    try:
        return [f"{e.action.replace('_', ' ')} {e.workflow_id or ''}".strip()
                for e in service.iter_audit(start=start + 1) if e.session_id == service.session_id]
    except HitlError:
        return ["the command's changes"]


def _done_text(done: list[str]) -> str:
    text = ", ".join(safe(d) for d in done)
    return f"{text[:1].upper()}{text[1:]} (committed)"


def _report_unsealed(ctx: click.Context, service, done: str) -> None:
    if service.seal_refused_reason:
        failure = Failure(f"{done}, but the session was not sealed: {service.seal_refused_reason}", EXIT_BROKEN)

        def refuse() -> None:
            raise failure

        ctx.call_on_close(refuse)
    elif service.seal_error:
        line = (f"hitl-tui: {done}; the session could not be sealed with a checkpoint: "
                f"{safe(' '.join(service.seal_error.split()))}. The next session that can write seals it.")
        ctx.call_on_close(lambda: click.echo(line, err=True))


def me() -> str:
    """Every CLI command acts as the OS account running it (never $USER, which anyone can set)."""
    return os_login() or "unknown"


def progress_printer(label: str) -> Callable[[int, int], None] | None:
    """A progress line on stderr, only when stderr is a terminal (never in logs or pipes)."""
    if not sys.stderr.isatty():
        return None
    state = {"last": -1}

    def show(done: int, total: int) -> None:
        pct = int(100 * done / total) if total else 100
        if pct != state["last"]:
            state["last"] = pct
            end = "\n" if done >= total else ""
            click.echo(f"\r{label}: {done:,}/{total:,} entries ({pct}%)", err=True, nl=False)
            if end:
                click.echo("", err=True)
    return show


def stage_text(status: str, current_stage: int, stage_count: int, current_role: Any) -> str:
    if current_role is not None:
        return f"{current_stage + 1}/{stage_count} {current_role.label}"
    return "-"


def fmt_time(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z") if value else "-"
