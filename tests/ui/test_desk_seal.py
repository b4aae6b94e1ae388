"""A desk never signs a trail that does not verify: an insider edited an entry before the desk
opened; the person at the desk still decides (what they decide is kept), but on the way out the
session is not sealed with their key, and the process says so on stderr and exits 3, as the CLI
does. Before issue 8 the honest user's close signed the tampered head."""

from __future__ import annotations

import sqlcipher3

from tests.attacker import drop_audit_triggers
from tests.ui.pty_desk import Db, Desk


def _tamper_first_entry(db: Db) -> None:
    conn = sqlcipher3.connect(str(db.path), isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{db.key.hex()}'\"")
    drop_audit_triggers(conn)
    body = bytes(conn.execute("SELECT body FROM audit_log WHERE seq = 1").fetchone()[0])
    conn.execute("UPDATE audit_log SET body = ? WHERE seq = 1", (body.replace(b'"manager"', b'"director"'),))
    conn.close()


def test_a_desk_on_a_tampered_trail_keeps_the_decision_signs_nothing_and_exits_3(tmp_path):
    db = Db(tmp_path)
    _tamper_first_entry(db)
    desk = Desk(db.env, controlling=True)
    try:
        desk.read(b"Team lunch")
        desk.read(b"BROKEN", timeout=15)  # the header says it while the desk is open
        desk.press(b"a")
        desk.read(b"Approving", timeout=10)
        desk.press(b"\r")
        desk.read(b"Approved", timeout=10)
        desk.press(b"q")
        desk.wait_exit(timeout=15)
    finally:
        desk.cleanup()
    assert desk.status == 3
    assert b"the session was not sealed: AUDIT CHAIN BROKEN at entry 1" in desk.output
    assert b"Traceback" not in desk.output
    _, checkpoints, request = db.state()
    assert request.status.value == "approved", "what was decided stays decided"
    assert checkpoints == [], "a broken trail must never be signed"
