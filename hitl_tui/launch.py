"""`hitl-tui` with no sub-command: find the database and its key, then open the desk.

Nothing here may leave a traceback on the terminal. A key that is wrong, missing or locked away
opens the unlock screen; an OS account missing from the user directory gets a screen saying how
an administrator adds it; anything else the engine refuses (no database yet, not a database) is
one plain line on stderr and exit status 1.
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
        return None, f"hitl-tui: No database at {path}; create one with `hitl-tui init` (or pass --db)."
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
    """Run the TUI; returns the process exit status."""
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
            try:
                service.close()
            except HitlError as exc:
                print(f"hitl-tui: closing the database: {exc}", file=sys.stderr)
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
