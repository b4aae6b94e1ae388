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
import unicodedata
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Iterator

import click

from ..core.audit import os_login
from ..core.errors import HitlError

EXIT_ERROR = 1
EXIT_BROKEN = 3

# Bidirectional overrides and isolates can make a title display as something else entirely
# ("Trojan Source"); they are category Cf, so they are escaped with the control characters.
_KEEP_IN_MULTILINE = {"\n", "\t"}


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
    move the cursor, recolour the screen or hide text."""
    text = "" if value is None else str(value)
    out = []
    for ch in text:
        if multiline and ch in _KEEP_IN_MULTILINE:
            out.append(ch)
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


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
    their traceback to the log directory; HITL_DEBUG=1 re-raises them instead.
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
            if os.environ.get("HITL_DEBUG"):
                raise
            raise Failure(f"unexpected error {type(exc).__name__}: {exc} ({_log_traceback()})") from None

    return wrapper


def _log_traceback() -> str:
    try:
        from ..core.paths import log_dir

        path = log_dir() / "cli-errors.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"--- {datetime.now().isoformat()} {' '.join(sys.argv)}\n{traceback.format_exc()}\n")
        return f"details in {path}"
    except OSError:
        return "set HITL_DEBUG=1 for details"


# --- the engine ------------------------------------------------------------------------------

def db_path(ctx: click.Context) -> Path:
    from ..core.paths import default_db_path

    explicit = (ctx.find_root().obj or {}).get("db_path")
    return Path(explicit).expanduser() if explicit else default_db_path()


def passphrase_prompt(path: Path) -> Callable[[], str] | None:
    """Ask for a passphrase only when a person is at the terminal; scripts get a clear error."""
    if not sys.stdin.isatty():
        return None
    return lambda: click.prompt(f"Passphrase for {path}", hide_input=True, err=True)


@contextmanager
def open_service(ctx: click.Context, *, writes: bool = False) -> Iterator[Any]:
    """The engine on the chosen database. `writes=True` lets close() seal the session with a
    signed checkpoint (the core's habit after changes); read-only commands never sign."""
    from ..core.service import WorkflowService

    path = db_path(ctx)
    service = WorkflowService.open(path, passphrase_prompt=passphrase_prompt(path), create=False,
                                   operator=me())
    try:
        yield service
    finally:
        service.close(checkpoint=writes)


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
