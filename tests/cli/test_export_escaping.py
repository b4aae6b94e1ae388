"""Terminal control characters in user text never reach a terminal through an export (issue 8):
ESC/BEL/DEL, C1 (the one-byte CSI U+009B), bidi overrides and isolates, line separators. Every
format spells them with the escaping its readers expect (JSON's \\u escapes; visible \\x1b in
CSV, HTML and Markdown), on stdout and in files, and the exports still verify: the stored,
hashed bytes keep the text exactly as it was typed. Driven through the installed console script."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import file_request

SCRIPT = Path(sys.executable).with_name("hitl-tui")
TITLE = "Pay \x1b[2J\x1b]0;pwned\x07 me \x9b31m \u202eRTL\u2066 \x7f\u2028end"
REASON = "No \x1b[31mred\x1b[0m \u202dhidden"
RAW = [b"\x1b", b"\x07", b"\x7f", "\x9b".encode(), "\u202e".encode(), "\u2066".encode(), "\u202d".encode(),
       "\u2028".encode()]


def run(cli, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], env={**os.environ, **cli.env}, capture_output=True, timeout=120,
                          stdin=subprocess.DEVNULL)


@pytest.fixture
def hostile(ready):
    wid = file_request(ready, title=TITLE, data={"amount": "500", "category": "meals", "cost_center": "CC\x1b[5m-1"})
    with ready.service() as s:
        s.reject_workflow(wid, "sarah.manager", REASON)
        assert s.get_workflow(wid).title == TITLE  # stored verbatim
    return ready


def assert_no_raw_controls(data: bytes, where: str) -> None:
    for bad in RAW:
        assert bad not in data, f"{where}: raw {bad!r} in the output"


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "html", "md"])
def test_stdout_and_file_hold_no_raw_control_characters(hostile, tmp_path, fmt):
    out = run(hostile, "export-audit", "--format", fmt)
    assert out.returncode == 0, out.stderr
    assert_no_raw_controls(out.stdout, f"{fmt} on stdout")
    assert_no_raw_controls(out.stderr, f"{fmt} stderr")
    path = tmp_path / f"audit.{fmt}"
    written = run(hostile, "export-audit", "--format", fmt, "-o", str(path))
    assert written.returncode == 0, written.stderr
    data = path.read_bytes()
    assert_no_raw_controls(data, f"{fmt} file")
    visible = {"jsonl": b"\\u001b[2J", "md": b"\\\\x1b\\[2J"}.get(fmt, b"\\x1b[2J")  # md escapes \\ and [
    assert visible in data, f"{fmt}: the escape is not shown visibly"
    for args in (("--offline", "--checkpoint", str(path)), ("--checkpoint", str(path))):
        verified = run(hostile, "verify-audit", *args)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert b"Result: verified." in verified.stdout
        assert_no_raw_controls(verified.stdout + verified.stderr, f"verify-audit {args[0]} of {fmt}")


def test_jsonl_keeps_the_exact_text_and_proves_the_whole_chain(hostile, tmp_path):
    path = tmp_path / "audit.jsonl"
    assert run(hostile, "export-audit", "-o", str(path)).returncode == 0
    lines = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    created = next(e for e in lines if e.get("action") == "created")
    # the title is personal: sealed in the record, its exact text in the entry's opening (VERIFY.md 10)
    assert created["personal"][created["details"]["title"]["sealed"]]["value"] == TITLE
    assert created["details"]["data"]["cost_center"] == "CC\x1b[5m-1"
    rejected = next(e for e in lines if e.get("action") == "rejected")
    assert rejected["personal"][rejected["details"]["comments"]["sealed"]]["value"] == REASON
    verified = run(hostile, "verify-audit", "--offline", "--checkpoint", str(path))
    assert b"whole chain" in verified.stdout and verified.returncode == 0


def test_csv_readable_columns_are_visible_and_the_body_exact(hostile, tmp_path):
    path = tmp_path / "audit.csv"
    assert run(hostile, "export-audit", "-o", str(path)).returncode == 0
    rows = list(csv.DictReader(io.StringIO(path.read_text("utf-8-sig"))))
    created = next(r for r in rows if r["action"] == "created")
    assert "\\x1b[2J" in created["summary"] and "\\u202e" in created["summary"]
    sealed = json.loads(created["body"])["details"]["title"]
    assert json.loads(created["personal"])[sealed["sealed"]]["value"] == TITLE
    assert json.loads(created["details"])["title"] == TITLE
    verified = run(hostile, "verify-audit", "--offline", "--checkpoint", str(path))
    assert b"whole chain" in verified.stdout and verified.returncode == 0


def test_an_edited_escaped_csv_cell_is_still_caught(hostile, tmp_path):
    """The visible escapes are not a loophole: changing what a readable cell says is caught."""
    path = tmp_path / "audit.csv"
    assert run(hostile, "export-audit", "-o", str(path)).returncode == 0
    text = path.read_text("utf-8-sig")
    assert text.count("\\x1b[2J") >= 1
    path.write_text(text.replace("Pay \\x1b[2J", "Pay \\x1b[3J", 1), "utf-8-sig")
    verified = run(hostile, "verify-audit", "--offline", "--checkpoint", str(path))
    assert verified.returncode == 3 and b"spreadsheet was edited" in verified.stdout
