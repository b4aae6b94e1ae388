"""What the CLI does with input and failures it did not plan for: a command-line argument that is
not UTF-8 is one line (exit 2) before anything runs, and an unexpected error's log is private
(0600) and holds no request content (no argument values, no exception messages)."""

from __future__ import annotations

import os
import stat

import click
import pytest

from hitl_tui.commands.common import Failure, guarded
from hitl_tui.core.paths import log_dir


def error_log():
    return log_dir() / "cli-errors.log"


@pytest.mark.parametrize("args", [
    ("request", "show", b"WF-\xff"),
    ("request", "create", "--type", "expense_approval", "--title", b"Caf\xe9 with the board",
     "-d", "Secret merger planning", "-f", "amount=3000"),
    ("--db", b"/tmp/\xff/hitl.db", "users", "list"),
    ("approve", "WF-1", "-m", b"ok \xed\xa0\x80"),  # an encoded surrogate is not UTF-8 either
])
def test_an_argument_that_is_not_utf8_is_one_line_and_nothing_runs(ready, args):
    size = ready.audit_size()
    result = ready.refused(*args, code=2, match="is not valid UTF-8 text")
    bad = next(i for i, a in enumerate(args, 1) if isinstance(a, bytes))
    assert result.stderr.startswith(f"hitl-tui: argument {bad} '"), result.stderr
    assert "\\x" in result.stderr and result.stdout == ""
    assert ready.audit_size() == size and not error_log().exists()


def test_the_shown_argument_is_escaped_byte_by_byte(cli):
    line = cli.refused("request", "show", b"\x1b[31m\xff\\" + b"x" * 100, code=2).stderr
    assert "\x1b" not in line and "'\\x1b[31m\\xff\\x5c" in line and "xxx...'" in line
    assert "(byte 0xff at offset 5)" in line


# --- the error log: an unexpected exception in a guarded command -----------------------------

class Broken(Exception):
    pass


def crash_with_user_text(title: str) -> None:
    try:
        {}[title]
    except KeyError as exc:  # a chained cause: its type is logged, not its message either
        raise Broken(f"could not file {title!r}") from exc


@click.group("hitl-tui")
def root() -> None:
    pass


@root.group("request")
def request_group() -> None:
    pass


@request_group.command("create")
@click.option("--title")
@guarded
def create(title: str) -> None:
    crash_with_user_text(title)


def run_broken_command(title: str) -> str:
    with pytest.raises(Failure) as caught:
        root.main(["request", "create", "--title", title], standalone_mode=False)
    return caught.value.message


def test_the_error_log_is_created_0600_and_holds_no_request_content(monkeypatch):
    title = "Secret merger with Acme"
    # what sys.argv held when the old logger wrote it whole (and crashed on the surrogate)
    monkeypatch.setattr("sys.argv", ["hitl-tui", "request", "create", "--title", title + "\udcff"])
    old_umask = os.umask(0)  # the most permissive umask: the mode must not depend on it
    try:
        message = run_broken_command(title)
    finally:
        os.umask(old_umask)
    assert message == (f"unexpected error Broken: could not file '{title}' (details in {error_log()})")
    assert stat.S_IMODE(error_log().stat().st_mode) == 0o600
    log = error_log().read_text()
    assert title not in log and "Secret" not in log and "\\udcff" not in log
    assert f"could not file {title!r}" not in log  # the message (its source line is code, and is logged)
    assert ": request create\n" in log  # the command's name, nothing the user typed
    assert "in crash_with_user_text" in log and "in create" in log  # the frames
    assert "builtins.KeyError (message not logged" in log and "test_cli_errors.Broken (message not logged" in log
    assert log.index("KeyError") < log.index("direct cause") < log.index("Broken (message")  # as Python prints it


def test_an_existing_log_that_others_could_read_is_made_private(monkeypatch):
    error_log().parent.mkdir(parents=True, exist_ok=True)
    error_log().write_text("--- an entry from before\n")
    error_log().chmod(0o644)
    run_broken_command("Budget for the reorganisation")
    assert stat.S_IMODE(error_log().stat().st_mode) == 0o600
    log = error_log().read_text()
    assert log.startswith("--- an entry from before\n") and log.count("\n--- ") == 1  # appended
    assert "reorganisation" not in log


def test_a_log_that_cannot_be_written_never_hides_the_error(tmp_path):
    elsewhere = tmp_path / "not-the-log"
    error_log().parent.mkdir(parents=True, exist_ok=True)
    error_log().symlink_to(elsewhere)  # planted: the log must not follow it
    message = run_broken_command("Layoffs in Q3")
    assert message.startswith("unexpected error Broken:") and message.endswith("(set HITL_DEBUG=1 for details)")
    assert not elsewhere.exists()
