"""`hitl-tui --demo`: the guided tour driven with Pilot from start to finish on a real throwaway
database (real keys, real engine, the real offline assistant), skipping and resuming, the user
switch that only the demo has, and the clean-up of the throwaway database however the demo ends."""

from __future__ import annotations

import fcntl
import io
import itertools
import os
import pty
import random
import select
import signal
import struct
import subprocess
import sys
import termios
import secrets
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console

from hitl_tui.app import HitlApp
from hitl_tui.core.models import Role, WorkflowStatus
from hitl_tui.demo import open_demo
from hitl_tui.demo.app import DemoApp
from hitl_tui.demo.report import REPORT_NAME
from hitl_tui.screens.decision_modal import DecisionModal
from hitl_tui.screens.desk import DeskScreen
from hitl_tui.screens.user_picker import UserPicker
from hitl_tui.widgets.tour_panel import TourPanel

from .conftest import FIXTURE_NOW, SIZE, fixed_clock, notes, screen_text, settle, wait_for

NEXT, BACK = "right_square_bracket", "left_square_bracket"
#: the user picker lists the seed's hierarchy in this order (keys 1-7)
PICK = {"john.doe": "1", "sarah.manager": "2", "mike.director": "3", "lisa.executive": "4",
        "carol.compliance": "5", "sam.security": "6", "ian.itadmin": "7"}


@pytest.fixture
def demo():
    session = open_demo()
    yield session
    session.close()
    assert not session.directory.exists(), "the throwaway database must be gone"


def demo_app(session, **options) -> DemoApp:
    options.setdefault("poll_interval", None)
    options.setdefault("background_delay", 0)
    return DemoApp(session, **options)


def tour_state(app) -> str:
    """What the tour and the desk were doing: for the message of a wait that timed out."""
    try:
        screen = app.screen
        rows = [r.id for r in getattr(getattr(screen, "inbox", None), "rows", [])]
        current = screen.current_request() if hasattr(screen, "current_request") else None
        return (f"step {app.guide.step.key!r}, note {app.guide.note!r}, acting {app.username}, screen "
                f"{type(screen).__name__}, inbox {rows[:8]}, detail {current.id if current else None}, "
                f"workers {[(w.name, w.state.name) for w in app.workers]}")
    except Exception as exc:  # noqa: BLE001 - a description must not hide the failure it describes
        return f"(state unavailable: {exc!r})"


def panel_text(app) -> str:
    """What the tour panel shows, as plain text, at its size."""
    panel = app.screen.query_one(TourPanel)
    console = Console(width=max(20, panel.content_region.width), record=True, file=io.StringIO())
    console.print(panel.render())
    return console.export_text()


async def act_as(pilot, username: str) -> DeskScreen:
    app = pilot.app
    await pilot.press("u")
    await settle(pilot)
    assert isinstance(app.screen, UserPicker)
    await pilot.press(PICK[username])
    await wait_for(pilot, lambda: isinstance(app.screen, DeskScreen) and app.screen.user.username == username)
    await settle(pilot)
    assert app.screen.header.who == f"{username} ({app.screen.user.role.label})"
    return app.screen


async def next_step(pilot, key: str) -> None:
    await pilot.press(NEXT)
    await settle(pilot)
    assert pilot.app.guide.step.key == key


