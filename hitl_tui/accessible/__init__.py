"""The accessible desk (`hitl-tui --accessible`): the inbox and the detail as a linear transcript.

For screen-reader users. It never redraws: no colour that carries meaning, no cursor movement,
no alternate screen, only plain lines printed one after the other, and commands read a line at a
time (with readline editing on a terminal). Every read and every decision goes through the same
engine calls and RBAC checks as the full-screen desk; a decision needs the decision's word typed
as confirmation. Nothing here imports Textual.

- session.py opens the engine as the OS login, runs the loop, and seals the session at the end;
- commands.py parses a line and runs it (the desk's state: view, filter, sort, numbered rows);
- transcript.py turns requests into plain sentences; changes.py finds what others changed;
- console.py reads lines and writes them, surviving a terminal that goes away.
"""

from __future__ import annotations


def run_accessible(db_path: str | None = None, settings=None, service=None) -> int:
    """Run the accessible desk on `db_path` (else the db_path setting, else the default
    database) with `settings` (core/settings.py; default: this process's), or on `service`, a
    team-mode connection already made (remote/client.py); the exit status."""
    from .session import run

    return run(db_path, settings, service)
