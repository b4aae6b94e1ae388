"""The insider: someone holding the database key, editing the encrypted database with raw SQL
(their own sqlcipher3 connection), 23 kinds of tampering. Each is judged by the INSTALLED
`hitl-tui verify-audit`, in a subprocess: exit 3, and the first line names the entry, request or
row and how. Each test's docstring says which check catches it.

One database is built once for the module (with an off-database checkpoint file) and copied
for each case, so the whole file costs about one `hitl-tui` call per case.
"""

from __future__ import annotations

import json
import shutil

import pytest

from hitl_tui.core.audit import utc_now
from tests.attacker import append_entry, drop_audit_triggers, raw_connection, rewrite_whole_chain
from tests.cli.conftest import CAST, ME, Cli
from tests.keyring_session import isolated_home


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """john.doe's requests: BIG (90,000, CRITICAL) approved by sarah.manager at stage 1, now
    awaiting the Director; DONE (5,000) approved at both stages; SMALL (500) awaiting a Manager."""
    root = tmp_path_factory.mktemp("insider")
    with isolated_home(tmp_path_factory.mktemp("insider-home")) as home:
        cli = Cli(root)
        cli.ok("init", "--email", "me@example.com")
        with cli.service() as s:
            for name, role in CAST.items():
                s.add_user(name, role, f"{name}@example.com", actor=ME)
            big = s.create_workflow_request("expense_approval", "Datacentre travel", "Six engineers, two weeks",
                                            "john.doe", {"amount": "90000", "category": "travel"})
            s.approve_workflow(big, "sarah.manager", "Budgeted")
            done = s.create_workflow_request("expense_approval", "Team offsite", "Venue and meals", "john.doe",
                                             {"amount": "5000", "category": "meals"})
            s.approve_workflow(done, "sarah.manager", "Fine")
            s.approve_workflow(done, "mike.director", "Approved")
            small = s.create_workflow_request("expense_approval", "Keyboard", "Ergonomic", "john.doe",
                                              {"amount": "500", "category": "equipment"})
        cli.ok("checkpoint", "-o", str(root / "kept.checkpoint"))
    return root, home, {"big": big, "done": done, "small": small}


@pytest.fixture
def case(built, tmp_path):
    root, home, ids = built
    for item in root.iterdir():
        shutil.copy2(item, tmp_path / item.name)
    cli = Cli(tmp_path)
    cli.env.update(home)  # the same account as built it: its checkpoint key verifies the kept file
    return cli, ids, raw_connection(cli.db, cli.key)


def broken(cli: Cli, *args: str) -> str:
    """verify-audit must exit 3; returns its first line."""
    run = cli("verify-audit", *args)
    assert run.exit_code == 3, run.output
    return run.stdout.splitlines()[0]


def seq_of(conn, action: str, wid: str | None = None) -> int:
    for seq, body in conn.execute("SELECT seq, CAST(body AS BLOB) FROM audit_log ORDER BY seq"):
        rec = json.loads(body)
        if rec["action"] == action and (wid is None or rec["workflow_id"] == wid):
            return seq
    raise AssertionError(action)


def test_untouched_database_verifies(case):
    cli, _, conn = case
    run = cli("verify-audit")
    assert run.exit_code == 0, run.output
    assert "tables: requests, approvals and users are what replaying" in run.stdout


# --- the chain ---------------------------------------------------------------------------------

def test_edit_an_entry_body(case):
    """The hash chain: the stored bytes no longer hash as stored."""
    cli, ids, conn = case
    drop_audit_triggers(conn)
    seq = seq_of(conn, "approved", ids["big"])
    # the stage role, not the comment 'Budgeted': that is sealed (the hashed bytes hold its digest)
    old, new = '"stage_role":"manager"', '"stage_role":"director"'
    assert conn.execute("SELECT instr(body, ?) FROM audit_log WHERE seq = ?", (old.encode(), seq)).fetchone()[0]
    conn.execute("UPDATE audit_log SET body = replace(body, ?, ?) WHERE seq = ?", (old, new, seq))
    assert f"AUDIT CHAIN BROKEN at entry {seq}: entry {seq} does not match its hash" in broken(cli)


def test_edit_an_entry_hash(case):
    """The hash chain: the next entry was chained to the old hash."""
    cli, _, conn = case
    drop_audit_triggers(conn)
    conn.execute("UPDATE audit_log SET hash = zeroblob(32) WHERE seq = 5")
    assert "AUDIT CHAIN BROKEN at entry 5" in broken(cli)


def test_delete_an_entry_in_the_middle(case):
    """The hash chain: a sequence number is missing."""
    cli, _, conn = case
    drop_audit_triggers(conn)
    conn.execute("DELETE FROM audit_log WHERE seq = 6")
    assert "entry 6 is missing" in broken(cli)


def test_delete_the_last_entry(case):
    """The head recorded beside the chain (and the stored checkpoint): tail truncation."""
    cli, _, conn = case
    drop_audit_triggers(conn)
    last = conn.execute("SELECT max(seq) FROM audit_log").fetchone()[0]
    conn.execute("DELETE FROM audit_log WHERE seq = ?", (last,))
    assert "deleted from the end" in broken(cli) or "truncated" in broken(cli)


