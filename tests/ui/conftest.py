"""UI test fixtures: real encrypted databases in tmp_path, real WorkflowService, real keys.

The root conftest already points HOME/XDG at a temp dir and keeps the keyring out of reach.
Apps are built with make_app() for an explicit user (a new app per user, as a person switching
terminals would); polling is off unless a test wants it, so nothing changes behind a test's back.
"""

from __future__ import annotations

import os
import shutil
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from hitl_tui.app import HitlApp, make_app
from hitl_tui.core.service import WorkflowService
from tests.ui.make_fixture import KEY_HEX

SIZE = (80, 24)
FIXTURE = Path(__file__).parent / "fixtures" / "desk.db"
#: two hours after the fixture's requests were made: ages read "2h ago" in every snapshot
FIXTURE_NOW = datetime(2026, 11, 26, 4, 20, 5, tzinfo=timezone.utc)

PEOPLE = [("alice", "employee"), ("bob.manager", "manager"), ("kim.manager", "manager"),
          ("dora.director", "director"), ("eve.exec", "executive"), ("carl.compliance", "compliance")]


class Desk:
    """A database in tmp_path plus helpers to open services and apps on it."""

    def __init__(self, path: Path, key: bytes) -> None:
        self.path, self.key = path, key
        self._open: list[WorkflowService] = []

    def service(self) -> WorkflowService:
        svc = WorkflowService.open(self.path, key=self.key)
        self._open.append(svc)
        return svc

    def app(self, username: str, **options) -> HitlApp:
        options.setdefault("poll_interval", None)
        options.setdefault("background_delay", 0)  # settle() waits for workers, not for timers
        return make_app(self.service(), username, **options)

    def close(self) -> None:
        for svc in self._open:
            svc.close(checkpoint=False)


@pytest.fixture
def desk(tmp_path):
    key = os.urandom(32)
    path = tmp_path / "hitl.db"
    svc = WorkflowService.open(path, key=key, create=True)
    for name, role in PEOPLE:
        svc.add_user(name, role)
    svc.close(checkpoint=False)
    d = Desk(path, key)
    yield d
    d.close()


@pytest.fixture
def fixture_desk(monkeypatch):
    """The fixed snapshot database, copied to ~/desk.db (so the header reads the same path in
    every run), with local time pinned to UTC."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    target = Path(os.environ["HOME"]) / "desk.db"
    shutil.copyfile(FIXTURE, target)
    d = Desk(target, bytes.fromhex(KEY_HEX))
    yield d
    d.close()
    monkeypatch.delenv("TZ")
    time.tzset()


def fixed_clock() -> datetime:
    return FIXTURE_NOW


async def settle(pilot, rounds: int = 20) -> None:
    """Wait until no worker runs and every message they posted has been handled: answers start
    new work (a page starts the counts and the verification), so this loops until it is quiet."""
    app = pilot.app
    for _ in range(rounds):
        await pilot.pause()
        if not any(w.is_running for w in app.workers):
            await pilot.pause()
            if not any(w.is_running for w in app.workers):
                return
        await app.workers.wait_for_complete()
    raise AssertionError("workers did not settle")


async def wait_for(pilot, condition, timeout: float = 10.0, state=None) -> None:
    """For changes made outside the app (another connection): wait until `condition()` holds.
    `state()`, when given, says what the app was doing if it never does."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time" + (f": {state()}" if state else ""))
        await pilot.pause(0.05)


def notes(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


def screen_text(app) -> str:
    """Everything the current screen shows, as plain text (from Textual's own render)."""
    from textual.widgets import Static

    from rich.console import Console
    from rich.text import Text

    parts = []
    for widget in app.screen.query(Static):
        shown = widget.render()
        shown = getattr(shown, "_renderable", shown)  # textual's RichVisual wraps a Rich renderable
        if isinstance(shown, (Text, str)) or not hasattr(shown, "__rich_console__"):
            parts.append(str(shown))
        else:  # a group or a table: its text as a wide console lays it out
            console = Console(width=400, record=True, file=open(os.devnull, "w"), color_system=None)
            console.print(shown)
            parts.append(console.export_text())
    return "\n".join(parts)


def age(minutes: int) -> datetime:
    return datetime.now(timezone.utc) - timedelta(minutes=minutes)
