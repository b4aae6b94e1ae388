"""The encrypted store: keys, files that are not databases, encryption at rest, migrations."""

from __future__ import annotations

import os
import sqlite3

import pytest

from hitl_tui.core.errors import DatabaseExists, DatabaseMissing, NotADatabase, WrongKey
from hitl_tui.core.service import WorkflowService
from hitl_tui.core.store import migrations

from .conftest import raw_connection, roll_back_schema


def test_wrong_key_is_a_clear_error_and_the_file_is_untouched(db_path, db_key):
    WorkflowService.open(db_path, key=db_key).close()
    before = db_path.read_bytes()
    with pytest.raises(WrongKey, match="wrong key"):
        WorkflowService.open(db_path, key=os.urandom(32))
    assert db_path.read_bytes() == before
    WorkflowService.open(db_path, key=db_key).close()  # still opens with the right key


def test_missing_database(tmp_path):
    with pytest.raises(DatabaseMissing, match=r"create one there with `hitl-tui --db \S+ init`"):
        WorkflowService.open(tmp_path / "nope.db", key=os.urandom(32), create=False)


def test_never_created_on_top_of_an_existing_file(tmp_path):
    path = tmp_path / "precious.txt"
    path.write_text("do not overwrite me")
    with pytest.raises(DatabaseExists):
        WorkflowService.open(path, key=os.urandom(32), create=True)
    assert path.read_text() == "do not overwrite me"


# a named id: the bytes differ in each process, and pytest-xdist's workers must collect the same names
@pytest.mark.parametrize("content", [b"just some text\n", b"", pytest.param(os.urandom(1000), id="random-1000")])
def test_files_that_are_not_databases(tmp_path, content):
    path = tmp_path / "junk.db"
    path.write_bytes(content)
    with pytest.raises(NotADatabase, match="not a hitl-tui database"):
        WorkflowService.open(path, key=os.urandom(32))
    assert path.read_bytes() == content


def test_plain_sqlite_file_is_named_as_such(tmp_path):
    path = tmp_path / "plain.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(NotADatabase, match="unencrypted SQLite"):
        WorkflowService.open(path, key=os.urandom(32))


def test_key_must_be_32_bytes(db_path):
    with pytest.raises(WrongKey, match="32 raw bytes"):
        WorkflowService.open(db_path, key=b"short")


def test_nothing_readable_at_rest(service, db_path):
    secret_title = "Zanzibar-merger-codename-ultraviolet"
    service.create_workflow_request("contract_approval", secret_title, "Confidential terms", "john.doe",
                                    {"contract_value": "123456.78", "counterparty": "Globex Secretcorp"})
    service.approve_workflow(service.get_pending_approvals("sarah.manager")[0].id, "sarah.manager")
    files = [p for p in db_path.parent.iterdir() if p.name.startswith(db_path.name)]
    assert any(p.name.endswith("-wal") for p in files)  # WAL is in use, and it must be encrypted too
    for path in files:
        data = path.read_bytes()
        for needle in (secret_title, "Globex", "john.doe", "sarah.manager", "SQLite format 3", "123456.78"):
            assert needle.encode() not in data, f"{needle!r} readable in {path.name}"


def test_files_are_private(service, db_path):
    assert db_path.stat().st_mode & 0o077 == 0


def test_pragmas_and_default_cipher_settings(service, db_path, db_key):
    conn = service._conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA temp_store").fetchone()[0] == 2  # MEMORY
    # what a DBA's `sqlcipher` shell does: only `PRAGMA key`, every cipher setting at its default
    other = raw_connection(db_path, db_key)
    assert other.execute("SELECT count(*) FROM users").fetchone()[0] == 9
    assert other.execute("PRAGMA cipher_page_size").fetchone()[0] == "4096"


def test_migrations_are_recorded(service):
    rows = service._conn.execute("SELECT version, name FROM schema_migrations").fetchall()
    assert rows == [(m[0], m[1]) for m in migrations.MIGRATIONS]
    assert migrations.migrate(service._conn) == migrations.LATEST  # idempotent


