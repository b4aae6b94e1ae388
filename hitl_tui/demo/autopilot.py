"""`d` in the tour: do the current step for the person, through the same paths a key press takes.

It switches user with the demo's picker path, moves the inbox cursor, types into the chat input
and presses `a` with simulate_key. A decision is never confirmed for the person: the dialog opens
with a comment typed, and enter is theirs. Steps that need an earlier one (the director sees the
travel only once the manager approved it) do that first, through the engine, and say so.
Everything here runs as an async worker on the UI thread; engine calls go to a thread.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

from ..core import rbac
from ..core.errors import HitlError
from ..core.models import Decision
from ..messages import DecisionRecorded
from ..screens.desk import DeskScreen
from .report import export_report
from .tamper import restore, tamper_entry
from .tour import START_AS, TAMPER_NEW, TAMPER_OLD

QUESTION = "Show me pending approvals for sarah.manager"
APPROVE_COMMENT = "Business justification confirmed"
WAIT_S = 15.0


class Stuck(Exception):
    """The desk did not get where the autopilot expected; the message says where it stopped."""


class Autopilot:
    def __init__(self, app) -> None:
        self.app = app

    @property
    def tour(self):
        return self.app.guide

    async def run(self, key: str) -> None:
        tour = self.tour
        tour.note = "…working"
        self.app.refresh_tour()
        try:
            note = await getattr(self, f"_{key}")()
        except (Stuck, HitlError, ValueError, OSError) as exc:
            note = f"The tour could not do this step: {exc}"
        except Exception as exc:  # a bug here must not take the demo down: say so, log it
            where = self.app.log_failure("tour autopilot", exc)
            note = f"The tour could not do this step ({type(exc).__name__}); details in {where}"
        if tour.step.key == key:
            tour.note = note or ""
        self.app.refresh_tour()

    # --- waiting on the desk -------------------------------------------------------------------

    async def until(self, condition: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise Stuck(f"gave up waiting for {what}")
            await asyncio.sleep(0.02)

    def _desk(self):
        screen = self.app.screen
        return screen if isinstance(screen, DeskScreen) else None

    async def desk_as(self, username: str):
        """The desk of `username`, its first page on screen, nothing over it."""
        app = self.app
        if app.username != username:
            app.switch_user(username)
        else:
            while len(app.screen_stack) > 1 and self._desk() is None and _desk_below(app):
                await app.pop_screen()  # a dialog or the help over the desk
        # a desk just pushed (a user switch) may have its first page before its panes are
        # mounted: wait for the inbox widget too, or reading it raises NoMatches
        desk = await self.until(lambda: (d := self._desk()) is not None and d.user.username == username
                                and d.query("RequestList") and d, f"{username}'s desk")
        await self.page_of(desk)
        return desk

    async def page_of(self, desk) -> None:
        await self.until(lambda: desk.inbox.settled, "the inbox to load")

    async def select(self, desk, wid: str, views: tuple[str, ...] = ("awaiting_me", "visible")) -> None:
        """Put the inbox cursor on `wid` and wait for its detail, changing view if it is not here."""
        def index() -> int | None:
            return next((i for i, r in enumerate(desk.inbox.rows) if r.id == wid), None)

        for view in views:
            if index() is not None:
                break
            if desk.view.value != view:
                desk.action_view(view)
                await self.page_of(desk)
        if index() is None:
            raise Stuck(f"{wid} is not in {desk.user.username}'s inbox")
        desk.inbox.focus()

        def on_it() -> bool:
            """The detail shows `wid`; until then the cursor is (put back) on its row: the desk
            may reload its page meanwhile (its start-up loads, a change made elsewhere), and a
            reload puts the cursor on the first row again."""
            current = desk.current_request()
            if current is not None and current.id == wid:
                return True
            row = index()
            if row is not None and desk.inbox.table.cursor_row != row:
                desk.inbox.table.move_cursor(row=row, animate=False)
            return False

        await self.until(on_it, f"{wid}'s detail")

    async def show(self, username: str, wid: str, pane: str = "detail", views=("awaiting_me", "visible")):
        desk = await self.desk_as(username)
        await self.select(desk, wid, views)
        if not desk.wide:
            desk.action_show_lower(pane)
        return desk

    async def engine(self, fn, *args):
        return await asyncio.to_thread(fn, *args)

    # --- one method per step: each returns what the panel should say it did ---------------------

    async def _welcome(self) -> str:
        self.tour.go(1)
        return ""

    async def _singapore(self) -> str:
        await self.show(START_AS, self.tour.cast.singapore, pane="timeline")
        await self.until(lambda: self.tour.done("singapore"), "the timeline")
        return "Selected it and opened its audit timeline (v switches back to the detail)."

    async def _migration(self) -> str:
        await self.show("ian.itadmin", self.tour.cast.migration)
        return "Switched to ian.itadmin (IT Admin) and selected the migration."

    async def _assistant(self) -> str:
        desk = await self.desk_as(START_AS)
        desk.action_show_lower("chat")
        chat = desk.chat
        await self.until(lambda: not chat.busy, "the assistant to be free")
        chat.input.value = QUESTION
        await chat.input.action_submit()
        await self.until(lambda: self.tour.facts.chat_answered and not chat.busy, "the assistant's answer",
                         timeout=30)
        desk.inbox.focus()  # the answer stays in view; ] and d must not be typed into the chat
        return f"Asked “{QUESTION}”; the answer is in the Assistant pane."

    async def _approve(self) -> str:
        cast = self.tour.cast
        if self.tour.travel_at_director():
            return "Already approved: it waits for the Director."
        desk = await self.show(START_AS, cast.singapore)
        desk.open_decision(Decision.APPROVE)
        modal = await self.until(lambda: type(self.app.screen).__name__ == "DecisionModal" and self.app.screen,
                                 "the decision dialog")
        field = await self.until(lambda: next(iter(modal.query("#decision-comment")), None), "the comment field")
        field.value = APPROVE_COMMENT
        return "The dialog is open with a comment typed: press ⏎ to approve (esc cancels). You decide, not the tour."

    async def _director(self) -> str:
        cast, said = self.tour.cast, ""
        if not self.tour.travel_at_director():
            req = await self.engine(self.app.service.decide, cast.singapore, START_AS, Decision.APPROVE,
                                    "Approved for the tour (d on the previous step was skipped)")
            self.app.post_message(DecisionRecorded(req, Decision.APPROVE))  # as if the desk had recorded it
            said = "First approved it as sarah.manager (you had skipped that). "
        await self.show("mike.director", cast.singapore)
        return said + "Switched to mike.director: ✔ Manager, ▶ Director (you)."

    async def _sod(self) -> str:
        desk = await self.desk_as("mike.director")
        await self.select(desk, self.tour.cast.summit, views=("mine", "visible"))
        if not desk.wide:
            desk.action_show_lower("detail")
        before = len(self.tour.facts.refusals)
        self.app.simulate_key("a")  # exactly the key a person presses
        await self.until(lambda: len(self.tour.facts.refusals) > before, "the refusal")
        return ""  # the panel quotes the refusal

    async def _tamper(self) -> str:
        tour, app = self.tour, self.app
        if tour.facts.tampering is None:
            tour.facts.tampering = await self.engine(tamper_entry, app.session, tour.cast.tamper_seq,
                                                     TAMPER_OLD, TAMPER_NEW)
            tour.facts.restored = False
        tour.facts.chain = None
        desk = await self.desk_as(app.username)
        desk.verify_chain()  # the desk's own check: its header and timeline show the result
        desk.reload()  # the timeline re-reads the entries: the forged one is shown as stored
        await self.until(lambda: tour.facts.chain is not None, "the chain verification")
        try:
            await self.show(app.username, tour.cast.singapore, pane="timeline", views=("visible",))
        except Stuck:
            pass  # this user may not see the travel; the header says it all
        return ""

    async def _export(self) -> str:
        app, facts = self.app, self.tour.facts
        user = app.user
        if user is None or not rbac.may_export(app.service.policy, user):
            await self.desk_as("carol.compliance")
        facts.export = await self.engine(export_report, app.session, app.username)
        return ""

    async def _done(self) -> str:
        tour, app = self.tour, self.app
        t = tour.facts.tampering
        if t is None:
            return "Nothing to restore: the audit chain was not tampered with."
        await self.engine(restore, app.session, t)
        tour.facts.tampering, tour.facts.restored, tour.facts.chain = None, True, None
        desk = await self.desk_as(app.username)
        desk.verify_chain()
        desk.reload()
        await self.until(lambda: tour.facts.chain is not None, "the chain verification")
        return (f"Entry {t.seq} is back as it was, with the append-only trigger: the chain verifies again "
                f"(it is a function of the stored bytes, nothing else).")


def _desk_below(app) -> bool:
    return any(isinstance(s, DeskScreen) for s in app.screen_stack[:-1])
