"""Escape sequences the desk sends to the terminal itself (clipboard, desktop notifications), and
what tmux does with them.

Text that goes inside a sequence comes from users (titles, names), so it is made inert first:
`payload()` turns every control character into visible text (render.text.clean), so no ESC, BEL,
C1 (0x9c is ST) or bidi override can end the sequence early or start another one.

tmux (checked with 3.3a) drops what an application writes unless told otherwise: an OSC 52 is
ignored under its default `set-clipboard external`, and a wrapped passthrough
(`ESC P tmux; ... ESC \\`) only reaches the outer terminal with `allow-passthrough on`, which is
off by default. `tmux_state()` asks the tmux server (same account, found through $TMUX) how the
current pane is set, so callers can pick what works and say what does not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Mapping

from .render.text import clean

ESC, BEL = "\x1b", "\x07"
ST = ESC + "\\"
#: a tmux command is a local socket round trip; a server that does not answer in this long is stuck
TMUX_TIMEOUT = 1.0


def payload(value: object, limit: int = 200) -> str:
    """User text for inside an escape sequence: one line, no control characters, at most
    `limit` characters (terminals cap OSC strings, and a notification is read at a glance)."""
    text = clean(value, single_line=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def tmux_wrap(sequence: str) -> str:
    """The DCS passthrough tmux forwards to the outer terminal (with allow-passthrough on):
    every ESC inside is doubled."""
    return f"{ESC}Ptmux;{sequence.replace(ESC, ESC + ESC)}{ST}"


@dataclass(frozen=True)
class TmuxState:
    set_clipboard: str  # on | external | off | "" (unknown)
    passthrough: bool
    #: the outer terminal as tmux's client sees it: its TERM, and its XTVERSION answer (may be "")
    client_term: str
    client_type: str


def in_tmux(env: Mapping[str, str]) -> bool:
    return bool(env.get("TMUX"))


def tmux_state(env: Mapping[str, str]) -> TmuxState | None:
    """None outside tmux; the pane's settings inside (all unknown if tmux does not answer)."""
    if not in_tmux(env):
        return None
    fmt = "#{set-clipboard}|#{allow-passthrough}|#{client_termname}|#{client_termtype}"
    out = tmux(env, ["display-message", "-p", *(["-t", env["TMUX_PANE"]] if env.get("TMUX_PANE") else []), fmt])
    parts = (out or "").rstrip("\n").split("|")
    if out is None or len(parts) != 4:
        return TmuxState("", False, "", "")
    clip, passthrough, term, kind = parts
    # a flag in tmux 3.3 ("1"), a choice from 3.4 ("on", "all")
    return TmuxState(clip, passthrough in ("1", "on", "all"), term, kind)


def tmux(env: Mapping[str, str], args: list[str], data: bytes | None = None) -> str | None:
    """Run one tmux command against the server in $TMUX; its output, or None if it failed."""
    exe = shutil.which("tmux", path=env.get("PATH", os.defpath))
    if exe is None:
        return None
    try:
        done = subprocess.run([exe, *args], input=data, capture_output=True, timeout=TMUX_TIMEOUT,
                              env=dict(env), check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else None


def write_raw(app, sequence: str) -> bool:
    """Send a sequence to the terminal through Textual's driver (its writer thread keeps it in
    order with the screen updates). False when there is no terminal (headless, not running)."""
    driver = getattr(app, "_driver", None)  # Textual's copy_to_clipboard and bell() use it too
    if driver is None or app.is_headless:
        return False
    driver.write(sequence)
    return True
