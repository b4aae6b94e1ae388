"""Property-based fuzz of the installed `hitl-tui` (issue 8), in real subprocesses: one argument
of a plausible command is replaced by arbitrary text (controls, bidi overrides, non-ASCII digits,
huge strings) or by bytes that are not UTF-8. Whatever goes in: no traceback, the exit status is
0, 1 (one line on stderr, `hitl-tui: ...`, naming the cause: never "unexpected error") or 2
(a usage error); nothing a terminal would
interpret reaches stdout or stderr raw; a refused command writes nothing; the chain verifies."""

from __future__ import annotations

import os
from unittest import mock
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.table_digest import tables_digest

from .conftest import ME, file_request

SCRIPT = Path(sys.executable).with_name("hitl-tui")
# raw bytes a terminal interprets: C0 controls but \n and \t, DEL, C1 (UTF-8 encoded), bidi
RAW_CONTROLS = [bytes([c]) for c in range(0x20) if c not in (0x09, 0x0A)] + [b"\x7f"] + [
    chr(c).encode() for c in (*range(0x80, 0xA0), 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067,
                              0x2068, 0x2069, 0x2028, 0x2029, 0x200E, 0x200F)]

# argv cannot hold NUL; a str argument must be encodable, so lone surrogates travel as bytes
chars = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
NASTY = ["\x1b[2J", "\x1b]0;pwned\x07", "\x9b31m", "\u202eRTL", "\u2066", "\u2028", "\x7f", "१२३", "１２", "\r", "\n",
         "=1+1", "-x", "--help", "'", "\\", "1e300", "1" + "0" * 30, "-0", "0"]
non_utf8 = st.sampled_from([b"\xff", b"Trip \xe9t\xe9", b"\xed\xa0\x80", b"\xc3", b"\x80abc", b"ok\xfe\xff"])
texts = st.one_of(
    st.tuples(st.sampled_from(["", "Trip ", "500", "john.doe"]), st.sampled_from(NASTY),
              st.text(chars, max_size=3)).map("".join),
    st.text(chars, max_size=20),
    st.sampled_from([201, 5001, 100_000]).map(lambda n: "x" * n),
)
args = st.one_of(texts, texts, non_utf8, st.binary(max_size=12).filter(lambda b: b"\x00" not in b))


def _b(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


# command templates: X is the fuzzed argument, W a request awaiting the manager's decision
TEMPLATES = [
    ["request", "create", "--type", "expense_approval", "--title", "X", "-f", "amount=500"],
    ["request", "create", "--type", "expense_approval", "--title", "Trip", "-d", "X", "-f", "amount=500"],
    ["request", "create", "--type", "expense_approval", "--title", "Trip", "-f", "amount=X"],
    ["request", "create", "--type", "expense_approval", "--title", "Trip", "-f", "amount=5", "-f", "cost_center=X"],
    ["request", "create", "--type", "X", "--title", "Trip", "-f", "amount=5"],
    ["request", "create", "--type", "contract_approval", "--title", "Trip", "-f", "contract_value=9",
     "-f", "term_months=X"],
    ["approve", "W", "-m", "X"],
    ["reject", "W", "-m", "X"],
    ["request-changes", "W", "-m", "X"],
    ["approve", "X"],
    ["request", "show", "X"],
    ["request", "list", "--view", "visible", "--search", "X"],
    ["users", "add", "X", "--role", "employee"],
    ["users", "add", "fuzz.user", "--role", "X"],
    ["users", "add", "fuzz.mail", "--role", "employee", "--email", "X", "--name", "X"],
    ["export-audit", "--user", "X"],
    ["export-audit", "--since", "X"],
    ["export-audit", "--workflow", "X"],
    ["export-audit", "--format", "X"],
    ["export-audit", "--format", "jsonl"],  # to stdout: every hostile title filed so far is in it
    ["export-audit", "--format", "csv"],
    ["export-audit", "--format", "md", "--timelines", "1000"],
    ["request", "list", "--view", "visible", "--json"],
]


def snapshot(cli) -> str:
    conn = cli.raw()
    try:
        return tables_digest(conn)
    finally:
        conn.close()


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    """A database with the seed's cast, where you (the OS login) are a manager and administrator.
    Module-scoped, so hypothesis runs every example against it; the autouse HOME isolation is
    function-scoped (set up after this), so this fixture gives the subprocesses its own HOME/XDG."""
    from tests.cli.conftest import CAST, Cli
    from tests.keyring_session import REMOVED_VARS, _home_env

    root = tmp_path_factory.mktemp("cli-fuzz")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HITL_") and k not in REMOVED_VARS}
    env.update(_home_env(root / "env"), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    cli = Cli(root)
    cli.base_env = {**env, **cli.env}
    init = subprocess.run([str(SCRIPT), "init", "--role", "manager"], env=cli.base_env, capture_output=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert init.returncode == 0, init.stderr
    # the engine in this process acts as the same OS account, with the same home (its signing keys)
    cli.home_env = _home_env(root / "env")
    with mock.patch.dict(os.environ, cli.home_env):
        with cli.service() as s:
            for name, role in CAST.items():
                if name != ME:
                    s.add_user(name, role, actor=ME)
        # hostile text already on the desk, so every listing and export example has some to show
        wid = file_request(cli, title="Pay \x1b[2J\x9b31m \u202eRTL\u2066 \x7f\u2028 me",
                           data={"amount": "500", "cost_center": "CC\x1b]0;pwned\x07"})
        with cli.service() as s:
            s.reject_workflow(wid, "mike.director", "No \u202dhidden\x1b[0m")
    return cli


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(template=st.sampled_from(TEMPLATES), value=args)
def test_the_installed_command_survives_hostile_arguments(desk, template, value):
    with mock.patch.dict(os.environ, desk.home_env):  # the engine here acts as the subprocesses' account
        wid = file_request(desk, title="Fuzz target") if "W" in template else ""
    argv = [str(SCRIPT).encode()] + [
        _b(wid) if part == "W" else _b(value) if part == "X" else
        _b(part).replace(b"X", _b(value)) if part.endswith("=X") else _b(part) for part in template]
    before = snapshot(desk)
    out = subprocess.run(argv, env=desk.base_env, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    event(f"{template[0]} {template[1]}: exit {out.returncode}")
    shown = f"{[a[:60] for a in argv[1:]]}: exit {out.returncode}\nstderr: {out.stderr[:600]!r}"
    assert b"Traceback" not in out.stderr + out.stdout, shown
    assert b"unexpected error" not in out.stderr, f"a failure that is not a HitlError; {shown}"
    assert out.returncode in (0, 1, 2), shown
    printed = out.stdout.replace(b"\r\n", b"\n") + out.stderr  # CSV's own line ends are CRLF
    for raw in RAW_CONTROLS:
        assert raw not in printed, f"raw {raw!r} reached the terminal; {shown}"
    if out.returncode == 1:
        assert out.stderr.count(b"\n") == 1 and out.stderr.startswith(b"hitl-tui: "), shown
    if out.returncode != 0:
        assert snapshot(desk) == before, f"refused but wrote something; {shown}"
    with desk.service() as s:
        assert s.verify_audit().ok