def test_reorder_two_entries(case):
    """The hash chain: each entry names its own seq and its predecessor's hash."""
    cli, _, conn = case
    drop_audit_triggers(conn)
    rows = {s: (b, h) for s, b, h in conn.execute("SELECT seq, body, hash FROM audit_log WHERE seq IN (7, 8)")}
    for seq, other in ((7, 8), (8, 7)):
        conn.execute("UPDATE audit_log SET body = ?, hash = ? WHERE seq = ?", (*rows[other], seq))
    assert "AUDIT CHAIN BROKEN at entry 7" in broken(cli)


def test_insert_an_entry(case):
    """The recorded head: an entry appended by hand without moving it."""
    cli, _, conn = case
    size = int(conn.execute("SELECT value FROM meta WHERE key = 'audit_size'").fetchone()[0])
    head = conn.execute("SELECT value FROM meta WHERE key = 'audit_head'").fetchone()[0]
    append_entry(conn, "john.doe", "session", None, {"note": "hello"})
    conn.execute("UPDATE meta SET value = ? WHERE key = 'audit_size'", (str(size),))
    conn.execute("UPDATE meta SET value = ? WHERE key = 'audit_head'", (head,))
    assert f"entries after {size} were added behind the application's back" in broken(cli)


def test_edit_the_stored_head(case):
    """The recorded head: it no longer names the last entry's hash."""
    cli, _, conn = case
    conn.execute("UPDATE meta SET value = ? WHERE key = 'audit_head'", ("ab" * 32,))
    assert "is not the head the database recorded" in broken(cli)


def test_edit_the_workflow_id_index_column(case):
    """The chain walk: the index column is compared with the hashed bytes."""
    cli, ids, conn = case
    drop_audit_triggers(conn)
    seq = seq_of(conn, "approved", ids["big"])
    conn.execute("UPDATE audit_log SET workflow_id = ? WHERE seq = ?", (ids["small"], seq))
    assert f"entry {seq} is filed under the wrong request" in broken(cli)


def test_consistent_rewrite_is_caught_by_the_checkpoint_kept_elsewhere(case):
    """Only the off-database checkpoint: the whole chain re-hashed, the head and the stored
    checkpoints replaced, nothing a replay or a signature looks at changed."""
    cli, _, conn = case
    rewrite_whole_chain(conn, b'"session_id":"', b'"session_id":"x')
    line = broken(cli, "--checkpoint", str(cli.root / "kept.checkpoint"))
    assert "AUDIT CHAIN BROKEN" in line and "rewritten" in line


