"""The demo: a throwaway encrypted database seeded with the seed's cast and scenarios.

`open_demo()` never touches the user's database, keyring or signing keys: the database lives in
a fresh temporary directory, its key is random and held only in memory, and its checkpoint
signing key is created in that same directory (the session's settings name it: nothing in the
process's environment changes). `DemoSession.close()` removes everything.
The policy is the built-in default (a new database has none stored, and nothing in the
environment changes it): the tour's scenarios (a $15,000 expense is HIGH, ...) read the same on
every machine.

`run_demo()` (what `hitl-tui --demo` calls) lives in run.py and is imported only when called:
this package is also imported by tests and tools that never open a terminal.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .dataset import DEFAULT_SEED, SCENARIO, USERS, DemoDataset, build_demo_dataset

if TYPE_CHECKING:
    from ..core.settings import Settings

__all__ = ["DEFAULT_SEED", "SCENARIO", "USERS", "DemoDataset", "DemoSession", "build_demo_dataset", "open_demo",
           "run_demo"]


@dataclass
class DemoSession:
    service: object  # WorkflowService
    dataset: DemoDataset
    directory: Path
    _owns_directory: bool = True
    #: the database key, held only here (the tour's tamper simulation opens a second connection)
    key: bytes = field(default=b"", repr=False)
    #: the settings the demo's service was opened with (the user's, with the demo's own
    #: database and signing key file): pass them to the app too
    settings: "Settings | None" = None

    def close(self) -> None:
        try:
            self.service.close()
        finally:
            if self._owns_directory:
                shutil.rmtree(self.directory, ignore_errors=True)


def open_demo(directory: Path | None = None, seed: int = DEFAULT_SEED,
              settings: "Settings | None" = None) -> DemoSession:
    """A seeded demo database in `directory` (default: a new temporary directory). `settings`
    (default: this process's) keep the user's look and keys; the database and its signing key
    file are always the demo's own."""
    from ..core.service import WorkflowService

    owns = directory is None
    directory = Path(tempfile.mkdtemp(prefix="hitl-demo-")) if directory is None else Path(directory)
    try:
        settings = _demo_settings(settings, directory)
    except BaseException:
        if owns:
            shutil.rmtree(directory, ignore_errors=True)
        raise
    key = secrets.token_bytes(32)
    service = WorkflowService.open(directory / "demo.db", key=key, create=True, operator="ian.itadmin",
                                   settings=settings)
    try:
        service.signer(create=True)  # the demo's own key, in the demo's directory
        service.use_personal_keys_in(directory / "personal-keys")  # and its people's signing keys
        dataset = build_demo_dataset(service, seed)
    except BaseException:
        service.close(checkpoint=False)
        if owns:
            shutil.rmtree(directory, ignore_errors=True)
        raise
    return DemoSession(service, dataset, directory, owns, key, settings)


def run_demo(settings: "Settings | None" = None) -> int:
    """`hitl-tui --demo`: the guided tour on a throwaway database; returns the exit status.
    `settings`: the user's (their theme and keys carry over; the files are the demo's own)."""
    from .run import run_demo as run

    return run(settings=settings)


def _demo_settings(settings: "Settings | None", directory: Path) -> "Settings":
    """The user's settings with the demo's own files: its database and signing key live in the
    demo directory, whatever the environment or the config file name (HITL_SIGNING_KEY_FILE of
    the user must never sign a throwaway trail, nor HITL_DB_PATH point the demo elsewhere)."""
    from ..core.settings import Settings

    own = {"db_path": directory / "demo.db", "signing_key_file": directory / "demo-signing.ed25519"}
    if settings is None:
        return Settings.load(given_by="the demo", **own)
    return settings.with_values(given_by="the demo", **own)
