"""The demo's "keep a copy" of its HTML audit report (screens/keep_copy.py, demo/report.keep_copy):
a real demo session and its real report; the copy outlives the demo, whose folder is deleted."""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import Static

from hitl_tui.core.reports import inspect_file
from hitl_tui.demo import open_demo
from hitl_tui.demo.report import REPORT_NAME, export_report
from hitl_tui.screens.export_dialog import PathField
from hitl_tui.screens.keep_copy import DEFAULT_NAME, KeepCopyDialog, fetch_hint
from tests.ui.conftest import settle, wait_for
from tests.ui.export_host import CSS


class Host(App):
    CSS_PATH = str(CSS)

    def __init__(self, screen) -> None:
        super().__init__()
        self.dialog, self.returned = screen, []

    def on_mount(self) -> None:
        self.push_screen(self.dialog, self.returned.append)


@pytest.fixture
def demo():
    session = open_demo()
    yield session
    session.close()


async def test_the_kept_copy_outlives_the_demo(demo, tmp_path):
    summary = export_report(demo, "carol.compliance")  # the tour's own export step
    assert summary.path == demo.directory / REPORT_NAME
    original = summary.path.read_bytes()
    app = Host(KeepCopyDialog(summary.path, demo.directory, tmp_path))
    async with app.run_test(size=(90, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # the suggested name, in the chosen folder
        await wait_for(pilot, lambda: app.screen.kept is not None)
        kept = tmp_path / DEFAULT_NAME
        shown = str(app.screen.query_one("#keep-status", Static).render())
        assert shown.startswith(f"Kept a copy at {kept} (") and "it stays when the demo ends" in shown
        await pilot.press("enter")
        await settle(pilot)
    assert app.returned == [kept]
    demo.close()
    assert not demo.directory.exists()  # the demo's folder is gone with its report...
    assert kept.read_bytes() == original  # ...the copy is not
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert all(c.ok for c in inspect_file(kept).checks)


async def test_a_copy_inside_the_demo_folder_is_refused(demo, tmp_path):
    summary = export_report(demo, "carol.compliance")
    app = Host(KeepCopyDialog(summary.path, demo.directory, tmp_path))
    async with app.run_test(size=(90, 24)) as pilot:
        await settle(pilot)
        target = demo.directory / "mine.html"
        app.screen.query_one("#keep-path", PathField).input.value = str(target)
        await pilot.press("enter")
        await wait_for(pilot, lambda: not app.screen.busy)
        await settle(pilot)
        line = str(app.screen.query_one(".path-problem", Static).render())
        assert line == f"{target} is inside the demo's folder, which is deleted when you quit: choose another folder."
        assert not target.exists() and app.screen.kept is None


def test_over_ssh_the_scp_line_names_this_host():
    path = Path("/home/me/report.html")
    assert fetch_hint(path, {"SSH_CONNECTION": "10.0.0.9 52000 10.0.0.5 22"}) == \
        "From your own machine: scp 10.0.0.5:/home/me/report.html ."
    assert fetch_hint(path, {}) == ""


def test_a_real_demo_keeps_the_copy_after_it_quits(tmp_path, monkeypatch):
    from tests.ui.test_terminal_pieces import Term

    here, tmp = tmp_path / "here", tmp_path / "tmp"
    here.mkdir()
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "TERM": "xterm-256color", "COLORTERM": "truecolor"}
    monkeypatch.chdir(here)  # the dialog suggests the current directory, as `./scripts/demo` from a clone
    term = Term([str(Path(sys.executable).with_name("hitl-tui")), "--demo"], env)  # the installed command
    try:
        term.read(b"TOUR", timeout=60)
        (demo_dir,) = tmp.glob("hitl-demo-*")
        term.press(b"]" * 8)  # to the export step
        term.read(b"auditor", timeout=20)
        term.press(b"d")
        deadline = time.monotonic() + 30
        while not (demo_dir / REPORT_NAME).exists() and time.monotonic() < deadline:
            term._pump(0.1)
        time.sleep(1)
        term.press(b"K")
        term.read(b"Keep a copy of the audit report", timeout=20)
        term.press(b"\r")
        term.read(b"Kept a copy at", timeout=20)
        report = (demo_dir / REPORT_NAME).read_bytes()
        term.press(b"\r")
        time.sleep(0.5)
        term.press(b"q")
        term.wait_exit(timeout=30)
    finally:
        term.cleanup()
    assert term.status == 0
    assert not demo_dir.exists()  # the demo deleted its folder, report and all
    kept = here / DEFAULT_NAME
    assert kept.read_bytes() == report and stat.S_IMODE(kept.stat().st_mode) == 0o600
