"""DemoApp: the ordinary HitlApp on the throwaway database, plus what only the demo has.

- `u` switches the acting user (a picker of the seven people). The real app acts as the OS login
  and has no such key: this subclass is the only place it exists.
- The guided tour: its panel sits in the desk through the app's `tour` option; `t` hides it and
  brings it back, `]`/`[` move between steps, `d` does the current step (autopilot.py).
- The tour notices what happened by watching what the desk itself reports: the desk's messages
  (a page shown, a request loaded, a decision recorded, the chain verified) bubble up to this
  app, every refusal passes through `say`, every assistant event through the factory wrapper
  below. Nothing in the desk knows about the tour.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import on
from textual.app import SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from ..app import HitlApp
from ..messages import AuditVerified, DecisionRecorded, RequestLoaded, SessionOpened
from ..screens.desk import DeskScreen
from .tour import PEOPLE, START_AS, Cast, Tour

DEMO_BINDINGS = [
    Binding("u", "switch_user", "User", id="demo.user",
            tooltip="Demo only: act as another of the seven people (the header shows who you are)"),
    # one key, two bindings: the footer shows "t Tour" only while the tour is hidden (the panel
    # itself shows "t hide"), which keeps the 80-column footer from overflowing
    Binding("t", "resume_tour", "Tour", id="demo.tour", tooltip="Resume the guided tour where you left it"),
    Binding("t", "hide_tour", "Hide tour", show=False, id="demo.hide_tour", tooltip="Hide (skip) the guided tour"),
    Binding("right_square_bracket", "tour_next", "Next step", show=False, key_display="]", id="demo.next",
            tooltip="The tour's next step"),
    Binding("left_square_bracket", "tour_back", "Previous step", show=False, key_display="[", id="demo.back",
            tooltip="The tour's previous step"),
    Binding("d", "tour_do", "Do it for me", show=False, id="demo.do",
            tooltip="The tour does the current step (a decision still waits for your enter)"),
    Binding("K", "keep_report", "Keep report", show=False, id="demo.keep_report",
            tooltip="Keep a copy of the demo's HTML audit report at a path you choose (the demo deletes its own)"),
]


class DemoApp(HitlApp):
    # a relative CSS_PATH is read beside the subclass's module: point at the app's own sheet
    CSS_PATH = str(Path(__file__).resolve().parent.parent / "app.tcss")
    BINDINGS = [*HitlApp.BINDINGS, *DEMO_BINDINGS]

    def __init__(self, session, *, username: str = START_AS, guide: Tour | None = None, **options: Any) -> None:
        """`session`: an open DemoSession (demo/__init__.py); `options` as for make_app()."""
        self.session = session
        self.guide = guide or Tour(Cast.read(session))
        options.setdefault("assistant_factory", self._observed_assistant)
        super().__init__(session.service, username, db_path=session.service.path, tour=self._tour_panel, **options)
        from .autopilot import Autopilot

        self.autopilot = Autopilot(self)
        self._typing = False

    # --- the tour panel ------------------------------------------------------------------------

    def _tour_panel(self):
        from ..widgets.tour_panel import TourPanel

        return TourPanel(self.guide, id="tour")

    def refresh_tour(self) -> None:
        from ..widgets.tour_panel import TourPanel

        for step in self.guide.steps:  # tick what has just been observed, before it can change
            self.guide.done(step.key)
        for screen in self.screen_stack:  # a modal may be on top of the desk
            for panel in screen.query(TourPanel):
                panel.update_view()

    def action_hide_tour(self) -> None:
        self._set_hidden(True)

    def action_resume_tour(self) -> None:
        self._set_hidden(False)

    def _set_hidden(self, hidden: bool) -> None:
        self.guide.hidden = hidden
        self.refresh_tour()
        self.refresh_bindings()

    def action_tour_next(self) -> None:
        self.guide.go(1)
        self.refresh_tour()

    def action_tour_back(self) -> None:
        self.guide.go(-1)
        self.refresh_tour()

    def action_keep_report(self) -> None:
        from ..screens.keep_copy import open_keep_copy

        open_keep_copy(self)

    def action_tour_do(self) -> None:
        self.run_worker(self.autopilot.run(self.guide.step.key), group="autopilot", exclusive=True,
                        exit_on_error=False, description="tour autopilot")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("switch_user", "tour_next", "tour_back", "tour_do", "hide_tour", "resume_tour"):
            if not isinstance(self.screen, DeskScreen):
                return False  # over a dialog these keys would act behind it
            if action == "resume_tour":
                return self.guide.hidden
            if action in ("tour_next", "tour_back", "tour_do", "hide_tour"):
                return not self.guide.hidden  # hidden means skipped: t resumes first
        return True

    # --- acting as someone else ----------------------------------------------------------------

    def action_switch_user(self) -> None:
        from ..screens.user_picker import UserPicker

        people = self.screen.people if isinstance(self.screen, DeskScreen) else []
        self.push_screen(UserPicker(people, self.username, PEOPLE), self._picked)

    def _picked(self, username: str | None) -> None:
        if username:
            self.switch_user(username)

    def switch_user(self, username: str) -> None:
        """A new desk for `username`, exactly as a fresh session would open it."""
        self.username, self.user = username, None
        while len(self.screen_stack) > 1:  # the desk and anything above it belong to the last user
            self.pop_screen()
        self._open_session()

    def on_session_opened(self, event: SessionOpened) -> None:
        self.call_after_refresh(self._label_header, event.user)

    def _label_header(self, user) -> None:
        """The database label says what this database is: nobody should wonder whether the demo
        just approved something in their real one."""
        screen = self.screen
        if not isinstance(screen, DeskScreen):
            return
        self._fit_to_width()

    def on_resize(self) -> None:
        self._fit_to_width()

    def _fit_to_width(self) -> None:
        """Below 100 columns the footer drops its ^p hint (? lists it) to keep u User on screen,
        and the header's database label shrinks to a word instead of an elided phrase."""
        from textual.widgets import Footer

        if not isinstance(self.screen, DeskScreen):
            return
        wide = self.size.width >= 100
        for footer in self.screen.query(Footer):
            footer.show_command_palette = wide
        header = self.screen.header
        header.db_label = "DEMO (throwaway, deleted on quit)" if wide else "DEMO"
        header.refresh()

    # --- watching what the desk reports --------------------------------------------------------

    @on(RequestLoaded)
    def _seen(self, msg: RequestLoaded) -> None:
        req = msg.request
        self.guide.facts.seen.add((req.id, self.username, req.current_role.value if req.current_role else None))
        self.refresh_tour()

    @on(DecisionRecorded)
    def _decided(self, msg: DecisionRecorded) -> None:
        req = msg.request
        self.guide.facts.decided.add((req.id, msg.decision.value,
                                      req.current_role.value if req.current_role else None))
        self.refresh_tour()

    @on(AuditVerified)
    def _verified(self, msg: AuditVerified) -> None:
        self.guide.facts.chain = msg.result
        self.refresh_tour()

    def _watch_panes(self) -> None:
        """What is on screen but reported by no worker: which request's audit timeline shows."""
        desk = self.screen
        if not isinstance(desk, DeskScreen) or not desk.query("AuditTimeline"):
            return  # not a desk, or one just pushed (start, user switch) whose panes are not mounted yet
        from textual.widgets import Input

        typing = isinstance(self.focused, Input)
        if typing != self._typing:  # the panel says "esc, then ]" while keys go to a text field
            self._typing = typing
            self.refresh_tour()
        wid = desk.timeline.workflow_id
        if self.guide.index == 0:
            return  # a wide desk shows a timeline from the start: only looking on purpose counts
        if wid and (desk.wide or desk.lower == "timeline") and wid not in self.guide.facts.timelines:
            self.guide.facts.timelines.add(wid)
            self.refresh_tour()

    def say(self, message: str, severity: str = "information", timeout: float | None = None) -> None:
        if severity in ("warning", "error"):
            self.guide.facts.refusals.append(message)
            self.refresh_tour()
        if not self.guide.hidden and timeout is not None:
            # the panel repeats what matters; a long toast would sit on top of it
            timeout = min(timeout, 8)
        super().say(message, severity, timeout)

    def _observed_assistant(self, service, username: str):
        """The offline assistant, always: the demo must work without a network, and must not look
        in the keyring for a model's API key. Wrapped so the tour sees it answer."""
        from ..agents.factory import create_assistant
        from ..agents.settings import ModelSettings

        return ObservedAssistant(create_assistant(service, username, ModelSettings()), self._assistant_spoke)

    def _assistant_spoke(self) -> None:
        self.guide.facts.chat_answered = True
        self.refresh_tour()

    # --- help, palette, signals ----------------------------------------------------------------

    def help_sections(self):
        demo_ids = {b.id for b in DEMO_BINDINGS}
        tour_key = Binding("t", "", "Tour", tooltip="Hide (skip) the guided tour; t again resumes it where you left it")
        demo = [tour_key if b.id == "demo.tour" else b for b in DEMO_BINDINGS if b.id != "demo.hide_tour"]
        rest = [(title, [b for b in bindings if b.id not in demo_ids]) for title, bindings in super().help_sections()]
        return [("Demo and guided tour", demo), *rest]

    def get_system_commands(self, screen: Screen):
        if isinstance(screen, DeskScreen):
            yield SystemCommand("Demo: act as another user", "key: u", self.action_switch_user)
            yield SystemCommand("Tour: resume" if self.guide.hidden else "Tour: hide", "key: t",
                                self.action_resume_tour if self.guide.hidden else self.action_hide_tour)
            if not self.guide.hidden:
                yield SystemCommand("Tour: next step", "key: ]", self.action_tour_next)
                yield SystemCommand("Tour: do this step for me", "key: d", self.action_tour_do)
        yield from super().get_system_commands(screen)

    def on_mount(self) -> None:
        # (HitlApp.on_mount runs after this by itself: Textual calls each class's handler)
        self.set_interval(0.25, self._watch_panes)
        # a closed terminal (SIGHUP, EOF/EIO) or SIGTERM ends the app normally (HitlApp's
        # handlers), so that run_demo's cleanup removes the throwaway database


class ObservedAssistant:
    """Passes everything through; tells the tour when the assistant has said something."""

    def __init__(self, inner, spoke) -> None:
        self.inner, self._spoke = inner, spoke
        self.agents = getattr(inner, "agents", ())

    def describe(self) -> str:
        return self.inner.describe()

    async def ask(self, text: str, agent: str | None = None):
        from ..agents.events import TextDelta

        async for event in self.inner.ask(text, agent):
            yield event
            if isinstance(event, TextDelta) and event.text.strip():
                self._spoke()

    async def aclose(self) -> None:
        await self.inner.aclose()
