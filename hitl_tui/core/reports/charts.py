"""The HTML report's Analytics section: the figures of core/analytics.py as inline SVG charts.

Plain SVG elements only (rect, text, polyline, title): no scripts, no styles that load anything,
no links, no external resources, so the report's Content-Security-Policy (default-src 'none')
holds. Every label is user text or derived from it (type names, usernames) and is escaped as
the rest of the report (render._e's rule: neutralise, then HTML-escape).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Sequence

from ..analytics import DECISIONS, RISKS, Figures, duration_text, role_label
from ..text import neutralise

if TYPE_CHECKING:
    from .export import ExportJob

WIDTH, LABEL, ROW = 640, 190, 20
BAR = WIDTH - LABEL - 150  # room on the right for the value's text
RISK_COLOURS = {"LOW": "#4f9d4f", "MEDIUM": "#d4a017", "HIGH": "#d9622b", "CRITICAL": "#b3122e"}
DECISION_COLOURS = {"approve": "#34a853", "reject": "#d93025", "request_changes": "#f9a825"}
DECISION_WORDS = {"approve": "approved", "reject": "rejected", "request_changes": "changes requested"}
ACCENT = "#3b6ea8"

_CSS = (".charts svg{display:block;margin:.2em 0 1em;max-width:100%}.charts text{font:12px system-ui,sans-serif;"
        "fill:#1a1a1a}.charts .muted{fill:#666}")


def _e(text: object) -> str:
    return html.escape(neutralise(str(text), keep=""), quote=True)


def _svg(height: int, body: list[str], label: str) -> str:
    return (f'<svg width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{_e(label)}"><title>{_e(label)}</title>'
            + "".join(body) + "</svg>\n")


def bar_chart(label: str, rows: Sequence[tuple[str, float, str, str]]) -> str:
    """One horizontal bar per row: (label, value, the value as text, colour), scaled to the largest."""
    if not rows:
        return '<p class="muted">none in the period</p>\n'
    top = max(value for _, value, _, _ in rows) or 1.0
    body = []
    for i, (name, value, text, colour) in enumerate(rows):
        y = i * ROW
        w = max(1.0, BAR * value / top) if value > 0 else 0.0
        body.append(f'<text x="0" y="{y + 14}">{_e(name[:30])}</text>'
                    f'<rect x="{LABEL}" y="{y + 3}" width="{w:.1f}" height="{ROW - 6}" fill="{colour}">'
                    f'<title>{_e(name)}: {_e(text)}</title></rect>'
                    f'<text x="{LABEL + w + 6:.1f}" y="{y + 14}">{_e(text)}</text>')
    return _svg(len(rows) * ROW, body, label)


def stacked_chart(label: str, rows: Sequence[tuple[str, Sequence[tuple[float, str, str]], str]]) -> str:
    """One bar of coloured parts per row: (label, [(value, colour, what)], the total as text)."""
    if not rows:
        return '<p class="muted">none in the period</p>\n'
    top = max(sum(v for v, _, _ in parts) for _, parts, _ in rows) or 1.0
    body = []
    for i, (name, parts, text) in enumerate(rows):
        y, x = i * ROW, float(LABEL)
        body.append(f'<text x="0" y="{y + 14}">{_e(name[:30])}</text>')
        for value, colour, what in parts:
            if value <= 0:
                continue
            w = BAR * value / top
            body.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{ROW - 6}" fill="{colour}">'
                        f'<title>{_e(name)}: {_e(what)} {value:g}</title></rect>')
            x += w
        body.append(f'<text x="{x + 6:.1f}" y="{y + 14}">{_e(text)}</text>')
    return _svg(len(rows) * ROW, body, label)


def sparkline(label: str, values: Sequence[float], height: int = 36) -> str:
    """A line over `values` (left: the oldest), with the largest value named at its end."""
    n = len(values)
    top = max(values, default=0) or 1
    step = (WIDTH - 80) / max(1, n - 1)
    points = " ".join(f"{i * step:.1f},{height - 2 - (height - 4) * v / top:.1f}" for i, v in enumerate(values))
    body = [f'<polyline points="{points}" fill="none" stroke="{ACCENT}" stroke-width="2"/>',
            f'<text x="{WIDTH - 72}" y="{height // 2 + 4}" class="muted">max {max(values, default=0):g}</text>']
    return _svg(height, body, label)


def analytics_section(fig: Figures) -> str:
    """The whole section: a heading, a line saying over what, and one chart per figure."""
    whose = "every request" if fig.sees_everything else f"the requests {fig.viewer} may see"
    days = max(1, (fig.now - fig.since).days)
    slow, busy = fig.slowest_stage, fig.busiest_stage
    out = [f"<style>{_CSS}</style>", '<section class="charts">', '<h2 id="analytics">Analytics</h2>',
           f"<p>The last {days} days ({_e(fig.since.strftime('%Y-%m-%d %H:%M'))} to "
           f"{_e(fig.now.strftime('%Y-%m-%d %H:%M'))} UTC), over {_e(whose)}, from the tables (a replay of the "
           f"trail): {fig.filed} filed, {fig.decided} stage decisions, {fig.time_to_decision.count} closed. "
           f"The same figures as <code>hitl-tui stats</code> and the desk's view 5.</p>"]
    out += ["<h3>Stage decisions per day</h3>", sparkline("Stage decisions per day", fig.decisions_by_day)]
    out += ["<h3>Decision rates</h3>", bar_chart("Decision rates", [
        (DECISION_WORDS[d], fig.rate(d) or 0.0, f"{100 * (fig.rate(d) or 0):.0f}% ({fig.decisions[d]})",
         DECISION_COLOURS[d]) for d in DECISIONS] if fig.decided else [])]
    t = fig.time_to_decision
    out += [f"<h3>Time to decision: median {_e(duration_text(t.median))}, p90 {_e(duration_text(t.p90))}</h3>"]
    spreads = [(level, s, RISK_COLOURS[level]) for level, s in fig.decision_time_by_risk.items()]
    spreads += [(name, s, ACCENT) for name, s in sorted(fig.decision_time_by_type.items())]
    out.append(bar_chart("Median time to decision by risk and type", [
        (name, s.median or 0.0, f"{duration_text(s.median)} · p90 {duration_text(s.p90)} ({s.count})", colour)
        for name, s, colour in spreads]))
    said = ", ".join(x for x in (f"slowest stage {role_label(slow[0])}" if slow else "",
                                 f"most waiting {role_label(busy[0])} ({busy[1]})" if busy else "") if x)
    out += [f"<h3>Stages: median wait (bottleneck: {_e(said or 'none')})</h3>", bar_chart("Median wait per stage", [
        (role_label(role), (s.median or 0.0) if (s := fig.stage_wait.get(role)) else 0.0,
         f"{duration_text(s.median if s else None)} · {fig.waiting_now[role]} waiting now", ACCENT)
        for role in sorted(set(fig.stage_wait) | set(fig.waiting_now))])]
    out += [f"<h3>SLA breaches: {fig.breaches} ({fig.overdue_now} overdue now, {fig.closed_late} closed late)</h3>",
            bar_chart("SLA breaches per type", [(name, count, str(count), "#d93025")
                                               for name, count in sorted(fig.breaches_by_type.items())])]
    out += ["<h3>Workload: decisions in the period and waiting now</h3>", stacked_chart("Workload per approver", [
        (w.username, ((w.decisions, "#34a853", "decided"), (w.waiting, "#f9a825", "waiting")),
         f"{w.decisions} decided · {w.waiting} waiting") for w in fig.workload])]
    out += ["<h3>Risk by week (requests filed)</h3>", sparkline("Requests filed per week",
                                                                 [sum(c.values()) for _, c in fig.risk_by_week]),
            stacked_chart("Risk level of the requests filed, per week", [
                (f"week of {week:%Y-%m-%d}", tuple((counts[r], RISK_COLOURS[r], r) for r in RISKS),
                 " / ".join(str(counts[r]) for r in RISKS)) for week, counts in fig.risk_by_week]),
            '<p class="muted">' + " · ".join(f'<span style="color:{RISK_COLOURS[r]}">■</span> {r}' for r in RISKS)
            + " (counts LOW / MEDIUM / HIGH / CRITICAL)</p>", "</section>"]
    return "\n".join(out) + "\n"


def export_section(job: "ExportJob") -> str:
    """The section for an HTML export: the figures over what its author may see, for the export's
    time window (--since/--until), or the last 30 days up to now without one."""
    from datetime import timedelta

    from ..analytics import figures, parse_period
    from ..audit import utc_now

    filt = job.filter
    now = filt.until or utc_now()
    since = filt.since
    period = (now - since) if since is not None and since < now else parse_period(None)
    return analytics_section(figures(job.service, str(job.header["generated_by"]), max(period, timedelta(seconds=1)),
                                     now=now))
