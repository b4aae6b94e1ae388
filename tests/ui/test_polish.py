"""The small things a user noticed (issue 9), each on the real widget or screen in a small app
with the desk's own stylesheet, on real encrypted databases: the detail pane's scroll and ages,
the header at 80 columns, the request form's discard question, the reviewer's words above an
edit and its plural, the help's columns, keymap and short forms, the tour's marks and colours,
and the filter bar."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from pathlib import Path

from rich.console import Console
from rich.text import Text
from textual.app import App
from textual.widgets import Input, Static

import hitl_tui
from hitl_tui.core.policy import load_policy
from hitl_tui.demo import open_demo
from hitl_tui.demo.tamper import tamper_entry
from hitl_tui.demo.tour import TAMPER_NEW, TAMPER_OLD, Cast, Tour
from hitl_tui.render.text import TickClock
from hitl_tui.screens.help import HelpScreen
from hitl_tui.screens.request_form import DiscardModal, FormSeed, RequestForm
from hitl_tui.widgets.filter_bar import FilterBar
from hitl_tui.widgets.request_detail import RequestDetail
from hitl_tui.widgets.request_list import RequestList
from hitl_tui.widgets.status_header import StatusHeader
from hitl_tui.widgets.tour_panel import TourPanel

NOW = datetime(2026, 11, 26, 4, 20, 5, tzinfo=timezone.utc)


class Harness(App):
    """The widgets under test, alone, with the desk's stylesheet."""

    CSS_PATH = Path(hitl_tui.__file__).parent / "app.tcss"

    def __init__(self, *widgets, screen=None) -> None:
        super().__init__()
        self.widgets, self.first_screen = widgets, screen
        self.results: list = []
        self.messages: list = []

    def compose(self):
        yield from self.widgets

    def on_mount(self) -> None:
        if self.first_screen is not None:
            self.push_screen(self.first_screen, self.results.append)

    def on_filter_bar_changed(self, msg: FilterBar.Changed) -> None:
        self.messages.append(("changed", msg.text))

    def on_filter_bar_submitted(self, msg: FilterBar.Submitted) -> None:
        self.messages.append(("submitted", msg.text))

    def on_filter_bar_left(self, msg: FilterBar.Left) -> None:
        self.messages.append(("left",))


def text_of(renderable, width: int = 200) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text()


def long_request(svc, title: str) -> str:
    body = "\n".join(f"line {i} of the justification" for i in range(60))
    return svc.create_workflow_request("expense_approval", title, body, "alice", {"amount": "400"})


# --- the detail pane -------------------------------------------------------------------------------


async def test_detail_starts_at_the_top_of_another_request_and_keeps_its_place_on_a_refresh(desk):
    svc = desk.service()
    first, second = long_request(svc, "Desk lamps"), long_request(svc, "Chairs")
    people = svc.list_users()
    viewer = svc.get_user("bob.manager")
    detail = RequestDetail(load_policy(), lambda: NOW)
    app = Harness(detail)
    async with app.run_test(size=(80, 16)) as pilot:
        detail.show(svc.get_workflow(first), viewer, people, flags=[])
        await pilot.pause()
        detail.scroll_end(animate=False, immediate=True)
        await pilot.pause()
        bottom = detail.scroll_y
        assert bottom > 10
        detail.show(svc.get_workflow(first), viewer, people, flags=[])  # the same one, refreshed
        await pilot.pause()
        assert detail.scroll_y == bottom
        detail.show(svc.get_workflow(second), viewer, people, flags=[])
        await pilot.pause()
        assert detail.scroll_y == 0


async def test_inbox_and_detail_say_the_same_age_when_given_one_now(desk):
    svc = desk.service()
    wid = long_request(svc, "Desk lamps")
    req = svc.get_workflow(wid)
    viewer, people = svc.get_user("bob.manager"), svc.list_users()
    ticks = iter([NOW, NOW + timedelta(seconds=9)])  # each pane asking its own clock disagrees
    clock = lambda: next(ticks)  # noqa: E731
    inbox = RequestList(load_policy(), clock)
    detail = RequestDetail(load_policy(), clock)
    app = Harness(inbox, detail)
    now = req.created_at + timedelta(seconds=48)
    async with app.run_test(size=(160, 40)) as pilot:
        inbox.show(svc.list_requests("bob.manager", "awaiting_me"), has_more=False)
        detail.show(req, viewer, people, flags=[], now=now)
        inbox.refresh_ages(now)
        await pilot.pause()
        in_inbox = inbox.table.get_cell(wid, "age").plain
        assert in_inbox == "48s ago"
        assert f"· {in_inbox} ·" in str(detail.query_one("#detail-body", Static).content)
        later = now + timedelta(minutes=3)
        inbox.refresh_ages(later)
        detail.refresh_ages(later)
        await pilot.pause()
        assert inbox.table.get_cell(wid, "age").plain == "3m ago"
        assert "· 3m ago ·" in str(detail.query_one("#detail-body", Static).content)


