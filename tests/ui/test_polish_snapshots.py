"""Snapshots of issue 9's small pieces at 80x24 and 160x48, each alone with the desk's stylesheet:
the edit-and-resubmit form under the reviewer's request, the discard question, the help with a
keymap override and the short forms, and the header above the filter bar showing a parse error.
The resubmit form reads the fixed fixture database (its "Laptop upgrade" was sent back).

Update after an intended change with: pytest tests/ui/test_polish_snapshots.py --snapshot-update
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.text import Text
from textual.binding import Binding
from textual.widgets import Input

from hitl_tui.core.policy import load_policy
from hitl_tui.screens.help import HelpScreen
from hitl_tui.screens.request_form import FormSeed, RequestForm
from hitl_tui.widgets.filter_bar import FilterBar
from hitl_tui.widgets.status_header import StatusHeader

from .test_polish import Harness

SIZES = [(80, 24), (160, 48)]


def sent_back_form(fixture_desk) -> RequestForm:
    svc = fixture_desk.service()
    summary = next(s for s in svc.list_requests("ops.manager", "mine") if s.title == "Laptop upgrade")
    return RequestForm(svc.policy, FormSeed.from_request(svc.get_workflow(summary.id)))


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_resubmit_form_under_the_request_for_changes(snap_compare, fixture_desk, size):
    assert snap_compare(Harness(screen=sent_back_form(fixture_desk)), terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_discard_question(snap_compare, size):
    async def run_before(pilot) -> None:
        await pilot.pause()
        pilot.app.screen.query_one("#form-title", Input).focus()
        await pilot.press(*"Hotel in Singapore", "escape")
        await pilot.pause()

    assert snap_compare(Harness(screen=RequestForm(load_policy())), terminal_size=size, run_before=run_before)


#: a fixed list (the desk's own grows with every feature, which is not what this picture is of)
HELP = [
    ("Desk", [Binding("a", "approve", "Approve", id="desk.approve", tooltip="Approve the selected request's stage"),
              Binding("r", "reject", "Reject", id="desk.reject", tooltip="Reject it (reason required)"),
              Binding("slash", "filter", "Filter", id="desk.filter", tooltip="Filter as you type"),
              Binding("ctrl+r,f5", "reload", "Reload", id="desk.reload", tooltip="Reload now")]),
    ("Inbox", [Binding("up,down", "", "Move", tooltip="Previous / next request"),
               Binding("G", "scroll_bottom", "Last loaded request", id="inbox.last")]),
    ("Request form", list(RequestForm.BINDINGS)),
]


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_help_with_a_keymap_override_and_the_short_forms(snap_compare, size):
    async def run_before(pilot) -> None:
        await pilot.pause()
        if size[1] < 48:
            await pilot.press(*"j" * 12)  # the short forms, at the end
        await pilot.pause()

    screen = HelpScreen(HELP, keymap={"desk.approve": "ctrl+a"})
    assert snap_compare(Harness(screen=screen), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
def test_header_and_filter_bar_with_a_parse_error(snap_compare, size):
    header = StatusHeader(Path("/srv/approvals/finance/hitl.db"))
    bar = FilterBar("rsik:high travel")

    async def run_before(pilot) -> None:
        header.who = "carol.compliance (Compliance)"
        header.audit = Text(" AUDIT CHAIN BROKEN at entry 1234 ", style="bold white on red")
        bar.show_error("unknown field 'rsik'; the fields are risk, type, requester, status, age")
        pilot.app.set_focus(None)
        await pilot.pause()

    assert snap_compare(Harness(header, bar), terminal_size=size, run_before=run_before)
