"""HitlApp: global keys, the command palette, start-up (unlock -> who are you -> desk) and the
ONE place that handles worker failures.

Database work runs in thread workers that belong to the widget or screen that needs the answer
(so Textual cancels them when that node goes away). A worker that fails is passed up as a
`WorkFailed` message (messages.forward_failure) and handled in `report_failure` below: a HitlError
becomes a notification in the engine's own plain words, a key problem brings back the unlock
screen, and anything unexpected is logged to a file and summarised, never dumped on the terminal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from .core.errors import HitlError, InsecureKeyFile, KeyInvalid, KeyMissing, StoreLocked, WrongKey
from .core.models import User
from .messages import SessionOpened, SessionRead, Unlocked, WorkFailed
from .render.text import utc_now

if TYPE_CHECKING:
    from .core.service import WorkflowService

log = logging.getLogger("hitl_tui.app")

KEY_PROBLEMS = (WrongKey, KeyMissing, StoreLocked, KeyInvalid, InsecureKeyFile)
AssistantFactory = Callable[[Any, str], Any]


@dataclass(frozen=True)
class Preload:
    """What the first frame shows, read synchronously before the app runs: the UI thread does
    not exist yet, so nothing is blocked, and the first paint needs no worker round trips."""

    username: str
    user: User | None
    people: list[User]
    first_page: Any = None  # a PageLoaded for the default view, or None

    @classmethod
    def read(cls, service: "WorkflowService", username: str) -> "Preload":
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

    def __init__(self, service: "WorkflowService | None", username: str, *, db_path: Path | None = None,
                 problem: HitlError | None = None, clock: Callable[[], datetime] | None = None,
                 assistant_factory: AssistantFactory | None = None, poll_interval: float | None = 1.0,
                 verify_on_start: bool = True, background_delay: float = 0.3, tour: Callable[[], Any] | None = None,
                 log_file: Path | None = None, preload: "Preload | None" = None, settings: Any = None) -> None:
        super().__init__()
        #: core.settings.Settings (theme, keymap, saved views, notifications...), or None for defaults
        self.settings = settings
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
        #: team mode: the connection to the service is lost (the desk said so once; workers that
        #: fail for the same reason meanwhile are not said again)
        self.service_down = False

    # --- start-up ------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self._handle_signals()
        if self.settings is not None:
            from . import ui_settings

            ui_settings.apply(self)
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
        """A closed terminal (SIGHUP), a polite kill (SIGTERM) or `kill -INT` (ctrl+c itself is a
        key in the app's raw terminal) ends the app normally, so that launch.py (or the demo)
        closes the database and seals the session. Python's default for the first two would end
        the process on the spot, unsealed; for SIGINT a KeyboardInterrupt raised wherever the
        loop happens to be, which skips the workers' cancellation, so that a thread worker still
        running could keep the process from exiting."""
        if self.is_headless:
            return  # tests drive the app in-process: the signals are the test runner's
        import asyncio
        import signal

        try:
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGHUP, self.end_now, "SIGHUP", 128 + signal.SIGHUP)
            loop.add_signal_handler(signal.SIGTERM, self.end_now, "SIGTERM", 128 + signal.SIGTERM)
            loop.add_signal_handler(signal.SIGINT, self.end_now, "SIGINT", 130)
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
        self._unlock(event.passphrase)

    @work(thread=True, exclusive=True, group="unlock", exit_on_error=False, description="unlock")
    def _unlock(self, passphrase: str | None) -> None:
        from .core.keys import derive_passphrase_key
        from .core.service import WorkflowService
        from .core.store.connection import wrong_key

        path = self.db_path
        key = derive_passphrase_key(path, passphrase) if passphrase else None
        try:
            service = WorkflowService.open(path, key=key, settings=self.settings)
        except WrongKey:  # say "wrong passphrase" for what was typed, not "wrong key"
            if not passphrase:
                raise
            raise wrong_key(path, "passphrase") from None
        self.post_message(Unlocked(service))

    @on(Unlocked)
    def _unlocked(self, msg: Unlocked) -> None:
        from .screens.unlock import UnlockScreen

        self.service = msg.service
        if isinstance(self.screen, UnlockScreen):
            self.pop_screen()
        self._open_session()

    def _open_session(self) -> None:
        """Who you are, the directory and the first inbox page, read in one worker (after an
        unlock or a user switch; at start-up launch.py read them before the app ran)."""
        self._read_session(self.service, self.username)

    @work(thread=True, exclusive=True, group="session", exit_on_error=False, description="find user")
    def _read_session(self, service: "WorkflowService", username: str) -> None:
        self.post_message(SessionRead(Preload.read(service, username)))

    @on(SessionRead)
    def _session_read(self, msg: SessionRead) -> None:
        if msg.session.username == self.username:  # else a later user switch asked again
            self._session_ready(msg.session)

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

    def say(self, message: str, severity: str = "information", timeout: float | None = None) -> None:
        """A notification whose text is never parsed as markup (it may quote user text)."""
        self.notify(message, severity=severity, markup=False, timeout=timeout)  # type: ignore[arg-type]

    def alert(self, news: list) -> None:
        """Something new concerns this user (core.notices): tell the terminal too, as the
        settings ask (off, the bell, or a desktop notification where the terminal can)."""
        mode = getattr(getattr(self.settings, "ui", None), "notify", None) or "bell"
        if mode == "off":
            return
        from .alerts import alert

        first = news[0]
        more = f" (+{len(news) - 1} more)" if len(news) > 1 else ""
        alert(self, "hitl-tui", first.text + more, mode)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The app's own workers (unlock, session); every other node forwards its failures."""
        if event.state is WorkerState.ERROR:
            self.report_failure(event.worker)

    @on(WorkFailed)
    def _work_failed(self, msg: WorkFailed) -> None:
        self.report_failure(msg.worker)

    def report_failure(self, worker: Worker) -> None:
        from .screens.unlock import UnlockScreen

        error = worker.error
        if isinstance(error, KEY_PROBLEMS):
            if isinstance(self.screen, UnlockScreen):
                self.screen.show_error(str(error))
            else:
                self._show_unlock(error)
        elif isinstance(error, HitlError):
            if self.service_down and getattr(error, "code", "") == "service_unavailable":
                return  # the header says the service is away, and the desk said it once
            self.say(str(error), "error", timeout=8)
        else:
            where = self.log_failure(worker.description or worker.name, error)
            self.say(f"Something went wrong ({type(error).__name__}: {error}); nothing further was changed. "
                     f"Details: {where}", "error", timeout=12)

    def log_failure(self, what: str, error: BaseException | None) -> str:
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
        where = self.log_failure("ui", error)
        self._exit_renderables.append(f"hitl-tui stopped after an internal error ({type(error).__name__}); "
                                      f"details in {where}")
        self._close_messages_no_wait()

    # --- global actions ------------------------------------------------------------------------

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        keymap = dict(self.settings.ui.keymap) if self.settings is not None else None
        self.push_screen(HelpScreen(self.help_sections(), keymap=keymap))

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
        yield SystemCommand("Theme: change the colours", "Pick one of Textual's themes (kept in the config file)",
                            self.action_change_theme)
        yield SystemCommand("Quit", "Leave hitl-tui", self.action_quit)

    async def action_quit(self) -> None:
        self.exit(0)


def make_app(service: "WorkflowService | None", username: str | None = None, **options: Any) -> HitlApp:
    """The app for `username` (default: the OS account running this process, never $USER).

    Tests and the demo pass an explicit username to act as different people.
    """
    if username is None:
        from .core.audit import os_login

        username = os_login() or ""
    if service is not None and options.pop("preload", False) is True:
        options["preload"] = Preload.read(service, username)
    return HitlApp(service, username, **options)
