"""`hitl-tui key ...`, `hitl-tui users key ...`, signing refusals and forged approvals, through
the installed console script (issue 10, section 2)."""

from __future__ import annotations

import fcntl
import os
import select
import subprocess
import termios
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hitl_tui.core.signatures import key_id, public_key_text
from tests.cli.conftest import ME, SCRIPT, file_request, set_my_role
from tests.forgery import approval_details, forge_entry


def _elsewhere() -> str:
    """A public key made on some other account: its private half is not here."""
    return public_key_text(Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def _public_key_of(output: str) -> str:
    return next(w for w in output.split() if w.startswith("ed25519:"))


def test_key_show_prints_my_registered_key(ready):
    out = ready.ok("key", "show").stdout
    kid = ready.json("users", "list", "--json")
    mine = next(u for u in kid if u["username"] == ME)["key_id"]
    assert f"key id {mine}" in out and "It is registered" in out
    assert out.count("ed25519:") == 1 and "register" not in out.split("It is registered")[1]


def test_key_show_for_someone_new_prints_the_command_an_administrator_runs(ready):
    out = ready.ok("key", "show", "--as", "nora.new").stdout
    public = _public_key_of(out)
    assert "It is not registered (no key is registered for you yet)" in out
    assert f'hitl-tui users key register nora.new {public} --reason "..."' in out
    ready.refused("users", "key", "register", "nora.new", public, "--reason", "x", match="No user named 'nora.new'")
    ready.ok("users", "add", "nora.new", "--role", "manager")  # embedded mode: the key already made here
    assert "It is registered" in ready.ok("key", "show", "--as", "nora.new").stdout
    assert _public_key_of(ready.ok("key", "show", "--as", "nora.new").stdout) == public


def test_register_rotate_and_revoke_a_key(ready):
    old = next(u["key_id"] for u in ready.json("users", "list", "--json") if u["username"] == "sarah.manager")
    out = ready.ok("key", "new", "--as", "sarah.manager").stdout
    new = _public_key_of(out)
    assert "your old key signs until then" in out
    ready.refused("users", "key", "register", "sarah.manager", new, match="reason is required")
    ready.refused("users", "key", "register", "sarah.manager", "ed25519:zz", "--reason", "r", match="is not a public key")
    done = ready.ok("users", "key", "register", "sarah.manager", new, "--reason", "key rotation").stdout
    kid = key_id(bytes.fromhex(new.split(":")[1]))
    assert f"Registered key {kid} for sarah.manager" in done and kid != old
    listing = ready.ok("users", "list").stdout
    assert "KEY" in listing.splitlines()[0] and kid in next(line for line in listing.splitlines() if "sarah.manager" in line)
    wid = file_request(ready)
    set_my_role(ready, "director")
    ready.ok("request-changes", wid, "-m", "quote please")  # still signs with my key
    ready.ok("users", "key", "revoke", "sarah.manager", "--reason", "laptop lost")
    line = next(line for line in ready.ok("users", "list").stdout.splitlines() if "sarah.manager" in line)
    assert kid not in line and " - " in line
    ready.refused("users", "key", "revoke", "sarah.manager", "--reason", "again", match="has no registered signing key")
    verified = ready.ok("verify-audit").stdout
    assert "signatures verified" in verified and "Result: verified." in verified


def test_a_decider_whose_key_is_elsewhere_is_refused_in_one_line(ready):
    wid = file_request(ready)
    set_my_role(ready, "manager")
    ready.ok("users", "key", "register", ME, _elsewhere(), "--reason", "my own laptop")
    size = ready.audit_size()
    result = ready.refused("approve", wid, match=f"{ME}'s registered signing key")
    assert "is not in this OS account's key store" in result.stderr
    assert f"`hitl-tui users key register {ME} KEY --reason ...`" in result.stderr and "`hitl-tui key show`" in result.stderr
    assert ready.audit_size() == size


def test_verify_audit_catches_a_forged_approval(ready):
    wid = file_request(ready)
    conn = ready.raw()
    seq = forge_entry(conn, actor="sarah.manager", action="approved", workflow_id=wid,
                      details={**approval_details(), "status_after": "awaiting_approval", "stage_after": 1, "stages": 2})
    # the tables made to match, as the insider would
    conn.execute("UPDATE requests SET current_stage = 1, current_role = 'director' WHERE id = ?", (wid,))
    conn.close()
    result = ready(*("verify-audit",))
    assert result.exit_code == 3, result.output
    assert (f"entry {seq} (approved {wid} by sarah.manager) is a forgery: it carries no signature" in result.stdout)
    assert "Result: VERIFICATION FAILED." in result.stdout


# --- re-authentication at signing ----------------------------------------------------------------

def _reauth_policy(cli) -> None:
    path = cli.root / "reauth.toml"
    path.write_text('[signing]\nreauth_at = "MEDIUM"\n')
    cli.ok("policy", "apply", str(path))


def test_reauth_without_a_terminal_is_refused_in_one_line(ready):
    _reauth_policy(ready)
    wid = file_request(ready)  # 5000: MEDIUM
    set_my_role(ready, "manager")
    size = ready.audit_size()
    ready.refused("approve", wid, match="the policy asks for your signing key's passphrase at this signing")
    assert ready.audit_size() == size
    ready.refused("key", "passphrase", match="asks for the passphrase on a terminal")


def _in_pty(cli, args: list[str], answers: list[tuple[str, str]], timeout: float = 30.0) -> tuple[int, str]:
    """Run the installed script with a real terminal as its controlling tty; answer each prompt."""
    master, slave = os.openpty()

    def own_tty() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    env = {**os.environ, **cli.env, "TERM": "dumb"}
    proc = subprocess.Popen([str(SCRIPT), *args], stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cli.root,
                            start_new_session=True, preexec_fn=own_tty, close_fds=True)
    os.close(slave)
    seen, pending = b"", list(answers)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready_fds, _, _ = select.select([master], [], [], 0.2)
        if ready_fds:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        if pending and pending[0][0].encode() in seen.split(b"\n")[-1] + seen[-200:]:
            prompt, answer = pending.pop(0)
            seen += b"\n"  # so the same prompt text is not answered twice
            os.write(master, answer.encode() + b"\n")
        if proc.poll() is not None and not ready_fds:
            break
    code = proc.wait(timeout=10)
    os.close(master)
    return code, seen.decode("utf-8", "replace")


def test_reauth_asks_for_the_passphrase_on_a_terminal(ready):
    _reauth_policy(ready)
    wid = file_request(ready)
    set_my_role(ready, "manager")
    code, out = _in_pty(ready, ["approve", wid], [])
    assert code == 1 and "has none; set one with `hitl-tui key passphrase`" in out
    code, out = _in_pty(ready, ["key", "passphrase"], [("New passphrase:", "correct horse"),
                                                     ("Repeat the new passphrase:", "correct horse")])
    assert code == 0 and "is now protected by a passphrase" in out, out
    assert "correct horse" not in out  # never echoed
    size = ready.audit_size()
    code, out = _in_pty(ready, ["approve", wid], [("Re-authenticate to sign as", "wrong one")])
    assert code == 1 and "Wrong passphrase" in out and ready.audit_size() == size
    code, out = _in_pty(ready, ["approve", wid], [("Re-authenticate to sign as", "correct horse")])
    assert code == 0 and f"Approved {wid}" in out, out
    assert "Traceback" not in out
    show = ready.ok("request", "show", wid).stdout
    assert f"Signed by {ME}" in show and "approved as Manager, stage 1 of 2" in show


def test_every_export_shows_each_signature(ready):
    import csv
    import io
    import json

    wid = file_request(ready)
    set_my_role(ready, "manager")
    ready.ok("approve", wid, "-m", "fine")
    ready.ok("export-audit", "--format", "csv", "-o", "trail.csv", "--workflow", wid)
    rows = list(csv.DictReader(io.StringIO((ready.root / "trail.csv").read_text("utf-8-sig"))))
    decision = next(r for r in rows if r["action"] == "approved")
    assert decision["signature"].startswith(f"Signed by {ME}, ") and decision["signature"].endswith(
        "UTC: approved as Manager, stage 1 of 2")
    created = next(r for r in rows if r["action"] == "created")
    assert created["signature"].startswith("Signed by John Doe (john.doe), ") or \
        created["signature"].startswith("Signed by john.doe, ")
    assert "Result: verified." in ready.ok("verify-audit", "--checkpoint", "trail.csv").stdout  # still checkable
    ready.ok("export-audit", "--format", "jsonl", "-o", "trail.jsonl", "--workflow", wid)
    lines = [json.loads(line) for line in (ready.root / "trail.jsonl").read_text().splitlines()]
    assert all(len(e["sig"]["value"]) == 128 for e in lines if e.get("record_type") == "audit_entry")
    for fmt in ("html", "md"):
        ready.ok("export-audit", "--format", fmt, "-o", f"trail.{fmt}", "--workflow", wid)
        text = (ready.root / f"trail.{fmt}").read_text("utf-8")
        assert "approved as Manager, stage 1 of 2" in text, fmt


def test_users_add_with_a_key_made_on_their_own_account(ready):
    theirs = _elsewhere()
    ready.ok("users", "add", "olivia.remote", "--role", "manager", "--key", theirs)
    kid = key_id(bytes.fromhex(theirs.split(":")[1]))
    assert next(u for u in ready.json("users", "list", "--json") if u["username"] == "olivia.remote")["key_id"] == kid
    out = ready.ok("key", "show", "--as", "olivia.remote").stdout  # this account holds another key for her
    assert f"the registered key is {kid}" in out
    ready.refused("users", "add", "pat.typo", "--role", "manager", "--key", "ed25519:00", match="is not a public key")
