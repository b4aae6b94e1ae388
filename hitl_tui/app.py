"""HitlApp: global keys, the command palette, start-up (unlock -> who are you -> desk) and the
ONE place that handles worker failures.

Every database call runs in a thread worker started with `db()`, owned by the app, so that a
refusal from the engine anywhere ends up in `on_worker_state_changed` below: a HitlError becomes
a notification in the engine's own plain words, a key problem brings back the unlock screen, and
anything unexpected is logged to a file and summarised, never dumped on the terminal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.message import Message
from textual.worker import Worker, WorkerState, get_current_worker

from .core.errors import HitlError, InsecureKeyFile, KeyInvalid, KeyMissing, StoreLocked, WrongKey
from .core.models import User
from .messages import SessionOpened
from .render.text import utc_now

log = logging.getLogger("hitl_tui.app")

KEY_PROBLEMS = (WrongKey, KeyMissing, StoreLocked, KeyInvalid, InsecureKeyFile)
AssistantFactory = Callable[[Any, str], Any]


class WorkDone(Message):
    """A db() worker finished: run its `done` callback on the UI thread."""

    def __init__(self, callback: Callable[[Any], None], result: Any) -> None:
        super().__init__()
        self.callback = callback
        self.result = result


@dataclass(frozen=True)
class Preload:
    """What the first frame shows, read synchronously before the app runs: the UI thread does
    not exist yet, so nothing is blocked, and the first paint needs no worker round trips."""

    username: str
    user: User | None
    people: list[User]
    first_page: Any = None  # a PageLoaded for the default view, or None

    @classmethod
    def read(cls, service: Any, username: str) -> "Preload":
        from .core.models import InboxView
        from .messages import PageLoaded
        from .widgets.request_list import PAGE_SIZE

        user = service.find_user(username)
        if user is None:
            return cls(username, None, [])
        rows = service.list_requests(username, InboxView.AWAITING_ME, sort="oldest", limit=PAGE_SIZE + 1)
        return cls(username, user, service.list_users(), PageLoaded(0, rows[:PAGE_SIZE], 0, len(rows) > PAGE_SIZE))


class HitlApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "hitl-tui"
    ENABLE_COMMAND_PALETTE = True
    COMMAND_PALETTE_BINDING = "ctrl+p"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Leave hitl-tui (nothing is pending: every "
                "decision is written the moment you confirm it)"),
        Binding("question_mark,f1", "help", "Help", id="app.help", tooltip="This list of every key"),
    ]

    def __init__(self, service: Any | None, username: str, *, db_path: Path | None = None,
                 problem: HitlError | None = None, clock: Callable[[], datetime] | None = None,
                 assistant_factory: AssistantFactory | None = None, poll_interval: float | None = 1.0,
                 verify_on_start: bool = True, background_delay: float = 0.3, tour: Callable[[], Any] | None = None,
                 log_file: Path | None = None, preload: "Preload | None" = None) -> None:
        super().__init__()
        self.service = service
        self.username = username
        self.db_path = Path(db_path or (service.path if service is not None else "hitl.db"))
        self.problem = problem
        self.clock = clock or utc_now
        self.assistant_factory = assistant_factory
        self.poll_interval = poll_interval
        self.verify_on_start = verify_on_start
        #: seconds between the first painted inbox and the background work (counts, verify)
        self.background_delay = background_delay
        self.tour = tour
        self.log_file = log_file
        #: the session and first inbox page, read before the event loop started (launch.py)
        self.preload = preload
        self.user: User | None = None
        #: why the app ended without a quit key: "SIGHUP", "the terminal hung up", ... (or None)
        self.ended_by: str | None = None

    # --- start-up ------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self._handle_signals()
        if self.service is None:
            self._show_unlock(self.problem or KeyMissing("No key was found for this database."))
        elif self.preload is not None and self.preload.username == self.username:
            self._session_ready(self.preload)
        else:
            self._open_session()
        self._say_ignored_policy_environment()

    def _say_ignored_policy_environment(self) -> None:
        """HITL_POLICY_FILE or a threshold variable set for the desk changes nothing (the policy
        is the database's); say so where the person looks, not only on the hidden stderr."""
        import os

        from .core.policy import ignored_environment_warning

        note = ignored_environment_warning(os.environ)
        if note:
            self.say(note.removeprefix("warning: "), "warning", timeout=15)

    # --- the terminal going away ----------------------------------------------------------------

    def get_driver_class(self):
        """Textual's own driver, taught to notice a terminal that hangs up (terminal.py)."""
        base = super().get_driver_class()
        if base.__name__ == "LinuxDriver":  # not TEXTUAL_DRIVER's choice, nor Windows
            from .terminal import hangup_aware

            return hangup_aware(base)
        return base

    def _handle_signals(self) -> None:
        """A closed terminal (SIGHUP) or a polite kill (SIGTERM) ends the app normally, so that
        launch.py (or the demo) closes the database and seals the session. Python's default for
        both would end the process on the spot, unsealed."""
        if self.is_headless:
            return  # tests drive the app in-process: the signals are the test runner's
        import asyncio
        import signal

        try:
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGHUP, self.end_now, "SIGHUP", 128 + signal.SIGHUP)
            loop.add_signal_handler(signal.SIGTERM, self.end_now, "SIGTERM", 128 + signal.SIGTERM)
        except (NotImplementedError, RuntimeError, AttributeError, ValueError):
            pass  # no signal handlers here (Windows, a loop outside the main thread)

    def on_terminal_lost(self, event) -> None:
        """The driver saw EOF or EIO on the terminal, or its POLLHUP (terminal.TerminalLost)."""
        from .terminal import HANGUP_STATUS

        self.end_now(event.reason, HANGUP_STATUS)

    def end_now(self, reason: str, status: int) -> None:
        """Exit at once, however the app is busy: nothing is pending (every decision is written
        when it is confirmed), and the caller's close() signs the session's checkpoint."""
        if self.ended_by is None:
            self.ended_by = reason
            self.exit(status, return_code=status)

    def _show_unlock(self, problem: HitlError) -> None:
        from .core.keys import salt_path
        from .screens.unlock import UnlockScreen

        self.push_screen(UnlockScreen(self.db_path, str(problem),
                                      passphrase_possible=salt_path(self.db_path).exists()))

    def on_unlock_screen_attempted(self, event) -> None:
        passphrase, path = event.passphrase, self.db_path

        def work() -> Any:
            from .core.keys import derive_passphrase_key
            from .core.service import WorkflowService

            from .core.store.connection import wrong_key

            key = derive_passphrase_key(path, passphrase) if passphrase else None
            try:
                return WorkflowService.open(path, key=key)
            except WrongKey:  # say "wrong passphrase" for what was typed, not "wrong key"
                if not passphrase:
                    raise
                raise wrong_key(path, "passphrase") from None

        self.db(work, group="unlock", done=self._unlocked, description="unlock")

    def _unlocked(self, service: Any) -> None:
        self.service = service
        if _is_unlock(self.screen):
            self.pop_screen()
        self._open_session()

    def _open_session(self) -> None:
        """Who you are, the directory and the first inbox page, read in one worker (after an
        unlock or a user switch; at start-up launch.py read them before the app ran)."""
        service, username = self.service, self.username
        self.db(lambda: Preload.read(service, username), group="session", done=self._session_ready,
                description="find user")

    def _session_ready(self, session: "Preload") -> None:
        self.preload = None
        user, people = session.user, session.people
        if user is None:
            from .screens.unknown_user import UnknownUserScreen

            self.push_screen(UnknownUserScreen(self.username, self.db_path), self._account_added)
            return
        from .screens.desk import DeskScreen

        self.user = user
        self.push_screen(DeskScreen(self.service, user, people, self.db_path, first_page=session.first_page))
        if not user.active:
            self.say(f"{user.username} is deactivated: you can look, but every action is refused until an "
                     f"administrator reactivates you.", "warning")
        self.post_message(SessionOpened(user, people))

    def _account_added(self, added: bool | None) -> None:
        """An administrator added this account while its screen was showing: open the desk."""
        if added:
            self._open_session()

    # --- database work -------------------------------------------------------------------------

    def db(self, work: Callable[[], Any], *, group: str = "db", exclusive: bool = False,
           done: Callable[[Any], None] | None = None, description: str = "") -> Worker:
        """Run blocking engine work in a thread; `done(result)` runs back on the UI thread.

        Errors are not handled here: they reach on_worker_state_changed, the single handler.
        """
        def job() -> Any:
            result = work()
            # post, never call_from_thread: a blocking hand-over would hang the executor (and
            # so the process exit) if the app closed while this worker was still running
            if done is not None and not get_current_worker().is_cancelled:
                self.post_message(WorkDone(done, result))
            return result

        return self.run_worker(job, thread=True, group=group, exclusive=exclusive, exit_on_error=False,
                               description=description)

    def on_work_done(self, message: "WorkDone") -> None:
        if not self.is_running:  # shutting down: the screen this answer was for is being taken down
            return
        message.callback(message.result)

    def say(self, message: str, severity: str = "information", timeout: float | None = None) -> None:
        """A notification whose text is never parsed as markup (it may quote user text)."""
        self.notify(message, severity=severity, markup=False, timeout=timeout)  # type: ignore[arg-type]

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        if isinstance(error, KEY_PROBLEMS):
            if _is_unlock(self.screen):
                self.screen.show_error(str(error))
            else:
                self._show_unlock(error)
        elif isinstance(error, HitlError):
            self.say(str(error), "error", timeout=8)
        else:
            where = self._log_failure(event.worker.description or event.worker.name, error)
            self.say(f"Something went wrong ({type(error).__name__}: {error}); nothing further was changed. "
                     f"Details: {where}", "error", timeout=12)
        screen = self.screen
        if hasattr(screen, "work_failed"):
            screen.work_failed(event.worker, error)

    def _log_failure(self, what: str, error: BaseException | None) -> str:
        """Write the traceback to the log file (never the terminal); return where it went."""
        import traceback

        path = self.log_file
        if path is None:
            from .core.paths import log_dir

            path = log_dir() / "tui.log"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(f"--- {utc_now().isoformat()} {what}\n")
                fh.write("".join(traceback.format_exception(error)) if error else "no exception\n")
            return str(path)
        except OSError:
            return "no log file could be written"

    def _fatal_error(self) -> None:
        """A bug in the UI: log it and say so in one line, instead of a traceback with locals
        (which could include key material) on the terminal."""
        error = self._exception
        where = self._log_failure("ui", error)
        self._exit_renderables.append(f"hitl-tui stopped after an internal error ({type(error).__name__}); "
                                      f"details in {where}")
        self._close_messages_no_wait()

    # --- global actions ------------------------------------------------------------------------

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.help_sections()))

    def help_sections(self) -> list[tuple[str, list[Binding]]]:
        from .screens.desk import DeskScreen
        from .screens.decision_modal import DecisionModal
        from .screens.request_form import RequestForm
        from .widgets.request_list import InboxTable

        arrows = [Binding("up,down", "", "Move", tooltip="Previous / next request; pgup/pgdn, home/end too")]
        return [
            ("Everywhere", [*self.BINDINGS, Binding("ctrl+p", "", "Commands", tooltip="Find any action by name")]),
            ("Desk", list(DeskScreen.BINDINGS)),
            ("Inbox", arrows + list(InboxTable.BINDINGS)),
            ("Decision dialog", [Binding("enter", "", "Confirm", tooltip="Record the decision with your comment"),
                                 *DecisionModal.BINDINGS]),
            ("Request form", [Binding("tab", "", "Next field"), *RequestForm.BINDINGS]),
        ]

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        commands = getattr(screen, "palette_commands", None)
        if commands is not None:
            yield from commands()
        yield SystemCommand("Help: list every key", "Show every key binding", self.action_help)
        yield SystemCommand("Quit", "Leave hitl-tui", self.action_quit)

    async def action_quit(self) -> None:
        self.exit(0)


def _is_unlock(screen: Screen) -> bool:
    """Without importing the unlock screen: most sessions never need it."""
    return type(screen).__name__ == "UnlockScreen"


def make_app(service: Any | None, username: str | None = None, **options: Any) -> HitlApp:
    """The app for `username` (default: the OS account running this process, never $USER).

    Tests and the demo pass an explicit username to act as different people.
    """
    if username is None:
        from .core.audit import os_login

        username = os_login() or ""
    if service is not None and options.pop("preload", False) is True:
        options["preload"] = Preload.read(service, username)
    return HitlApp(service, username, **options)
