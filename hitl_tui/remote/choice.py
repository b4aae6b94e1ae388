"""Which service, if any, a process talks to: the one rule for the CLI, the desk and the Python
client (hitl_tui.client), so that an agent and the person who runs it land in the same mode."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from .protocol import SYSTEM_SOCKET


def choose_server(settings: Any, given: str | Path | None = None, *, db_named: bool = False) -> tuple[Path, str] | None:
    """The socket and what chose it: `given` (--server), else the server setting, else the
    system socket unless a database was named (explicitly, or by any setting); None: embedded."""
    if given:
        return Path(given).expanduser(), "--server"
    if settings.server is not None:
        return settings.server, settings.where("server")
    if db_named or settings.origin("db_path").kind != "default":
        return None
    try:
        if stat.S_ISSOCK(os.stat(SYSTEM_SOCKET).st_mode):
            return Path(SYSTEM_SOCKET), "the system service's socket"
    except OSError:
        pass
    return None


def leave_team_mode(chosen_by: str) -> str:
    """How to stop using the service, for the one line that says it cannot help."""
    if chosen_by == "--server":
        return "leave out --server"
    if chosen_by == "HITL_SERVER":
        return "unset HITL_SERVER"
    if chosen_by.startswith("server in "):
        return f"remove {chosen_by}"
    return "name a database with --db"
