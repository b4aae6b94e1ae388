"""The desk's terminal pieces in a real pty (and a real tmux), asserting the exact bytes the
terminal receives: clipboard.copy (OSC 52), alerts.alert (bell, OSC 9, OSC 777, tmux
passthrough) and pager.open_in_pager (the terminal handed to a real pager and taken back).

The app driving them is tests/ui/pieces_app.py: a real Textual app on a request read from a real
encrypted database, whose title and description carry hostile bytes (an OSC 52 of their own, BEL,
a C1 ST, a bidi override), which must never reach the terminal raw.
"""

from __future__ import annotations

import base64
import os
import pty
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hitl_tui.render.text import clean
from tests.ui.pty_desk import Db, Desk

APP = Path(__file__).with_name("pieces_app.py")
HOSTILE_TITLE = "Pay\x1b]52;c;ZXZpbA==\x07 me\u202eevil\x9cnow"
#: the title as clean() shows it: every control made visible text
SHOWN_TITLE = "Pay\\x1b]52;c;ZXZpbA==\\x07 me\\u202eevil\\x9cnow"
HOSTILE_DESCRIPTION = "Line one\n\x1b[2J\x1b]0;owned\x07Line two\ttabbed"
#: what the hostile text would put on the wire if it reached the terminal raw
RAW = (b"\x1b]52;c;ZXZpbA==", b"ZXZpbA==\x07", "\u202e".encode(), b"\xc2\x9c", b"\x1b]0;owned", b"\x1b[2J")


class Term(Desk):
    """pieces_app.py (or tmux running it) as the child of an 80x24 pty: Desk's reading, keys
    and clean-up, for another program."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.output = b""
        pid, master = pty.fork()
        if pid == 0:
            os.execve(argv[0], argv, env)
        self.pid, self.master = pid, master
        self._size(master)
        self.status = self.cpu = None

    def after(self, mark: int, until: bytes, timeout: float = 20) -> bytes:
        """What the terminal received from `mark` until `until` was shown."""
        deadline = time.monotonic() + timeout
        while until not in self.output[mark:] and time.monotonic() < deadline:
            self._pump(0.05)
        assert until in self.output[mark:], f"never shown: {until!r}; got {self.output[mark:][-800:]!r}"
        return self.output[mark:]


@pytest.fixture
def world(tmp_path):
    db = Db(tmp_path)
    svc = db.service()
    try:
        wid = svc.create_workflow_request("expense_approval", HOSTILE_TITLE, HOSTILE_DESCRIPTION, "alice",
                                          {"amount": "80", "category": "meals"})
    finally:
        svc.close(checkpoint=False)
    log = tmp_path / "pieces.log"
    env = {**db.env, "PIECES_REQUEST": wid, "PIECES_LOG": str(log), "PIECES_ALERTS": "bell"}
    for name in ("TMUX", "TMUX_PANE", "TERM_PROGRAM", "LC_TERMINAL", "KITTY_WINDOW_ID", "PAGER", "WT_SESSION",
                 "KONSOLE_VERSION"):
        env.pop(name, None)
    terms: list[Term] = []

    class World:
        def __init__(self) -> None:
            self.wid, self.env, self.log, self.tmp = wid, env, log, tmp_path

        def start(self, argv: list[str] | None = None, **extra: str) -> Term:
            term = Term(argv or [sys.executable, str(APP)], {**self.env, **extra})
            terms.append(term)
            term.read(b"pieces ready")
            return term

        def lines(self) -> list[str]:
            return self.log.read_text("utf-8").splitlines()

    yield World()
    for term in terms:
        term.cleanup()


def osc52(text: str) -> bytes:
    return b"\x1b]52;c;" + base64.b64encode(text.encode()) + b"\x07"


def link(wid: str) -> str:
    return f"{wid} · “{SHOWN_TITLE}” · LOW · awaiting Manager · hitl-tui request show {wid}"


def assert_inert(data: bytes) -> None:
    for raw in RAW:
        assert raw not in data, f"hostile bytes reached the terminal raw: {raw!r}"


# --- clipboard ---------------------------------------------------------------------------------

def test_copying_the_id_writes_exactly_one_osc52_with_it(world):
    term = world.start()
    mark = len(term.output)
    term.press(b"y")
    out = term.after(mark, b"done 1")
    assert out.count(b"\x1b]52;") == 1 and osc52(world.wid) in out
    assert world.lines() == [f"Copied to your terminal's clipboard: {world.wid}"]


def test_the_link_line_of_a_hostile_title_is_copied_inert(world):
    term = world.start()
    mark = len(term.output)
    term.press(b"Y")
    out = term.after(mark, b"done 1")
    assert osc52(link(world.wid)) in out  # exactly the cleaned line, base64 inside OSC 52
    assert_inert(out)
    assert world.lines()[0].startswith(f"Copied to your terminal's clipboard: {world.wid} · “Pay\\x1b")


def test_macos_terminal_gets_no_osc52_and_is_told_to_select_the_text(world):
    term = world.start(TERM_PROGRAM="Apple_Terminal")
    mark = len(term.output)
    term.press(b"y")
    out = term.after(mark, b"done 1")
    assert b"\x1b]52;" not in out
    assert world.lines() == [f"macOS Terminal ignores clipboard requests (OSC 52); select and copy it yourself: "
                             f"{world.wid}"]


class Tmux:
    """A private tmux server whose client is attached in our pty: what reaches the pty is what
    tmux sends to the person's terminal."""

    def __init__(self, world, name: str) -> None:
        if shutil.which("tmux") is None:
            pytest.fail("tmux is missing: scripts/test installs it")
        self.base = ["tmux", "-L", f"hitl-pieces-{os.getpid()}-{name}", "-f", "/dev/null"]
        self.world = world

    def start(self, *options: str, **extra: str) -> Term:
        # options are set before the app starts (a command chained in the same invocation)
        argv = [shutil.which("tmux"), *self.base[1:], "new-session", "-x", "80", "-y", "24",
                f"{sys.executable} {APP}"]
        for opt in options:
            argv += [";", "set", "-g", *opt.split()]
        return self.world.start(argv, **extra)

    def buffer(self) -> str:
        done = subprocess.run([*self.base, "show-buffer"], capture_output=True, text=True)
        return done.stdout if done.returncode == 0 else ""

    def kill(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True)