def test_newer_schema_is_refused(db_path, db_key):
    svc = WorkflowService.open(db_path, key=db_key)
    svc._conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', 'x')")
    svc.close(checkpoint=False)
    with pytest.raises(Exception, match="newer than this hitl-tui knows"):
        WorkflowService.open(db_path, key=db_key)


def test_rekey_rotates_the_key_and_is_audited(service, db_path, db_key):
    new = os.urandom(32)
    service.rekey(new)
    service.close(checkpoint=False)
    with pytest.raises(WrongKey):
        WorkflowService.open(db_path, key=db_key)
    svc = WorkflowService.open(db_path, key=new)
    assert [e.action for e in svc.iter_audit()][-1] == "key_rotated"
    assert svc.verify_audit().ok
    svc.close()


def test_a_failed_write_leaves_no_trace(service):
    """State change and audit entry are one transaction: make the audit append fail."""
    conn = service._conn
    conn.execute("CREATE TRIGGER boom BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'disk on fire'); END")
    count = conn.execute("SELECT count(*) FROM requests").fetchone()[0]
    with pytest.raises(Exception, match="disk on fire"):
        service.create_workflow_request("expense_approval", "t", "", "john.doe", {"amount": 5})
    assert conn.execute("SELECT count(*) FROM requests").fetchone()[0] == count
    conn.execute("DROP TRIGGER boom")
    assert service.verify_audit().ok


def test_data_version_moves_when_another_connection_commits(service, db_path, db_key):
    before = service.data_version()
    other = WorkflowService.open(db_path, key=db_key)
    other.create_workflow_request("expense_approval", "from elsewhere", "", "john.doe", {"amount": 5})
    other.close(checkpoint=False)
    assert service.data_version() != before


def test_someone_elses_encrypted_database_is_not_taken_over(tmp_path, db_key):
    path = tmp_path / "other.db"
    conn = raw_connection(path, db_key)
    conn.execute("CREATE TABLE invoices (id)")
    conn.close()
    with pytest.raises(NotADatabase, match="some other application"):
        WorkflowService.open(path, key=db_key)
    assert "schema_migrations" not in {r[0] for r in raw_connection(path, db_key).execute("SELECT name FROM sqlite_master")}


@pytest.mark.keyring
def test_database_opens_with_its_key_from_the_real_keyring(real_keyring, db_path):
    from hitl_tui.core.keys import create_key

    created = create_key(db_path)
    assert created.source == "keyring"
    svc = WorkflowService.open(db_path, key=created.key)
    svc.add_user("a", "employee")
    svc.close()
    svc = WorkflowService.open(db_path)  # no key given: found in the keyring
    assert svc.key_source.source == "keyring" and svc.get_user("a").role.value == "employee"
    svc.close()


@pytest.mark.keyring
def test_locked_keyring_is_its_own_clear_error(locked_keyring, db_path, db_key):
    from hitl_tui.core.errors import StoreLocked

    locked_keyring.unlock()
    from hitl_tui.core.keys import create_key

    WorkflowService.open(db_path, key=create_key(db_path).key).close()
    locked_keyring.lock()
    with pytest.raises(StoreLocked, match="locked"):
        WorkflowService.open(db_path)


def test_migration_3_backfills_who_decided_the_current_revision(db_path, db_key):
    """A database made before migration 3 keeps segregation of duties in 'awaiting me'."""
    svc = WorkflowService.open(db_path, key=db_key)
    for name, role in [("a", "employee"), ("m", "manager"), ("d", "director"), ("d2", "director")]:
        svc.add_user(name, role)
    wid = svc.create_workflow_request("expense_approval", "t", "", "a", {"amount": 5000})
    svc.approve_workflow(wid, "d")  # a director may take the manager stage
    svc.close(checkpoint=False)
    conn = raw_connection(db_path, db_key)
    roll_back_schema(conn, 2)  # as shipped before migration 3
    conn.close()
    svc = WorkflowService.open(db_path, key=db_key)
    assert svc._conn.execute("SELECT deciders FROM requests").fetchone()[0] == ",d,"
    assert [r.id for r in svc.get_pending_approvals("d2")] == [wid]
    assert svc.get_pending_approvals("d") == []
    svc.close(checkpoint=False)
