"""The demo's guided-tour panel (hitl_tui/demo/tour.py holds the script and the progress).

Narrow terminals (< 140 columns): a strip of at most six lines under the panes, so the inbox and
the detail keep enough room to show what the step talks about (the Risk and Chain lines).
Wide terminals: a band of twelve lines with every step and its tick on the left, and the step's
explanation, what to press and what happened on the right. It sits under the panes rather than
beside them so that the desk keeps its full width (its inbox columns need it). Text is laid out here, line by line, for the width at hand:
anything that does not fit ends in an ellipsis instead of vanishing.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widget import Widget

from ..render.text import clean
from .status_header import short_path

WIDE_AT = 140  # the desk's own breakpoint (screens/desk.py)
NARROW_LINES = 5  # below the title line
WIDE_LINES = 10  # inside the border: one line per step
LIST_WIDTH = 44
KEYS = (("]", "next"), ("[", "back"), ("d", "do it"), ("t", "hide"))


def _keys(compact: bool) -> Text:
    out = Text(end="")
    for key, what in (k for k in KEYS if k[0] != "[") if compact else KEYS:
        out.append(f" {key}", style="bold")
        out.append(f" {what} ", style="dim")
    return out


def _ellipsis(line: Text, width: int) -> None:
    """Mark a line that was cut: nothing vanishes without an ellipsis."""
    line.rstrip()
    if line.cell_len >= width:
        line.truncate(width - 1)
    line.append("…", style=line.style)


class TourPanel(Widget):
    SCOPED_CSS = False  # the rules follow the desk's -narrow / -wide classes
    DEFAULT_CSS = """
    TourPanel {
        height: 6;
        padding: 0 1;
        background: $boost;
    }
    DeskScreen.-wide TourPanel {
        height: 12;
        background: $surface;
        border: round $secondary;
        border-title-color: $foreground;
        border-title-style: bold;
        border-subtitle-color: $foreground-muted;
    }
    TourPanel.-hidden { display: none; }
    /* notifications rise above the panel instead of covering what the step is saying */
    DeskScreen.-tour ToastRack { margin-bottom: 7; }
    DeskScreen.-wide.-tour ToastRack { margin-bottom: 13; }
    """

    def __init__(self, tour, **kwargs) -> None:
        super().__init__(**kwargs)
        self.tour = tour

    def on_mount(self) -> None:
        self.update_view()

    def on_resize(self) -> None:
        self.update_view()

    @property
    def wide(self) -> bool:
        return self.app.size.width >= WIDE_AT

    def update_view(self) -> None:
        self.set_class(self.tour.hidden, "-hidden")
        self.screen.set_class(not self.tour.hidden, "-tour")
        if self.wide:
            done, total = self.tour.progress()
            self.border_title = f"Guided tour · step {self.tour.index} of {len(self.tour.steps) - 1} · " \
                                f"{done} of {total} done"
            self.border_subtitle = "  ".join(f"{k} {w}" for k, w in KEYS)
        self.refresh(layout=True)

    # --- what the step says ----------------------------------------------------------------------

    def typing(self) -> bool:
        """Focus in a text field: ] d t would be typed there, so the panel says esc first."""
        from textual.widgets import Input

        return isinstance(self.app.focused, Input)

    def _acting(self) -> str:
        return getattr(self.app, "username", "")

    def todo(self) -> Text:
        step, tour = self.tour.step, self.tour
        tampering = tour.facts.tampering
        if step.key == "done" and tampering is not None:
            line = Text("▶ ", style="bold yellow", end="")
            line.append(f"d undoes the tampering: entry {tampering.seq} back as it was, and verified again.",
                        style="bold")
            return line
        if tour.done():
            if step.key in ("welcome", "done"):
                return Text(step.todo, style="bold")
            line = Text("✔ Done", style="bold green", end="")
            line.append(": esc, then ] for the next step." if self.typing() else ": ] for the next step.",
                        style="green")
            return line
        line = Text("▶ ", style="bold yellow", end="")
        if step.acting and self._acting() != step.acting:
            line.append("u → ", style="bold")
            line.append(step.acting, style="bold cyan")
            line.append(", then ", style="bold")
            line.append(step.todo[0].lower() + step.todo[1:], style="bold")
        else:
            line.append(step.todo, style="bold")
        return line

    def outcome(self) -> list[Text]:
        """What happened, once the step's fact has been observed (or the autopilot spoke)."""
        tour, f = self.tour, self.tour.facts
        key, lines = tour.step.key, []
        if tour.note:
            # the autopilot's word: what it did once the step is done (a success, so green), or,
            # before that, what is still yours to do or why it could not (yellow: look here)
            lines.append(Text(clean(tour.note), style="green" if tour.done() else "yellow"))
        if not tour.done() or key in ("welcome", "done"):
            if key == "done" and f.restored and not tour.note:
                lines.append(Text("The tampered entry was restored; the chain verifies again.", style="green"))
            return lines
        if key == "approve":
            lines.append(Text("It left your Awaiting me and waits for the Director: 4 (Decided by me) shows its "
                              "chain, ✔ Manager ▶ Director ○ Executive.", style="green"))
        elif key == "sod":
            refusal = next(r for r in reversed(f.refusals) if "segregation of duties" in r)
            lines.append(Text(f"Refused: “{clean(refusal, single_line=True)}”", style="yellow"))
        elif key == "tamper":
            # the step succeeds by catching the forgery: the tick in front of this line goes with
            # "Caught", in green; the chain's own verdict stays red
            caught = Text("Caught by the chain check: ", style="bold green", end="")
            caught.append(clean(f.chain.summary(), single_line=True), style="bold red")
            lines.append(caught)
            seq = tour.cast.tamper_seq
            lines.append(Text(f"The audit timeline marks entry {seq} UNVERIFIED (its record now reads LOW); the "
                              f"request itself still says HIGH: only the record was forged.", style="yellow"))
        elif key == "export" and f.export is not None:
            e = f.export
            lines.append(Text(f"Wrote {short_path(e.path)} ({e.size // 1024:,} KB, {e.entries:,} entries).",
                              style="bold"))
            banner = e.banner + (f" · checkpoint signed, key {e.fingerprint}" if e.fingerprint else "")
            lines.append(Text(clean(banner, single_line=True), style="bold red" if not e.ok else "green"))
            lines.append(Text("Inside: " + ", ".join(e.sections), style="dim"))
            lines.append(Text("K keeps a copy where you choose; the demo deletes this one when you quit.",
                              style="italic"))
        return lines

    # --- layout ----------------------------------------------------------------------------------

    def render(self) -> Text | Table:
        width = max(20, self.content_region.width or self.size.width or 80)
        return self._wide(width) if self.wide else self._narrow(width)

    def _wrap(self, text: Text, width: int, limit: int | None = None) -> list[Text]:
        lines = list(text.wrap(self.app.console, width))
        if limit is not None and len(lines) > limit:
            lines = lines[:limit]
            _ellipsis(lines[-1], width)
        for line in lines:
            line.end = ""
        return lines

    def _narrow(self, width: int) -> Text:
        tour, step = self.tour, self.tour.step
        head = Text(end="")
        head.append(f" TOUR {tour.index}/{len(tour.steps) - 1} ", style="bold reverse")
        keys = _keys(compact=width < 90)
        room = width - head.cell_len - keys.cell_len - 2
        title = Text(" " + step.title, style="bold", no_wrap=True, end="")
        if title.cell_len > room:
            title.truncate(max(1, room - 1))
            title.append("…", style="bold")
        head.append_text(title)
        head.append(" " * max(1, width - head.cell_len - keys.cell_len))
        head.append_text(keys)
        outcome, done = self.outcome(), tour.done()
        if done and outcome and step.key not in ("welcome", "done"):
            # what happened says it was done; "] next" is on the title line
            first = Text("✔ ", style="bold green", end="")
            first.append_text(outcome[0])
            after = [first, *outcome[1:]]
        elif tour.note and not done:
            after = outcome  # the autopilot's note says what is left to do
        else:
            after = [self.todo(), *outcome]
        tail: list[Text] = []
        for t in after:
            tail += self._wrap(t, width, 2)
        if len(tail) > NARROW_LINES - 1:
            tail = tail[: NARROW_LINES - 1]
            _ellipsis(tail[-1], width)
        body = self._wrap(Text(step.body), width, max(1, NARROW_LINES - len(tail)))
        return Text("\n", end="").join([head, *body, *tail])

    def _wide(self, width: int) -> Table:
        """Two columns: every step with its tick, then the current step in full."""
        tour = self.tour
        steps: list[Text] = []
        for i, step in enumerate(tour.steps):
            current = i == tour.index
            ticked = {"welcome": i < tour.index, "done": False}.get(step.key, tour.done(step.key))
            mark, style = ("▶", "bold reverse") if current else (("✔", "green") if ticked else ("○", "dim"))
            line = Text(f"{mark} {i}  ", style=style, end="")
            line.append(step.title, style="bold reverse" if current else "")
            steps += self._wrap(line, LIST_WIDTH, 1)
        right = width - LIST_WIDTH - 3
        step, out = tour.step, []
        outcome, done = self.outcome(), tour.done()
        reported = done and outcome and step.key not in ("welcome", "done")
        out += self._wrap(Text(step.title, style="bold"), right, 1)
        out += self._wrap(Text(step.body), right, 3)
        if step.more and not reported:  # once done, what happened takes the second paragraph's place
            out += self._wrap(Text(step.more, style="dim"), right, 2)
        if reported:
            first = Text("✔ ", style="bold green", end="")
            first.append_text(outcome[0])
            after = [first, *outcome[1:]]
        else:
            after = [self.todo()]
            if not done and step.autopilot and not tour.note:
                hint = Text("d ", style="bold", end="")
                hint.append(step.autopilot, style="dim")
                after.append(hint)
            after += outcome
        tail: list[Text] = []
        for line in after:
            tail += self._wrap(line, right, 2)
        room = WIDE_LINES - len(out) - 1
        if len(tail) > room:  # what happened matters more than the second paragraph
            out = out[: max(1, WIDE_LINES - 1 - len(tail))]
            _ellipsis(out[-1], right)
            room = WIDE_LINES - len(out) - 1
        if len(tail) > room:
            tail = tail[:room]
            _ellipsis(tail[-1], right)
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=LIST_WIDTH, no_wrap=True)
        grid.add_column(width=1, style="dim")
        grid.add_column(width=right)
        text = Text("\n", end="").join([*out, Text(""), *tail])
        grid.add_row(Text("\n", end="").join(steps), Text("│\n" * (WIDE_LINES - 1) + "│", style="dim"), text)
        return grid