@pytest.fixture
def tmux(world, request):
    servers: list[Tmux] = []

    def make(name: str) -> Tmux:
        server = Tmux(world, f"{request.node.name[-20:]}-{name}")
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.kill()


def test_inside_tmux_the_copy_reaches_the_outer_terminal_and_tmux_buffer(world, tmux):
    """tmux's default (set-clipboard external) drops an application's own OSC 52; the copy goes
    through `tmux load-buffer -w`, which tmux forwards to the terminal in its own spelling."""
    server = tmux("external")
    term = server.start()
    mark = len(term.output)
    term.press(b"Y")
    out = term.after(mark, b"done 1")
    text = link(world.wid)
    assert b"\x1b]52;;" + base64.b64encode(text.encode()) + b"\x07" in out
    assert server.buffer() == text
    assert_inert(out)
    assert world.lines()[0].startswith("Copied (tmux buffer and your terminal's clipboard): ")


def test_tmux_with_set_clipboard_off_keeps_it_in_its_buffer_and_says_how_to_reach_the_terminal(world, tmux):
    server = tmux("off")
    term = server.start("set-clipboard off")
    mark = len(term.output)
    term.press(b"y")
    out = term.after(mark, b"done 1")
    assert b"]52;" not in out and server.buffer() == world.wid
    assert "tmux set -g set-clipboard on" in world.lines()[0] and "paste buffer only" in world.lines()[0]


# --- alerts ------------------------------------------------------------------------------------

def _alert(world, mode: str, **extra: str) -> bytes:
    term = world.start(PIECES_ALERTS=mode, **extra)
    mark = len(term.output)
    term.press(b"b")
    return term.after(mark, b"done 1")


ALERT_BODY = f"New in Awaiting me: {SHOWN_TITLE}"


def test_alerts_off_write_nothing(world):
    out = _alert(world, "off")
    assert b"\x07" not in out and b"]9;" not in out and b"]777;" not in out
    assert world.lines() == [""]


def test_the_bell_is_one_bel(world):
    out = _alert(world, "bell")
    assert out.count(b"\x07") == 1 and b"\x1b]" not in out.split(b"\x07")[0][-20:]
    assert world.lines() == ["Rang the bell."]


def test_iterm2_over_ssh_gets_osc9_with_the_hostile_title_inert(world):
    out = _alert(world, "desktop", LC_TERMINAL="iTerm2")  # what iTerm2 sends through ssh
    assert f"\x1b]9;hitl-tui: {ALERT_BODY}\x07".encode() in out
    assert_inert(out)
    assert world.lines() == ["Desktop notification sent (OSC 9)."]


def test_foot_gets_osc777_with_title_and_body(world):
    out = _alert(world, "desktop", TERM="foot" if _has_terminfo("foot") else "xterm-256color",
                 **({} if _has_terminfo("foot") else {"TERM_PROGRAM": "ghostty"}))
    assert f"\x1b]777;notify;hitl-tui;{ALERT_BODY}\x07".encode() in out
    assert_inert(out)


