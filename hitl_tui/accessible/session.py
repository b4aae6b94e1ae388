"""Opening, running and sealing an accessible-desk session.

The engine is opened as every CLI command opens it (commands/common.py's open_service: the OS
login, never $USER; a passphrase asked on a terminal only) and closed as the full-screen desk
closes it (launch.py): `seal()` signs a checkpoint if the trail grew, however the session ends
(quit, ctrl-d, a hang-up, SIGTERM, a terminal gone away), and a refused seal is exit status 3.

SIGHUP and SIGTERM never cut a command short: while a command runs they are held and the session
ends right after it (a confirmed decision is written whole, or not at all, never half); while the
desk waits for a line they end it at once. Exit status: 0 after quit or ctrl-d, 129 after a
hang-up or a lost terminal, 143 after SIGTERM, 3 when the seal was refused, 1 when the session
could not start (one line on stderr).
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..commands.common import me, passphrase_prompt
from ..core.errors import HitlError
from .commands import COMMAND_WORDS, Desk, add_user_line, one_line, verified_line
from .console import CANCELLED, GONE_STATUS, Console, TerminalGone

PROMPT = "hitl> "


class SessionEnded(BaseException):
    """A signal ended the session (BaseException: no handler of ours may swallow it)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class Signals:
    """SIGHUP and SIGTERM: held while a command runs, at once while waiting for a line; SIGINT
    (ctrl-c) is Python's KeyboardInterrupt, counted.

    A signal that lands after readline has printed its prompt but before it blocks in select()
    would wait for the next key press (Python runs handlers only when select is interrupted).
    So a watcher thread, woken through the wakeup fd, sends a signal that has not been handled
    within 50 ms to the main thread once more; that echo comes back through the fd and is skipped."""

    ENDING = (signal.SIGHUP, signal.SIGTERM)

    def __init__(self) -> None:
        self.pending: int | None = None
        self.waiting = False
        self._previous: dict[int, object] = {}
        self._wakeup: tuple[int, int] | None = None
        self._old_wakeup = -1
        self._handled: dict[int, int] = {}
        self._received: dict[int, int] = {}
        self._echoes: dict[int, int] = {}

    def install(self) -> None:
        for sig in (*self.ENDING, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)
        read, write = os.pipe()
        os.set_blocking(write, False)
        self._wakeup = (read, write)
        self._old_wakeup = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        threading.Thread(target=self._nudge, args=(read, threading.main_thread().ident),
                         name="hitl-accessible-signals", daemon=True).start()

    def _nudge(self, read: int, main: int | None) -> None:
        while True:
            try:
                data = os.read(read, 64)
            except OSError:
                return
            if not data:
                return
            for signum in data:
                if signum not in self._previous:
                    continue
                if self._echoes.get(signum):  # our own echo coming back
                    self._echoes[signum] -= 1
                    continue
                seen = self._received[signum] = self._received.get(signum, 0) + 1
                time.sleep(0.05)
                if self.waiting and main is not None and self._handled.get(signum, 0) < seen:
                    self._echoes[signum] = self._echoes.get(signum, 0) + 1
                    signal.pthread_kill(main, signum)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        if self._wakeup is not None:
            signal.set_wakeup_fd(self._old_wakeup)
            read, write = self._wakeup
            os.close(write)  # the watcher reads end-of-file and stops
            os.close(read)
            self._wakeup = None

    def ignore(self) -> None:
        """For the seal on the way out: a second hang-up must not cut it short."""
        for sig in self._previous:
            signal.signal(sig, signal.SIG_IGN)

    def _handle(self, signum: int, frame) -> None:  # noqa: ARG002 - the signal module's signature
        self._handled[signum] = self._handled.get(signum, 0) + 1
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.pending = 128 + signum
        if self.waiting:
            raise SessionEnded(self.pending)

    def check(self) -> None:
        if self.pending is not None:
            raise SessionEnded(self.pending)

    @contextmanager
    def interruptible(self) -> Iterator[None]:
        self.check()
        self.waiting = True
        try:
            yield
        finally:
            self.waiting = False


class WaitingConsole(Console):
    """A Console whose reads can be ended by a signal (and whose writes never are)."""

    def __init__(self, signals: Signals, **kw) -> None:
        super().__init__(**kw)
        self.signals = signals

    def ask(self, prompt: str, *, remember: bool = True) -> str | None:
        with self.signals.interruptible():
            try:
                return super().ask(prompt, remember=remember)
            except KeyboardInterrupt:  # ctrl-c: the line is dropped, as in a shell
                self.say("")
                return CANCELLED