async def test_one_tick_clock_makes_a_page_and_a_detail_shown_moments_apart_agree(desk):
    svc = desk.service()
    wid = long_request(svc, "Desk lamps")
    req = svc.get_workflow(wid)
    viewer, people = svc.get_user("bob.manager"), svc.list_users()
    start = req.created_at + timedelta(seconds=48)
    readings = iter([start, start + timedelta(seconds=9), start + timedelta(minutes=3)])
    clock = TickClock(lambda: next(readings))  # the real clock would move on between the two
    clock.tick()  # (the desk's first tick reads it again: 9 s later)
    inbox, detail = RequestList(load_policy(), clock), RequestDetail(load_policy(), clock)
    app = Harness(inbox, detail)
    async with app.run_test(size=(160, 40)) as pilot:
        inbox.show(svc.list_requests("bob.manager", "awaiting_me"), has_more=False)
        await pilot.pause()
        detail.show(req, viewer, people, flags=[])
        await pilot.pause()
        assert inbox.table.get_cell(wid, "age").plain == "57s ago"
        assert "· 57s ago ·" in str(detail.query_one("#detail-body", Static).content)
        now = clock.tick()
        inbox.refresh_ages(now)
        detail.refresh_ages(now)
        await pilot.pause()
        assert inbox.table.get_cell(wid, "age").plain == "3m ago"
        assert "· 3m ago ·" in str(detail.query_one("#detail-body", Static).content)


# --- the header ------------------------------------------------------------------------------------


async def test_header_keeps_the_database_file_name_at_80_columns():
    header = StatusHeader(Path.home() / "approvals" / "hitl.db")
    app = Harness(header)
    async with app.run_test(size=(80, 3)) as pilot:
        header.who = "carol.compliance (Compliance)"
        header.audit = Text(" AUDIT CHAIN BROKEN at entry 1234 ", style="bold white on red")
        await pilot.pause()
        line = header.render().plain
        assert "db: hitl.db" in line and "AUDIT CHAIN BROKEN at entry 1234" in line and "carol.co" in line
        assert len(line) <= 80
        header.audit = Text("audit ✔ verified, 1,234,567 entries", style="bold green")
        await pilot.pause()
        assert "db: hitl.db" in header.render().plain


# --- the request form ------------------------------------------------------------------------------


async def test_escape_closes_a_clean_form_at_once_and_asks_before_discarding_a_filled_one():
    app = Harness(screen=RequestForm(load_policy()))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert app.results == [None] and not isinstance(app.screen, (RequestForm, DiscardModal))
    form = RequestForm(load_policy())
    app = Harness(screen=form)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        form.query_one("#form-title", Input).focus()
        await pilot.press(*"Hotel in Singapore")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DiscardModal)
        assert app.screen.query_one("#discard-dialog").border_title == "Discard this request?"
        await pilot.press("escape")  # keep editing
        await pilot.pause()
        assert app.screen is form and form.query_one("#form-title", Input).value == "Hotel in Singapore"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("enter")  # enter presses the focused button: keep, the safe answer
        await pilot.pause()
        assert app.screen is form and app.results == []
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("d")
        await pilot.pause()
        assert app.results == [None] and not isinstance(app.screen, (RequestForm, DiscardModal))


async def test_an_agents_draft_counts_as_filled_in():
    seed = FormSeed("expense_approval", "Team offsite", "", {"amount": "1200"}, drafted_by="drafter")
    app = Harness(screen=RequestForm(load_policy(), seed))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DiscardModal) and app.results == []


def sent_back(desk) -> tuple:
    svc = desk.service()
    wid = svc.create_workflow_request("expense_approval", "Singapore travel", "Flights and hotel", "alice",
                                      {"amount": "15000", "category": "travel"})
    svc.request_changes(wid, "bob.manager", "attach the hotel quote")
    return svc, svc.get_workflow(wid)


