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


#: what undoes each migration's schema, newest first (the tests that open "a database made
#: before migration N" roll a fresh one back with roll_back_schema)
_UNDO: dict[int, tuple[str, ...]] = {
    21: ("ALTER TABLE notify_prefs DROP COLUMN tz",),
    20: ("DROP TABLE claims",),
    19: ("DROP INDEX requests_awaited", "DROP INDEX requests_parallel",
         "ALTER TABLE requests DROP COLUMN stage_rules", "ALTER TABLE requests DROP COLUMN awaited"),
    18: ("DROP INDEX delegations_open", "DROP TABLE delegations", "ALTER TABLE approvals DROP COLUMN on_behalf_of",
         "DROP INDEX assignments_by_stage", "DROP INDEX assignments_by_assignee", "DROP TABLE assignments"),
    17: ("DROP INDEX requests_due", "DROP INDEX requests_escalated", *(f"ALTER TABLE requests DROP COLUMN {c}" for c in (
        "due_at", "due_left", "escalated_to", "reminded"))),
    16: ("DROP TABLE notify_outbox", "DROP TABLE notify_webhooks", "DROP TABLE notify_prefs",
         "DROP TABLE notify_config"),
    15: ("ALTER TABLE requests DROP COLUMN proposed_payload",),
    14: ("DROP TABLE api_tokens",),
    13: ("DROP INDEX requests_deadline", *(f"ALTER TABLE requests DROP COLUMN {c}" for c in (
        "payload", "payload_sha256", "justification", "agent", "owner", "expires_at")),
        "ALTER TABLE users DROP COLUMN integration", "ALTER TABLE users DROP COLUMN owner"),
    12: ("DROP TABLE sealed_values", "DROP TABLE privacy_keys"),  # an older database seals nothing
    11: ("DROP INDEX audit_unfiled",),
    10: ("DROP TABLE user_keys",),
    9: ("DROP TABLE merkle_nodes", "ALTER TABLE checkpoints DROP COLUMN note", "ALTER TABLE checkpoints DROP COLUMN edge"),
    8: ("DROP INDEX requests_by_risk", "DROP INDEX requests_awaiting_risk"),
    7: ("DROP INDEX requests_visible_cover",),
    6: ("DROP INDEX approvals_by_approver_request",),
    5: ("DROP TRIGGER requests_fts_insert", "DROP TRIGGER requests_fts_delete", "DROP TRIGGER requests_fts_update",
        "DROP TABLE requests_fts"),
    4: ("DROP TABLE policies", "ALTER TABLE requests DROP COLUMN policy_version"),
    3: ("DROP INDEX requests_awaiting_cover", "ALTER TABLE requests DROP COLUMN deciders",
        "CREATE INDEX requests_awaiting_cover ON requests(current_role, requester, id, revision) "
        "WHERE current_role IS NOT NULL"),
}


def roll_back_schema(conn, to_version: int) -> None:
    """Undo every migration after `to_version` on a raw connection, as if the database had been
    made by the release that stopped there."""
    from hitl_tui.core.store import migrations

    assert max(_UNDO) == migrations.LATEST, "a new migration needs its undo step here"
    for version in range(migrations.LATEST, to_version, -1):
        for statement in _UNDO[version]:
            conn.execute(statement)
    conn.execute("DELETE FROM schema_migrations WHERE version > ?", (to_version,))
