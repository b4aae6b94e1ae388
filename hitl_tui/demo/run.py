"""`hitl-tui --demo`: build the throwaway database, run the demo app on it, and remove it again
however the app ends (quit, an internal error, ctrl+c delivered as SIGINT, SIGTERM, SIGHUP, a
terminal that hangs up)."""

from __future__ import annotations

import sys


def run_demo(**options) -> int:
    from ..core.errors import HitlError
    from . import open_demo

    print("hitl-tui: preparing the demo database…", file=sys.stderr, flush=True)
    try:
        session = open_demo(settings=options.pop("settings", None))
    except HitlError as exc:
        print(f"hitl-tui: could not build the demo database: {exc}", file=sys.stderr)
        return 1
    try:
        from .app import DemoApp

        app = DemoApp(session, settings=session.settings, **options)
        app.run()
        return app.return_code or 0
    except KeyboardInterrupt:
        return 130
    finally:
        from ..terminal import hangups_ignored, say_if_possible

        with hangups_ignored():
            session.close()
        if not session.directory.exists():  # said if the terminal is still there to show it
            say_if_possible("hitl-tui: demo over; its database, keys and report were deleted.")
