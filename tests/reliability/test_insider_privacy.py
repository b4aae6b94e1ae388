"""The insider and the sealed personal data: someone holding the database key edits the boxes,
the data keys or the tables with raw SQL (their own sqlcipher3 connection). A personal value is
not in the hashed bytes, only its salted digest and the id of its data key (core/privacy.py);
the value itself sits AES-GCM-encrypted in sealed_values. Each case is judged by the INSTALLED
`hitl-tui verify-audit`, in a subprocess: exit 3, and the first line names the entry or the
request and how. Each test's docstring says which check catches it.

One database is built once for the module, with one request already erased by two
administrators (a real personal_data_erased entry to point a forged erasure at), and copied for
each case.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil

import pytest

from hitl_tui.core.privacy import box_contents, box_plaintext, digest_of, is_sealed, placeholder
from tests.attacker import raw_connection
from tests.cli.conftest import CAST, ME, Cli
from tests.keyring_session import isolated_home

TRIP = ("Datacentre travel", "Six engineers, two weeks")
REFUND = {"amount": "120", "customer": "Erika Mustermann", "order_id": "A-17"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """john.doe's requests: TRIP (90,000) approved by sarah.manager at stage 1 ("Budgeted"), now
    awaiting the Director; REFUND (a refund to Erika Mustermann, customer marked personal)
    approved; GONE withdrawn, then erased (requested by you, confirmed by ada.admin)."""
    root = tmp_path_factory.mktemp("insider-privacy")
    with isolated_home(tmp_path_factory.mktemp("insider-privacy-home")) as home:
        cli = Cli(root)
        cli.ok("init", "--email", "me@example.com")
        with cli.service() as s:
            for name, role in CAST.items():
                s.add_user(name, role, f"{name}@example.com", actor=ME)
            s.add_user("ada.admin", "it_admin", "ada@example.com", admin=True, actor=ME)
            trip = s.create_workflow_request("expense_approval", *TRIP, "john.doe",
                                             {"amount": "90000", "category": "travel"})
            s.approve_workflow(trip, "sarah.manager", "Budgeted")
            refund = s.create_workflow_request("refund_approval", "Refund for a damaged parcel",
                                               "The customer sent photos", "john.doe", REFUND)
            s.approve_workflow(refund, "sarah.manager", "Checked the order")
            gone = s.create_workflow_request("expense_approval", "Old laptop", "Replaced", "john.doe",
                                             {"amount": "700", "category": "equipment"})
            s.withdraw_workflow(gone, "john.doe")
        kept = _copy_before_erasure(cli, gone)
        with cli.service() as s:
            s.erasure.request(gone, "GDPR Art. 17 request", actor=ME)
            erased = s.erasure.confirm(gone, actor="ada.admin")
        assert cli("verify-audit").exit_code == 0
    return root, home, {"trip": trip, "refund": refund, "gone": gone}, erased, kept


def _copy_before_erasure(cli: Cli, wid: str) -> dict:
    """What an insider keeps aside before an erasure (a backup, a SELECT): the request's data
    key row, its boxes and the request's title and description."""
    conn = raw_connection(cli.db, cli.key)
    try:
        key = conn.execute("SELECT * FROM privacy_keys WHERE workflow_id = ?", (wid,)).fetchone()
        boxes = conn.execute("SELECT seq, digest, key_id, box FROM sealed_values WHERE key_id = ?", (key[0],)).fetchall()
        texts = conn.execute("SELECT title, description FROM requests WHERE id = ?", (wid,)).fetchone()
        return {"key": key, "boxes": boxes, "texts": texts}
    finally:
        conn.close()


@pytest.fixture
def case(built, tmp_path):
    root, home, ids, erased, kept = built
    for item in root.iterdir():
        shutil.copy2(item, tmp_path / item.name)
    cli = Cli(tmp_path)
    cli.env.update(home)
    conn = raw_connection(cli.db, cli.key)
    yield cli, ids, erased, conn
    conn.close()


@pytest.fixture
def kept(built) -> dict:
    return built[4]


def broken(cli: Cli) -> str:
    """verify-audit must exit 3; returns its first line."""
    run = cli("verify-audit")
    assert run.exit_code == 3, run.output
    return run.stdout.splitlines()[0]


