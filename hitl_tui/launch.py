"""`hitl-tui` with no sub-command: find the database and its key, then open the desk.

Nothing here may leave a traceback on the terminal. A key that is wrong, missing or locked away
opens the unlock screen; an OS account missing from the user directory gets a screen saying how
an administrator adds it; anything else the engine refuses (no database yet, not a database) is
one plain line on stderr and exit status 1. So is a missing terminal (stdin, stdout or stderr
redirected): the desk would draw escape codes into the pipe and wait for keys that never come.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .core.errors import HitlError

if TYPE_CHECKING:
    from .core.settings import Settings


def build_app(db_path: str | Path | None = None, *, username: str | None = None,
              settings: "Settings | None" = None, **options: Any):
    """(app, None) ready to run, or (None, message) when there is nothing to open.

    `settings` (core/settings.py; default: this process's, loaded here once) choose the
    database, its key file, the signing key and the desk's theme, keymap and views; the service
    and the app get the same object.

    The key is resolved without an interactive prompt: a terminal prompt would fight the
    full-screen app, so when a passphrase is needed the unlock screen asks for it instead.
    """
    from .app import KEY_PROBLEMS, make_app
    from .core.paths import default_db_path
    from .core.service import WorkflowService

    remote = options.pop("service", None)
    settings, message = _checked_settings(settings, db_path)
    if settings is None:
        if remote is not None:
            remote.close()
        return None, message
    if remote is not None:  # team mode: the service holds the database; the kernel names who this is
        return _opened(remote, remote.username, remote.path, settings, options)
    path = Path(db_path).expanduser() if db_path else default_db_path(settings)
    if not path.exists():  # before looking for a key: no key can open a file that is not there
        from .core.store.connection import missing_database  # one message, naming where the path came from

        return None, f"hitl-tui: {missing_database(path, settings)}"
    try:
        service = WorkflowService.open(path, settings=settings)
    except KEY_PROBLEMS as exc:
        return make_app(None, username, db_path=path, problem=exc, settings=settings, **options), None
    except HitlError as exc:
        return None, f"hitl-tui: {exc}"
    return _opened(service, username, path, settings, options)


def _opened(service, username: str | None, path: Path, settings: "Settings", options: dict[str, Any]):
    from .app import make_app

    try:
        return make_app(service, username, db_path=path, preload=True, settings=settings, **options), None
    except HitlError as exc:
        service.close(checkpoint=False)
        return None, f"hitl-tui: {exc}"


def run_tui(db_path: str | None = None, demo: bool = False, settings: "Settings | None" = None,
            service: Any = None) -> int:
    """Run the TUI; returns the process exit status.

    `service`: in team mode, the connection to the service (remote/client.py), already made.

    The app ends normally however the terminal goes away (SIGHUP, EOF or EIO on it: see
    terminal.py), so the `finally` below always closes the service, which seals the session
    with a signed checkpoint; the exit status is then 129, as for a hang-up.
    """
    from .terminal import hangups_ignored, missing_terminal, needs_terminal_line, say_if_possible

    stream = missing_terminal()  # before anything is opened or drawn: a pipe would get escape codes
    if stream is not None:
        print(needs_terminal_line(stream), file=sys.stderr)
        if service is not None:
            service.close()
        return 1
    if demo:
        settings, message = _checked_settings(settings, None)
        if settings is None:
            print(message, file=sys.stderr)
            return 1
        return _run_demo(settings)
    app, message = build_app(db_path, settings=settings, service=service)
    if app is None:
        print(message, file=sys.stderr)
        return 1
    try:
        app.run()
    finally:
        service = app.service
        if service is not None:
            with hangups_ignored():
                try:
                    service.close()
                except HitlError as exc:  # the terminal may be gone: then there is no one to tell
                    say_if_possible(f"hitl-tui: closing the database: {exc}")
    if service is not None and service.seal_refused_reason:
        # the chain does not verify from this account's last checkpoint, so close() signed
        # nothing: what was decided stays decided, but the exit status says the trail is broken
        say_if_possible(f"hitl-tui: the session was not sealed: {service.seal_refused_reason}")
        return 3
    if service is not None and service.seal_error:
        say_if_possible(f"hitl-tui: the session could not be sealed with a checkpoint: {service.seal_error}")
    return app.return_code or 0


def _checked_settings(settings: "Settings | None", db_path) -> tuple["Settings | None", str]:
    """(settings, "") ready for the desk, or (None, the one line): a malformed config file, a bad
    HITL_ value, or a theme, binding id or sort column the desk does not know (ui_settings.check)
    is said before the terminal is taken over."""
    from .core.settings import Settings
    from .ui_settings import check

    try:
        if settings is None:
            settings = Settings.load(db_path=db_path, given_by="--db")
        check(settings)
    except HitlError as exc:
        return None, f"hitl-tui: {exc}"
    return settings, ""


def _run_demo(settings: "Settings | None" = None) -> int:
    """The guided demo plugs in here (hitl_tui.demo.run_demo() -> exit status): it opens the
    same app through make_app() on a throwaway database, acting as a chosen demo user."""
    try:
        from . import demo  # type: ignore[attr-defined]
    except ModuleNotFoundError as exc:
        if exc.name != "hitl_tui.demo":
            raise
        demo = None
    run_demo = getattr(demo, "run_demo", None)
    if run_demo is None:  # the demo package is being built (issue 5) and not wired in yet
        print("hitl-tui: the demo arrives in a later issue; run `hitl-tui` on a database for now.", file=sys.stderr)
        return 2
    return run_demo(settings)
