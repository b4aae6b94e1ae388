"""One end-to-end run of the installed console script, in real processes: exit statuses,
one-line errors, and an export checked against the database by a second command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("hitl-tui")


def test_real_console_script_end_to_end(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HITL_")}  # HOME/XDG already isolated
    env.update(HITL_DB_PATH=str(tmp_path / "hitl.db"), HITL_DB_KEY_FILE=str(tmp_path / "db.key"))

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)

    assert run("init", "--role", "manager").returncode == 0
    created = run("request", "create", "--type", "expense_approval", "--title", "Team offsite",
                  "-d", "Planning day for the platform team", "-f", "amount=3000", "--json")
    wid = json.loads(created.stdout)["id"]

    refused = run("approve", wid)  # your own request
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and refused.stderr.startswith("hitl-tui: ")
    assert "segregation of duties" in refused.stderr and "Traceback" not in refused.stderr

    bad = run("request", "create", "--type", "expense_approval", "--title", "x", "-f", "amount=1e9999")
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1

    exported = run("export-audit", "-o", str(tmp_path / "audit.jsonl"))
    assert exported.returncode == 0, exported.stderr
    verified = run("verify-audit", "--checkpoint", str(tmp_path / "audit.jsonl"))
    assert verified.returncode == 0 and "whole chain" in verified.stdout and "Result: verified." in verified.stdout

    missing = run("--db", str(tmp_path / "nope.db"), "verify-audit")
    assert missing.returncode == 1 and missing.stderr.startswith("hitl-tui: No database")
