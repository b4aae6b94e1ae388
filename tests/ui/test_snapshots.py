"""Snapshots of the desk and every modal, on the fixed fixture database with a fixed clock.

Update after an intended change with: pytest tests/ui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

from hitl_tui.agents.events import DecisionProposal, TurnDone
from hitl_tui.core.models import Decision
from hitl_tui.launch import build_app

from .conftest import fixed_clock, settle


def desk_app(fixture_desk, username: str = "ops.manager", **options):
    return fixture_desk.app(username, clock=fixed_clock, **options)


def keys(*pressed: str):
    async def run_before(pilot) -> None:
        await settle(pilot)
        for key in pressed:
            await pilot.press(key)
            await settle(pilot)
    return run_before


def test_desk_80x24(snap_compare, fixture_desk):
    assert snap_compare(desk_app(fixture_desk), terminal_size=(80, 24), run_before=keys())


def test_desk_timeline_80x24(snap_compare, fixture_desk):
    assert snap_compare(desk_app(fixture_desk), terminal_size=(80, 24), run_before=keys("v"))


def test_desk_wide_160x48(snap_compare, fixture_desk):
    assert snap_compare(desk_app(fixture_desk), terminal_size=(160, 48), run_before=keys("3"))


def test_approve_modal(snap_compare, fixture_desk):
    assert snap_compare(desk_app(fixture_desk), terminal_size=(80, 24), run_before=keys("a"))


def test_reject_modal_refuses_an_empty_reason(snap_compare, fixture_desk):
    assert snap_compare(desk_app(fixture_desk), terminal_size=(80, 24), run_before=keys("r", "enter"))


def test_request_changes_modal(snap_compare, fixture_desk):
    assert snap_compare(desk_app(fixture_desk), terminal_size=(80, 24), run_before=keys("c"))


def test_agent_proposal_modal(snap_compare, fixture_desk):
    wid = fixture_desk.service().list_requests("ops.manager", "awaiting_me")[0].id

    class Bot:
        agents = ("ApprovalManager",)

        def describe(self):
            return "scripted"

        async def ask(self, text, agent=None):
            yield DecisionProposal("ApprovalManager", wid, Decision.APPROVE,
                                   "Catering for 30 at 100 per head is within the meals policy.", "per policy")
            yield TurnDone("ApprovalManager")

        async def aclose(self):
            pass

    app = desk_app(fixture_desk, assistant_factory=lambda service, user: Bot())

    async def run_before(pilot) -> None:
        await settle(pilot)
        pilot.app.screen.action_show_lower("chat")
        await pilot.press(*"approve?", "enter")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_new_request_form_with_errors(snap_compare, fixture_desk):
    assert snap_compare(desk_app(fixture_desk), terminal_size=(80, 24), run_before=keys("n", "ctrl+s"))


def test_withdraw_confirm(snap_compare, fixture_desk):
    assert snap_compare(desk_app(fixture_desk), terminal_size=(80, 24), run_before=keys("2", "w"))


def test_help(snap_compare, fixture_desk):
    assert snap_compare(desk_app(fixture_desk), terminal_size=(80, 24), run_before=keys("f1"))


def test_unknown_user(snap_compare, fixture_desk):
    assert snap_compare(desk_app(fixture_desk, "mallory"), terminal_size=(80, 24), run_before=keys())


def test_unlock(snap_compare, fixture_desk, monkeypatch):
    monkeypatch.delenv("HITL_DB_KEY_FILE", raising=False)
    app, _ = build_app(fixture_desk.path, username="ops.manager", poll_interval=None, background_delay=0)
    assert snap_compare(app, terminal_size=(80, 24), run_before=keys())
