"""kill -9 while `hitl-tui erase --confirm` commits (crash points write.*, core/crashpoints.py):
the erasure happened whole or not at all. Before the commit nothing is erased and the erasure
still waits for its second administrator; after it the data is erased; the trail verifies either
way, and the next command carries on from there."""

from __future__ import annotations

import json
import shutil
from datetime import timezone

import pytest
import sqlcipher3

from tests.reliability.desk import ME, Desk

POINTS = ("write.before_commit", "write.after_commit")
EMAIL = "john@example.com"  # Desk.setup's
TITLE = "Team offsite"


@pytest.fixture
def desk(tmp_path, monkeypatch) -> Desk:
    return Desk(tmp_path, monkeypatch)


def _erasure_waiting(desk: Desk) -> str:
    """john.doe's request approved through the CLI, john deactivated, and his erasure asked for
    by ian.itadmin (another administrator): what you, the second one, confirm. Returns the id."""
    wid = desk.setup()
    desk.ok("approve", wid, "-m", "Planned")
    with desk.service() as s:
        s.add_user("ian.itadmin", "it_admin", "ian@example.com", admin=True, actor=ME)
        s.set_user_active("john.doe", False, actor=ME)
        s.erasure.request("john.doe", "left the company", actor="ian.itadmin")
    return wid


def _state(desk: Desk, wid: str) -> tuple[str, str, list[str]]:
    """(john's email, his request's title, the targets waiting), read through the commands."""
    john = next(u for u in json.loads(desk.ok("users", "list", "--json").stdout) if u["username"] == "john.doe")
    shown = desk.ok("request", "show", wid).stdout.splitlines()[0]
    waiting = [w["target"] for w in json.loads(desk.ok("erase", "--list", "--json").stdout)]
    return john["email"], shown.split("  ", 1)[1], waiting


def _verified(desk: Desk) -> None:
    assert "Result: verified." in desk.ok("verify-audit").stdout  # opens, recovers, replays
    with desk.service() as s:
        result = s.verify_audit()
        assert result.ok and result.tables_problem is None, result.summary()


def _erased_on(desk: Desk) -> str:
    with desk.service() as s:
        stone = next(e for e in s.iter_audit() if e.action == "personal_data_erased")
    return f"erased on {stone.timestamp.astimezone(timezone.utc).date().isoformat()}"


def test_opening_for_a_confirm_commits_nothing_before_the_erasure(desk):
    """The kill at write.before_commit below is the erasure's own transaction: a confirm that is
    refused inside it is not killed, so nothing else commits first."""
    _erasure_waiting(desk)
    refused = desk.run("erase", "nobody.here", "--confirm", crash="write.before_commit")
    assert refused.returncode == 1 and "No erasure of nobody.here is waiting" in refused.stderr


@pytest.mark.parametrize("point", POINTS)
def test_kill_while_confirming_an_erasure(desk, point):
    wid = _erasure_waiting(desk)
    before = desk.actions()
    killed = desk.killed("erase", "john.doe", "--confirm", crash=point)
    assert "Erased" not in killed.stdout  # nothing was acknowledged
    _verified(desk)
    after = desk.actions()
    if point == "write.before_commit":
        assert after == before
        assert _state(desk, wid) == (EMAIL, TITLE, ["john.doe"])  # untouched, still waiting
        done = desk.ok("erase", "john.doe", "--confirm")  # confirming again finishes the job
        assert "Erased the personal data of john.doe" in done.stdout
    else:
        assert after == before + ["personal_data_erased"]
        refused = desk.run("erase", "john.doe", "--confirm")  # it is done: nothing waits any more
        assert refused.returncode == 1 and "No erasure of john.doe is waiting" in refused.stderr
    gone = _erased_on(desk)
    assert _state(desk, wid) == (gone, gone, [])
    assert desk.actions().count("personal_data_erased") == 1
    _verified(desk)


def test_after_a_kill_past_the_commit_the_destroyed_key_leaves_the_database_file(desk, tmp_path):
    """The kill skips the confirm's own fold of the write-ahead log; the next session's close
    folds it, so the database file alone (a copy without its -wal, as a backup tool might take)
    no longer holds john's keys either."""
    _erasure_waiting(desk)
    desk.killed("erase", "john.doe", "--confirm", crash="write.after_commit")
    desk.ok("verify-audit")
    copy = tmp_path / "copy" / "hitl.db"
    copy.parent.mkdir()
    shutil.copyfile(desk.db, copy)
    conn = sqlcipher3.connect(str(copy), isolation_level=None)
    try:
        conn.execute(f"PRAGMA key = \"x'{desk.key_file.read_text().strip()}'\"")
        live = conn.execute("SELECT count(*) FROM privacy_keys WHERE person = 'john.doe' AND secret IS NOT NULL")
        assert live.fetchone()[0] == 0
        erased = conn.execute("SELECT count(*) FROM privacy_keys WHERE person = 'john.doe' AND erased_seq IS NOT NULL")
        assert erased.fetchone()[0] >= 1
    finally:
        conn.close()
