"""Telling the person, outside the desk's window, that something new waits for them: the terminal
bell, or a desktop notification the terminal raises itself (which works over SSH, since it is
just bytes to the terminal).

Two sequences exist, each understood by some terminals and silently swallowed by the others:
OSC 9 (`ESC ] 9 ; text BEL`: iTerm2, kitty, WezTerm) and OSC 777 (`ESC ] 777 ; notify ; title ;
body BEL`: Ghostty, foot, rxvt-unicode with its notify extension, Konsole, Windows Terminal from
2026). Nothing answers either, so the terminal is recognised from what it puts in the environment
(TERM, TERM_PROGRAM, LC_TERMINAL, which iTerm2 sends over SSH, and a few variables of its own) or,
inside tmux, from the outer terminal's name as tmux knows it; an unknown terminal gets the bell.
Inside tmux a notification needs the passthrough wrapper and `allow-passthrough on`; without it
the bell is rung instead, and the reason is returned.
"""

from __future__ import annotations

import os
from typing import Mapping, get_args

from .core.settings import UiSettings
from .osc import BEL, ESC, payload, tmux_state, tmux_wrap, write_raw

#: the modes of the `[ui] notify` setting, where they are defined and validated
MODES = get_args(UiSettings.model_fields["notify"].annotation)


def protocol(env: Mapping[str, str], client_term: str = "", client_type: str = "") -> str | None:
    """'osc9', 'osc777' or None (no known desktop notification) for the terminal in `env`; inside
    tmux, `client_term`/`client_type` are the outer terminal's TERM and XTVERSION name."""
    term = (client_term or env.get("TERM", "")).lower()
    program = env.get("TERM_PROGRAM", "").lower()
    kind = client_type.lower()
    if program == "iterm.app" or env.get("LC_TERMINAL") == "iTerm2" or kind.startswith("iterm2"):
        return "osc9"
    if term == "xterm-kitty" or env.get("KITTY_WINDOW_ID") or kind.startswith("kitty"):
        return "osc9"
    if program == "wezterm" or kind.startswith("wezterm"):
        return "osc9"
    if program == "ghostty" or term == "xterm-ghostty" or kind.startswith("ghostty"):
        return "osc777"
    if term.startswith(("foot", "rxvt")) or kind.startswith("foot"):
        return "osc777"
    if env.get("KONSOLE_VERSION") or env.get("WT_SESSION"):
        return "osc777"
    return None


def sequence(kind: str, title: str, body: str) -> str:
    """The notification, with title and body made inert (osc.payload). OSC 9 carries one text,
    "title: body", which never starts with a digit (ConEmu reads `9;4;...` as a progress
    report). OSC 777 separates its fields with ';', so the title has none."""
    title, body = payload(title, 60), payload(body, 200)
    if kind == "osc9":
        text = f"{title}: {body}" if title else body
        if text[:1].isdigit():
            text = "· " + text
        return f"{ESC}]9;{text}{BEL}"
    return f"{ESC}]777;notify;{title.replace(';', ',')};{body}{BEL}"


def alert(app, title: str, body: str, mode: str, *, env: Mapping[str, str] | None = None) -> str:
    """Ring or notify per `mode`; returns what was done, in words ('' for off), for a log line or
    a settings screen ("desktop notifications need `tmux set -g allow-passthrough on`...")."""
    if mode not in MODES:
        raise ValueError(f"alert mode {mode!r} is not one of {MODES}")
    if mode == "off":
        return ""
    env = os.environ if env is None else env
    if mode == "desktop":
        state = tmux_state(env)
        kind = protocol(env, *(() if state is None else (state.client_term, state.client_type)))
        if kind is None:
            app.bell()
            return "This terminal is not known to show desktop notifications; rang the bell instead."
        seq = sequence(kind, title, body)
        if state is not None:
            if not state.passthrough:
                app.bell()
                return ("tmux drops desktop notifications unless `tmux set -g allow-passthrough on`; "
                        "rang the bell instead.")
            seq = tmux_wrap(seq)
        write_raw(app, seq)
        return f"Desktop notification sent ({'OSC 9' if kind == 'osc9' else 'OSC 777'})."
    app.bell()
    return "Rang the bell."