async def test_resubmit_form_shows_what_the_reviewer_asked_for_who_and_when(desk, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    import time
    time.tzset()
    svc, req = sent_back(desk)
    asked = req.change_request
    assert asked is not None and asked.approver == "bob.manager"
    form = RequestForm(load_policy(), FormSeed.from_request(req))
    app = Harness(screen=form)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        shown = str(form.query_one("#form-asked-text", Static).content)
        when = asked.decided_at.astimezone().strftime("%Y-%m-%d %H:%M")
        assert "bob.manager (Manager) asked for changes on " + when in shown
        assert "attach the hotel quote" in shown
        # above the fields: the reviewer's words come before the first field on screen
        assert form.query_one("#form-asked").region.y < form.query_one("#form-title").region.y
        await pilot.press("escape")  # nothing changed in the edit: nothing to lose
        await pilot.pause()
        assert app.results == [None]
    monkeypatch.delenv("TZ")
    time.tzset()


async def test_an_edited_resubmit_form_asks_before_discarding(desk):
    svc, req = sent_back(desk)
    form = RequestForm(load_policy(), FormSeed.from_request(req))
    app = Harness(screen=form)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("end", *" + hotel quote")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DiscardModal)
        assert req.id in str(app.screen.query_one("#discard-body", Static).content)


def test_a_request_not_sent_back_has_no_change_request(desk):
    svc = desk.service()
    wid = svc.create_workflow_request("expense_approval", "Lamp", "", "alice", {"amount": "40"})
    assert svc.get_workflow(wid).change_request is None
    assert FormSeed.from_request(svc.get_workflow(wid)).change_request is None


async def test_one_field_needs_attention_two_fields_need_it():
    form = RequestForm(load_policy())
    app = Harness(screen=form)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+s")  # no title, no amount
        await pilot.pause()
        assert any(str(n.message).startswith("2 fields need attention:") for n in app._notifications)
        form.query_one("#form-title", Input).focus()
        await pilot.press(*"Lamp")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert any(str(n.message).startswith("1 field needs attention:") for n in app._notifications)


# --- help ------------------------------------------------------------------------------------------


def sections():
    from hitl_tui.app import HitlApp

    return HitlApp.help_sections(HitlApp.__new__(HitlApp))  # the sections the desk's help shows


async def test_help_descriptions_start_at_one_column_in_every_section():
    from hitl_tui.screens.help import rows

    app = Harness(screen=HelpScreen(sections()))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        tables = list(app.screen.query(".help-table"))
        listed = rows(sections(), {})
        assert len(tables) == len(listed) + 1  # and the short forms
        starts = set()
        for table, (_, shown) in zip(tables, listed):
            lines = text_of(table.content, 150).splitlines()
            for label, _, binding in shown:
                line = next(ln for ln in lines if ln.startswith(label + " ") and binding.description in ln)
                starts.add(line.index(binding.description, len(label)))
        assert len(starts) == 1, starts


async def test_help_shows_the_key_the_users_keymap_gives_and_marks_it():
    keymap = {"desk.approve": "ctrl+a", "app.help": "f2"}
    app = Harness(screen=HelpScreen(sections(), keymap=keymap))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        text = "\n".join(text_of(s.content, 150) for s in app.screen.query(Static))
        approve = next(line for line in text.splitlines() if "Approve" in line)
        assert approve.lstrip().startswith("ctrl+a *") and "default a" in approve
        help_line = next(line for line in text.splitlines() if " Help " in line)
        assert help_line.lstrip().startswith("F2 *") and "default ? / F1" in help_line
        reject = next(line for line in text.splitlines() if "Reject" in line)
        assert reject.lstrip().startswith("r ") and "*" not in reject
        assert "desk.reject" in reject and "desk.approve" in approve  # the ids a keymap names
        assert "your keymap" in text


async def test_help_explains_the_inbox_short_forms():
    app = Harness(screen=HelpScreen(sections()))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = "\n".join(text_of(s.content, 78) for s in app.screen.query(Static))
        for form, meaning in (("CRIT", "CRITICAL risk"), ("Mgr", "Manager"), ("changes", "changes requested"),
                              ("wdrawn", "withdrawn"), ("12m ago", "minutes")):
            assert any(line.lstrip().startswith(form) and meaning in line for line in text.splitlines()), form


# --- the demo tour ---------------------------------------------------------------------------------


