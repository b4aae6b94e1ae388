"""The full-screen desk in team mode: a Pilot desk in this process (as root, the service's first
administrator, as the kernel tells the service) on a real `hitl-tui serve`, while the real
accounts of conftest.py act from their own processes.

The desk never polls here (poll_interval=None): what reaches it, reaches it by the service's push.
"""

from __future__ import annotations

import json
import signal
from typing import Iterator

import pytest

from hitl_tui.core.settings import Settings
from hitl_tui.launch import build_app
from hitl_tui.remote.client import RemoteService
from hitl_tui.screens.desk import DeskScreen
from hitl_tui.screens.request_form import RequestForm
from tests.remote.conftest import Team, _home_env
from tests.ui.conftest import notes, settle, wait_for

SIZE = (120, 40)


@pytest.fixture
def root_settings(team: Team, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """This process as root's own account: its home (its signing key), the service's socket."""
    for var, value in _home_env(team.root_home).items():
        monkeypatch.setenv(var, value)
    for var in ("HITL_DB_PATH", "HITL_DB_KEY_FILE", "HITL_DB_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HITL_SERVER", str(team.socket))
    yield Settings.load()


def _desk(team: Team, settings: Settings):
    remote = RemoteService.connect(team.socket, settings=settings)
    app, message = build_app(settings=settings, service=remote, poll_interval=None, verify_on_start=False,
                             background_delay=0)
    assert app is not None, message
    return app


def _desk_screen(app) -> DeskScreen:
    return next(s for s in app.screen_stack if isinstance(s, DeskScreen))


def _file_as_root(team: Team, title: str) -> str:
    """root files from its own CLI in team mode: another process, another connection."""
    out = team.root_cli("--server", str(team.socket), "request", "create", "--type", "expense_approval",
                        "--title", title, "-f", "amount=250", "-f", "category=travel", "--json").stdout
    return json.loads(out)["id"]


async def _type_into(pilot, selector: str, text: str) -> None:
    pilot.app.screen.query_one(selector).focus()
    await pilot.pause()
    await pilot.press("end", *text)


async def test_a_decision_in_one_client_reaches_another_desk_without_a_poll(team: Team, service, root_settings):
    app = _desk(team, root_settings)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        desk = _desk_screen(app)
        assert desk.watcher.pushed and desk.watcher.poll_interval is None
        await pilot.press("2")  # Mine
        await settle(pilot)
        wid = _file_as_root(team, "Monitors for the new hires")
        await wait_for(pilot, lambda: any(r.id == wid for r in desk.inbox.rows),
                       state=lambda: [r.id for r in desk.inbox.rows])
        team["bob"].ok("approve", wid, "-m", "fine by me")
        await wait_for(pilot, lambda: any(n.startswith(f"Your request {wid} “Monitors for the new hires” was "
                                                       f"approved by {team['bob'].name}") for n in notes(app)),
                       state=lambda: notes(app))
        await settle(pilot)
        [row] = [r for r in desk.inbox.rows if r.id == wid]
        assert row.status.value == "approved"


async def test_the_desk_survives_a_service_restart_and_an_open_dialog_keeps_what_was_typed(team: Team,
                                                                                          root_settings):
    running = team.start_service()
    app = _desk(team, root_settings)
    title = "Chairs for the new office"
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            desk = _desk_screen(app)
            await pilot.press("n")
            await settle(pilot)
            assert isinstance(app.screen, RequestForm)
            await _type_into(pilot, "#form-title", title)
            await _type_into(pilot, "#field-amount", "120")
            await _type_into(pilot, "#field-category", "office")

            assert running.stop(signal.SIGKILL) == -signal.SIGKILL  # gone without a word
            await wait_for(pilot, lambda: desk.header.link == "service unreachable: reconnecting…",
                           state=lambda: (desk.header.link, notes(app)))
            said = [n for n in notes(app) if "service" in n]
            assert len(said) == 1 and "Reconnecting by itself" in said[0], said
            assert isinstance(app.screen, RequestForm) and app.screen.query_one("#form-title").value == title

            await pilot.press("ctrl+s")  # while the service is away: nothing can be recorded
            await settle(pilot)
            assert any("Nothing was recorded; the dialog is back with what you typed" in n for n in notes(app))
            form = app.screen
            assert isinstance(form, RequestForm), "the form must come back"
            assert form.query_one("#form-title").value == title
            assert form.query_one("#field-amount").value == "120"

            running = team.start_service()
            await wait_for(pilot, lambda: desk.header.link == "", timeout=20,
                           state=lambda: (desk.header.link, notes(app)))
            assert any(n.startswith("Reconnected to the hitl-tui service") for n in notes(app))
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: any(n.startswith("Filed WF-") for n in notes(app)),
                           state=lambda: notes(app))
            await settle(pilot)
            assert isinstance(app.screen, DeskScreen)
    finally:
        if running.proc.poll() is None:
            running.stop()
    with team.peek() as engine:
        filed = [r for r in engine.list_requests("root", "mine", limit=500) if r.title == title]
        assert len(filed) == 1, "filed once: the attempt while the service was away wrote nothing"
        assert engine.verify_audit().ok
