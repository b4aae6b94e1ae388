"""Sealing a session: never sign a chain that does not verify from this account's last trusted
checkpoint, say so loudly (one line, exit 3, the action still reported); a seal that cannot be
made (a full disk) never turns a committed decision into "nothing was done"; a signing key is
created all or nothing; closing twice is harmless."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess

import pytest
import sqlcipher3

from hitl_tui.core import WorkflowSystem
from hitl_tui.core.errors import AuditChainBroken, StoreError
from hitl_tui.core.safe_files import write_new_file
from tests.attacker import drop_audit_triggers, rewrite_whole_chain
from tests.reliability.desk import Desk


@pytest.fixture
def desk(tmp_path, monkeypatch) -> Desk:
    return Desk(tmp_path, monkeypatch)


def _raw(desk: Desk):
    """The insider's own connection, holding the database key."""
    from hitl_tui.core.keys import resolve_key

    conn = sqlcipher3.connect(str(desk.db), isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{resolve_key(desk.db).key.hex()}'\"")
    return conn


def _edit_entry(desk: Desk, seq: int, old: bytes, new: bytes) -> None:
    """Replace `old` by `new` in one entry's hashed bytes (a non-personal part: personal values
    are sealed, their words are not in the body)."""
    conn = _raw(desk)
    drop_audit_triggers(conn)
    body = bytes(conn.execute("SELECT body FROM audit_log WHERE seq = ?", (seq,)).fetchone()[0])
    assert old in body
    conn.execute("UPDATE audit_log SET body = ? WHERE seq = ?", (body.replace(old, new), seq))
    conn.close()


def _unsealed_request(desk: Desk) -> tuple[str, int]:
    """john.doe files a second request in a session that is not sealed: (its id, its entry)."""
    s = desk.service()
    try:
        wid = s.create_workflow_request("expense_approval", "Printer toner", "Office supplies", "john.doe",
                                        {"amount": "120", "category": "equipment"})
        return wid, s.audit_size()
    finally:
        s.close(checkpoint=False)


def _checkpoints(desk: Desk) -> int:
    s = desk.service()
    try:
        return len(s.stored_checkpoints())
    finally:
        s.close(checkpoint=False)


def _refused_but_reported(done: subprocess.CompletedProcess, wid: str, bad_entry: int) -> None:
    assert done.returncode == 3, done.stderr
    assert done.stdout.startswith(f"Approved {wid}")  # what was done is still said
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"hitl-tui: Approved {wid} (committed), but the session was not sealed: "
                               f"AUDIT CHAIN BROKEN at entry {bad_entry}:")
    assert "nothing was signed" in lines[0] and "Traceback" not in done.stderr


def test_an_edited_entry_after_the_last_checkpoint_is_not_signed(desk):
    wid = desk.setup()
    _, seq = _unsealed_request(desk)
    _edit_entry(desk, seq, b'"amount":"120.00"', b'"amount":"12.00"')  # the insider edits it
    before = _checkpoints(desk)
    done = desk.run("approve", wid)  # the next honest user's session
    _refused_but_reported(done, wid, seq)
    assert _checkpoints(desk) == before  # the honest key signed nothing
    assert "approved" in desk.actions()  # and the decision itself stands


def test_a_consistent_rewrite_is_not_signed_when_our_checkpoint_is_still_there(desk):
    wid = desk.setup()
    sealed_at = _checkpoints_size(desk)
    conn = _raw(desk)
    rewrite_whole_chain(conn, b'"category":"travel"', b'"category":"meals"', drop_checkpoints=False)
    conn.close()
    done = desk.run("approve", wid)
    _refused_but_reported(done, wid, sealed_at)
    assert "differs from the checkpoint this account signed" in done.stderr


def _checkpoints_size(desk: Desk) -> int:
    s = desk.service()
    try:
        return s.stored_checkpoints()[-1].size
    finally:
        s.close(checkpoint=False)


def test_a_checkpoint_forged_in_our_name_is_not_trusted(desk):
    """A row with our public key but no valid signature must not become the starting point,
    or the edited entry before it would never be walked."""
    desk.setup()
    _, seq = _unsealed_request(desk)
    _unsealed_request(desk)
    _edit_entry(desk, seq, b'"amount":"120.00"', b'"amount":"12.00"')
    s = desk.service()
    public = s.signer(create=False).public_hex
    size = s.audit_size()
    s.close(checkpoint=False)
    conn = _raw(desk)
    head = bytes(conn.execute("SELECT hash FROM audit_log WHERE seq = ?", (size,)).fetchone()[0]).hex()
    conn.execute("INSERT INTO checkpoints (size, head_hash, created_at, public_key, signature) VALUES (?, ?, ?, ?, ?)",
                 (size, head, "2026-01-01T00:00:00.000000+00:00", public, "00" * 64))
    conn.close()
    s = desk.service()
    s.add_user("new.person", "employee", actor=s.operator)  # the chain grew: close() will try to seal
    assert s.seal_check() is not None and f"entry {seq}:" in s.seal_check()
    s.close()
    assert s.seal_refused_reason and f"AUDIT CHAIN BROKEN at entry {seq}:" in s.seal_refused_reason