def entry(conn, action: str, wid: str) -> tuple[int, dict]:
    """(seq, record) of the first entry with this action about request `wid`."""
    for seq, body in conn.execute("SELECT seq, CAST(body AS BLOB) FROM audit_log WHERE workflow_id = ? ORDER BY seq",
                                  (wid,)):
        rec = json.loads(body)
        if rec["action"] == action:
            return seq, rec
    raise AssertionError(action)


def sealed_title(conn, wid: str) -> tuple[int, str, str]:
    """(seq of the created entry, key id, digest) of the request's sealed title."""
    seq, rec = entry(conn, "created", wid)
    seal = rec["details"]["title"]
    assert is_sealed(seal)
    return seq, seal["key"], seal["sealed"]


def secret_of(conn, key_id: str) -> bytes:
    return bytes(conn.execute("SELECT secret FROM privacy_keys WHERE key_id = ?", (key_id,)).fetchone()[0])


def box_for(secret: bytes, digest: str, value: str, salt: bytes) -> bytes:
    """A box as store/privacy.py writes one: nonce || AES-GCM(salt and value), the digest as AAD."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    return nonce + AESGCM(secret).encrypt(nonce, box_plaintext(salt, value), digest.encode())


def opened(secret: bytes, box: bytes, digest: str) -> dict:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    salt, value = box_contents(AESGCM(secret).decrypt(box[:12], box[12:], digest.encode()))
    return {"salt": salt.hex(), "value": value}


def test_untouched_database_verifies(case):
    cli, _, _, _ = case
    run = cli("verify-audit")
    assert run.exit_code == 0, run.output
    assert "tables: requests, approvals and users are what replaying" in run.stdout


# --- the boxes ---------------------------------------------------------------------------------

def test_a_box_replaced_under_the_same_key_with_another_value(case):
    """The digest: the box opens under the right key, but its salt and value do not hash to the
    digest the entry committed to (the table edited to agree, so only the digest can tell)."""
    cli, ids, _, conn = case
    seq, key_id, digest = sealed_title(conn, ids["trip"])
    forged = box_for(secret_of(conn, key_id), digest, "Team party", secrets.token_bytes(16))
    assert opened(secret_of(conn, key_id), forged, digest)["value"] == "Team party"  # a well-made box
    conn.execute("UPDATE sealed_values SET box = ? WHERE digest = ?", (forged, digest))
    conn.execute("UPDATE requests SET title = 'Team party' WHERE id = ?", (ids["trip"],))
    assert broken(cli).endswith(f"entry {seq} holds a sealed personal value that cannot be read: its stored value "
                                "is not the value the entry sealed: it was replaced")


def test_a_box_swapped_for_another_value_of_the_same_person(case):
    """The AES-GCM tag: each box is bound to its own digest (the associated data), so the
    description's box put in place of the title's does not open."""
    cli, ids, _, conn = case
    seq, rec = entry(conn, "created", ids["trip"])
    title, description = rec["details"]["title"]["sealed"], rec["details"]["description"]["sealed"]
    conn.execute("UPDATE sealed_values SET box = (SELECT box FROM sealed_values WHERE digest = ?) WHERE digest = ?",
                 (description, title))
    conn.execute("UPDATE requests SET title = ? WHERE id = ?", (TRIP[1], ids["trip"]))
    assert broken(cli).endswith(f"entry {seq} holds a sealed personal value that cannot be read: its encrypted value "
                                "does not open under its key: it was replaced")


def test_a_box_deleted(case):
    """The opening: a sealed value whose key is live but whose box is gone."""
    cli, ids, _, conn = case
    seq, _, digest = sealed_title(conn, ids["trip"])
    assert conn.execute("DELETE FROM sealed_values WHERE digest = ?", (digest,)).rowcount == 1
    assert broken(cli).endswith(f"entry {seq} holds a sealed personal value that cannot be read: its encrypted value "
                                "was deleted from the database behind the application's back")


# --- the data keys -----------------------------------------------------------------------------

def test_a_data_key_deleted(case):
    """The opening: the key a sealed value names is not in privacy_keys at all."""
    cli, ids, _, conn = case
    seq, key_id, _ = sealed_title(conn, ids["trip"])
    assert conn.execute("DELETE FROM privacy_keys WHERE key_id = ?", (key_id,)).rowcount == 1
    assert broken(cli).endswith(f"entry {seq} holds a sealed personal value that cannot be read: its data key "
                                f"{key_id} is not in the database, and no erasure in the trail destroyed it")


def test_a_data_key_secret_replaced(case):
    """The AES-GCM tag: under another secret no box of that key opens."""
    cli, ids, _, conn = case
    seq, key_id, _ = sealed_title(conn, ids["trip"])
    conn.execute("UPDATE privacy_keys SET secret = ? WHERE key_id = ?", (secrets.token_bytes(32), key_id))
    assert broken(cli).endswith(f"entry {seq} holds a sealed personal value that cannot be read: its encrypted value "
                                "does not open under its key: it was replaced")


@pytest.mark.parametrize("named", ["an entry that erased nothing", "a real erasure of another request", "no entry"])
def test_a_key_destroyed_with_no_erasure_entry(case, named):
    """The erasure accounting: a key marked erased (secret NULL, boxes deleted, the tables
    rewritten to the placeholder, so the replay agrees) must be listed by the erasure entry it
    names; here it names one that never listed it, or none."""
    cli, ids, erased, conn = case
    seq, key_id, _ = sealed_title(conn, ids["trip"])
    by, on = {"an entry that erased nothing": (entry(conn, "approved", ids["trip"])[0], erased.erased_on),
              "a real erasure of another request": (erased.seq, erased.erased_on),
              "no entry": (None, None)}[named]
    conn.execute("PRAGMA secure_delete = ON")
    conn.execute("DELETE FROM sealed_values WHERE key_id = ?", (key_id,))
    assert conn.execute("UPDATE privacy_keys SET secret = NULL, erased_seq = ?, erased_on = ? WHERE key_id = ?",
                        (by, on, key_id)).rowcount == 1
    gone = placeholder(erased.erased_on)
    conn.execute("UPDATE requests SET title = ?, description = ? WHERE id = ?", (gone, gone, ids["trip"]))
    assert broken(cli).endswith(f"the personal data sealed in entry {seq} is marked erased, but no erasure in the "
                                f"trail destroyed its key {key_id}: it was destroyed behind the application's back")


def test_an_erasure_backdated(case):
    """The erasure accounting: a key the erasure entry did destroy, its date moved back a year
    (the table's placeholder too): the date must be the erasure entry's."""
    cli, ids, erased, conn = case
    seq, key_id, _ = sealed_title(conn, ids["gone"])
    day = erased.erased_on[:10]
    earlier = f"{int(day[:4]) - 1}{day[4:]}"
    assert conn.execute("UPDATE privacy_keys SET erased_on = ? WHERE key_id = ? AND erased_seq = ?",
                        (earlier + erased.erased_on[10:], key_id, erased.seq)).rowcount == 1
    conn.execute("UPDATE requests SET title = ? WHERE id = ?", (placeholder(earlier), ids["gone"]))
    assert broken(cli).endswith(f"the personal data sealed in entry {seq} reads 'erased on {earlier}', but entry "
                                f"{erased.seq} erased it on {day}")


def test_an_erasure_undone_from_a_copy_kept_before_it(case, kept):
    """The erasure accounting, the other way: entry N says it destroyed the key, so the database
    must not hold it. Here the insider puts back the key, its boxes and the table's words from
    a copy taken before the erasure: every box opens and matches its digest, the tables agree
    with the opened values, yet the trail records the data as erased."""
    cli, ids, erased, conn = case
    key_id = kept["key"][0]
    conn.execute("DELETE FROM privacy_keys WHERE key_id = ?", (key_id,))
    conn.execute(f"INSERT INTO privacy_keys VALUES ({', '.join('?' * len(kept['key']))})", kept["key"])
    conn.executemany("INSERT INTO sealed_values (seq, digest, key_id, box) VALUES (?, ?, ?, ?)", kept["boxes"])
    conn.execute("UPDATE requests SET title = ?, description = ? WHERE id = ?", (*kept["texts"], ids["gone"]))
    assert broken(cli).endswith(f"entry {erased.seq} erased key {key_id}, but the database still holds it: the "
                                f"erasure was undone behind the application's back")


# --- the tables against the opened trail -------------------------------------------------------

def test_a_sealed_title_edited_in_the_table(case):
    """The replay: the title in the trail is sealed; the replay opens it and compares."""
    cli, ids, _, conn = case
    conn.execute("UPDATE requests SET title = 'Team party' WHERE id = ?", (ids["trip"],))
    assert broken(cli).endswith(f'TABLES OUT OF STEP WITH THE AUDIT TRAIL: {ids["trip"]} title is "Team party" in the '
                                f'table, "{TRIP[0]}" in the trail')


def test_a_personal_data_field_edited_in_the_table(case):
    """The replay: refund_approval.customer is marked personal (sealed in the created entry);
    the replay opens it and compares it with the request's data."""
    cli, ids, _, conn = case
    assert conn.execute("UPDATE requests SET data = replace(data, 'Erika Mustermann', 'Max Mustermann') WHERE id = ? "
                        "AND instr(data, 'Erika Mustermann')", (ids["refund"],)).rowcount == 1
    assert broken(cli).endswith(f'TABLES OUT OF STEP WITH THE AUDIT TRAIL: {ids["refund"]} customer is '
                                f'"Max Mustermann" in the table, "Erika Mustermann" in the trail')


def test_a_sealed_comment_edited_in_the_approvals_table(case):
    """The replay: a decision's comment is sealed under the decider's key; opened and compared."""
    cli, ids, _, conn = case
    conn.execute("UPDATE approvals SET comments = 'Never saw it' WHERE workflow_id = ?", (ids["refund"],))
    assert (f'the approvals row of {ids["refund"]} stage 1 has comments "Never saw it" in the table, '
            '"Checked the order" in the trail') in broken(cli)


def test_a_sealed_email_edited_in_the_users_table(case):
    """The replay of the directory: user_added seals the email under the person's own key."""
    cli, _, _, conn = case
    assert conn.execute("UPDATE users SET email = 'john@elsewhere.example' WHERE username = 'john.doe'").rowcount == 1
    assert broken(cli).endswith("TABLES OUT OF STEP WITH THE AUDIT TRAIL: user john.doe's email is "
                                "john@elsewhere.example in the table, john.doe@example.com in the trail")


# --- what the raw database holds ---------------------------------------------------------------

def test_personal_values_are_only_ciphertext_in_the_database(case):
    """No personal value's bytes are in any entry's hashed bytes nor in any box: the entry holds
    a digest, the box the value encrypted (it opens, under its key, to exactly that value). The
    tables hold the values, which the replay compares."""
    _, ids, _, conn = case
    seq, key_id, digest = sealed_title(conn, ids["trip"])

    def entries_holding(text: str) -> int:
        return conn.execute("SELECT count(*) FROM audit_log WHERE instr(CAST(body AS BLOB), ?) > 0",
                            (text.encode(),)).fetchone()[0]

    def boxes_holding(text: str) -> int:
        return conn.execute("SELECT count(*) FROM sealed_values WHERE instr(box, ?) > 0",
                            (text.encode(),)).fetchone()[0]

    assert entries_holding('"order_id":"A-17"') == 1  # the search itself finds what is not personal
    for text in (*TRIP, "Budgeted", "Erika Mustermann", "Checked the order", "john.doe@example.com",
                 "me@example.com"):
        assert entries_holding(text) == 0, text
        assert boxes_holding(text) == 0, text
    box = bytes(conn.execute("SELECT box FROM sealed_values WHERE digest = ? AND key_id = ?",
                             (digest, key_id)).fetchone()[0])
    inside = opened(secret_of(conn, key_id), box, digest)
    assert inside["value"] == TRIP[0] and digest_of(bytes.fromhex(inside["salt"]), TRIP[0]) == digest
    assert conn.execute("SELECT title FROM requests WHERE id = ?", (ids["trip"],)).fetchone()[0] == TRIP[0]