def run(db_path: str | None, settings=None, service=None) -> int:
    """The accessible desk on the database, or on `service` (a team-mode connection, which
    acts as the OS account the kernel names: its username, not this process's word)."""
    if service is None:
        service = _open(db_path, settings)
        if service is None:
            return 1
    path = Path(service.path)
    username = getattr(service, "username", None) or me()
    try:
        user = service.find_user(username)
    except HitlError as exc:
        service.close(checkpoint=False)
        print(f"hitl-tui: {one_line(exc)}", file=sys.stderr)
        return 1
    if user is None:
        service.close(checkpoint=False)
        print(f"hitl-tui: you ({one_line(username)}) are not in the user directory of {path}; an administrator "
              f"adds you with `{add_user_line(username)}`, then run `hitl-tui --accessible` again.", file=sys.stderr)
        return 1
    signals = Signals()
    signals.install()
    console = WaitingConsole(signals, words=lambda: COMMAND_WORDS)
    status = 0
    try:
        status = _loop(service, user, console, signals, path)
    finally:
        signals.ignore()
        try:
            status = _seal(service, console, status)
        finally:
            signals.restore()
    return status


def _open(db_path: str | None, settings):
    """The engine on the chosen database, or None once the one line is said."""
    from ..core.paths import default_db_path
    from ..core.service import WorkflowService
    from ..core.settings import Settings

    try:
        if settings is None:
            settings = Settings.load(db_path=db_path, given_by="--db")
        path = Path(db_path).expanduser() if db_path else default_db_path(settings)
        return WorkflowService.open(path, passphrase_prompt=passphrase_prompt(path), create=False,
                                    operator=me(), settings=settings)
    except HitlError as exc:
        print(f"hitl-tui: {one_line(exc)}", file=sys.stderr)
    except (KeyboardInterrupt, EOFError):  # at the passphrase prompt
        print("hitl-tui: no passphrase given; nothing was opened.", file=sys.stderr)
    return None


def _loop(service, user, console: Console, signals: Signals, path: Path) -> int:
    try:
        desk = Desk(service, user.username, console)
        verdicts = _verify_in_background(service)
        console.say(f"hitl-tui accessible desk. You are {one_line(user.username)}, {user.role.label}, "
                    f"on {one_line(path)}.")
        console.say("Type help for the commands; quit or ctrl-d ends the session. "
                    "Checking the audit chain in the background.")
        desk.run_line("list")
        while True:
            _say_verdicts(console, verdicts)
            signals.check()
            line = console.ask(PROMPT)
            if line is None:  # ctrl-d, or the end of piped input
                console.say("End of input.")
                return 0
            if line == CANCELLED:
                continue
            try:
                keep = desk.run_line(line)
            except KeyboardInterrupt:
                console.say("Interrupted; that command did nothing more.")
                keep = True
            signals.check()
            if not keep:
                return 0
    except SessionEnded as ended:
        _quietly(console, "The terminal hung up; ending the session."
                 if ended.status == GONE_STATUS else "Asked to stop; ending the session.")
        return ended.status
    except TerminalGone:
        return GONE_STATUS


def _verify_in_background(service) -> "queue.Queue[str]":
    """The whole-chain check at start, in a thread (a million entries take seconds): its
    verdict is said before the next prompt. verify_audit reads on its own connection."""
    verdicts: "queue.Queue[str]" = queue.Queue()

    def work() -> None:
        try:
            verdicts.put(verified_line(service.verify_audit()))
        except HitlError as exc:
            verdicts.put(f"The audit chain could not be checked: {one_line(exc)}")
        except Exception as exc:  # noqa: BLE001 - a thread's error must still be said, in one line
            verdicts.put(f"The audit chain could not be checked ({type(exc).__name__}); type verify to try again.")

    threading.Thread(target=work, name="hitl-accessible-verify", daemon=True).start()
    return verdicts


def _say_verdicts(console: Console, verdicts: "queue.Queue[str]") -> None:
    while True:
        try:
            console.say(verdicts.get_nowait())
        except queue.Empty:
            return


def _quietly(console: Console, line: str) -> None:
    try:
        console.say(line)
    except TerminalGone:
        pass


def _seal(service, console: Console, status: int) -> int:
    """Seal and close as the desk does; the status, 3 when the seal was refused."""
    sealed, size = False, 0
    try:
        sealed = service.seal()
        size = service.audit_size() if sealed else 0
    except HitlError as exc:  # the database went away under us: what committed stays committed
        _quietly(console, f"The session could not be sealed: {one_line(exc)}")
        sealed = False
    finally:
        service.close(checkpoint=False)
    if service.seal_refused_reason:
        _quietly(console, f"The session was not sealed: {one_line(service.seal_refused_reason)}")
        return 3
    if service.seal_error:
        _quietly(console, f"The session could not be sealed with a checkpoint: {one_line(service.seal_error)}. "
                          f"What you decided stays decided; the next session that can write seals it.")
    elif sealed:
        _quietly(console, f"Session sealed: a signed checkpoint covers all {size:,} audit entries. Goodbye.")
    return status

