"""Lines in, lines out: the accessible desk's only contact with the terminal.

Output is plain lines, flushed one by one, with no escape sequence of our own: a screen reader
reads them in order and a transcript (`script`, `tee`) is the whole session. Input is a line at
a time; on a terminal GNU readline gives line editing and an in-memory history (never written
to disk: comments and reasons are request content). Readline's own escape sequences (bracketed
paste, the meta key) are switched off, so the output stays free of them too.

A terminal that goes away (EIO on a hung-up tty, EPIPE on a closed pipe) ends the session as a
hang-up would: TerminalGone, which session.py turns into sealing and exit status 129.
"""

from __future__ import annotations

import shutil
import signal
import sys
import textwrap
from typing import Callable, TextIO

from ..core.text import neutralise

#: the exit status after the terminal went away, as a shell reports SIGHUP (128 + 1)
GONE_STATUS = 128 + signal.SIGHUP


#: what ask() returns when ctrl-c dropped the line being typed (no keyboard can type it in a line)
CANCELLED = "\x03"


class TerminalGone(Exception):
    """The terminal (or the pipe) the desk talks to is gone; nobody is there to read."""


class Console:
    def __init__(self, stdin: TextIO | None = None, stdout: TextIO | None = None,
                 words: Callable[[], list[str]] | None = None) -> None:
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self._relax(self.stdin, "surrogateescape")  # a stray non-UTF-8 byte reaches the engine,
        self._relax(self.stdout, "backslashreplace")  # which refuses it naming the field
        self.interactive = _isatty(self.stdin) and _isatty(self.stdout)
        self._readline = _readline(words) if self.interactive else None

    @staticmethod
    def _relax(stream: TextIO, errors: str) -> None:
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors=errors)
            except (ValueError, OSError):  # already read from, or closed: keep what it has
                pass

    def say(self, text: str = "") -> None:
        """Print `text` (already made safe by the caller), one line per line. On a terminal,
        long lines are broken between words at its width (the terminal itself would cut a word
        in two, and a screen reader reviewing by line would read the halves); through a pipe
        they stay whole, for grep and for the record."""
        if self.interactive:
            text = "\n".join(_wrap(line, shutil.get_terminal_size().columns) for line in text.split("\n"))
        try:
            self.stdout.write(text + "\n")
            self.stdout.flush()
        except (OSError, ValueError) as exc:
            raise TerminalGone(str(exc)) from None

    def ask(self, prompt: str, *, remember: bool = True) -> str | None:
        """One line typed by the user (without its line break), or None at end of input.

        Through a pipe, the prompt and the line read are printed together afterwards, so the
        transcript reads as a terminal session would. With `remember=False` the line is kept
        out of the history (confirmations), so arrow-up and enter at the next confirmation can
        never confirm by accident."""
        try:
            if self.interactive:
                line = input(prompt)
                if not remember and self._readline is not None and line:
                    self._forget_last()
                return line
            self.stdout.flush()
            line = self.stdin.readline()
        except EOFError:
            return None
        except OSError as exc:  # EIO: the terminal hung up while we waited for a line
            raise TerminalGone(str(exc)) from None
        if not line:
            return None
        line = line.rstrip("\r\n")
        # no terminal echoed it: the transcript shows what was read, after the prompt, as typed
        # (neutralised: piped input may hold escape bytes)
        self.say(prompt + neutralise(line))
        return line

    def _forget_last(self) -> None:
        rl = self._readline
        count = rl.get_current_history_length()
        if count:
            rl.remove_history_item(count - 1)


def _wrap(line: str, width: int) -> str:
    if len(line) < width or width < 20:
        return line
    indent = " " * (len(line) - len(line.lstrip(" ")) + 2)  # continuation lines a little further in
    return textwrap.fill(line, width - 1, subsequent_indent=indent, break_on_hyphens=False,
                         drop_whitespace=True)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (OSError, ValueError):
        return False


def _readline(words: Callable[[], list[str]] | None):
    """GNU readline, set up for plain output, with command words completed by tab; or None."""
    try:
        import readline
    except ImportError:  # a Python built without it: plain input() still works
        return None
    for setting in ("set enable-bracketed-paste off", "set enable-meta-key off", "set bell-style none"):
        readline.parse_and_bind(setting)
    if words is not None:
        def complete(text: str, state: int) -> str | None:
            if readline.get_begidx() != 0:  # only the command word; ids and reasons are free text
                return None
            matches = [w + " " for w in words() if w.startswith(text)]
            return matches[state] if state < len(matches) else None
        readline.set_completer(complete)
        readline.parse_and_bind("tab: complete")
    return readline
