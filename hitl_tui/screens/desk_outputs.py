"""The selected request, handed out of the desk: its id or a link line to the clipboard (OSC 52,
which works over SSH), its description or whole detail to the person's $PAGER, and the audit
log to a file through the export dialog.

Functions over the desk screen: they read what it shows and change nothing in it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..core.models import RequestSummary, WorkflowRequest

if TYPE_CHECKING:
    from .desk import DeskScreen


def _selected(desk: "DeskScreen") -> WorkflowRequest | RequestSummary | None:
    return desk.current_request() or desk.highlighted


def copy_id(desk: "DeskScreen") -> None:
    from ..clipboard import copy

    req = _selected(desk)
    desk.app.say(copy(desk.app, req.id) if req else "Select a request first.")


def copy_link(desk: "DeskScreen") -> None:
    from ..clipboard import copy, link_line

    req = _selected(desk)
    desk.app.say(copy(desk.app, link_line(req)) if req else "Select a request first.")


def page_description(desk: "DeskScreen") -> None:
    from ..pager import open_in_pager

    req = desk.current_request()
    if req is None:
        desk.app.say(desk.why_not("approve") or "Select a request first.")
        return
    note = open_in_pager(desk.app, f"{req.id} {req.title}", req.description or "(no description)")
    if note:
        desk.app.say(note)


def page_detail(desk: "DeskScreen") -> None:
    from ..pager import open_in_pager

    req = desk.current_request()
    if req is None or not desk.panes.mounted_lower:
        desk.app.say("Select a request first.")
        return
    note = open_in_pager(desk.app, req.id, desk.detail.render_request(req, desk.user, desk.people).plain)
    if note:
        desk.app.say(note)


def export(desk: "DeskScreen") -> None:
    from .export_dialog import ExportDialog

    desk.app.push_screen(ExportDialog(desk.service, desk.user.username, Path.cwd()),
                         lambda done: done and desk.app.say(f"Exported to {done.path}"))
