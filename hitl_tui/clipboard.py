"""Copying a request's id or a one-line summary of it ("link line") to the clipboard of the
terminal the person sits at, which over SSH is the only clipboard there is: OSC 52.

OSC 52 has no answer, so nobody can know whether the terminal took it; what is known is said:
tmux's setting (see osc.py) and the terminals known to ignore OSC 52. Inside tmux the text goes
through `tmux load-buffer -w -`, which fills tmux's paste buffer and hands the text to the outer
terminal's clipboard under tmux's default `set-clipboard external` (an application's own OSC 52
is dropped there). The text is the cleaned one (render.text.clean): no control character, so
pasting it into a shell can never run a line (a newline in a title is shown as ⏎).
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from .osc import payload, tmux, tmux_state

#: a link line's title is cut here: a chat line, not the description
TITLE_LIMIT = 80
#: terminals whose OSC 52 support is known to be missing (the text is still shown in the message)
NO_OSC52 = {"Apple_Terminal": "macOS Terminal"}


def link_line(request: Any, *, command: str = "hitl-tui request show") -> str:
    """`WF-… · “title” · HIGH · awaiting Director · hitl-tui request show WF-…` for a
    WorkflowRequest or a RequestSummary (both have id, title, risk_level, status, current_role).
    Pure; every user-supplied part is cleaned to one inert line."""
    wid = payload(request.id, 60)
    title = payload(request.title, TITLE_LIMIT)
    role = request.current_role
    where = f"awaiting {role.label}" if role is not None else request.status.label
    return f"{wid} · “{title}” · {request.risk_level.value} · {where} · {command} {wid}"


def copy(app, text: str, *, env: Mapping[str, str] | None = None) -> str:
    """Put `text` (cleaned) on the terminal's clipboard; returns the one line to tell the person."""
    env = os.environ if env is None else env
    text = payload(text, 4000)
    shown = text if len(text) <= 60 else text[:59] + "…"
    state = tmux_state(env)
    if state is not None:
        return _through_tmux(app, text, shown, env, state)
    if app.is_headless or getattr(app, "_driver", None) is None:
        app.copy_to_clipboard(text)  # kept by Textual for its own paste; nothing is written
        return f"No terminal to copy to; the text is: {shown}"
    known = NO_OSC52.get(env.get("TERM_PROGRAM", ""))
    if known:
        return f"{known} ignores clipboard requests (OSC 52); select and copy it yourself: {shown}"
    app.copy_to_clipboard(text)  # Textual writes ESC ]52;c;BASE64 BEL
    return f"Copied to your terminal's clipboard: {shown}"


def _through_tmux(app, text: str, shown: str, env: Mapping[str, str], state) -> str:
    if state.set_clipboard == "on":  # tmux takes the application's OSC 52 itself
        app.copy_to_clipboard(text)  # Textual writes ESC ]52;c;BASE64 BEL
        return f"Copied (tmux buffer and your terminal's clipboard): {shown}"
    send = state.set_clipboard != "off"
    app._clipboard = text  # what Textual's copy_to_clipboard keeps, for its own paste (ctrl+v)
    if tmux(env, ["load-buffer", *(["-w"] if send else []), "-"], text.encode("utf-8")) is not None:
        if send:
            return f"Copied (tmux buffer and your terminal's clipboard): {shown}"
        return (f"Copied to tmux's paste buffer only (prefix ] pastes it): tmux's set-clipboard is off, "
                f"`tmux set -g set-clipboard on` reaches your terminal's clipboard too: {shown}")
    app.copy_to_clipboard(text)  # tmux did not answer (or predates load-buffer -w, 3.2)
    return f"Sent to the clipboard, but tmux may drop it (`tmux set -g set-clipboard on`): {shown}"
