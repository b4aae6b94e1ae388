"""What systemd tells a service it starts, in one place: the directories it made for the unit and
whether this process runs as a unit at all. These are facts about how the process was started,
not settings, so they are read here and nowhere else (core/settings.py owns the HITL_ variables).
"""

from __future__ import annotations

import os
from pathlib import Path

#: the file systemd's LoadCredential=hitl-db-key:... puts in $CREDENTIALS_DIRECTORY
CREDENTIAL_NAME = "hitl-db-key"


def credentials_directory() -> Path | None:
    """$CREDENTIALS_DIRECTORY: where LoadCredential= copies the unit's credentials."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    return Path(directory) if directory else None


def runtime_directory() -> Path | None:
    """The first of $RUNTIME_DIRECTORY (RuntimeDirectory=), which systemd makes and removes."""
    runtime = (os.environ.get("RUNTIME_DIRECTORY") or "").split(":")[0]
    return Path(runtime) if runtime else None


def session_runtime_directory() -> Path | None:
    """$XDG_RUNTIME_DIR: the login session's private runtime directory (not systemd's unit one)."""
    directory = os.environ.get("XDG_RUNTIME_DIR")
    return Path(directory) if directory else None


def unit_name() -> str | None:
    """This process's systemd service unit, when it runs as one (systemd gives a unit's processes
    INVOCATION_ID; the unit's name is the last `.service` part of its cgroup's path)."""
    if not os.environ.get("INVOCATION_ID"):
        return None
    try:
        cgroup = Path("/proc/self/cgroup").read_text("ascii", "replace")
    except OSError:
        return None
    units = [part for line in cgroup.splitlines() for part in line.rsplit(":", 1)[-1].split("/")
             if part.endswith(".service")]
    return units[-1] if units else None
