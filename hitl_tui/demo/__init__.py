"""The demo: a throwaway encrypted database seeded with the seed's cast and scenarios.

`open_demo()` never touches the user's database, keyring or signing keys: the database lives in
a fresh temporary directory, its key is random and held only in memory, and its checkpoint
signing key is created in that same directory. `DemoSession.close()` removes everything.
The policy is the built-in default (a new database has none stored, and nothing in the
environment changes it): the tour's scenarios (a $15,000 expense is HIGH, ...) read the same on
every machine.

`run_demo()` (what `hitl-tui --demo` calls) lives in run.py and is imported only when called:
this package is also imported by tests and tools that never open a terminal.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .dataset import DEFAULT_SEED, SCENARIO, USERS, DemoDataset, build_demo_dataset

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

    def close(self) -> None:
        try:
            self.service.close()
        finally:
            if self._owns_directory:
                shutil.rmtree(self.directory, ignore_errors=True)


def open_demo(directory: Path | None = None, seed: int = DEFAULT_SEED) -> DemoSession:
    """A seeded demo database in `directory` (default: a new temporary directory)."""
    from ..core.service import WorkflowService

    owns = directory is None
    directory = Path(tempfile.mkdtemp(prefix="hitl-demo-")) if directory is None else Path(directory)
    key = secrets.token_bytes(32)
    service = WorkflowService.open(directory / "demo.db", key=key, create=True, operator="ian.itadmin")
    try:
        _private_signer(service, directory)
        dataset = build_demo_dataset(service, seed)
    except BaseException:
        service.close(checkpoint=False)
        if owns:
            shutil.rmtree(directory, ignore_errors=True)
        raise
    return DemoSession(service, dataset, directory, owns, key)


def run_demo() -> int:
    """`hitl-tui --demo`: the guided tour on a throwaway database; returns the exit status."""
    from .run import run_demo as run

    return run()


def _private_signer(service, directory: Path) -> None:
    """Create and cache the signing key inside the demo directory. The service loads its signer
    once (from HITL_SIGNING_KEY_FILE when set) and keeps it, so the variable is needed only for
    this one call and is restored straight after."""
    name = "HITL_SIGNING_KEY_FILE"
    before = os.environ.get(name)
    os.environ[name] = str(directory / "demo-signing.ed25519")
    try:
        service.signer(create=True)
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before
