"""Reading a long description, or a request's whole detail, in the person's own pager.

The desk hands the terminal over (App.suspend: the screen is restored as it was before the desk
started), runs $PAGER with the text on its standard input, and takes the terminal back when the
pager exits. The text is cleaned first (render.text.clean): escape bytes in a description are
shown as `\\x1b`, so `less -R` or `cat` cannot be made to recolour, retitle or reprogram the
terminal by what someone typed into a request.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from typing import Mapping

from .render.text import clean

#: tried in order when $PAGER is unset or not found
FALLBACKS = (["less", "-R"], ["more"])


def pager_command(env: Mapping[str, str]) -> tuple[list[str] | None, str]:
    """(argv, note): $PAGER if its program exists, else less -R, else more; the note says why
    $PAGER was passed over ('' when it was used or unset). argv None: no pager at all."""
    note = ""
    wanted = env.get("PAGER", "").strip()
    path = env.get("PATH", os.defpath)
    if wanted:
        try:
            argv = shlex.split(wanted)
        except ValueError:
            argv = []
        if argv and shutil.which(argv[0], path=path):
            return argv, ""
        note = f"PAGER={clean(wanted, single_line=True)!r} was not found, so "
    for argv in FALLBACKS:
        if shutil.which(argv[0], path=path):
            return argv, (note + f"{argv[0]} was used") if note else ""
    return None, note


def page_text(title: str, text: str) -> bytes:
    """What the pager gets: the title, a rule, the text; every control character made visible."""
    head = clean(title, single_line=True)
    return f"{head}\n{'─' * min(len(head), 78)}\n\n{clean(text)}\n".encode("utf-8")


def open_in_pager(app, title: str, text: str, *, env: Mapping[str, str] | None = None) -> str:
    """Show `text` in the pager and come back; returns the one line to tell the person ('' when
    all went as expected)."""
    from textual.app import SuspendNotSupported

    env = dict(os.environ if env is None else env)
    argv, note = pager_command(env)
    if argv is None:
        return "No pager found: set PAGER (e.g. PAGER=less) or install less; nothing was opened."
    env.setdefault("LESS", "-R")  # only for a less that has no options of its own
    try:
        with app.suspend():
            done = subprocess.run(argv, input=page_text(title, text), env=env, check=False)
    except SuspendNotSupported:
        return "This terminal cannot be handed to a pager (no suspend here); nothing was opened."
    except OSError as exc:
        return f"The pager {argv[0]} could not start ({exc.strerror or exc}); nothing was opened."
    if done.returncode not in (0, -13):  # -13: SIGPIPE, the person quit before the end
        return f"The pager {argv[0]} ended with status {done.returncode}." + (f" {note}." if note else "")
    return f"{note[0].upper()}{note[1:]}." if note else ""