def test_an_unknown_terminal_asked_for_desktop_gets_the_bell_and_the_reason(world):
    out = _alert(world, "desktop")
    assert out.count(b"\x07") == 1 and b"]9;" not in out and b"]777;" not in out
    assert world.lines() == ["This terminal is not known to show desktop notifications; rang the bell instead."]


def test_inside_tmux_a_desktop_alert_is_wrapped_for_passthrough(world, tmux):
    server = tmux("pass")
    term = server.start("allow-passthrough on", PIECES_ALERTS="desktop", LC_TERMINAL="iTerm2")
    mark = len(term.output)
    term.press(b"b")
    out = term.after(mark, b"done 1")
    assert f"\x1b]9;hitl-tui: {ALERT_BODY}\x07".encode() in out  # tmux unwrapped it for the terminal
    assert_inert(out)
    assert world.lines() == ["Desktop notification sent (OSC 9)."]


def test_inside_tmux_without_passthrough_the_bell_rings_and_the_setting_is_named(world, tmux):
    server = tmux("nopass")
    term = server.start(PIECES_ALERTS="desktop", LC_TERMINAL="iTerm2")
    mark = len(term.output)
    term.press(b"b")
    out = term.after(mark, b"done 1")
    assert b"]9;" not in out
    assert "allow-passthrough on" in world.lines()[0] and "rang the bell" in world.lines()[0]


def _has_terminfo(name: str) -> bool:
    return subprocess.run(["infocmp", name], capture_output=True).returncode == 0


# --- pager -------------------------------------------------------------------------------------

def test_the_pager_gets_the_cleaned_text_and_the_app_comes_back(world):
    got = world.tmp / "paged.txt"
    recorder = world.tmp / "recorder"
    recorder.write_text(f"#!/bin/sh\ncat > {got}\n")
    recorder.chmod(0o755)
    term = world.start(PAGER=str(recorder))
    mark = len(term.output)
    term.press(b"o")
    out = term.after(mark, b"done 1")
    title = f"{world.wid} {SHOWN_TITLE}"
    assert got.read_text("utf-8") == (f"{title}\n{'─' * len(title)}\n\n"
                                      "Line one\n\\x1b[2J\\x1b]0;owned\\x07Line two    tabbed\n")
    assert out.index(b"\x1b[?1049l") < out.rindex(b"\x1b[?1049h")  # left the alternate screen, came back
    assert world.lines() == [""]
    mark = len(term.output)
    term.press(b"y")  # the app reads keys again
    assert osc52(world.wid) in term.after(mark, b"done 2")


def test_a_real_less_shows_the_text_inert_and_q_returns_to_the_app(world):
    if shutil.which("less") is None:
        pytest.fail("less is missing")
    term = world.start()  # PAGER unset: less -R
    mark = len(term.output)
    term.press(b"o")
    out = term.after(mark, b"Line two")
    assert b"\\x1b[2J" in out and b"\\x1b]0;owned\\x07" in out
    assert_inert(out)
    term.press(b"q")
    term.after(mark, b"done 1")
    assert world.lines() == [""]


def test_a_missing_pager_is_one_line_and_nothing_opens(world):
    empty = world.tmp / "bin"
    empty.mkdir()
    term = world.start(PATH=str(empty), PAGER="nosuchpager --flag")
    mark = len(term.output)
    term.press(b"o")
    out = term.after(mark, b"done 1")
    assert b"\x1b[?1049l" not in out
    assert world.lines() == ["No pager found: set PAGER (e.g. PAGER=less) or install less; nothing was opened."]


def test_a_pager_that_is_not_found_falls_back_to_less_and_says_so(world):
    got = world.tmp / "paged.txt"
    bin_dir = world.tmp / "bin"
    bin_dir.mkdir()
    (bin_dir / "less").write_text(f"#!/bin/sh\ncat > {got}\n")
    (bin_dir / "less").chmod(0o755)
    term = world.start(PATH=f"{bin_dir}:/usr/bin:/bin", PAGER="nosuchpager")
    mark = len(term.output)
    term.press(b"o")
    term.after(mark, b"done 1")
    assert "Line one" in got.read_text("utf-8")
    assert world.lines() == ["PAGER='nosuchpager' was not found, so less was used."]


def test_clean_is_what_the_pieces_use():
    """The expected strings above are clean()'s, not a copy of it."""
    assert clean(HOSTILE_TITLE, single_line=True) == SHOWN_TITLE


def test_an_erased_value_is_shown_dim_and_italic_never_as_if_someone_wrote_it():
    from hitl_tui.render.text import plain

    erased = plain("erased on 2026-12-02", "bold")
    assert erased.plain == "erased on 2026-12-02" and {"bold", "dim", "italic"} <= set(str(erased.style).split())
    assert str(plain("erased on my birthday", "bold").style) == "bold"  # only the exact placeholder
