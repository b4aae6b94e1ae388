"""The desk's terminal: it needs one to start, and it ends, sealing its session, when it goes away.

Textual's Linux driver (8.2.x) reads input in a thread: select() on stdin, then os.read(). When
the terminal hangs up (an SSH connection drops, a tmux pane is killed) the kernel makes that read
return EOF for ever, which the driver treats as "nothing typed" and selects again at once: the
desk spins at full speed on a dead tty and never exits. A read that fails with EIO instead (the
other end closed before the hang-up completed) makes the driver panic with a traceback, and every
write to the dead terminal raises in its writer thread, after which the app blocks once that
thread's queue is full.

HangupAwareDriver wraps, without changing, what the driver does: its output file drops writes to
a terminal that is gone, its input thread turns EIO into a hang-up, and a watcher thread that
polls stdin/stderr only for POLLHUP (it never reads, so no keystroke is taken from the driver)
reports EOF. Each of these posts one TerminalLost to the app, which exits normally; launch.py then
closes the service, which signs the session's checkpoint. SIGHUP itself is handled by the app
(HitlApp.on_mount), because signal handlers belong to the event loop, not to a driver thread.
"""

from __future__ import annotations

import errno
import os
import select
import sys
import threading
from contextlib import contextmanager
from typing import IO, Any, Callable, Iterator

from textual.message import Message

#: exit status after a hang-up, as a shell reports a process ended by SIGHUP (128 + 1)
HANGUP_STATUS = 129
#: errors that mean "this terminal no longer exists", as opposed to a bug
_GONE = {errno.EIO, errno.ENXIO, errno.EBADF, errno.EPIPE, errno.ENODEV, errno.ENOTTY}
_STREAMS = (("standard input", 0), ("standard output", 1), ("standard error", 2))


def missing_terminal() -> str | None:
    """Which of stdin, stdout, stderr is not a terminal (None when all three are).

    The desk reads keys from stdin and Textual draws on stderr; stdout must be a terminal too,
    or `hitl-tui > file` would look like it worked. A pipe or /dev/null would get escape codes
    and the desk would wait for keys that never come.
    """
    for name, fd in _STREAMS:
        try:
            if not os.isatty(fd):
                return name
        except OSError:
            return name
    return None


def needs_terminal_line(stream: str) -> str:
    return (f"hitl-tui: the desk needs a terminal, and {stream} is not one; "
            f"for scripts and pipes use the CLI (`hitl-tui --help`).")


class TerminalLost(Message):
    """The terminal hung up (EOF or EIO on it, or SIGHUP): the app should exit, sealing."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


def _is_gone(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in _GONE


class _TerminalOutput:
    """The driver's output file: writes go through until the terminal is gone, then are dropped
    (there is nobody to show them to, and raising would kill the driver's writer thread)."""

    def __init__(self, file: IO[str], lost: Callable[[str], None]) -> None:
        self._file, self._lost = file, lost
        self.gone = False

    def _guard(self, action: Callable[[], Any]) -> None:
        if self.gone:
            return
        try:
            action()
        except OSError as exc:
            if not _is_gone(exc):
                raise
            self.gone = True
            self._lost(f"writing to the terminal failed ({errno.errorcode.get(exc.errno, exc.errno)})")

    def write(self, text: str) -> None:
        self._guard(lambda: self._file.write(text))

    def flush(self) -> None:
        self._guard(self._file.flush)

    def fileno(self) -> int:
        return self._file.fileno()

    def isatty(self) -> bool:
        return not self.gone and self._file.isatty()

    def __getattr__(self, name: str) -> Any:  # encoding, errors, ...: as the real file says
        return getattr(self._file, name)


def hangup_aware(base: type) -> type:
    """A subclass of Textual's LinuxDriver `base` that notices a terminal going away.

    Built on demand (the Linux driver cannot be imported on Windows)."""

    class HangupAwareDriver(base):  # type: ignore[misc, valid-type]
        def __init__(self, app: Any, **options: Any) -> None:
            super().__init__(app, **options)
            self._lost_once = threading.Lock()
            self._lost_reported = False
            self._watch_stop = threading.Event()
            self._watcher: threading.Thread | None = None
            self._file = _TerminalOutput(self._file, self._terminal_lost)

        def _terminal_lost(self, reason: str) -> None:
            """From any thread, once: post_message is thread-safe."""
            with self._lost_once:
                if self._lost_reported:
                    return
                self._lost_reported = True
            self._file.gone = True  # the shutdown's "restore the terminal" writes go nowhere
            self._app.post_message(TerminalLost(reason))

        def start_application_mode(self) -> None:
            super().start_application_mode()
            self._watch_stop.clear()
            self._watcher = threading.Thread(target=self._watch_hangup, name="hitl-hangup-watch", daemon=True)
            self._watcher.start()

        def stop_application_mode(self) -> None:
            self._watch_stop.set()
            super().stop_application_mode()

        def _watch_hangup(self) -> None:
            """Wait for POLLHUP/POLLERR on the terminal. An event mask of 0 asks for nothing but
            those, so pending keystrokes do not wake this thread and nothing is read."""
            poller = select.poll()
            fds = {self.fileno, self._file.fileno()}
            for fd in fds:
                poller.register(fd, 0)
            while not self._watch_stop.is_set():
                try:
                    events = poller.poll(250)
                except OSError as exc:
                    if not _is_gone(exc):
                        return
                    events = [(self.fileno, select.POLLERR)]
                if events:
                    self._terminal_lost("the terminal hung up")
                    return

        def run_input_thread(self) -> None:
            try:
                super().run_input_thread()
            except OSError as exc:
                if not _is_gone(exc):
                    raise
                self._terminal_lost(f"reading the terminal failed ({errno.errorcode.get(exc.errno, exc.errno)})")

    return HangupAwareDriver


@contextmanager
def hangups_ignored() -> Iterator[None]:
    """For the clean-up after the app: a second SIGHUP (a shell passing the hang-up on to its
    jobs) must not cut short the close that seals the session, or the demo's clean-up. The
    previous disposition comes back afterwards (the caller may be a test process)."""
    import signal

    try:
        previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    except (AttributeError, ValueError):  # no SIGHUP (Windows), or not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGHUP, previous)


def say_if_possible(line: str) -> None:
    """One line on stderr, unless stderr is a terminal that has gone away."""
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass
