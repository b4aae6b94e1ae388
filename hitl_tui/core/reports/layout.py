"""The report's content as plain blocks (headings, paragraphs, tables), shared by the HTML and
Markdown renderers so both say exactly the same thing. Every cell is plain text: escaping is
the renderer's job, and each renderer escapes everything it did not write itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from ..decisions import REQUEST_ACTIONS
from .report import Report
from .stats import RISKS, approval_rate, duration


@dataclass(frozen=True)
class Block:
    kind: str  # banner | h1 | h2 | h3 | p | table | note
    text: str = ""
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    ok: bool = True
    anchor: str = ""


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _table(columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> Block:
    return Block("table", columns=columns, rows=tuple(tuple("" if c is None else str(c) for c in r) for r in rows))


def blocks(report: Report) -> Iterator[Block]:
    h, s, t = report.header, report.stats, report.trailer
    intact = h["chain_status"] == "intact"
    yield Block("banner", h["banner"], ok=intact)
    yield Block("h1", "Audit report")
    yield Block("p", f"Generated {h['generated_at']} by {h['generated_by']} from database {h['database_id']} "
                     f"({h['database_path']}). Filters: {_filters(h)}. Policy: {h['policy_source']}.")
    yield Block("h2", "Summary", anchor="summary")
    totals = s.totals()
    yield _table(("Figure", "Value"), [
        ("Audit entries in this export", f"{t['entries_exported']:,}"),
        ("Entries in the audit log (signed)", f"{h['stop_seq']:,}" if h["stop_seq"] else "not signed (chain broken)"),
        ("Period", f"{s.first_ts or '-'} to {s.last_ts or '-'}"),
        ("Requests touched", f"{s.requests:,}"),
        ("Approved / rejected / withdrawn", f"{totals['approved']:,} / {totals['rejected']:,} / {totals['withdrawn']:,}"),
        ("Still open (awaiting approval / changes requested)",
         f"{totals['awaiting_approval']:,} / {totals['changes_requested']:,}"),
        ("Approval rate (approved / decided)", _pct(approval_rate(totals))),
        ("People and accounts acting", f"{len(s.actors):,}"),
        ("Segregation-of-duties flags", f"{s.flag_count:,}"),
        ("Unreadable entries", f"{s.unreadable:,}"),
    ])
    yield from _approvals(report)
    yield from _risk(report)
    yield from _times(report)
    yield from _activity(report)
    yield from _flags(report)
    yield from _timelines(report)
    yield from _integrity(report)


def _filters(h: dict[str, Any]) -> str:
    f = h["filters"]
    parts = [f"{k} {', '.join(v) if isinstance(v, list) else v}" for k, v in f.items() if v]
    return "; ".join(parts) if parts else "none (the whole audit log)"


def _approvals(report: Report) -> Iterator[Block]:
    s = report.stats
    yield Block("h2", "Outcomes and approval rates by workflow type", anchor="approvals")
    rows = []
    for wtype in sorted(s.outcomes):
        c, hist = s.outcomes[wtype], s.to_final.get(wtype)
        rows.append((wtype, sum(c.values()), c["approved"], c["rejected"], c["withdrawn"], c["changes_requested"],
                     c["awaiting_approval"], _pct(approval_rate(c)),
                     duration(hist.quantile(0.5)) if hist else "-", duration(hist.quantile(0.9)) if hist else "-"))
    yield _table(("Type", "Requests", "Approved", "Rejected", "Withdrawn", "Changes requested", "Awaiting",
                  "Approval rate", "Median to final decision", "90th pct to final"), rows)


def _risk(report: Report) -> Iterator[Block]:
    s = report.stats
    yield Block("h2", "Risk distribution", anchor="risk")
    levels = [r for r in RISKS] + sorted({k for c in s.risk.values() for k in c} - set(RISKS))
    rows = [(wtype, *(s.risk[wtype][lv] for lv in levels), sum(s.risk[wtype].values())) for wtype in sorted(s.risk)]
    total = s.risk_totals()
    rows.append(("All types", *(total[lv] for lv in levels), sum(total.values())))
    yield _table(("Type", *levels, "Total"), rows)


def _times(report: Report) -> Iterator[Block]:
    s = report.stats
    yield Block("h2", "Decision times", anchor="times")
    yield Block("p", "Time from a request's creation to each decision on it, by risk level; then how long each "
                     "stage waited for its decision, by the role it needed. Percentiles are accurate to about 2%.")
    rows = []
    for risk in [r for r in RISKS if r in s.decision_time] + sorted(set(s.decision_time) - set(RISKS)):
        hist = s.decision_time[risk]
        rows.append((risk, hist.count, duration(hist.quantile(0.5)), duration(hist.quantile(0.9)), duration(hist.max)))
    yield _table(("Risk", "Decisions", "Median", "90th percentile", "Longest"), rows)
    rows = [(role, h.count, duration(h.quantile(0.5)), duration(h.quantile(0.9)), duration(h.max))
            for role, h in sorted(s.stage_wait.items())]
    yield _table(("Stage role", "Decisions", "Median wait", "90th percentile", "Longest"), rows)


def _activity(report: Report) -> Iterator[Block]:
    s = report.stats
    yield Block("h2", "Activity by person", anchor="activity")
    cols = tuple(a.value for a in REQUEST_ACTIONS)
    rows = []
    for actor in sorted(s.actors):
        c = s.actors[actor]
        other = sum(c.values()) - sum(c[k] for k in cols)
        rows.append((actor, *(c[k] for k in cols), other))
    yield _table(("Actor", "Created", "Approved", "Rejected", "Changes requested", "Withdrawn", "Resubmitted",
                  "Expired", "Other (directory, keys)"), rows)


def _flags(report: Report) -> Iterator[Block]:
    s = report.stats
    yield Block("h2", "Segregation of duties and compliance flags", anchor="flags")
    yield Block("p", f"Segregation of duties, checked on every exported decision against the audit log itself: "
                     f"{s.flag_count:,} flag(s)" + (f" (the first {len(s.flags)} are listed)" if s.flag_count > len(s.flags) else "") + ".")
    if s.flags:
        yield _table(("Entry", "Request", "Code", "Finding"),
                     [(f["seq"], f["workflow_id"], f["code"], f["explanation"]) for f in s.flags])
    rank = {"high": 0, "medium": 1, "low": 2}
    shown = sorted(((tl.workflow_id, f) for tl in report.timelines for f in tl.compliance),
                   key=lambda x: rank.get(x[1]["severity"], 3))
    yield Block("p", f"Compliance checks (segregation of duties, justification, split purchases, unusual amounts, "
                     f"working hours) on the current state of the {len(report.timelines)} request(s) shown with "
                     f"timelines: {len(shown)} flag(s). {report.compliance_note}".strip())
    if shown:
        yield _table(("Request", "Severity", "Flag", "Finding"),
                     [(wid, f["severity"], f["title"], f["explanation"]) for wid, f in shown])


def _timelines(report: Report) -> Iterator[Block]:
    s = report.stats
    yield Block("h2", "Request timelines", anchor="timelines")
    limit = s.timeline_limit
    if s.requests > len(report.timelines):
        yield Block("note", f"Timelines are shown for the {len(report.timelines)} most recently active of the "
                            f"{s.requests:,} requests in this export (limit {limit}); the statistics above cover "
                            f"all of them. Narrow the export (--workflow, --since, --type, --user) or raise "
                            f"--timelines to see others.")
    for tl in report.timelines:
        yield Block("h3", f"{tl.workflow_id}: {tl.title}", anchor=tl.workflow_id)
        yield Block("p", f"{tl.workflow_type}, {tl.risk} risk, requested by {tl.requester}; status now: {tl.status}.")
        yield _table(("Entry", "Time (UTC)", "After creation", "Step", "Who", "What", "Hash"),
                     [(e.seq, e.ts, duration(e.elapsed), duration(e.step), e.actor, e.text, e.hash[:16])
                      for e in tl.entries])
        if tl.compliance:
            yield _table(("Severity", "Flag", "Finding"),
                         [(f["severity"], f["title"], f["explanation"]) for f in tl.compliance])


def _integrity(report: Report) -> Iterator[Block]:
    h, t = report.header, report.trailer
    v = h["verification"]
    yield Block("h2", "Integrity", anchor="integrity")
    yield Block("banner", h["banner"], ok=h["chain_status"] == "intact")
    rows = [
        ("Verification", "passed" if v["ok"] else f"FAILED at entry {v['first_bad_seq']}: {v['problem']}"),
        ("Entries verified", f"{v['entries']:,}"),
        ("Head hash", v["head_hash"]),
        ("Signed checkpoints in the database that matched", str(v["checkpoints_checked"])),
    ]
    cp = h["checkpoint"]
    if cp:
        rows += [("Checkpoint size", f"{cp['size']:,}"), ("Checkpoint head hash", cp["head_hash"]),
                 ("Checkpoint signed at", cp["created_at"]), ("Database id", cp["database_id"]),
                 ("Signing key fingerprint", cp["fingerprint"]), ("Public key (Ed25519)", cp["public_key"]),
                 ("Signature", cp["signature"])]
    else:
        rows.append(("Checkpoint", h["checkpoint_note"]))
    rows += [("Entries in this export", f"{t['entries_exported']:,}"),
             ("SHA-256 of the exported entries' hashes", t["entries_sha256"])]
    yield _table(("Evidence", "Value"), rows)
    yield Block("p", "To check this report and the live database against each other: "
                     "`hitl-tui verify-audit --checkpoint THIS_FILE`. Without the database, "
                     "`hitl-tui verify-audit --offline --checkpoint THIS_FILE` checks the signature and re-hashes "
                     "the timeline entries embedded in the machine-readable evidence at the end of this file.")
