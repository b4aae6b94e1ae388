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
from typing import Any

from .core.errors import HitlError


def build_app(db_path: str | Path | None = None, *, username: str | None = None, **options: Any):
    """(app, None) ready to run, or (None, message) when there is nothing to open.

    The key is resolved without an interactive prompt: a terminal prompt would fight the
    full-screen app, so when a passphrase is needed the unlock screen asks for it instead.
    """
    from .app import KEY_PROBLEMS, make_app
    from .core.paths import default_db_path
    from .core.service import WorkflowService

    path = Path(db_path).expanduser() if db_path else default_db_path()
    if not path.exists():  # before looking for a key: no key can open a file that is not there
        from .core.store.connection import missing_database  # one message, naming where the path came from

        return None, f"hitl-tui: {missing_database(path)}"
    try:
        service = WorkflowService.open(path)
    except KEY_PROBLEMS as exc:
        return make_app(None, username, db_path=path, problem=exc, **options), None
    except HitlError as exc:
        return None, f"hitl-tui: {exc}"
    try:
        return make_app(service, username, db_path=path, preload=True, **options), None
    except HitlError as exc:
        service.close(checkpoint=False)
        return None, f"hitl-tui: {exc}"


def run_tui(db_path: str | None = None, demo: bool = False) -> int:
    """Run the TUI; returns the process exit status.

    The app ends normally however the terminal goes away (SIGHUP, EOF or EIO on it: see
    terminal.py), so the `finally` below always closes the service, which seals the session
    with a signed checkpoint; the exit status is then 129, as for a hang-up.
    """
    from .terminal import hangups_ignored, missing_terminal, needs_terminal_line, say_if_possible

    stream = missing_terminal()  # before anything is opened or drawn: a pipe would get escape codes
    if stream is not None:
        print(needs_terminal_line(stream), file=sys.stderr)
        return 1
    if demo:
        return _run_demo()
    app, message = build_app(db_path)
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


def _run_demo() -> int:
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
    return run_demo()