async def test_the_whole_tour_by_hand_with_the_autopilot_where_only_it_can_act(demo):
    svc, cast = demo.service, None
    app = demo_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        cast = app.guide.cast
        desk = app.screen
        assert isinstance(desk, DeskScreen) and desk.user.username == "sarah.manager"
        assert "TOUR 0/9" in panel_text(app) and "Welcome" in panel_text(app)
        assert desk.header.db_label == "DEMO"  # never a path that could be mistaken for a real database

        # 1: the Singapore travel is first in sarah's inbox; v shows its audit timeline
        await next_step(pilot, "singapore")
        assert not app.guide.done() and "▶ Select" in panel_text(app)
        assert desk.current_request().id == cast.singapore
        assert "Chain ▶ Manager (you)  ○ Director  ○ Executive" in screen_text(app)
        await pilot.press("v")
        await wait_for(pilot, lambda: app.guide.done())
        assert "HIGH · Manager → Director → Executive" in screen_text(app)
        assert "✔ Done" in panel_text(app)

        # 2: the migration is not sarah's to see; the panel says whom to become
        await next_step(pilot, "migration")
        assert "u → ian.itadmin" in panel_text(app)
        desk = await act_as(pilot, "ian.itadmin")
        assert desk.current_request().id == cast.migration
        assert "Chain ▶ IT Admin (you)  ○ Security  ○ Director" in screen_text(app)
        assert app.guide.done()

        # 3: the offline assistant answers the seed's question
        await next_step(pilot, "assistant")
        desk = await act_as(pilot, "sarah.manager")
        await pilot.press("v", "v")
        desk.chat.focus()
        desk.chat.input.value = "Show me pending approvals for sarah.manager"  # typing it key by key is slow
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.guide.done() and not desk.chat.busy, timeout=30)
        await settle(pilot)
        answer = screen_text(app)
        assert "offline assistant" in answer
        assert all(t in answer for t in ("Software License", "Team Offsite", "Singapore"))
        assert "esc, then ]" in panel_text(app)  # ] would be typed into the chat
        await pilot.press("escape")
        await settle(pilot)

        # 4: approve the travel: it leaves sarah's inbox and moves to the director
        await next_step(pilot, "approve")
        assert desk.current_request().id == cast.singapore
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, DecisionModal)
        assert "Approving moves it to Director" in screen_text(app)
        app.screen.query_one("#decision-comment").value = "Business justification confirmed"
        await pilot.press("enter")
        await settle(pilot)
        travel = svc.get_workflow(cast.singapore)
        assert (travel.current_role, travel.approvals[0].approver) == (Role.DIRECTOR, "sarah.manager")
        assert app.guide.done() and "waits for the Director" in panel_text(app)
        assert any(f"Approved {cast.singapore}: now awaiting Director." in n for n in notes(app))

        # 5: the director finds it, the chain updated (the autopilot selects it among his eight)
        await next_step(pilot, "director")
        await pilot.press("d")
        # the autopilot switches user (a new desk, its first page) before it selects: on a loaded
        # machine that can take longer than the default wait
        await wait_for(pilot, lambda: app.guide.done(), timeout=30, state=lambda: tour_state(app))
        await settle(pilot)
        assert app.screen.user.username == "mike.director"
        assert "✔ Manager sarah.manager" in screen_text(app) and "▶ Director (you)" in screen_text(app)

        # 6: his own request, at his own stage: refused (segregation of duties)
        await next_step(pilot, "sod")
        await pilot.press("2")
        await settle(pilot)
        assert app.screen.current_request().id == cast.summit
        await pilot.press("a")
        await settle(pilot)
        assert not isinstance(app.screen, DecisionModal)
        assert any(f"You requested {cast.summit}, so you cannot approve it (segregation of duties)." in n
                   for n in notes(app))
        assert app.guide.done() and "Refused:" in panel_text(app)
        assert svc.get_workflow(cast.summit).approvals[-1].approver == "sarah.manager"  # nothing was recorded

        # 7: the tour tampers with the throwaway database; the chain check catches it
        await next_step(pilot, "tamper")
        await pilot.press("d")
        await wait_for(pilot, lambda: app.guide.done())
        await settle(pilot)
        bad = f"AUDIT CHAIN BROKEN at entry {cast.tamper_seq}"
        assert bad in app.screen.header.audit.plain
        assert not svc.verify_audit().ok and svc.verify_audit().first_bad_seq == cast.tamper_seq
        assert "UNVERIFIED" in screen_text(app) and "LOW · Manager → Director → Executive" in screen_text(app)

        # 8: the export is real: a file with the broken-chain banner at the top
        await next_step(pilot, "export")
        await pilot.press("d")
        await wait_for(pilot, lambda: app.guide.done(), timeout=20)
        await settle(pilot)
        report = demo.directory / REPORT_NAME
        html = report.read_text("utf-8")
        assert f'<div class="banner broken" role="alert">WARNING: {bad}' in html
        assert app.username == "carol.compliance"  # exports need an oversight role: the tour switched
        assert str(report) in panel_text(app) or REPORT_NAME in panel_text(app)
        assert app.guide.facts.export.checks["visible banner"] is True

        # 9: the last step puts the entry back; the chain verifies again
        await next_step(pilot, "done")
        await pilot.press("d")
        await wait_for(pilot, lambda: app.guide.facts.restored and app.guide.facts.chain is not None)
        await settle(pilot)
        assert svc.verify_audit().ok
        assert "audit ✔ verified" in app.screen.header.audit.plain
        assert app.guide.progress() == (8, 8)
        await pilot.press("q")
    assert app.return_code == 0


