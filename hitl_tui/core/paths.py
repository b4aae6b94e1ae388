"""Where things live by default (platformdirs); the settings (settings.py) may name others."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .settings import Settings

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


def default_db_path(settings: "Settings | None" = None) -> Path:
    """The db_path setting (HITL_DB_PATH, --db, the config file), else hitl.db in the user data
    directory. Without `settings`, this process's (settings.given_or_loaded)."""
    from .settings import given_or_loaded

    return given_or_loaded(settings).db_path or data_dir() / "hitl.db"


def signing_key_dir() -> Path:
    return data_dir() / "signing-keys"


def log_dir() -> Path:
    return state_dir() / "log"
