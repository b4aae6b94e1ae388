"""The demo's "keep a copy of the audit report": its HTML report lives in the demo's throwaway
folder, deleted at quit, and over SSH there is no browser to open it in. This asks where to save
a copy (the export dialog's PathField, with the same checks), writes it in a worker through
demo/report.keep_copy, and says where it is and, over SSH, how to fetch it."""

from __future__ import annotations

import os
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from ..core.errors import HitlError
from ..render.text import clean
from .export_dialog import PathField

DEFAULT_NAME = "hitl-demo-audit-report.html"


def fetch_hint(path: Path, env=os.environ) -> str:
    """Over SSH, the scp line that brings the file to the person's own machine."""
    conn = env.get("SSH_CONNECTION", "").split()
    if len(conn) < 3:
        return ""
    return f"From your own machine: scp {conn[2]}:{path} ."


def open_keep_copy(app) -> None:
    """The demo's `K`: the dialog for the tour's report, or one line when there is none yet.
    `app` is the DemoApp (its guide's facts hold the export, its session the throwaway folder)."""
    export = app.guide.facts.export
    if export is None or not Path(export.path).exists():
        app.say("No audit report yet: the tour's export step (]) writes one when you press d.", "warning")
        return
    app.push_screen(KeepCopyDialog(export.path, app.session.directory))


class KeepCopyDialog(ModalScreen[Path | None]):
    """`KeepCopyDialog(report_path, demo_directory)`; dismisses with the copy's path or None."""

    BINDINGS = [Binding("escape", "close", "Close", id="keep.close"),
                Binding("enter", "close", "Close", show=False, id="keep.enter")]

    DEFAULT_CSS = """
    #keep-dialog { width: 84; }
    #keep-intro, #keep-status { height: auto; }
    #keep-status { margin-top: 1; }
    #keep-keys { color: $foreground-muted; margin-top: 1; }
    """

    class Kept(Message):
        def __init__(self, path: Path, size: int) -> None:
            super().__init__()
            self.path, self.size = path, size

    class Failed(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, report: Path, demo_directory: Path, directory: Path | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.report = Path(report)
        self.demo_directory = Path(demo_directory)
        self.directory = Path(directory) if directory else Path.cwd()
        self.kept: Path | None = None
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="keep-dialog", classes="dialog") as box:
            box.border_title = "Keep a copy of the audit report"
            yield Static(Text("The demo deletes its folder, and this report, when you quit. Save a copy "
                              "(0600) as:"), id="keep-intro")
            yield PathField(DEFAULT_NAME, self.directory, id="keep-path")
            yield Static(Text(f"A name without a folder goes in {clean(str(self.directory), single_line=True)}.",
                              style="dim"))
            yield Static("", id="keep-status", markup=False)
            yield Static(Text.assemble(("enter", "bold"), " save  ·  ", ("escape", "bold"), " close"),
                         id="keep-keys")

    def on_mount(self) -> None:
        self.query_one("#keep-path", PathField).input.focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.busy or self.kept is not None:
            return
        target = self.query_one("#keep-path", PathField).resolve()
        if target is not None:
            self.busy = True
            self.save(target)

    @work(thread=True, exclusive=True, group="keep-copy", exit_on_error=False)
    def save(self, target: Path) -> None:
        from ..demo.report import keep_copy

        try:
            path = keep_copy(self.report, target, self.demo_directory)
        except HitlError as exc:
            self.post_message(self.Failed(str(exc)))
        except OSError as exc:
            self.post_message(self.Failed(f"Could not write {target} ({exc.strerror or exc}); nothing was written."))
        else:
            self.post_message(self.Kept(path, path.stat().st_size))

    @on(Kept)
    def _kept(self, msg: Kept) -> None:
        self.busy, self.kept = False, msg.path
        field = self.query_one("#keep-path", PathField)
        field.input.disabled = True
        lines = [f"Kept a copy at {msg.path} ({max(1, msg.size // 1024):,} KB); it stays when the demo ends."]
        hint = fetch_hint(msg.path)
        if hint:
            lines.append(hint)
        self.query_one("#keep-status", Static).update(Text(clean("\n".join(lines)), style="bold green"))
        self.query_one("#keep-keys", Static).update(Text.assemble(("enter", "bold"), " or ", ("escape", "bold"),
                                                                  " close"))

    @on(Failed)
    def _failed(self, msg: Failed) -> None:
        self.busy = False
        self.query_one("#keep-path", PathField).say(clean(msg.text, single_line=True))

    def action_close(self) -> None:
        if not self.busy:
            self.dismiss(self.kept)
