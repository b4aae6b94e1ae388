"""A small real Textual app that drives the desk's terminal pieces (clipboard.copy, alerts.alert,
pager.open_in_pager) on a request read from a real encrypted database, so tests can run it in a
real pty (or a tmux pane) and read the exact bytes the terminal receives.

Run as `python tests/ui/pieces_app.py`; HITL_DB_PATH / HITL_DB_KEY_FILE name the database,
PIECES_REQUEST the request, PIECES_LOG a file that gets each action's returned line, and
PIECES_ALERTS the alert mode. Keys: y copy id, Y copy link line, o page the description,
b alert, q quit. After each action the screen shows "done N", so a test knows it was handled.
"""

from __future__ import annotations

import os
from pathlib import Path

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import Static

from hitl_tui.alerts import alert
from hitl_tui.clipboard import copy, link_line
from hitl_tui.core.service import WorkflowService
from hitl_tui.pager import open_in_pager


class Pieces(App):
    BINDINGS = [("y", "copy_id"), ("Y", "copy_link"), ("o", "page"), ("b", "alert"), ("q", "quit")]

    def __init__(self, request) -> None:
        super().__init__()
        self.request = request
        self.count = 0

    def compose(self) -> ComposeResult:
        yield Static(Text("pieces ready"), id="status")

    def _log(self, line: str) -> None:
        self.count += 1
        with open(os.environ["PIECES_LOG"], "a", encoding="utf-8") as fh:
            fh.write(line.replace("\n", "\\n") + "\n")
        self.query_one("#status", Static).update(Text(f"done {self.count}"))

    def action_copy_id(self) -> None:
        self._log(copy(self, self.request.id))

    def action_copy_link(self) -> None:
        self._log(copy(self, link_line(self.request)))

    def action_page(self) -> None:
        self._log(open_in_pager(self, f"{self.request.id} {self.request.title}", self.request.description))

    def action_alert(self) -> None:
        self._log(alert(self, "hitl-tui", f"New in Awaiting me: {self.request.title}", os.environ["PIECES_ALERTS"]))


def main() -> None:
    key = bytes.fromhex(Path(os.environ["HITL_DB_KEY_FILE"]).read_text().strip())
    svc = WorkflowService.open(os.environ["HITL_DB_PATH"], key=key)
    try:
        request = svc.get_workflow(os.environ["PIECES_REQUEST"])
    finally:
        svc.close(checkpoint=False)
    Pieces(request).run()


if __name__ == "__main__":
    main()
