"""The desk's export dialog (screens/export_dialog.py), driven with Pilot on a real encrypted
database: the same core export as `hitl-tui export-audit`, its filters, the file checks (one
line each), the progress bar, a typed ending, and escape cancelling with nothing left behind."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import sqlcipher3
from textual.widgets import Input, ProgressBar, RadioSet, Static

from hitl_tui.core.reports import inspect_file
from hitl_tui.screens.export_dialog import ExportDialog, ExportDone, PathField
from tests.reliability.store_faults.fault_desk import _AS_ORDINARY_ACCOUNT as AS_ORDINARY_ACCOUNT
from tests.ui.conftest import settle, wait_for
from tests.ui.export_host import Host


@pytest.fixture
def audited(desk):
    """The desk database with some history: requests filed by alice and one decided."""
    svc = desk.service()
    ids = [svc.create_workflow_request("expense_approval", f"Trip {i}", "Client visit", "alice",
                                       {"amount": str(100 + i), "category": "travel"}) for i in range(6)]
    svc.approve_workflow(ids[0], "bob.manager", "ok")
    return desk


def host(desk, username: str, directory: Path) -> Host:
    return Host(desk.service(), username, directory)


def dialog(app) -> ExportDialog:
    assert isinstance(app.screen, ExportDialog)
    return app.screen


def status(app) -> str:
    return str(app.screen.query_one("#export-status", Static).render())


def problem(app) -> str:
    return str(app.screen.query_one(".path-problem", Static).render())


async def set_path(pilot, text: str) -> None:
    field = pilot.app.screen.query_one("#export-path", PathField).input
    field.value = text
    field.focus()
    await pilot.pause()


async def finish(pilot) -> None:
    await wait_for(pilot, lambda: not dialog(pilot.app).running)
    await settle(pilot)


async def test_the_dialog_writes_what_export_audit_writes_with_its_filters(audited, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    app = host(audited, "carl.compliance", out)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.screen.query_one("#export-format", RadioSet).query("RadioButton")[2].value = True  # JSONL
        await pilot.pause()
        field = app.screen.query_one("#export-path", PathField).input
        assert field.value == "hitl-audit-20261126-0420.jsonl"  # the name follows the format
        app.screen.query_one("#export-user", Input).value = "alice"
        await set_path(pilot, "alice.jsonl")
        await pilot.press("enter")
        await finish(pilot)
        target = out / "alice.jsonl"
        assert status(app).startswith(f"Wrote {target} (6 entries, jsonl; checkpoint signed by SHA256:")
        bar = app.screen.query_one("#export-progress", ProgressBar)
        assert bar.total > 6 and bar.progress == bar.total  # the write phase reported its total
        await pilot.press("enter")  # closes, handing back where the file is
        await settle(pilot)
    assert app.returned == [ExportDone(target, "jsonl", 6, True, app.returned[0].banner, app.returned[0].fingerprint)]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    header = json.loads(target.read_text().splitlines()[0])
    assert header["filters"]["actors"] == ["alice"] and header["generated_by"] == "carl.compliance"
    report = inspect_file(target)  # what `verify-audit --offline` reads
    assert all(c.ok for c in report.checks), [(c.name, c.detail) for c in report.checks if not c.ok]
    assert [p.name for p in out.iterdir()] == ["alice.jsonl"]  # no temporary file left


async def test_an_existing_file_is_replaced_only_after_a_second_enter(audited, tmp_path):
    target = tmp_path / "report.html"
    target.write_text("keep me")
    app = host(audited, "eve.exec", tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await set_path(pilot, "report.html")
        await pilot.press("enter")
        await settle(pilot)
        assert problem(app) == f"{target} exists: press enter again to replace it."
        assert target.read_text() == "keep me" and not dialog(app).running
        await pilot.press("enter")
        await finish(pilot)
        assert status(app).startswith(f"Wrote {target} (")
    assert "<!DOCTYPE html>" in target.read_text()


async def test_a_missing_folder_a_folder_and_a_bad_date_are_one_line_each(audited, tmp_path):
    app = host(audited, "eve.exec", tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await set_path(pilot, "nowhere/report.html")
        await pilot.press("enter")
        await settle(pilot)
        assert problem(app) == f"The folder {tmp_path / 'nowhere'} does not exist."
        await set_path(pilot, str(tmp_path))
        await pilot.press("enter")
        await settle(pilot)
        assert problem(app) == f"{tmp_path} is a folder: add a file name."
        await set_path(pilot, "")
        await pilot.press("enter")
        await settle(pilot)
        assert problem(app) == "Give the file a name."
        app.screen.query_one("#export-since", Input).value = "yesterday"
        await set_path(pilot, "r.html")
        await pilot.press("enter")
        await settle(pilot)
        assert status(app).startswith("since 'yesterday' is not a date: use 2025-03-31")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hitl.db", "hitl.db-shm", "hitl.db-wal"]


async def test_a_read_only_folder_is_named_as_such(audited, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    if subprocess.run(["mount", "--bind", "-o", "ro", str(ro), str(ro)], capture_output=True).returncode:
        pytest.fail("could not bind-mount a read-only folder (the tests run as root)")
    try:
        app = host(audited, "eve.exec", ro)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await pilot.press("enter")
            await settle(pilot)
            assert problem(app) == f"The folder {ro} is on a read-only filesystem: choose another one."
            assert not dialog(app).running
    finally:
        subprocess.run(["umount", "-l", str(ro)], check=False)


def test_a_folder_this_account_may_not_write_is_named(tmp_path):
    """Without root's override of file modes (as an ordinary account): the check the dialog runs."""
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    code = ("import sys; from pathlib import Path; from hitl_tui.screens.export_dialog import check_target;"
            "print(check_target('r.html', Path(sys.argv[1]))[1])")
    done = subprocess.run([sys.executable, "-c", AS_ORDINARY_ACCOUNT, sys.executable, "-c", code, str(locked)],
                          capture_output=True, text=True)
    assert done.stdout.strip() == f"You may not write in {locked} (permission denied): choose another folder.", \
        done.stderr