def test_sealing_walks_only_what_follows_the_trusted_checkpoint(desk):
    """Closing stays cheap: an entry before this account's last checkpoint is not re-walked at
    close (the signed head still extends the head we signed); verify-audit finds it."""
    wid = desk.setup()
    _edit_entry(desk, 1, b'"admin":true', b'"admin":false')
    done = desk.run("approve", wid)
    assert done.returncode == 0, done.stderr
    assert desk.run("verify-audit").returncode == 3


def test_direct_api_close_raises_when_the_seal_is_refused_and_closing_twice_is_harmless(desk):
    desk.setup()
    _, seq = _unsealed_request(desk)
    _edit_entry(desk, seq, b'"amount":"120.00"', b'"amount":"12.00"')

    async def scenario() -> None:
        system = await WorkflowSystem.open(desk.db)
        await system.add_user("late.joiner", "employee")
        with pytest.raises(AuditChainBroken, match=f"AUDIT CHAIN BROKEN at entry {seq}:"):
            await system.close()
        await system.close()  # the second close does nothing (it raised RuntimeError before)
        with pytest.raises(StoreError, match="closed"):
            await system.get_user("late.joiner")

    asyncio.run(scenario())
    assert _checkpoints(desk) == 1  # only setup's seal; nothing signed over the edit


def test_closing_twice_is_harmless(desk):
    desk.setup()

    async def scenario() -> None:
        async with await WorkflowSystem.open(desk.db) as system:
            await system.add_user("late.joiner", "employee")
            await system.close()
        await system.close()

    asyncio.run(scenario())
    service = desk.service()
    service.close()
    service.close()
    assert _checkpoints(desk) == 2  # the system's session was sealed once


# --- the signing key: all or nothing -----------------------------------------------------------

def test_an_empty_signing_key_left_by_an_older_version_is_replaced(desk):
    wid = desk.setup()
    signing = desk.root / "old-version.ed25519"
    signing.touch(mode=0o600)  # what a kill between creating and writing it used to leave
    env = {"HITL_SIGNING_KEY_FILE": str(signing)}
    done = desk.ok("approve", wid, env=env)
    assert done.stderr == ""  # sealed, quietly
    assert len(bytes.fromhex(signing.read_text().strip())) == 32
    assert desk.ok("checkpoint", "-o", str(desk.root / "cp.json"), env=env).returncode == 0


def test_a_damaged_signing_key_is_named_with_the_fix(desk):
    desk.setup()
    signing = desk.root / "damaged.ed25519"
    signing.write_text("a1b2c3")  # cut short: it may have signed checkpoints, so it is kept
    signing.chmod(0o600)
    done = desk.run("checkpoint", env={"HITL_SIGNING_KEY_FILE": str(signing)})
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert f"mv {signing} {signing}.damaged" in done.stderr
    assert signing.read_text() == "a1b2c3"


def test_a_new_file_is_never_written_over_an_existing_one(tmp_path):
    target = tmp_path / "key"
    target.write_bytes(b"theirs")
    with pytest.raises(FileExistsError):
        write_new_file(target, b"mine")
    assert target.read_bytes() == b"theirs" and sorted(p.name for p in tmp_path.iterdir()) == ["key"]


# --- a full data directory: the decision committed, and is reported as done -------------------

@pytest.fixture
def full_tmpfs(tmp_path):
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "full"
    mnt.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(mnt)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass  # full
        finally:
            os.close(fd)
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_full_data_directory_does_not_turn_a_committed_approval_into_a_failure(desk, full_tmpfs):
    wid = desk.setup()
    # the directory where this database's checkpoint signing key would be made is full (the
    # approver's own key, in the data directory, is there: the decision is signed and committed)
    done = desk.run("approve", wid, env={"HITL_SIGNING_KEY_FILE": str(full_tmpfs / "signing" / "db.ed25519")})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Approved {wid}")
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"hitl-tui: Approved {wid} (committed); the session could not be sealed with a checkpoint: ")
    assert "No space left on device" in lines[0] and "nothing more was done" not in done.stderr
    s = desk.service()
    try:
        assert s.get_workflow(wid).status.value == "approved"
    finally:
        s.close(checkpoint=False)
    assert desk.run("verify-audit").returncode == 0
