"""Export the audit log from the desk: the formats and main filters of `hitl-tui export-audit`,
through the same core code (core.reports.export_audit, export_to_file), with a progress bar.

The file is written beside its final name and renamed into place when complete, so cancelling
(escape) or a failure leaves nothing behind. A file that exists is replaced only after a second
enter; a folder that does not exist, or that this account may not write, is one line in the
dialog. `PathField` (a file name with those checks) is reused by the demo's "keep a copy".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, ProgressBar, RadioButton, RadioSet, Select, Static
from textual.worker import get_current_worker

from ..core.errors import HitlError
from ..render.text import clean

if TYPE_CHECKING:
    from ..core.service import WorkflowService

FORMAT_LABELS = (("html", "HTML report"), ("md", "Markdown"), ("jsonl", "JSONL"), ("csv", "CSV"))
SUFFIXES = {"html": ".html", "md": ".md", "jsonl": ".jsonl", "csv": ".csv"}
_ALL_TYPES = "*"


def default_name(fmt: str, now: datetime | None = None) -> str:
    return f"hitl-audit-{(now or datetime.now()):%Y%m%d-%H%M}{SUFFIXES[fmt]}"


def check_target(text: str, directory: Path, *, replace_ok: bool = False) -> tuple[Path | None, str]:
    """(absolute path, '') if a new file may be written there; (None, the one line) otherwise.
    An existing file gives (path, line): it may be replaced once the person confirms."""
    raw = text.strip()
    if not raw:
        return None, "Give the file a name."
    path = Path(os.path.expanduser(raw))
    path = path if path.is_absolute() else directory / path
    path = Path(os.path.abspath(path))
    shown = clean(str(path), single_line=True)
    parent = path.parent
    if path.is_dir():
        return None, f"{shown} is a folder: add a file name."
    if not parent.is_dir():
        return None, f"The folder {clean(str(parent), single_line=True)} does not exist."
    if not os.access(parent, os.W_OK | os.X_OK):
        folder = clean(str(parent), single_line=True)
        if os.statvfs(parent).f_flag & os.ST_RDONLY:
            return None, f"The folder {folder} is on a read-only filesystem: choose another one."
        return None, f"You may not write in {folder} (permission denied): choose another folder."
    if path.exists() and not replace_ok:
        return path, f"{shown} exists: press enter again to replace it."
    return path, ""


class PathField(Vertical):
    """A file name (relative to `directory`) with its problem shown under it, one line."""

    DEFAULT_CSS = """
    PathField { height: auto; }
    PathField > Input { background: $boost; }
    PathField > .path-problem { height: auto; color: $error; }
    """

    def __init__(self, value: str, directory: Path, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.directory = directory
        self._value = value
        self._confirmed: Path | None = None

    def compose(self) -> ComposeResult:
        yield Input(self._value, id="path-input", compact=True)
        yield Static("", classes="path-problem", markup=False)

    @property
    def input(self) -> Input:
        return self.query_one("#path-input", Input)

    def say(self, text: str) -> None:
        self.query_one(".path-problem", Static).update(text)

    def resolve(self) -> Path | None:
        """The path to write, or None (the reason is shown). An existing file needs the same
        path twice in a row: the first time asks."""
        path, problem = check_target(self.input.value, self.directory,
                                     replace_ok=self._confirmed is not None and self._resolved_same())
        if path is not None and problem:  # exists: ask once
            self._confirmed = path
            self.say(problem)
            return None
        self.say(problem)
        self._confirmed = None
        return path

    def _resolved_same(self) -> bool:
        path, _ = check_target(self.input.value, self.directory, replace_ok=True)
        return path == self._confirmed


@dataclass(frozen=True)
class ExportDone:
    """What the dialog returns when a file was written."""

    path: Path
    fmt: str
    entries: int
    ok: bool
    banner: str
    fingerprint: str | None


class ExportCancelled(Exception):
    """Raised from a progress callback when the person pressed escape."""


class ExportDialog(ModalScreen[ExportDone | None]):
    """`ExportDialog(service, username, directory)`; dismisses with ExportDone or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="export.cancel"),
                Binding("ctrl+s", "export", "Export", id="export.run", priority=True),
                # when no field has focus (while and after running): a field's own enter comes first
                Binding("enter", "export", "Export", show=False, id="export.enter")]

    DEFAULT_CSS = """
    #export-dialog { width: 84; }
    #export-dialog .row { height: auto; }
    #export-dialog .label { width: 9; text-style: bold; padding-top: 0; }
    #export-dialog RadioSet { layout: horizontal; width: 1fr; border: none; padding: 0; background: $surface; }
    #export-dialog RadioButton { width: auto; margin-right: 2; }
    #export-dialog Input { background: $boost; width: 1fr; }
    #export-dialog Select { width: 1fr; }
    #export-dialog .hint { color: $foreground-muted; height: auto; }
    #export-status { height: auto; margin-top: 1; }
    #export-progress { margin: 0; }
    #export-keys { color: $foreground-muted; }
    """

    class Progress(Message):
        def __init__(self, phase: str, done: int, total: int) -> None:
            super().__init__()
            self.phase, self.done, self.total = phase, done, total

    class Finished(Message):
        def __init__(self, result: ExportDone) -> None:
            super().__init__()
            self.result = result

    class Failed(Message):
        def __init__(self, text: str, cancelled: bool = False, refused: bool = False) -> None:
            super().__init__()
            self.text, self.cancelled, self.refused = text, cancelled, refused

    def __init__(self, service: "WorkflowService", username: str, directory: Path | None = None, *, fmt: str = "html",
                 now: Callable[[], datetime] = datetime.now) -> None:
        super().__init__(classes="dialog-screen")
        self.service = service
        self.username = username
        self.directory = Path(directory) if directory else Path.cwd()
        self.fmt = fmt
        self._now = now
        self.running = False
        self.refused = False
        self.result: ExportDone | None = None
        self._cancel_asked = False
        self._worker = None

    # --- layout ----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        types = [(t.name, key) for key, t in sorted(self.service.policy.types.items(), key=lambda kv: kv[1].name)]
        with Vertical(id="export-dialog", classes="dialog") as box:
            box.border_title = "Export the audit log"
            with Horizontal(classes="row"):
                yield Static("Format", classes="label")
                with RadioSet(id="export-format", compact=True):
                    for key, label in FORMAT_LABELS:
                        yield RadioButton(label, value=key == self.fmt, name=key, compact=True)
            with Horizontal(classes="row"):
                yield Static("Since", classes="label")
                yield Input(id="export-since", placeholder="2026-01-01, 7d (empty: the start)", compact=True)
            with Horizontal(classes="row"):
                yield Static("Until", classes="label")
                yield Input(id="export-until", placeholder="2026-03-31 (that whole day; empty: now)", compact=True)
            with Horizontal(classes="row"):
                yield Static("Type", classes="label")
                yield Select([("every type", _ALL_TYPES), *types], value=_ALL_TYPES, allow_blank=False,
                             id="export-type", compact=True)
            with Horizontal(classes="row"):
                yield Static("Person", classes="label")
                yield Input(id="export-user", placeholder="entries by this username (empty: everyone)",
                            compact=True)
            with Horizontal(classes="row"):
                yield Static("Request", classes="label")
                yield Input(id="export-workflow", placeholder="WF-… (empty: every request)", compact=True)
            with Horizontal(classes="row"):
                yield Static("File", classes="label")
                yield PathField(default_name(self.fmt, self._now()), self.directory, id="export-path")
            yield Static(Text(f"A name without a folder goes in {clean(str(self.directory), single_line=True)}; "
                              f"the file is 0600.", style="dim"), classes="hint")
            yield Static("", id="export-status", markup=False)
            yield ProgressBar(total=100, show_eta=False, id="export-progress")
            yield Static(Text.assemble(("enter", "bold"), " export  ·  ", ("tab", "bold"), " next field  ·  ",
                                       ("escape", "bold"), " cancel"), id="export-keys")

    def on_mount(self) -> None:
        self.query_one("#export-progress", ProgressBar).display = False
        self.query_one("#export-path", PathField).input.focus()
        self.check_permission()

    @work(thread=True, exclusive=True, group="export-check", exit_on_error=False)
    def check_permission(self) -> None:
        """Say at once, not after the form is filled in, that this person may not export."""
        from ..core.reports import check_may_export

        try:
            check_may_export(self.service, self.username)
        except HitlError as exc:
            self.post_message(self.Failed(str(exc), refused=True))

    def _status(self, text: str, style: str = "") -> None:
        self.query_one("#export-status", Static).update(Text(clean(text, single_line=True), style=style))

    # --- choosing ---------------------------------------------------------------------------------

    @on(RadioSet.Changed, "#export-format")
    def _format_changed(self, event: RadioSet.Changed) -> None:
        self.fmt = event.pressed.name or self.fmt
        field = self.query_one("#export-path", PathField).input
        stem, dot, suffix = field.value.rpartition(".")
        if dot and f".{suffix.lower()}" in SUFFIXES.values():  # follow the format, unless renamed
            field.value = stem + SUFFIXES[self.fmt]

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_export()

    def action_export(self) -> None:
        if self.result is not None:  # done: enter closes, showing where the file is
            self.dismiss(self.result)
            return
        if self.running or self.refused:
            return
        from ..core.reports import ExportFilter

        try:
            user = self.query_one("#export-user", Input).value.strip()
            wid = self.query_one("#export-workflow", Input).value.strip()
            wtype = self.query_one("#export-type", Select).value
            filt = ExportFilter.build(self.service.policy, since=self.query_one("#export-since", Input).value.strip() or None,
                                      until=self.query_one("#export-until", Input).value.strip() or None,
                                      workflow_ids=(wid,) if wid else (),
                                      workflow_types=() if wtype == _ALL_TYPES else (str(wtype),),
                                      actors=(user,) if user else ())
        except HitlError as exc:
            self._status(str(exc), "bold red")
            return
        target = self.query_one("#export-path", PathField).resolve()
        if target is None:
            self._status("")
            return
        self.running, self._cancel_asked = True, False
        for node in self.query("Input, RadioSet, Select"):
            node.disabled = True
        bar = self.query_one("#export-progress", ProgressBar)
        bar.display = True
        bar.update(total=100, progress=0)
        self._status("Verifying the audit chain…")
        self._worker = self.export(self.fmt, filt, target)

    # --- the work ---------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def export(self, fmt: str, filt, target: Path) -> None:
        from ..core.reports import export_to_file
        from ..remote.export_client import exports_of  # the service builds it in team mode

        worker = get_current_worker()
        last: dict[str, int] = {}

        def reporter(phase: str):
            def report(done: int, total: int) -> None:
                if worker.is_cancelled:
                    raise ExportCancelled
                pct = int(100 * done / total) if total else 100
                if last.get(phase) != pct:  # one message per percent, not per batch
                    last[phase] = pct
                    self.post_message(self.Progress(phase, done, total))
            return report

        try:
            result = export_to_file(target, lambda fh: exports_of(self.service).export_audit(
                fmt, fh, filt, generated_by=self.username,
                progress=reporter("verify"), write_progress=reporter("write")))
        except ExportCancelled:
            self.post_message(self.Failed("Cancelled: nothing was written.", cancelled=True))
            return
        except HitlError as exc:
            self.post_message(self.Failed(f"{exc} Nothing was written."))
            return
        except OSError as exc:
            self.post_message(self.Failed(f"Could not write {target} ({exc.strerror or exc}); nothing was written."))
            return
        cp = result.integrity.checkpoint
        self.post_message(self.Finished(ExportDone(target, fmt, result.trailer["entries_exported"], result.ok,
                                                   result.integrity.banner, cp.fingerprint if cp else None)))

    @on(Progress)
    def _progress(self, msg: Progress) -> None:
        if self._cancel_asked:
            return
        bar = self.query_one("#export-progress", ProgressBar)
        bar.update(total=max(msg.total, 1), progress=msg.done)
        what = "Verifying the audit chain" if msg.phase == "verify" else "Writing"
        self._status(f"{what}: {msg.done:,} of {msg.total:,} entries")

    @on(Finished)
    def _finished(self, msg: Finished) -> None:
        self.running, self.result = False, msg.result
        r = msg.result
        bar = self.query_one("#export-progress", ProgressBar)
        bar.update(progress=bar.total or 1)
        signed = f"; checkpoint signed by {r.fingerprint}" if r.fingerprint else ""
        line = f"Wrote {r.path} ({r.entries:,} entr{'y' if r.entries == 1 else 'ies'}, {r.fmt}{signed})."
        if not r.ok:
            line += f" {r.banner}"
        self._status(line, "bold" if r.ok else "bold red")
        keys = self.query_one("#export-keys", Static)
        keys.update(Text.assemble(("enter", "bold"), " or ", ("escape", "bold"), " close"))

    @on(Failed)
    def _failed(self, msg: Failed) -> None:
        self.running = False
        self.query_one("#export-progress", ProgressBar).display = False
        self.refused = self.refused or msg.refused
        for node in self.query("Input, RadioSet, Select"):
            node.disabled = self.refused
        if msg.cancelled and self._cancel_asked:
            self.dismiss(None)
            return
        self._status(msg.text, "bold red")
        if self.refused:
            self.query_one("#export-keys", Static).update(Text.assemble(("escape", "bold"), " close"))

    def action_cancel(self) -> None:
        if self.running:  # the worker stops at its next batch and removes its temporary file
            self._cancel_asked = True
            self._status("Cancelling…", "italic")
            if self._worker is not None:
                self._worker.cancel()
            return
        self.dismiss(self.result)


__all__ = ["ExportDialog", "ExportDone", "PathField", "check_target", "default_name"]