async def test_someone_without_an_oversight_role_is_told_at_once_and_nothing_is_written(audited, tmp_path):
    app = host(audited, "alice", tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert status(app).startswith("Exporting the audit log shows every request, so it needs an oversight role")
        assert app.screen.query_one("#export-path", PathField).input.disabled
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not dialog(app).running
    assert not list(tmp_path.glob("*.html"))


async def test_escape_during_the_export_cancels_it_and_leaves_no_file(audited, tmp_path, monkeypatch):
    """Another connection holds the write lock, so the export waits to sign its checkpoint, with
    its temporary file open: escape then, and nothing is left, under either name."""
    monkeypatch.setenv("HITL_BUSY_TIMEOUT", "20")
    out = tmp_path / "out"
    out.mkdir()
    holder = sqlcipher3.connect(str(audited.path), isolation_level=None, check_same_thread=False)
    holder.execute(f"PRAGMA key = \"x'{audited.key.hex()}'\"")
    holder.execute("BEGIN IMMEDIATE")
    released = False
    try:
        app = host(audited, "carl.compliance", out)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await pilot.press("enter")
            await wait_for(pilot, lambda: list(out.glob(".*.tmp")), timeout=10)  # under way, half written
            assert dialog(app).running
            await pilot.press("escape")
            await pilot.pause()
            assert status(app) == "Cancelling…"
            holder.execute("ROLLBACK")
            released = True
            await wait_for(pilot, lambda: not isinstance(app.screen, ExportDialog), timeout=20)
        assert app.returned == [None]
        assert list(out.iterdir()) == []
    finally:
        if not released:
            holder.execute("ROLLBACK")
        holder.close()