async def test_skip_and_resume(demo):
    app = demo_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press(NEXT, NEXT)
        assert app.guide.index == 2
        panel = app.screen.query_one(TourPanel)
        await pilot.press("t")
        await settle(pilot)
        assert not panel.display and app.guide.hidden
        assert "resume_tour" in {b.binding.action for b in app.screen.active_bindings.values()}
        await pilot.press(NEXT, "d")  # a hidden tour does nothing
        await settle(pilot)
        assert app.guide.index == 2 and app.username == "sarah.manager"
        await pilot.press("t")
        await settle(pilot)
        assert panel.display and "TOUR 2/9" in panel_text(app)
        await pilot.press(BACK)
        assert app.guide.index == 1


async def test_the_autopilot_alone_keeps_every_later_step_meaningful(demo):
    """d on every step, none done by hand: each step does what an earlier one would have."""
    app = demo_app(demo)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press(NEXT)
        for key in ("singapore", "migration", "director", "sod", "tamper", "export"):
            while app.guide.step.key != key:
                await pilot.press(NEXT)
            await pilot.press("d")
            await wait_for(pilot, lambda: app.guide.done() and "working" not in app.guide.note, timeout=30,
                           state=lambda: tour_state(app))
            await settle(pilot)
        travel = demo.service.get_workflow(app.guide.cast.singapore)
        assert travel.current_role is Role.DIRECTOR and travel.status is WorkflowStatus.AWAITING_APPROVAL
        assert "First approved it as sarah.manager" not in app.guide.note  # that note belonged to step 5
        assert app.guide.facts.export.ok is False and not app.guide.facts.export.checks["chain at export time"]


async def test_user_switch_exists_only_in_the_demo(demo):
    assert "switch_user" not in {b.action for b in HitlApp.BINDINGS}
    app = demo_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("u")
        await settle(pilot)
        assert isinstance(app.screen, UserPicker)
        # the demo's integrations (billing-bot, deploy-pipeline) never sit at a desk
        listed = [p.username for p in app.screen.people]
        assert listed == list(PICK), listed
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DeskScreen) and app.username == "sarah.manager"


# --- the throwaway database goes away however the demo ends ------------------------------------

def _demo_dirs(root: Path) -> list[Path]:
    return sorted(root.glob("hitl-demo-*"))


