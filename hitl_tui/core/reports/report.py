"""Assembling the auditor's report (HTML and Markdown share it) in two streaming passes.

Pass 1 aggregates statistics over every exported entry (stats.py) and remembers which requests
appeared most recently. Pass 2 reads only those requests' entries (through the workflow index)
to draw their timelines. So a million-entry log yields full statistics plus timelines for the
newest `timeline_limit` requests (default 200; `--timelines N`, or narrow the export with
--workflow/--since/--type/--user to see exactly the requests you want). The report says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from ..errors import HitlError
from ..models import WorkflowRequest
from ..signatures import display_names, manifestation
from .entries import describe, jsonl_line
from .evidence import as_bytes
from .evidence import ExportDigest
from .openings import opened_record
from .stats import Stats

if TYPE_CHECKING:
    from ..service import WorkflowService
    from .export import ExportJob


@dataclass
class TimelineEntry:
    seq: int
    ts: str
    actor: str
    action: str
    text: str
    elapsed: float | None  # seconds since the request was created
    step: float | None  # seconds since the previous entry of this request
    hash: str


@dataclass
class Timeline:
    workflow_id: str
    title: str
    workflow_type: str
    risk: str
    requester: str
    status: str
    entries: list[TimelineEntry] = field(default_factory=list)
    compliance: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Report:
    header: dict[str, Any]
    trailer: dict[str, Any]
    stats: Stats
    timelines: list[Timeline]
    #: the timeline entries exactly as JSONL would carry them: re-hashable by the verifier
    evidence_entries: list[dict[str, Any]]
    compliance_note: str

    def evidence(self) -> dict[str, Any]:
        return {"header": self.header, "trailer": self.trailer, "entries": self.evidence_entries}


def build_report(job: "ExportJob") -> Report:
    lookup, note = _compliance(job.service, str(job.header["generated_by"]))
    stats = Stats(job.service.policy, timeline_limit=job.max_timelines)
    digest = ExportDigest()
    for batch in job.rows():
        for seq, body, h in batch:
            stats.feed_row(seq, as_bytes(body))
            digest.add(seq, as_bytes(h))
    stats.finish()
    wanted = list(reversed(stats.recent))  # newest first
    timelines, evidence = _timelines(job, wanted, lookup)
    return Report(job.header, digest.trailer(job.integrity), stats, timelines, evidence, note)


#: a request -> its compliance flags, as JSON
Lookup = Callable[[WorkflowRequest], list[dict[str, Any]]]


def _compliance(service: "WorkflowService", viewer: str) -> tuple[Lookup, str]:
    """The compliance flags of the requests that get a timeline, as the exporting `viewer` may
    know them (flags.gather_flags: the same list the desk and the agents show; they need the
    current request state and the requester's neighbouring requests, so not for all of a huge log)."""
    from .flags import gather_flags, session_zone

    zone = session_zone(service)
    note = (f"Working hours are judged in {zone}." if zone is not None else
            "Working hours are judged in this machine's time zone (set HITL_TIMEZONE to choose one).")
    return (lambda req: gather_flags(service, viewer, req).as_json()), note


def _timelines(job: "ExportJob", wanted: list[str], lookup: "Lookup") -> tuple[list[Timeline], list[dict[str, Any]]]:
    if not wanted:
        return [], []
    by_id: dict[str, Timeline] = {}
    evidence: list[dict[str, Any]] = []
    created: dict[str, float] = {}
    last: dict[str, float] = {}
    narrowed = replace(job.filter, workflow_ids=tuple(sorted(wanted)))
    names = display_names(job.service.list_users())
    for batch in job.opened_rows(narrowed):
        for seq, body, h, personal in batch:
            evidence.append(json.loads(jsonl_line(seq, body, h, personal)))
            try:
                rec = json.loads(as_bytes(body))
            except ValueError:
                continue
            if not isinstance(rec, dict):
                continue
            rec = opened_record(rec, personal)  # what a person reads: the value or `erased on DATE`
            wid = str(rec.get("workflow_id"))
            tl = by_id.get(wid) or by_id.setdefault(wid, _new_timeline(wid, rec))
            when = _seconds(rec.get("ts"))
            if rec.get("action") == "created" and when is not None:
                created[wid] = when
            start, prev = created.get(wid), last.get(wid)
            signed = manifestation(rec, names=names, zone=timezone.utc)  # 21 CFR 11.50, in every export
            tl.entries.append(TimelineEntry(
                seq=seq, ts=str(rec.get("ts")), actor=str(rec.get("actor")), action=str(rec.get("action")),
                text=describe(rec) + (f" — {signed}" if signed else ""), elapsed=None if start is None or when is None else when - start,
                step=None if prev is None or when is None else when - prev, hash=as_bytes(h).hex()))
            if when is not None:
                last[wid] = when
    ordered = [by_id[w] for w in wanted if w in by_id]
    for tl in ordered:
        _current_state(job.service, tl, lookup)
    return ordered, evidence


def _new_timeline(wid: str, rec: dict[str, Any]) -> Timeline:
    raw = rec.get("details")
    d: dict[str, Any] = raw if isinstance(raw, dict) else {}
    return Timeline(workflow_id=wid, title=str(d.get("title", "")), workflow_type=str(d.get("workflow_type", "?")),
                    risk=str(d.get("risk_level", "?")), requester=str(rec.get("actor")) if rec.get("action") == "created" else "?",
                    status="?")


def _current_state(service: "WorkflowService", tl: Timeline, lookup: "Lookup") -> None:
    """Title, status and compliance flags as the database holds them now."""
    try:
        req = service.get_workflow(tl.workflow_id)
    except HitlError:
        tl.status = "missing from the requests table"
        return
    tl.title, tl.workflow_type, tl.risk = req.title, req.workflow_type, req.risk_level.value
    tl.requester, tl.status = req.requester, req.status.value
    if lookup is not None:
        tl.compliance = lookup(req)


def _seconds(ts: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(ts)).timestamp()
    except ValueError:
        return None