def test_forge_a_stored_checkpoint(case):
    """The stored checkpoints: its signature no longer covers what it states (another head)."""
    cli, _, conn = case
    cols = [r[1] for r in conn.execute("PRAGMA table_info(checkpoints)") if r[1] != "id"]
    row = dict(zip(cols, conn.execute(f"SELECT {', '.join(cols)} FROM checkpoints ORDER BY id DESC LIMIT 1").fetchone()))
    old = row["head_hash"]
    row["head_hash"] = "ab" * 32
    if row.get("note"):  # the signed note names the head too ("chain <hex>")
        row["note"] = row["note"].replace(old, "ab" * 32)
    conn.execute(f"INSERT INTO checkpoints ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))
    line = broken(cli)
    assert "AUDIT CHAIN BROKEN" in line and "checkpoint" in line


# --- the tables against the replayed trail -----------------------------------------------------

def test_edit_a_request_amount(case):
    """The replay: the request's data differs from the created entry's."""
    cli, ids, conn = case
    conn.execute("UPDATE requests SET data = replace(data, '90000', '9000') WHERE id = ?", (ids["big"],))
    assert broken(cli).endswith(f"TABLES OUT OF STEP WITH THE AUDIT TRAIL: {ids['big']} amount is 9,000 in the "
                                "table, 90,000 in the trail")


def test_edit_a_request_title(case):
    """The replay: the title."""
    cli, ids, conn = case
    conn.execute("UPDATE requests SET title = 'Team party' WHERE id = ?", (ids["done"],))
    assert f'{ids["done"]} title is "Team party" in the table, "Team offsite" in the trail' in broken(cli)


def test_flip_a_status_to_approved(case):
    """The replay: status and stage."""
    cli, ids, conn = case
    conn.execute("UPDATE requests SET status = 'approved', current_role = NULL WHERE id = ?", (ids["big"],))
    assert (f"{ids['big']} is approved in the table, awaiting Director (stage 2 of 4) in the trail"
            in broken(cli))


def test_swap_the_requester(case):
    """The replay: the requester is the created entry's actor."""
    cli, ids, conn = case
    conn.execute("UPDATE requests SET requester = 'sam.security' WHERE id = ?", (ids["small"],))
    assert f"{ids['small']} requester is sam.security in the table, john.doe in the trail" in broken(cli)


def test_edit_an_approvals_row(case):
    """The replay: each decision entry is one approvals row."""
    cli, ids, conn = case
    conn.execute("UPDATE approvals SET approver = 'lisa.executive' WHERE workflow_id = ? AND stage = 0", (ids["big"],))
    assert (f"the approvals row of {ids['big']} stage 1 has approver lisa.executive in the table, "
            "sarah.manager in the trail" in broken(cli))


def test_edit_an_approvals_decision(case):
    """The replay: the decision of an approvals row."""
    cli, ids, conn = case
    conn.execute("UPDATE approvals SET decision = 'reject' WHERE workflow_id = ? AND stage = 1", (ids["done"],))
    assert f"the approvals row of {ids['done']} stage 2 has decision reject in the table, approve in the trail" \
        in broken(cli)


def test_delete_an_approvals_row(case):
    """The replay: a decision entry whose row is gone."""
    cli, ids, conn = case
    conn.execute("DELETE FROM approvals WHERE workflow_id = ? AND stage = 1", (ids["done"],))
    assert f"the approvals row of {ids['done']} stage 2 is missing" in broken(cli)


def test_delete_a_request_with_its_approvals(case):
    """The replay: a created entry whose request is gone."""
    cli, ids, conn = case
    conn.execute("DELETE FROM approvals WHERE workflow_id = ?", (ids["done"],))
    conn.execute("DELETE FROM requests WHERE id = ?", (ids["done"],))
    assert f"{ids['done']} is in the trail but missing from the table" in broken(cli)


def test_insert_a_request_with_no_entry(case):
    """The replay: a row no entry created."""
    cli, ids, conn = case
    cols = [r[1] for r in conn.execute("PRAGMA table_info(requests)") if r[1] != "id"]
    conn.execute(f"INSERT INTO requests (id, {', '.join(cols)}) SELECT 'WF-1700000000-0001', {', '.join(cols)} "
                 "FROM requests WHERE id = ?", (ids["small"],))
    assert "WF-1700000000-0001 is in the table but not in the trail" in broken(cli)


def test_change_a_users_role(case):
    """The replay of the user directory: user_added and the role changes."""
    cli, _, conn = case
    conn.execute("UPDATE users SET role = 'director' WHERE username = 'john.doe'")
    assert "user john.doe is a director in the table, an employee in the trail" in broken(cli)


def test_make_a_user_an_administrator(case):
    """The replay of the user directory: admin rights only come from entries."""
    cli, _, conn = case
    conn.execute("UPDATE users SET admin = 1 WHERE username = 'john.doe'")
    assert "user john.doe is an administrator in the table, not in the trail" in broken(cli)


def test_edit_the_risk_level(case):
    """The replay: the risk level (and the risk rank the lists sort by)."""
    cli, ids, conn = case
    conn.execute("UPDATE requests SET risk_level = 'LOW', risk_rank = 0 WHERE id = ?", (ids["big"],))
    assert f"{ids['big']} risk level is LOW in the table, CRITICAL in the trail" in broken(cli)


def test_edit_a_derived_column(case):
    """The replay: current_role, the index column the 'awaiting me' view reads."""
    cli, ids, conn = case
    conn.execute("UPDATE requests SET current_role = 'manager' WHERE id = ?", (ids["big"],))
    assert f"{ids['big']} awaited role (an index column) is manager in the table, director in the trail" \
        in broken(cli)


# --- the forged approval: caught by its signature ----------------------------------------------

def _forge_approval(conn, ids, sig=None) -> int:
    """mike.director 'approves' BIG's stage 2: a correctly hashed entry with every replay detail,
    its approvals row and request row to match, and the head moved."""
    wid, when = ids["big"], utc_now()
    from hitl_tui.core.audit import iso

    details = {"decision": "approve", "stage": 1, "stage_role": "director", "decider_role": "director",
               "comments": "ok", "revision": 1, "status_before": "awaiting_approval",
               "status_after": "awaiting_approval", "stage_after": 2, "replay": 1}
    seq = append_entry(conn, "mike.director", "approved", wid, details, sig=sig, ts=when)
    conn.execute("INSERT INTO approvals (workflow_id, revision, stage, role, approver, approver_role, decision, "
                 "decided_at, comments, proposed_by) VALUES (?, 1, 1, 'director', 'mike.director', 'director', "
                 "'approve', ?, 'ok', NULL)", (wid, iso(when)))
    conn.execute("UPDATE requests SET current_stage = 2, current_role = 'executive', updated_at = ?, "
                 "deciders = deciders || 'mike.director,' WHERE id = ?", (iso(when), wid))
    return seq


def test_forged_approval(case):
    """The signatures: an approval no key of mike.director's signed (the replay agrees with it)."""
    cli, ids, conn = case
    seq = _forge_approval(conn, ids)
    line = broken(cli)
    assert f"entry {seq}" in line and "forgery" in line, line


def test_forged_approval_with_a_made_up_signature(case):
    """The signatures: a signature that does not verify against mike.director's key."""
    cli, ids, conn = case
    key_id = "0123456789abcdef"
    seq = _forge_approval(conn, ids, sig={"alg": "ed25519", "key": key_id, "value": "ab" * 64})
    line = broken(cli)
    assert f"entry {seq}" in line and "forgery" in line, line
