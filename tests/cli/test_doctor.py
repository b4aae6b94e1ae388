"""`hitl-tui doctor`: one line per check ("ok" or "FIX ...: the fix"), a summary, exit 0 or 1.

Each broken deployment below is broken the way it happens (a chmod, a lost file, an edited
entry, a service that is not running), and the FIX line is checked to name the file and the
exact command; where the fix is a command of ours, running it makes the doctor pass again.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from .conftest import SCRIPT, Cli, file_request, seq_of, set_my_role, tamper_body

FIX, OK = "FIX   ", "ok    "


def _lines(result) -> tuple[list[str], list[str], str]:
    """(ok lines, FIX lines, the summary) of a doctor run; every line is one or the other."""
    lines = result.stdout.strip().splitlines()
    body, summary = lines[:-1], lines[-1]
    assert all(line.startswith((OK, FIX)) for line in body), result.stdout
    return [x for x in body if x.startswith(OK)], [x for x in body if x.startswith(FIX)], summary


def _one_fix(cli: Cli, *args: str, env: dict | None = None) -> str:
    """Run the doctor expecting exactly one FIX line and exit 1; that line."""
    result = cli("doctor", *args, env=env)
    oks, fixes, summary = _lines(result)
    assert result.exit_code == 1, result.output
    assert len(fixes) == 1, result.stdout
    assert summary.startswith(f"1 of {len(oks) + 1} check"), summary
    return fixes[0]


def _signing_key(cli: Cli) -> Path:
    data = cli.json("locate", "--json")
    assert data["signing_key_exists"], data
    return Path(data["signing_key"])


def test_a_healthy_database_passes_every_check_and_prints_no_secret(ready):
    result = ready.ok("doctor")
    oks, fixes, summary = _lines(result)
    assert fixes == [] and summary == f"All {len(oks)} checks passed."
    text = "\n".join(oks)
    for what in (f"private to this account: {ready.db}", "free (", f"the database key opens {ready.db}",
                 f"the checkpoint signing key {_signing_key(ready)}", "registered signing key", "audit chain verified"):
        assert what in text, (what, text)
    personal = next(Path(os.environ["XDG_DATA_HOME"]).rglob("*.keys")).read_text().split()[-1]  # its private half
    secrets = [ready.key.hex(), _signing_key(ready).read_text().strip(), personal]
    assert not any(s in result.output for s in secrets)
    quick = ready.ok("doctor", "--quick").stdout
    assert "audit chain verified" not in quick and "the audit chain was not verified (--quick)" in quick


def test_a_database_file_open_to_others_is_named_with_its_chmod(ready):
    ready.db.chmod(0o644)
    line = _one_fix(ready)
    assert line == f"{FIX}database file {ready.db} is open to group or others (mode 0644): chmod 600 {ready.db}"
    ready.db.chmod(0o600)
    ready.ok("doctor")


def test_a_key_file_open_to_others_is_named_with_its_chmod(ready):
    ready.key_file.chmod(0o644)
    line = _one_fix(ready)
    assert line.startswith(f"{FIX}key file {ready.key_file} (HITL_DB_KEY_FILE) is open to group or others (mode 0644)")
    assert line.endswith(f": chmod 600 {ready.key_file}"), line
    assert "were not run" in ready("doctor").stdout  # nothing behind the key was opened with it
    ready.key_file.chmod(0o600)
    ready.ok("doctor")


def test_a_missing_signing_key_says_how_to_make_one_and_that_works(ready):
    path = _signing_key(ready)
    path.unlink()
    line = _one_fix(ready)
    assert line.startswith(f"{FIX}the checkpoint signing key {path} does not exist: ")
    assert "`hitl-tui checkpoint`" in line, line
    assert not path.exists()  # the doctor fixes nothing itself: it never makes the key
    ready.ok("checkpoint")
    assert path.exists()
    ready.ok("doctor")


def test_an_edited_entry_fails_the_chain_check(ready):
    set_my_role(ready, "manager")
    wid = file_request(ready)
    ready.ok("approve", wid, "-m", "Within budget")
    seq = seq_of(ready, "approved")
    tamper_body(ready, seq, b'"decision":"approve"', b'"decision":"reject"')
    line = _one_fix(ready)
    assert line.startswith(f"{FIX}AUDIT CHAIN BROKEN at entry {seq}: "), line
    assert "`hitl-tui verify-audit`" in line
    # the chain check is the one that sees it: without it everything else still holds
    quick = ready("doctor", "--quick")
    assert quick.exit_code == 0 and "the audit chain was not verified (--quick)" in quick.stdout


def test_the_key_from_a_systemd_credential_is_the_one_checked(ready, tmp_path):
    credentials = tmp_path / "credentials"
    credentials.mkdir(mode=0o700)
    ready.key_file.rename(credentials / "hitl-db-key")  # as LoadCredential=hitl-db-key:... hands it over
    env = {"HITL_DB_KEY_FILE": None, "CREDENTIALS_DIRECTORY": str(credentials)}
    result = ready("doctor", "--quick", env=env)
    assert result.exit_code == 0, result.output
    assert f"ok    the database key opens {ready.db} (key-file: {credentials / 'hitl-db-key'})" in result.stdout
    assert "cannot open" in _one_fix(ready, "--quick", env={"HITL_DB_KEY_FILE": None})  # without it: no key


def test_a_nearly_full_disk_is_a_fix_line(ready, tmp_path):
    """On a filesystem of 8 MiB (a tmpfs in a mount namespace of the doctor's own: nothing to undo)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("a filesystem of its own needs root and unshare")
    small = tmp_path / "small"
    small.mkdir()
    copy = small / "hitl.db"
    q = shlex.quote
    script = (f"mount -t tmpfs -o size=8m,mode=0700 hitl-doctor {q(str(small))} && cp {q(str(ready.db))} "
              f"{q(str(copy))} && exec {q(str(SCRIPT))} --db {q(str(copy))} doctor --quick")
    proc = subprocess.run(["unshare", "--mount", "--", "sh", "-c", script], env={**os.environ, **ready.env},
                          capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    out = proc.stdout.decode()
    if proc.returncode not in (0, 1):
        pytest.skip(f"no tmpfs here: {proc.stderr.decode().strip()[-200:]}")
    fixes = [line for line in out.splitlines() if line.startswith(FIX)]
    assert proc.returncode == 1 and len(fixes) == 1, out + proc.stderr.decode()
    assert fixes[0].startswith(f"{FIX}only ") and "free (" in fixes[0] and f"on the filesystem of {copy}: " in fixes[0]
    assert "free some space there" in fixes[0]


def test_no_database_yet_says_init(cli):
    line = _one_fix(cli)
    assert line == (f"{FIX}there is no database at {cli.db} (HITL_DB_PATH): create it with `hitl-tui init`, "
                    f"or name yours with --db or HITL_DB_PATH")


_TEAM_ONLY = {"HITL_DB_PATH": None, "HITL_DB_KEY_FILE": None}


def test_team_mode_with_nobody_listening_says_the_service_is_not_running(cli, tmp_path):
    stale = tmp_path / "hitl.sock"  # what a service that died leaves behind
    left = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    left.bind(str(stale))
    left.close()
    line = _one_fix(cli, env={**_TEAM_ONLY, "HITL_SERVER": str(stale)})
    assert line.startswith(f"{FIX}the hitl-tui service is not running: nobody listens on {stale} (from HITL_SERVER): ")
    assert f"`hitl-tui serve --socket {stale}`" in line
    # no socket at all: the same one line, and nothing about a database this account does not use
    gone = tmp_path / "none.sock"
    result = cli("--server", str(gone), "doctor", env=_TEAM_ONLY)
    oks, fixes, summary = _lines(result)
    assert result.exit_code == 1 and oks == [] and len(fixes) == 1, result.stdout
    assert fixes[0].startswith(f"{FIX}the hitl-tui service is not running: there is no socket at {gone} "
                               f"(from --server)")
    assert "database" not in result.stdout


def test_doctor_is_listed_and_documented(cli):
    assert "doctor" in cli.ok("--help").stdout
    text = cli.ok("doctor", "--help").stdout
    assert "--quick" in text and "FIX" in text
