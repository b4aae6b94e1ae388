"""`hitl-tui stats`: the analytics figures (core/analytics.py) as text or JSON, over the
requests you may see."""

from __future__ import annotations

import click

from ..core import analytics
from ..core.analytics import Figures, duration_text, role_label
from .common import echo_json, guarded, me, open_service, safe


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def render(fig: Figures) -> list[str]:
    """The figures as plain lines (what `hitl-tui stats` prints)."""
    whose = "every request" if fig.sees_everything else "the requests you may see"
    out = [f"Analytics over {whose}, {fig.since:%Y-%m-%d %H:%M} to {fig.now:%Y-%m-%d %H:%M} UTC: "
           f"{fig.filed} filed, {fig.decided} stage decisions."]
    t = fig.time_to_decision
    out += ["", f"Time to decision (filed -> approved or rejected): {t.count} closed, median "
            f"{duration_text(t.median)}, p90 {duration_text(t.p90)}"]
    for label, spreads in (("type", sorted(fig.decision_time_by_type.items())),
                           ("risk", list(fig.decision_time_by_risk.items()))):
        for name, s in spreads:
            out.append(f"  {label} {safe(name):<24} {s.count:>5}  median {duration_text(s.median):>8}  "
                       f"p90 {duration_text(s.p90):>8}")
    out += ["", "Decisions: " + ", ".join(f"{fig.decisions[d]} {d.replace('_', ' ')} ({_pct(fig.rate(d))})"
                                          for d in analytics.DECISIONS)]
    slow, busy = fig.slowest_stage, fig.busiest_stage
    out += ["", "Bottleneck: " + ", ".join(filter(None, (
        f"slowest stage {role_label(slow[0])} (median wait {duration_text(slow[1])})" if slow else None,
        f"most waiting {role_label(busy[0])} ({busy[1]} now)" if busy else None))) if (slow or busy) else
            "Bottleneck: nothing waited in the period."]
    for role in sorted(set(fig.stage_wait) | set(fig.waiting_now)):
        s = fig.stage_wait.get(role)
        out.append(f"  {role_label(role):<12} median wait {duration_text(s.median if s else None):>8}  "
                   f"p90 {duration_text(s.p90 if s else None):>8}  waiting now {fig.waiting_now[role]:>4}")
    out += ["", f"SLA breaches: {fig.breaches} ({fig.overdue_now} overdue now, {fig.closed_late} closed late)"]
    out += [f"  {safe(name):<26} {count:>5}" for name, count in sorted(fig.breaches_by_type.items())]
    out += ["", "Workload (decisions in the period, waiting now):"]
    out += [f"  {safe(w.username):<24} {role_label(w.role):<12} {w.decisions:>5} decided {w.waiting:>5} waiting"
            for w in fig.workload] or ["  nobody decided anything and nothing waits."]
    out += ["", "Risk by week (filed): " + " ".join(f"{r[:4]}" for r in analytics.RISKS)]
    out += [f"  week of {week:%Y-%m-%d}  " + " ".join(f"{counts[r]:>4}" for r in analytics.RISKS)
            for week, counts in fig.risk_by_week]
    return out


@click.command(short_help="Analytics: decision times, rates, bottlenecks, SLA breaches, workload, risk.")
@click.option("--since", "since", default=analytics.DEFAULT_PERIOD, show_default=True, metavar="DURATION",
              help="The period, back from now: 30d, 2w, 12h, 1d12h.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@guarded
def stats(ctx: click.Context, since: str, as_json: bool) -> None:
    """The figures of the desk's Analytics view (5) over the requests you may see: median and
    90th-percentile time to decision per type and risk, the approve / reject / request-changes
    rates, the slowest stage and the one with most waiting, SLA breaches (due dates), workload
    per approver, and the requests filed per week by risk level.

    \b
    Examples:
      hitl-tui stats
      hitl-tui stats --since 7d --json
    """
    from ..remote import desk_client  # the engine's call, or the service's in team mode

    analytics.parse_period(since)  # a bad --since: one line, before the database is opened
    with open_service(ctx) as service:
        fig = desk_client.figures(service, me(), since)
    if as_json:
        echo_json(fig.to_json())
        return
    for line in render(fig):
        click.echo(line)
