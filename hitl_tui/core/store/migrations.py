"""Numbered schema migrations, each recorded in the database when applied.

Never edit a released migration: add the next number. Each runs in its own transaction together
with its row in schema_migrations.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from ..errors import NotADatabase, StoreError
from .connection import Conn

MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "initial schema", """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

    CREATE TABLE users (
        username     TEXT PRIMARY KEY,
        role         TEXT NOT NULL,
        email        TEXT,
        display_name TEXT,
        active       INTEGER NOT NULL DEFAULT 1,
        admin        INTEGER NOT NULL DEFAULT 0,
        created_at   TEXT NOT NULL,
        updated_at   TEXT NOT NULL
    );

    CREATE TABLE requests (
        id            TEXT PRIMARY KEY,
        workflow_type TEXT NOT NULL,
        title         TEXT NOT NULL,
        description   TEXT NOT NULL,
        requester     TEXT NOT NULL,
        data          TEXT NOT NULL,            -- JSON; money as decimal strings
        risk_level    TEXT NOT NULL,
        risk_rank     INTEGER NOT NULL,         -- 0 LOW .. 3 CRITICAL, for sorting
        risk_field    TEXT NOT NULL,
        risk_reason   TEXT NOT NULL,
        headline      TEXT NOT NULL,            -- the risk field's value as text, for lists
        chain         TEXT NOT NULL,            -- comma-separated roles, stage order
        current_stage INTEGER NOT NULL,
        current_role  TEXT,                     -- role awaited now; NULL unless awaiting approval
        status        TEXT NOT NULL,
        revision      INTEGER NOT NULL,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL
    );
    CREATE INDEX requests_awaiting ON requests(current_role, created_at) WHERE current_role IS NOT NULL;
    CREATE INDEX requests_by_requester ON requests(requester, created_at);
    CREATE INDEX requests_by_created ON requests(created_at);
    CREATE INDEX requests_by_updated ON requests(updated_at);

    CREATE TABLE approvals (
        id            INTEGER PRIMARY KEY,
        workflow_id   TEXT NOT NULL REFERENCES requests(id),
        revision      INTEGER NOT NULL,
        stage         INTEGER NOT NULL,
        role          TEXT NOT NULL,
        approver      TEXT NOT NULL,
        approver_role TEXT NOT NULL,
        decision      TEXT NOT NULL,
        decided_at    TEXT NOT NULL,
        comments      TEXT NOT NULL,
        proposed_by   TEXT,
        -- a stage of a revision is decided once, whatever races between processes
        UNIQUE (workflow_id, revision, stage)
    );
    CREATE INDEX approvals_by_approver ON approvals(approver, decided_at);

    -- body = the exact canonical bytes that were hashed; workflow_id only indexes them, and
    -- every verification checks it against the body (audit.ChainWalker.feed).
    CREATE TABLE audit_log (
        seq         INTEGER PRIMARY KEY,
        workflow_id TEXT,
        body        BLOB NOT NULL,
        hash        BLOB NOT NULL
    );
    CREATE INDEX audit_by_workflow ON audit_log(workflow_id, seq) WHERE workflow_id IS NOT NULL;
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: entries cannot be changed'); END;
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: entries cannot be deleted'); END;

    CREATE TABLE checkpoints (
        id          INTEGER PRIMARY KEY,
        size        INTEGER NOT NULL,
        head_hash   TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        public_key  TEXT NOT NULL,
        signature   TEXT NOT NULL
    );
    CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
        BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
    CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
        BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
    """),
    (2, "covering index for counting the awaiting-approval view", """
    -- count 'awaiting me' from an index alone: the requester check no longer reads (and
    -- decrypts) a table page per waiting request. Paging keeps requests_awaiting, whose
    -- created_at order serves ORDER BY ... LIMIT without sorting.
    CREATE INDEX requests_awaiting_cover ON requests(current_role, requester, id, revision)
        WHERE current_role IS NOT NULL;
    """),
    (3, "who decided the current revision, kept on the request", """
    -- ',sarah.manager,mike.director,': the people who decided a stage of the current revision,
    -- written in the same transaction as their approvals row. "Awaiting me" must leave out
    -- requests I decided an earlier stage of; reading it from the index costs nothing, where
    -- probing approvals cost one lookup per waiting request times my past decisions.
    ALTER TABLE requests ADD COLUMN deciders TEXT NOT NULL DEFAULT ',';
    UPDATE requests SET deciders = ',' || (
        SELECT group_concat(a.approver, ',') FROM approvals a
        WHERE a.workflow_id = requests.id AND a.revision = requests.revision) || ','
    WHERE EXISTS (SELECT 1 FROM approvals a WHERE a.workflow_id = requests.id AND a.revision = requests.revision);
    DROP INDEX requests_awaiting_cover;
    CREATE INDEX requests_awaiting_cover ON requests(current_role, requester, deciders)
        WHERE current_role IS NOT NULL;
    """),
    (4, "the policy is part of the database", """
    -- Every policy version as applied by an administrator: the full effective TOML, its sha256,
    -- who and when, and the audit entry (policy_applied) that recorded it; the newest is in
    -- force. No row: the built-in default governs (a database from before this migration).
    CREATE TABLE policies (
        version     INTEGER PRIMARY KEY,
        body        TEXT NOT NULL,
        sha256      TEXT NOT NULL,
        applied_by  TEXT NOT NULL,
        applied_at  TEXT NOT NULL,
        source      TEXT NOT NULL,
        audit_seq   INTEGER NOT NULL
    );
    CREATE TRIGGER policies_no_update BEFORE UPDATE ON policies
        BEGIN SELECT RAISE(ABORT, 'policies are append-only: apply a new version instead'); END;
    CREATE TRIGGER policies_no_delete BEFORE DELETE ON policies
        BEGIN SELECT RAISE(ABORT, 'policies are append-only: apply a new version instead'); END;
    -- the policy version a request was (re)assessed under: 0 the built-in default with none
    -- applied, NULL for requests filed before this migration
    ALTER TABLE requests ADD COLUMN policy_version INTEGER;
    """),
    (5, "full-text index of the requests", """
    -- The search field's words: one FTS5 entry per request over its id, type, title, description
    -- and requester. External content: the index holds no copy of the text, it reads it from
    -- requests by rowid. The triggers below change it in the statement that changes the row, so
    -- inside the same transaction: a crash leaves both or neither. (requests has no INTEGER
    -- PRIMARY KEY, so a VACUUM could renumber its rowids; hitl-tui never vacuums, and after one
    -- made by hand `INSERT INTO requests_fts(requests_fts) VALUES('rebuild')` renews the index.)
    -- unicode61 folds case and accents; '.', '_' and '-' split words, so john.doe, expense_approval
    -- and WF-1764150000-0421 are words of their own. prefix='2 3': short prefixes ("tr*") are one
    -- doclist instead of a merge of every word they begin.
    CREATE VIRTUAL TABLE requests_fts USING fts5(
        id, workflow_type, title, description, requester,
        content='requests', tokenize='unicode61 remove_diacritics 2', prefix='2 3'
    );
    INSERT INTO requests_fts(requests_fts) VALUES ('rebuild');
    CREATE TRIGGER requests_fts_insert AFTER INSERT ON requests BEGIN
        INSERT INTO requests_fts (rowid, id, workflow_type, title, description, requester)
        VALUES (new.rowid, new.id, new.workflow_type, new.title, new.description, new.requester);
    END;
    CREATE TRIGGER requests_fts_delete AFTER DELETE ON requests BEGIN
        INSERT INTO requests_fts (requests_fts, rowid, id, workflow_type, title, description, requester)
        VALUES ('delete', old.rowid, old.id, old.workflow_type, old.title, old.description, old.requester);
    END;
    -- decisions change status and stage only, and leave the index alone; a resubmission's new
    -- title or description replaces the old words
    CREATE TRIGGER requests_fts_update AFTER UPDATE OF id, workflow_type, title, description, requester
    ON requests BEGIN
        INSERT INTO requests_fts (requests_fts, rowid, id, workflow_type, title, description, requester)
        VALUES ('delete', old.rowid, old.id, old.workflow_type, old.title, old.description, old.requester);
        INSERT INTO requests_fts (rowid, id, workflow_type, title, description, requester)
        VALUES (new.rowid, new.id, new.workflow_type, new.title, new.description, new.requester);
    END;
    """),
    (6, "covering index for the requests a person decided", """
    -- "All I may see" and "decided by me" take the requests I decided from approvals: through
    -- approvals_by_approver each one cost a read of an approvals row (a director's year of
    -- decisions, thousands of random pages, some 80 ms on every filtered page); with the id in
    -- the index itself none is read.
    CREATE INDEX approvals_by_approver_request ON approvals(approver, workflow_id);
    """),
    (7, "covering index for counting what a person may see", """
    -- "All I may see" for anyone without an oversight role is: mine, or decided by me, or in a
    -- chain with a stage my role may decide (store/requests.py _view_clause). Its count tested
    -- every request's row, a million decrypted pages (2.2 s); this index holds the three
    -- columns it reads, so the count scans the index alone (0.45 s over 1M requests).
    CREATE INDEX requests_visible_cover ON requests(chain, requester, id);
    """),
    (8, "risk order from an index", """
    -- The `risk` sort (highest first, then oldest) and high-risk filters: in index order, a page
    -- stops after its rows instead of sorting every visible request (a full sort of a million
    -- rows), and `travel risk:high` tests the word against index entries, not table rows.
    CREATE INDEX requests_by_risk ON requests(risk_rank DESC, created_at);
    CREATE INDEX requests_awaiting_risk ON requests(current_role, risk_rank DESC, created_at)
        WHERE current_role IS NOT NULL;
    """),
    (9, "merkle tree nodes", """
    -- The RFC 9162 Merkle tree over the audit entries, as the hashes of its complete subtrees of
    -- 16 entries and up (store/merkle_nodes.py), written in the transaction of the entry that
    -- completes each; an index, which verify-audit recomputes from the bodies. The nodes of an
    -- existing log are built from its bodies by this migration's Python step (PYTHON_STEPS).
    CREATE TABLE merkle_nodes (
        level INTEGER NOT NULL,
        idx   INTEGER NOT NULL,
        hash  BLOB NOT NULL,
        PRIMARY KEY (level, idx)
    ) WITHOUT ROWID;
    -- a checkpoint in the C2SP tlog-checkpoint signed-note format: the exact note text (origin,
    -- size, root, extension lines, signature); NULL for checkpoints of the older format
    ALTER TABLE checkpoints ADD COLUMN note TEXT;
    -- the tree's right edge at the checkpoint's size (merkle.CompactRange, hex hashes joined), so
    -- the next seal extends the signed tree without reading it back; it folds to the signed root
    ALTER TABLE checkpoints ADD COLUMN edge TEXT;
    """),
    (10, "each person's registered signing keys", """
    -- Who holds which Ed25519 key from which audit entry (signatures.py): an index of the trail's
    -- user_added / user_key_registered / user_key_revoked entries, written in their transaction;
    -- verify-audit rebuilds it from the trail and compares. until_seq/ended: the entry that
    -- replaced or revoked the key ('replaced' | 'revoked'), NULL while it is valid.
    CREATE TABLE user_keys (
        username   TEXT NOT NULL,
        key_id     TEXT NOT NULL,
        public_key TEXT NOT NULL,
        since_seq  INTEGER NOT NULL,
        until_seq  INTEGER,
        ended      TEXT,
        PRIMARY KEY (username, key_id)
    );
    CREATE UNIQUE INDEX user_keys_valid ON user_keys(username) WHERE until_seq IS NULL;
    """),
    (11, "the audit entries filed under no request", """
    -- The directory, policy and key entries: `verify-audit --since` rebuilds who held which key
    -- and who was an administrator at the trusted checkpoint from these alone (a few rows, each
    -- proven in the signed tree), instead of reading the whole log.
    CREATE INDEX audit_unfiled ON audit_log(seq) WHERE workflow_id IS NULL;
    """),
    (12, "personal data sealed under keys that can be destroyed", """
    -- Personal values in the trail are sealed (core/privacy.py): the hashed bytes hold a salted
    -- digest, the value itself sits here encrypted under a data key of one person for one request
    -- (workflow_id NULL: their directory entry). Erasure destroys the key (secret NULL, with the
    -- entry that did it) and deletes its boxes; the trail, its proofs and signatures stay whole.
    CREATE TABLE privacy_keys (
        key_id      TEXT PRIMARY KEY,
        person      TEXT NOT NULL,
        workflow_id TEXT,
        secret      BLOB,
        created_at  TEXT NOT NULL,
        erased_seq  INTEGER,
        erased_on   TEXT
    ) WITHOUT ROWID;
    -- not unique: a service may seal under a new key while another is being created (issue 11)
    CREATE INDEX privacy_keys_owner ON privacy_keys(person, IFNULL(workflow_id, ''));
    CREATE INDEX privacy_keys_request ON privacy_keys(workflow_id);
    -- clustered by the entry that sealed the value: verify-audit and exports read them in turn
    CREATE TABLE sealed_values (
        seq    INTEGER NOT NULL,
        digest TEXT NOT NULL,
        key_id TEXT NOT NULL,
        box    BLOB NOT NULL,
        PRIMARY KEY (seq, digest)
    ) WITHOUT ROWID;
    CREATE INDEX sealed_values_key ON sealed_values(key_id);
    """),
    (13, "integration accounts, and requests filed for approval with their exact action", """
    -- An integration is a directory account that is an AI agent or a system, not a person: it
    -- files requests and reads its own, never decides (core/rbac.py); owner: the person
    -- responsible for it.
    ALTER TABLE users ADD COLUMN integration INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE users ADD COLUMN owner TEXT;
    -- A request filed with a payload (core/approvals.py): its canonical JSON and that text's
    -- sha256, the caller's justification, the agent's name, the integration's owner when it
    -- filed, and the deadline after which it expires undecided. NULL for every other request.
    ALTER TABLE requests ADD COLUMN payload TEXT;
    ALTER TABLE requests ADD COLUMN payload_sha256 TEXT;
    ALTER TABLE requests ADD COLUMN justification TEXT;
    ALTER TABLE requests ADD COLUMN agent TEXT;
    ALTER TABLE requests ADD COLUMN owner TEXT;
    ALTER TABLE requests ADD COLUMN expires_at TEXT;
    -- the expiry sweep asks "anything due?" on every listing: an index of the open deadlines only
    CREATE INDEX requests_deadline ON requests(expires_at)
        WHERE expires_at IS NOT NULL AND status IN ('awaiting_approval', 'changes_requested');
    """),
    (14, "bearer tokens of the HTTP API, stored as their sha256", """
    -- A bearer token stands for one directory account (core/tokens.py). Only the token's sha256
    -- is kept, never the token; id is public (`hitl-tui token list`, log lines). Written in the
    -- transaction of its token_created / token_revoked entry, whose seq is kept: verify-audit
    -- rebuilds the table from the trail and compares.
    CREATE TABLE api_tokens (
        id            TEXT PRIMARY KEY,
        token_hash    TEXT NOT NULL UNIQUE,
        username      TEXT NOT NULL,
        name          TEXT,
        created_at    TEXT NOT NULL,
        created_by    TEXT NOT NULL,
        created_seq   INTEGER NOT NULL,
        revoked_at    TEXT,
        revoked_by    TEXT,
        revoke_reason TEXT,
        revoked_seq   INTEGER
    );
    """),
    (15, "the payload a reviewer proposes when asking for changes", """
    -- A reviewer who asks for changes on a request filed for approval may propose a revised
    -- payload (core/approvals.py): it waits here, in canonical JSON, until the caller accepts it
    -- (or sends another) by resubmitting; NULL otherwise. Its changes_requested entry holds it,
    -- signed by the reviewer, so a replay rebuilds it.
    ALTER TABLE requests ADD COLUMN proposed_payload TEXT;
    """),
    (16, "notifications: the outbox, webhooks, personal preferences, delivery settings", """
    -- Every event someone should hear about is a row here, written in the transaction of the
    -- audit entry that caused it (core/notifications.py), so nothing is announced that did not
    -- happen and nothing that happened goes unannounced. id: the event id the message carries
    -- (receivers deduplicate by it); recipient: a username or a webhook id. The delivery loop
    -- (hitl_tui/notify/delivery.py) claims a due row (claim, next_attempt_at as the lease),
    -- sends, and records the outcome; a claim left by a process that died is taken again.
    CREATE TABLE notify_outbox (
        id              TEXT PRIMARY KEY,
        seq             INTEGER NOT NULL,
        event           TEXT NOT NULL,
        workflow_id     TEXT,
        recipient       TEXT NOT NULL,
        channel         TEXT NOT NULL,
        actor           TEXT,
        created_at      TEXT NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        state           TEXT NOT NULL DEFAULT 'pending',
        last_error      TEXT,
        sent_at         TEXT,
        claim           TEXT
    );
    CREATE INDEX notify_outbox_due ON notify_outbox(next_attempt_at) WHERE state IN ('pending', 'failed');
    CREATE INDEX notify_outbox_by_created ON notify_outbox(created_at);
    -- an administrator's webhooks (generic, slack, teams); the secret signs generic bodies
    CREATE TABLE notify_webhooks (
        id          TEXT PRIMARY KEY,
        url         TEXT NOT NULL,
        kind        TEXT NOT NULL,
        secret      TEXT,
        events      TEXT,
        sees_role   TEXT,
        created_at  TEXT NOT NULL,
        created_by  TEXT NOT NULL,
        created_seq INTEGER NOT NULL,
        removed_at  TEXT,
        removed_by  TEXT,
        removed_seq INTEGER
    );
    -- a person hears of nothing unless they have a row here (which events, where, quiet hours)
    CREATE TABLE notify_prefs (
        username    TEXT PRIMARY KEY,
        email       TEXT,
        events      TEXT,
        quiet       TEXT,
        updated_at  TEXT NOT NULL,
        updated_seq INTEGER NOT NULL
    );
    -- SMTP and retry settings (JSON values): never a password, only where to read it
    CREATE TABLE notify_config (
        key         TEXT PRIMARY KEY,
        value       TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        updated_seq INTEGER NOT NULL
    );
    """),
    (17, "due dates: when a request is due, what was left while it waited for its requester, escalation", """
    -- due_at: when the request's approvers are due to have decided (core/due.py), from the
    -- policy's [types.NAME.due]; NULL for a type and risk without one, and while changes are
    -- requested, when due_left holds what was left (in the calendar's seconds) for the
    -- resubmission to resume. Both are in the signed entries, so a replay rebuilds them.
    ALTER TABLE requests ADD COLUMN due_at TEXT;
    ALTER TABLE requests ADD COLUMN due_left REAL;
    -- escalated_to: once overdue under an "escalate" rule, the role that may now decide the
    -- current stage too (core/overdue.py), until that stage is decided; the few escalated
    -- requests are found by their own index, so Awaiting me stays on requests_awaiting otherwise
    ALTER TABLE requests ADD COLUMN escalated_to TEXT;
    -- reminded: the last reminder its current stage's approvers had ('due_soon', 'overdue'), so
    -- each is sent once a stage; the engine's `reminded` entries say so, and a replay rebuilds it
    ALTER TABLE requests ADD COLUMN reminded TEXT;
    CREATE INDEX requests_escalated ON requests(escalated_to, created_at)
        WHERE escalated_to IS NOT NULL AND status = 'awaiting_approval';
    -- the overdue sweep asks "anything due?" on a clock and on the way to reads: the open due
    -- dates, with what its rule depends on, so the question never reads a table page
    CREATE INDEX requests_due ON requests(due_at, workflow_type, risk_level, escalated_to, reminded)
        WHERE due_at IS NOT NULL AND status = 'awaiting_approval';
    """),
    (18, "delegations (out of office), whom a delegated decision was made for, and stage assignments", """
    -- A person's decisions delegated to a colleague for a period, optionally for some types
    -- only (core/delegation.py). Written in the transaction of its delegation_granted /
    -- delegation_ended entry, whose seqs are kept: verify-audit rebuilds the table from the
    -- trail and compares. ends_at: the first instant after the period (UTC); until: as given.
    CREATE TABLE delegations (
        id          TEXT PRIMARY KEY,
        delegator   TEXT NOT NULL,
        delegate    TEXT NOT NULL,
        until       TEXT NOT NULL,
        ends_at     TEXT NOT NULL,
        types       TEXT,
        reason      TEXT NOT NULL,
        granted_at  TEXT NOT NULL,
        granted_by  TEXT NOT NULL,
        granted_seq INTEGER NOT NULL,
        ended_at    TEXT,
        ended_by    TEXT,
        end_reason  TEXT,
        ended_seq   INTEGER
    );
    CREATE INDEX delegations_open ON delegations(delegate, ends_at) WHERE ended_seq IS NULL;
    -- the delegator a delegate decided for (NULL: decided in their own right); in the signed entry
    ALTER TABLE approvals ADD COLUMN on_behalf_of TEXT;
    -- who an administrator or a director named to decide a stage (core/assignment.py): one row
    -- per `reassigned` entry (its seq); the newest row of a request's current (revision, stage)
    -- is its assignment, assignee NULL once cleared; a stage decided leaves its rows behind
    CREATE TABLE assignments (
        seq         INTEGER PRIMARY KEY,
        workflow_id TEXT NOT NULL,
        revision    INTEGER NOT NULL,
        stage       INTEGER NOT NULL,
        assignee    TEXT,
        reason      TEXT NOT NULL,
        assigned_at TEXT NOT NULL,
        assigned_by TEXT NOT NULL
    );
    CREATE INDEX assignments_by_stage ON assignments(workflow_id, revision, stage, seq);
    CREATE INDEX assignments_by_assignee ON assignments(assignee) WHERE assignee IS NOT NULL;
    """),
    (19, "quorum and parallel stages: each stage's rule, and the roles a parallel stage still awaits", """
    -- stage_rules: the assessed chain's rules (core/stage_rules.py), JSON, one item per stage:
    -- a role, {"role": R, "quorum": N} or {"all": [R, ...]}; NULL when every stage is one
    -- approval of one role (every request filed before this, and most since). In the signed
    -- created/resubmitted entry, so a replay rebuilds it.
    ALTER TABLE requests ADD COLUMN stage_rules TEXT;
    -- awaited: at a parallel stage, the roles still awaited (',security,compliance,'), read by
    -- Awaiting me beside current_role; NULL at every other stage. The few such requests are
    -- found by their own index, so Awaiting me stays on requests_awaiting otherwise.
    ALTER TABLE requests ADD COLUMN awaited TEXT;
    CREATE INDEX requests_awaited ON requests(awaited) WHERE awaited IS NOT NULL AND status = 'awaiting_approval';
    -- the requests with a parallel stage: "All I may see" asks whether one names a role of mine
    CREATE INDEX requests_parallel ON requests(stage_rules) WHERE instr(stage_rules, '"all"') > 0;
    -- a quorum or parallel stage has an approvals row per voter: a person decides a stage of a
    -- revision once (rbac: once per revision at all), and a stage of one approval is decided
    -- once by the compare-and-set on the request's stage, under BEGIN IMMEDIATE. SQLite cannot
    -- drop a table's UNIQUE constraint, so the table is copied whole (ids kept: their order is
    -- the decisions' order).
    CREATE TABLE approvals_19 (
        id            INTEGER PRIMARY KEY,
        workflow_id   TEXT NOT NULL REFERENCES requests(id),
        revision      INTEGER NOT NULL,
        stage         INTEGER NOT NULL,
        role          TEXT NOT NULL,
        approver      TEXT NOT NULL,
        approver_role TEXT NOT NULL,
        decision      TEXT NOT NULL,
        decided_at    TEXT NOT NULL,
        comments      TEXT NOT NULL,
        proposed_by   TEXT,
        on_behalf_of  TEXT,
        UNIQUE (workflow_id, revision, stage, approver)
    );
    INSERT INTO approvals_19 (id, workflow_id, revision, stage, role, approver, approver_role, decision, decided_at,
        comments, proposed_by, on_behalf_of)
        SELECT id, workflow_id, revision, stage, role, approver, approver_role, decision, decided_at, comments,
        proposed_by, on_behalf_of FROM approvals;
    DROP TABLE approvals;
    ALTER TABLE approvals_19 RENAME TO approvals;
    CREATE INDEX approvals_by_approver ON approvals(approver, decided_at);
    CREATE INDEX approvals_by_approver_request ON approvals(approver, workflow_id);
    """),
    (20, "claims: who is looking at a request's current stage (advisory, expiring, not in the trail)", """
    -- one claim a request at most, for the revision and stage it was made on (core/claims.py):
    -- a decision moves the stage on, and the claim with it ends. Not a decision and not in the
    -- audit trail, so nothing replays it; expired rows are deleted by the next claim.
    CREATE TABLE claims (
        workflow_id TEXT PRIMARY KEY REFERENCES requests(id),
        username    TEXT NOT NULL,
        role        TEXT NOT NULL,
        revision    INTEGER NOT NULL,
        stage       INTEGER NOT NULL,
        claimed_at  TEXT NOT NULL,
        expires_at  TEXT NOT NULL
    );
    """),
    (21, "a person's own time zone for their quiet hours", """
    -- an IANA name (core/notifications.py); null: the desk-wide `timezone` setting
    ALTER TABLE notify_prefs ADD COLUMN tz TEXT;
    """),
]

LATEST = MIGRATIONS[-1][0]


def _backfill_merkle(conn: Conn) -> None:
    from . import merkle_nodes

    merkle_nodes.backfill(conn)


#: migrations whose data step needs Python (run after their SQL, in the same transaction)
PYTHON_STEPS = {9: _backfill_merkle}


def current_version(conn: Conn) -> int:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if not exists:
        return 0
    row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return row[0] or 0


def check_is_ours(conn: Conn, path: Path) -> None:
    """Refuse to lay our schema over some other application's (correctly keyed) database."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if tables and "schema_migrations" not in tables:
        raise NotADatabase(f"{path} is an encrypted database of some other application, not hitl-tui's; nothing was changed.")


def migrate(conn: Conn) -> int:
    """Apply every migration newer than the database; returns the resulting version.

    The version is read first without a lock: a database that is up to date (nearly every open)
    needs no write lock, so opening it for reading never waits for, or is refused by, another
    writer. Only a database that needs a migration takes the write lock, and checks again
    under it (another process may have migrated it meanwhile)."""
    version = current_version(conn)
    _refuse_newer(version)
    if version == LATEST:
        return version
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        version = current_version(conn)
        _refuse_newer(version)
        for number, name, sql in MIGRATIONS:
            if number <= version:
                continue
            for statement in _statements(sql):
                conn.execute(statement)
            if number in PYTHON_STEPS:
                PYTHON_STEPS[number](conn)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (number, name, datetime.now(timezone.utc).isoformat(timespec="microseconds")),
            )
            version = number
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite has already rolled back after a full disk or an I/O error
            conn.execute("ROLLBACK")
        raise
    return version


def _refuse_newer(version: int) -> None:
    if version > LATEST:
        raise StoreError(
            f"This database has schema version {version}, newer than this hitl-tui knows ({LATEST}); upgrade hitl-tui."
        )


def _statements(sql: str) -> list[str]:
    """Split a migration script on statement boundaries, keeping trigger bodies whole."""
    out, buf = [], []
    for line in sql.strip().splitlines():
        buf.append(line)
        text = "\n".join(buf).strip()
        if text.endswith(";") and _complete(text):
            out.append(text)
            buf = []
    if "\n".join(buf).strip():
        out.append("\n".join(buf).strip())
    return out


def _complete(text: str) -> bool:
    import sqlcipher3

    return bool(sqlcipher3.complete_statement(text))
