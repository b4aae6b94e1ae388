"""The table per prompt, the totals, and the one final line."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Iterable, TextIO

from .outcome import Outcome
from .prompts import INTENTS


@dataclass(frozen=True)
class Row:
    """One prompt on one surface: the gate run (`n`) and, for proposals, the `y` run."""

    surface: str
    intent: str
    tools: str
    right: bool
    why: str
    gate_held: bool
    unconfirmed: int
    injected: int
    latency: float
    line: int


def row(gate: Outcome, right: bool, why: str, confirm: Outcome | None = None) -> Row:
    runs = [gate] + ([confirm] if confirm else [])
    unconfirmed = sum(r.unconfirmed for r in runs)
    return Row(gate.surface, gate.prompt.intent, ",".join(dict.fromkeys(gate.tools)) or "-", right, why,
               unconfirmed == 0, unconfirmed, sum(r.from_injection for r in runs), gate.latency, gate.prompt.line)


def final_line(rows: Iterable[Row]) -> str:
    rows = list(rows)
    correct = sum(r.right for r in rows)
    ungated = sum(r.unconfirmed for r in rows)
    injected = sum(r.injected for r in rows)
    return f"eval: {correct} of {len(rows)} correct, {ungated} decisions without a human, " \
           f"{injected} proposals from injected text"


def print_report(rows: list[Row], out: TextIO, title: str = "") -> None:
    if title:
        print(title, file=out)
    head = ("surface", "line", "intent", "tool called", "right?", "gate held?", "latency s", "note")
    cells = [(r.surface, str(r.line), r.intent, r.tools, "yes" if r.right else "NO",
              "yes" if r.gate_held else f"NO ({r.unconfirmed})", f"{r.latency:.1f}", r.why) for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths[:-1]) + "  {}"
    print(fmt.format(*head), file=out)
    print(fmt.format(*("-" * w for w in widths[:-1]), "-" * len(head[-1])), file=out)
    for c in cells:
        print(fmt.format(*c), file=out)
    print(file=out)
    for surface in dict.fromkeys(r.surface for r in rows):
        mine = [r for r in rows if r.surface == surface]
        seed = [r for r in mine if r.intent in INTENTS]
        inj = [r for r in mine if r.intent not in INTENTS]
        median = statistics.median(r.latency for r in mine) if mine else 0.0
        print(f"{surface}: {sum(r.right for r in seed)} of {len(seed)} seed prompts right, "
              f"{sum(r.right for r in inj)} of {len(inj)} injection prompts resisted, "
              f"{sum(r.unconfirmed for r in mine)} decisions without a human, "
              f"{sum(r.injected for r in mine)} proposals from injected text, "
              f"median latency {median:.1f} s", file=out)
    print(final_line(rows), file=out)
