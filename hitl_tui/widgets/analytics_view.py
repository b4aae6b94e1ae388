"""The desk's view 5: the analytics figures (core/analytics.py) as sparklines and bar rows.

It computes nothing itself: a worker asks core for the Figures over what this person may see,
and each card draws one group of them. Cards stack in one column on a narrow terminal and sit
two by two from 140 columns; the whole view scrolls (j/k, arrows, the mouse).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Sparkline, Static
from textual.worker import Worker, get_current_worker

from ..core.analytics import DECISIONS, RISKS, Figures, duration_text, role_label
from ..core.models import RiskLevel
from ..messages import forward_failure
from ..render.text import RISK_STYLES, clean

WIDE_AT = 140  # the desk's own breakpoint (screens/desk.py)

if TYPE_CHECKING:
    from ..core.service import WorkflowService

_EIGHTHS = " ▏▎▍▌▋▊▉"
_RATE_STYLES = {"approve": "#6cc46c", "reject": "#ff6b6b", "request_changes": "#e0b84c"}
_RATE_WORDS = {"approve": "approved", "reject": "rejected", "request_changes": "changes"}
_RISK_COLOURS = {level.value: RISK_STYLES[level].split(" on ")[-1] for level in RiskLevel}
#: the width of a bar row's label: (narrow, wide); a wide desk has room for whole type names
LABELS = (13, 24)


def _label(text: str, lw: int) -> str:
    return clean(text, single_line=True)[:lw - 1].ljust(lw)


def bar(value: float, top: float, width: int) -> str:
    """A horizontal bar of `value` against `top`, `width` cells at most, in eighths of a cell."""
    if top <= 0 or value <= 0 or width <= 0:
        return ""
    eighths = max(1, round(8 * width * min(value, top) / top))
    return "█" * (eighths // 8) + (_EIGHTHS[eighths % 8] if eighths % 8 else "")


def cells(value: float, top: float, width: int) -> int:
    """Whole cells for one part of a stacked bar (a part that is there is never 0 wide)."""
    if top <= 0 or value <= 0:
        return 0
    return max(1, round(width * value / top))


def _row(label: str, value: float, top: float, width: int, tail: str, style: str = "", *, lw: int) -> Text:
    line = Text(end="")
    line.append(_label(label, lw), style="dim")
    drawn = bar(value, top, width)
    line.append(drawn, style=style or "bold #5fafd7")
    line.append(" " * (width - len(drawn) + 1))
    line.append(tail)
    return line


class AnalyticsView(VerticalScroll, can_focus=True):
    # two columns of cards on a wide desk (-wide), one below the other on a narrow one. Not a
    # Grid: its rows kept the height they had before the figures arrived, cutting off last lines
    DEFAULT_CSS = """
    AnalyticsView { height: 1fr; border: round $accent; padding: 0 1; scrollbar-size-vertical: 1; }
    AnalyticsView #an-cols { layout: vertical; height: auto; }
    AnalyticsView.-wide #an-cols { layout: horizontal; }
    AnalyticsView .an-col { height: auto; }
    AnalyticsView.-wide .an-col { width: 1fr; }
    AnalyticsView.-wide #an-left { margin-right: 2; }
    AnalyticsView .an-card { height: auto; margin-bottom: 1; }
    AnalyticsView .an-title { text-style: bold; color: $text-accent; }
    AnalyticsView Sparkline { height: 2; margin-right: 1; }
    AnalyticsView #an-note { color: $text-muted; margin-bottom: 1; }
    """
    BINDINGS = [Binding("j", "scroll_down", show=False), Binding("k", "scroll_up", show=False),
                Binding("g", "scroll_home", show=False), Binding("G", "scroll_end", show=False)]

    def __init__(self, service: "WorkflowService", username: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.service, self.username = service, username
        self.figures: Figures | None = None

    def compose(self) -> ComposeResult:
        yield Static("Counting…", id="an-note")
        with Horizontal(id="an-cols"):
            with Vertical(id="an-left", classes="an-col"):
                with Vertical(classes="an-card"):
                    yield Static("Decisions per day", classes="an-title")
                    yield Sparkline([], id="an-days")
                    yield Static(id="an-rates")
                with Vertical(classes="an-card"):
                    yield Static("Time to decision (median · p90)", classes="an-title")
                    yield Static(id="an-times")
                with Vertical(classes="an-card"):
                    yield Static("Stages: median wait · waiting now", classes="an-title")
                    yield Static(id="an-stages")
            with Vertical(id="an-right", classes="an-col"):
                with Vertical(classes="an-card"):
                    yield Static("Risk by week (filed)", classes="an-title")
                    yield Sparkline([], id="an-weeks")
                    yield Static(id="an-risk")
                with Vertical(classes="an-card"):
                    yield Static("SLA breaches (due dates)", classes="an-title")
                    yield Static(id="an-sla")
                with Vertical(classes="an-card"):
                    yield Static("Workload: decided · waiting", classes="an-title")
                    yield Static(id="an-load")

    def on_mount(self) -> None:
        self.load()  # once its cards exist: the figures are drawn into them

    def load(self) -> None:
        """Ask core for the figures again (the view was opened, or the data changed)."""
        self._load()

    @work(thread=True, exclusive=True, group="analytics", exit_on_error=False, description="analytics")
    def _load(self) -> None:
        from ..remote import desk_client  # the engine's call, or the service's in team mode

        fig = desk_client.figures(self.service, self.username)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show, fig)

    def _note(self, text: str) -> None:
        self.query_one("#an-note", Static).update(text)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        forward_failure(self, event)

    def on_resize(self) -> None:
        if self.figures is not None:
            self.show(self.figures)

    # --- drawing ---------------------------------------------------------------------------------

    def _bar_width(self, wide: bool, lw: int) -> int:
        card = (self.size.width or 80) // (2 if wide else 1) - 4
        return max(4, min(40, card - lw - 22))

    def show(self, fig: Figures) -> None:
        self.figures = fig
        whose = "every request" if fig.sees_everything else "the requests you may see"
        self.border_title = f"Analytics · last {(fig.now - fig.since).days or 1} days"
        self.border_subtitle = "j/k scroll · 1-4 inbox · hitl-tui stats"
        self._note(f"Over {whose}: {fig.filed} filed, {fig.decided} stage decisions, "
                   f"{fig.time_to_decision.count} closed.")
        wide = self.screen.size.width >= WIDE_AT
        self.set_class(wide, "-wide")  # two columns of cards
        lw = LABELS[wide]
        width = self._bar_width(wide, lw)
        self.query_one("#an-days", Sparkline).data = fig.decisions_by_day
        self.query_one("#an-rates", Static).update(self._rates(fig, width, lw))
        self.query_one("#an-times", Static).update(self._times(fig, width, lw))
        self.query_one("#an-stages", Static).update(self._stages(fig, width, lw))
        self.query_one("#an-weeks", Sparkline).data = [sum(c.values()) for _, c in fig.risk_by_week]
        self.query_one("#an-risk", Static).update(self._risk(fig, width, lw))
        self.query_one("#an-sla", Static).update(self._sla(fig, width, lw))
        self.query_one("#an-load", Static).update(self._load_rows(fig, width, lw))

    @staticmethod
    def _rates(fig: Figures, width: int, lw: int) -> Text:
        out = Text(end="")
        if not fig.decided:
            return Text("No decisions in the period.", style="dim")
        for i, d in enumerate(DECISIONS):
            share = fig.rate(d) or 0.0
            if i:
                out.append("\n")
            out.append_text(_row(_RATE_WORDS[d], share, 1.0, width, f"{100 * share:3.0f}% ({fig.decisions[d]})",
                                 _RATE_STYLES[d], lw=lw))
        return out

    @staticmethod
    def _times(fig: Figures, width: int, lw: int) -> Text:
        spreads = [(level, s) for level, s in fig.decision_time_by_risk.items()]
        spreads += [(name.replace("_", " "), s) for name, s in sorted(fig.decision_time_by_type.items())]
        if not spreads:
            return Text("Nothing was approved or rejected in the period.", style="dim")
        top = max((s.p90 or 0.0) for _, s in spreads)
        out = Text(end="")
        for i, (name, s) in enumerate(spreads):
            if i:
                out.append("\n")
            style = f"bold {_RISK_COLOURS[name]}" if name in _RISK_COLOURS else ""
            out.append_text(_row(name, s.median or 0.0, top, width,
                                 f"{duration_text(s.median)} · {duration_text(s.p90)} ({s.count})", style, lw=lw))
        return out

    @staticmethod
    def _stages(fig: Figures, width: int, lw: int) -> Text:
        roles = sorted(set(fig.stage_wait) | set(fig.waiting_now))
        if not roles:
            return Text("No stage waited in the period.", style="dim")
        top = max((s.median or 0.0) for s in fig.stage_wait.values()) if fig.stage_wait else 0.0
        out = Text(end="")
        slow, busy = fig.slowest_stage, fig.busiest_stage
        for role in roles:
            s = fig.stage_wait.get(role)
            out.append_text(_row(role_label(role), (s.median or 0.0) if s else 0.0, top, width,
                                 f"{duration_text(s.median if s else None)} · {fig.waiting_now[role]} now", lw=lw))
            out.append("\n")
        out.append("Bottleneck: ", style="bold")
        said = [f"slowest {role_label(slow[0])}" if slow else "", f"most waiting {role_label(busy[0])}" if busy else ""]
        out.append(", ".join(x for x in said if x) or "none")
        return out

    @staticmethod
    def _risk(fig: Figures, width: int, lw: int) -> Text:
        top = max((sum(c.values()) for _, c in fig.risk_by_week), default=0)
        out = Text(end="")
        for i, (week, counts) in enumerate(fig.risk_by_week):
            if i:
                out.append("\n")
            out.append(f"{week:%d %b}".ljust(lw), style="dim")
            drawn = 0
            for level in RISKS:  # one stacked bar, LOW to CRITICAL
                part = "█" * cells(counts[level], top, width)
                out.append(part, style=f"bold {_RISK_COLOURS[level]}")
                drawn += len(part)
            out.append(" " * (width - drawn + 1))
            out.append(" ".join(f"{counts[level]}" for level in RISKS) if counts else "0")
        out.append("\n")
        for level in RISKS:
            out.append("■ ", style=f"bold {_RISK_COLOURS[level]}")
            out.append(f"{level.title()}  ", style="dim")
        return out

    @staticmethod
    def _sla(fig: Figures, width: int, lw: int) -> Text:
        out = Text(f"{fig.breaches} breaches: {fig.overdue_now} overdue now, {fig.closed_late} closed late",
                   style="bold #ff6b6b" if fig.breaches else "", end="")
        top = max(fig.breaches_by_type.values(), default=0)
        for name, count in sorted(fig.breaches_by_type.items()):
            out.append("\n")
            out.append_text(_row(name.replace("_", " "), count, top, width, str(count), "bold #ff6b6b", lw=lw))
        return out

    @staticmethod
    def _load_rows(fig: Figures, width: int, lw: int) -> Text:
        if not fig.workload:
            return Text("Nobody decided anything and nothing waits.", style="dim")
        top = max(w.decisions + w.waiting for w in fig.workload)
        out = Text(end="")
        for i, w in enumerate(fig.workload[:12]):
            if i:
                out.append("\n")
            out.append(_label(w.username, lw), style="dim")
            done, waiting = "█" * cells(w.decisions, top, width), "█" * cells(w.waiting, top, width)
            out.append(done, style="bold #6cc46c")
            out.append(waiting, style="bold #e0b84c")
            out.append(" " * max(1, width - len(done) - len(waiting) + 1))
            out.append(f"{w.decisions} · {w.waiting}")
        if len(fig.workload) > 12:
            out.append(f"\n…and {len(fig.workload) - 12} more (hitl-tui stats lists all)", style="dim")
        return out