def spans_at(text: Text, needle: str) -> str:
    """The style of the first character of `needle` in `text`."""
    at = text.plain.index(needle)
    return " ".join(str(s.style) for s in text.spans if s.start <= at < s.end) or str(text.style)


async def test_tamper_step_ticks_the_catch_not_the_red_words_and_successes_are_green():
    session = open_demo()
    try:
        tour = Tour(Cast.read(session))
        tour.go(next(i for i, s in enumerate(tour.steps) if s.key == "tamper"))
        tour.facts.tampering = tamper_entry(session, tour.cast.tamper_seq, TAMPER_OLD, TAMPER_NEW)
        tour.facts.chain = session.service.verify_audit()
        assert not tour.facts.chain.ok
        panel = TourPanel(tour)
        app = Harness(panel)
        for size in ((80, 24), (160, 48)):
            async with app.run_test(size=size) as pilot:
                await pilot.pause()
                lines = [ln for ln in text_of(panel.render(), size[0]).splitlines()]
                ticked = next(ln for ln in lines if "✔ " in ln and "Caught" in ln)
                assert ticked.split("✔ ", 1)[1].startswith("Caught by the chain check:")
            first = panel.outcome()[0]
            assert "green" in spans_at(first, "Caught") and "red" in spans_at(first, "AUDIT CHAIN BROKEN")
            app = Harness(panel := TourPanel(tour))
        # what the autopilot did, once the step is done, reads as a success: green, not italic red
        tour.go(-1)
        tour.facts.refusals.append("You requested it, so you cannot approve it (segregation of duties)")
        assert tour.done()
        tour.note = "Opened the summit request and pressed a."
        note = TourPanel(tour).outcome()[0]
        assert str(note.style) == "green"
    finally:
        session.close()


def test_a_note_before_the_step_is_done_asks_for_attention():
    session = open_demo()
    try:
        tour = Tour(Cast.read(session))
        tour.go(next(i for i, s in enumerate(tour.steps) if s.key == "approve"))
        tour.note = "The dialog is open with a comment typed: press ⏎ to approve."
        assert not tour.done()
        assert str(TourPanel(tour).outcome()[0].style) == "yellow"
    finally:
        session.close()


# --- the filter bar --------------------------------------------------------------------------------


async def test_filter_bar_has_a_prompt_and_waits_for_a_pause_in_typing():
    bar = FilterBar(debounce=0.2)
    app = Harness(bar)
    async with app.run_test(size=(80, 6)) as pilot:
        bar.focus()
        await pilot.pause()
        assert str(bar.query_one("#filter-prompt", Static).content) == "/ filter"
        await pilot.press(*"risk:high")
        await pilot.pause()
        assert app.messages == []  # typed faster than the pause: nothing asked yet
        await pilot.pause(0.4)
        assert app.messages == [("changed", "risk:high")]
        await pilot.press("space", *"travel", "enter")
        await pilot.pause(0.4)
        assert app.messages[1:] == [("submitted", "risk:high travel")]  # the pending change is dropped


async def test_filter_bar_escape_announces_what_was_typed_then_leaves():
    bar = FilterBar(debounce=5)
    app = Harness(bar)
    async with app.run_test(size=(80, 6)) as pilot:
        bar.focus()
        await pilot.press(*"lamp", "escape")
        await pilot.pause()
        assert app.messages == [("changed", "lamp"), ("left",)]
        bar.set_value("")
        await pilot.pause()
        assert app.messages == [("changed", "lamp"), ("left",)]  # the parent set it: no echo


async def test_filter_bar_shows_a_parse_error_under_the_field_and_clears_it():
    bar = FilterBar()
    app = Harness(bar)
    async with app.run_test(size=(80, 6)) as pilot:
        app.set_focus(None)  # the app gave its only field the focus
        await pilot.pause()
        hint = bar.query_one("#filter-hint", Static)
        assert not hint.display or hint.region.height == 0  # nothing under an idle, valid filter
        bar.show_error("unknown field 'rsik' [bold]; try risk:high")
        await pilot.pause()
        assert hint.region.height == 1 and "✘ unknown field 'rsik' [bold]; try risk:high" in str(hint.content)
        assert bar.input.has_class("-invalid")
        bar.clear_error()
        await pilot.pause()
        assert hint.region.height == 0 and not bar.input.has_class("-invalid")
        bar.focus()
        await pilot.pause()
        assert hint.region.height == 1 and "esc" in str(hint.content)  # the hint while typing
