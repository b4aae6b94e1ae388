"""A bare app with the desk's stylesheet that opens the export dialog on a real database, for the
export dialog's Pilot and snapshot tests (so they do not depend on the desk behind it) and for
looking at it in a terminal: `python tests/ui/export_host.py DB KEYFILE USERNAME [DIR]`."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from textual.app import App

import hitl_tui
from hitl_tui.screens.export_dialog import ExportDialog

CSS = Path(hitl_tui.__file__).with_name("app.tcss")
FIXED_NOW = datetime(2026, 11, 26, 4, 20)


class Host(App):
    CSS_PATH = str(CSS)

    def __init__(self, service, username: str, directory: Path, *, now=lambda: FIXED_NOW) -> None:
        super().__init__()
        self.service, self.username, self.directory, self._now = service, username, directory, now
        self.returned: list = []

    def on_mount(self) -> None:
        self.push_screen(ExportDialog(self.service, self.username, self.directory, now=self._now),
                         self.returned.append)


if __name__ == "__main__":
    from hitl_tui.core.service import WorkflowService

    db, key_file, user = sys.argv[1:4]
    svc = WorkflowService.open(db, key=bytes.fromhex(Path(key_file).read_text().strip()))
    Host(svc, user, Path(sys.argv[4]) if len(sys.argv) > 4 else Path.cwd()).run()
    svc.close(checkpoint=False)
