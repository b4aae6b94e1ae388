"""Snapshots of the export dialog at 80x24 and 160x48 on the fixed fixture database, over a bare
host app with the desk's stylesheet (tests/ui/export_host.py), so the desk's own changes do not
move them. Update after an intended change with:
pytest tests/ui/test_export_dialog_snapshots.py --snapshot-update
"""

from __future__ import annotations

from pathlib import Path

from hitl_tui.screens.export_dialog import PathField

from .conftest import settle
from .export_host import Host

#: shown in the dialog's hint only; nothing is written in these snapshots
SHOWN_DIR = Path("/srv/audit")


def app(fixture_desk, username: str = "carl.compliance") -> Host:
    return Host(fixture_desk.service(), username, SHOWN_DIR)


def path_then_enter(text: str):
    async def run_before(pilot) -> None:
        await settle(pilot)
        pilot.app.screen.query_one("#export-path", PathField).input.value = text
        await pilot.press("enter")
        await settle(pilot)
    return run_before


async def settled(pilot) -> None:
    await settle(pilot)


def test_export_dialog_80x24(snap_compare, fixture_desk):
    assert snap_compare(app(fixture_desk), terminal_size=(80, 24), run_before=settled)


def test_export_dialog_160x48(snap_compare, fixture_desk):
    assert snap_compare(app(fixture_desk), terminal_size=(160, 48), run_before=settled)


def test_export_dialog_missing_folder_80x24(snap_compare, fixture_desk):
    assert snap_compare(app(fixture_desk), terminal_size=(80, 24),
                        run_before=path_then_enter("/nonexistent/q1.html"))


def test_export_dialog_refused_160x48(snap_compare, fixture_desk):
    assert snap_compare(app(fixture_desk, "alice"), terminal_size=(160, 48), run_before=settled)
