"""Core fixtures: a real encrypted database in tmp_path with the seed's cast of users."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlcipher3

from hitl_tui.core.service import WorkflowService
from tests.cast import SEED_CAST

CAST = SEED_CAST


@pytest.fixture
def db_key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "hitl.db"


@pytest.fixture
def service(db_path: Path, db_key: bytes):
    svc = WorkflowService.open(db_path, key=db_key)
    for name, role in CAST.items():
        svc.add_user(name, role, email=f"{name}@example.com")
    # a second person per approving role, for multi-stage chains decided by different people
    svc.add_user("tom.manager", "manager")
    svc.add_user("dana.director", "director")
    yield svc
    svc.close(checkpoint=False)


def raw_connection(path: Path, key: bytes):
    """A second, independent connection holding the key: what an attacker with the key has."""
    conn = sqlcipher3.connect(str(path), isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    return conn
