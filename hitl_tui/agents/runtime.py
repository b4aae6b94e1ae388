"""Importing tframex safely: lazily, with its logging sent to a file and never to the terminal.

`import tframex` costs ~0.6 s, so only the code that builds an assistant imports it (through
tfx.py, inside a TUI worker or `hitl-tui ask`), never anything on the TUI's start-up path.

tframex logs through loggers named `tframex.*`, sets `tframex.agent_internal_debug` to DEBUG on
import, and its `setup_logging()` would put a stdout handler on the root logger (which would
scribble over a full-screen app). We never call setup_logging; we give the `tframex` logger its
own file handler and stop propagation, so nothing of it reaches the root logger or Python's
last-resort stderr handler.
"""

from __future__ import annotations

import logging
import threading
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.paths import log_dir

if TYPE_CHECKING:
    from ..core.settings import Settings

LOG_FILE_NAME = "agents.log"
LOG_LEVEL_ENV = "HITL_AGENT_LOG_LEVEL"  # the agent_log_level setting's variable (core/settings.py)
# WARNING by default: at INFO tframex logs tool arguments (comments, request text) verbatim.
DEFAULT_LEVEL = logging.WARNING

_lock = threading.Lock()
_handler: logging.Handler | None = None
_handler_path: Path | None = None


def _level(settings: "Settings | None" = None) -> int:
    """The agent_log_level setting (checked when the settings were loaded) as a logging level."""
    from ..core.settings import given_or_loaded

    value = logging.getLevelName(given_or_loaded(settings).agent_log_level)
    return value if isinstance(value, int) else DEFAULT_LEVEL


def log_file() -> Path:
    return log_dir() / LOG_FILE_NAME


def route_tframex_logs(settings: "Settings | None" = None) -> None:
    """Idempotent: the `tframex` logger writes to <log dir>/agents.log and nowhere else (the
    handler follows the log directory if it changed, e.g. another HOME)."""
    global _handler, _handler_path
    with _lock:
        path = log_file()
        logger = logging.getLogger("tframex")
        logger.propagate = False
        if _handler is not None and _handler_path == path:
            return
        level = _level(settings)
        logger.setLevel(level)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            handler: logging.Handler = RotatingFileHandler(
                path, maxBytes=1_000_000, backupCount=2, encoding="utf-8", delay=True)
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        except OSError:  # an unwritable state directory must not break the assistant
            handler = logging.NullHandler()
        # handler levels matter: a child logger set to DEBUG passes its records to our handler
        # whatever the `tframex` logger's own level is
        handler.setLevel(level)
        if _handler is not None:
            logger.removeHandler(_handler)
            _handler.close()
        logger.addHandler(handler)
        _handler, _handler_path = handler, path
