"""Where things live by default (platformdirs), and the environment overrides."""

from __future__ import annotations

import os
from pathlib import Path

APP = "hitl-tui"


def config_dir() -> Path:
    from platformdirs import user_config_path

    return user_config_path(APP, appauthor=False)


def data_dir() -> Path:
    from platformdirs import user_data_path

    return user_data_path(APP, appauthor=False)


def state_dir() -> Path:
    from platformdirs import user_state_path

    return user_state_path(APP, appauthor=False)


def default_db_path() -> Path:
    """HITL_DB_PATH, else hitl.db in the user data directory."""
    env = os.environ.get("HITL_DB_PATH")
    if env:
        return Path(env).expanduser()
    return data_dir() / "hitl.db"


def signing_key_dir() -> Path:
    return data_dir() / "signing-keys"


def log_dir() -> Path:
    return state_dir() / "log"