def _run_in_terminal(tmp_path: Path, finish) -> tuple[int, bytes]:
    """`hitl-tui --demo` in a real pseudo-terminal (80x24) with its own TMPDIR; `finish(proc,
    master)` ends it once the tour is on screen. Returns (exit status, everything it wrote)."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "TERM": "xterm-256color", "COLORTERM": "truecolor"}
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "hitl_tui", "--demo"], stdin=slave, stdout=slave,
                            stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    seen = b""

    def read_until(done, timeout: float) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
    try:
        read_until(lambda: b"TOUR" in seen, 30)
        assert b"TOUR" in seen, seen[-2000:]
        dirs = _demo_dirs(tmp)
        assert len(dirs) == 1 and (dirs[0] / "demo.db").exists()
        finish(proc, master)
        read_until(lambda: proc.poll() is not None, 20)
        status = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert _demo_dirs(tmp) == [], "the demo database, its key file and report must be removed"
    return status, seen


@pytest.mark.parametrize("how", ["q", "SIGTERM", "SIGINT", "SIGHUP"])
def test_the_demo_command_removes_everything_when_it_ends(tmp_path, how):
    def finish(proc, master):
        if how == "q":
            os.write(master, b"q")
        else:
            proc.send_signal(getattr(signal, how))

    status, _ = _run_in_terminal(tmp_path, finish)
    assert status in (0, 130, 128 + signal.SIGTERM, 128 + signal.SIGHUP)


def test_an_internal_error_still_removes_the_demo_database(monkeypatch):
    import hitl_tui.demo as demo_pkg
    from hitl_tui.demo.run import run_demo

    opened = []

    def recording_open_demo(*args, **kwargs):
        opened.append(open_demo(*args, **kwargs))
        return opened[-1]

    def broken_run(self, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(demo_pkg, "open_demo", recording_open_demo)
    monkeypatch.setattr(DemoApp, "run", broken_run)
    with pytest.raises(RuntimeError, match="boom"):
        run_demo()
    assert opened and not opened[0].directory.exists()


# --- snapshots of the tour panel, on a demo database built with a frozen clock ----------------

@pytest.fixture
def frozen_demo(monkeypatch):
    """The demo dataset with the same ids and times on every run: the engine's clock ticks one
    second per call from two hours before the fixed UI clock, and request ids come from a seeded
    generator. Only this test's engine modules are patched, and for the whole test: the desk's own
    sweep must not see the real date (a week after FIXTURE_NOW the agents' deadlines pass)."""
    import hitl_tui.core.draws as draws_mod
    import hitl_tui.core.service as service_mod

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    ticks = itertools.count()
    start = FIXTURE_NOW - timedelta(hours=2)
    rng = random.Random(5)
    with monkeypatch.context() as frozen:
        tick = lambda: start + timedelta(seconds=next(ticks))  # noqa: E731 - one clock for the engine
        frozen.setattr(service_mod, "utc_now", tick)
        frozen.setattr(draws_mod, "utc_now", tick)  # every time a write records (core/draws.py)
        frozen.setattr(draws_mod, "time", SimpleNamespace(time=lambda: 1_795_600_000))
        frozen.setattr(draws_mod, "secrets", SimpleNamespace(randbelow=rng.randrange, choice=rng.choice,
                                                             token_bytes=secrets.token_bytes,
                                                             token_hex=secrets.token_hex))
        session = open_demo()
        # then the UI's fixed time, whatever runs when: the desk's sweep and its writes
        frozen.setattr(service_mod, "utc_now", lambda: FIXTURE_NOW)
        frozen.setattr(draws_mod, "utc_now", lambda: FIXTURE_NOW)
        yield session
        session.close()
    monkeypatch.delenv("TZ")
    time.tzset()


def keys(*pressed: str, until=None):
    async def run_before(pilot) -> None:
        await settle(pilot)
        for key in pressed:
            await pilot.press(key)
            await settle(pilot)
        if until is not None:
            await wait_for(pilot, lambda: until(pilot.app))
            await settle(pilot)
    return run_before


def test_tour_panel_80x24(snap_compare, frozen_demo):
    app = demo_app(frozen_demo, clock=fixed_clock)
    assert snap_compare(app, terminal_size=(80, 24),
                        run_before=keys(NEXT, "v", until=lambda a: a.guide.done()))


def test_tour_panel_tamper_160x48(snap_compare, frozen_demo):
    app = demo_app(frozen_demo, clock=fixed_clock)
    steps = [NEXT] * 7
    assert snap_compare(app, terminal_size=(160, 48),
                        run_before=keys(*steps, "d", until=lambda a: a.guide.done() and not a.guide.note))
