"""hitl_tui.core.reports: filters, escaping, exact re-hashing, streaming statistics, integrity."""

from __future__ import annotations

import io
import json
import os
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from hitl_tui.core.audit import canonical_bytes, chain_hash
from hitl_tui.core.errors import PermissionDenied, ValidationFailed
from hitl_tui.core.policy import load_policy
from hitl_tui.core.reports import ExportFilter, check_against_database, export_audit, inspect_file, parse_when
from hitl_tui.core.reports.entries import body_from_export, jsonl_line
from hitl_tui.core.reports.evidence import gather_integrity
from hitl_tui.core.reports.export import check_may_export
from hitl_tui.core.reports.render import _m
from hitl_tui.core.reports.stats import Histogram, Stats
from hitl_tui.core.reports.tabular import csv_cell, csv_uncell
from hitl_tui.core.service import WorkflowService

USERS = {"john.doe": "employee", "sarah.manager": "manager", "mike.director": "director",
         "lisa.executive": "executive", "carol.compliance": "compliance", "ian.itadmin": "it_admin"}


@pytest.fixture
def svc(tmp_path):
    s = WorkflowService.open(tmp_path / "r.db", key=os.urandom(32))
    for name, role in USERS.items():
        s.add_user(name, role, admin=name == "ian.itadmin", actor="ian.itadmin")
    yield s
    s.close(checkpoint=False)


def _decided(s) -> list[str]:
    a = s.create_workflow_request("expense_approval", "Travel", "Strategy week in Singapore", "john.doe",
                                  {"amount": "15000"})
    for who in ("sarah.manager", "mike.director", "lisa.executive"):
        s.approve_workflow(a, who, "ok")
    b = s.create_workflow_request("expense_approval", "Offsite", "Team planning day", "john.doe", {"amount": "3000"})
    s.reject_workflow(b, "sarah.manager", "no")
    c = s.create_workflow_request("contract_approval", "SOC", "Two-year SOC contract", "john.doe",
                                  {"contract_value": "100"})
    return [a, b, c]


def test_parse_when():
    now = datetime(2025, 3, 10, 12, tzinfo=timezone.utc)
    assert parse_when("2025-03-31", "since") == datetime(2025, 3, 31, tzinfo=timezone.utc)
    assert parse_when("2025-03-31", "until", end_of_day=True) == datetime(2025, 4, 1, tzinfo=timezone.utc)
    assert parse_when("2025-03-31T14:00+02:00", "since") == datetime(2025, 3, 31, 12, tzinfo=timezone.utc)
    assert parse_when("7d", "since", now=now) == now - timedelta(days=7)
    assert parse_when("12h", "since", now=now) == now - timedelta(hours=12)
    with pytest.raises(ValidationFailed, match="is not a date"):
        parse_when("last tuesday", "since")


def test_filter_round_trip_and_refusals():
    policy = load_policy()
    f = ExportFilter.build(policy, since="2025-01-01", until="2025-01-31", workflow_types=("Expense Approval",),
                           actors=(" sarah.manager ",), workflow_ids=("WF-1-0001",))
    assert f.workflow_types == ("expense_approval",) and f.actors == ("sarah.manager",)
    assert ExportFilter.from_json(json.loads(json.dumps(f.to_json()))) == f and not f.empty
    assert ExportFilter().empty
    with pytest.raises(ValidationFailed, match="must be before"):
        ExportFilter.build(policy, since="2025-02-01", until="2025-01-01")


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "'quoted", "''", "plain", "", "a=b"])
def test_csv_guard_is_exact_and_reversible(text):
    cell = csv_cell(text)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert csv_uncell(cell) == text


@pytest.mark.parametrize("title", ["plain", "quote \" backslash \\ tab \t", "emoji \U0001F680 and \u2028 line sep",
                                   "\x1b[31m ansi", "ünïcödé 中文", "</script><script>"])
def test_jsonl_line_reproduces_the_hashed_bytes(title):
    rec = {"seq": 3, "ts": "2025-01-01T00:00:00.000000+00:00", "actor": "a", "action": "created",
           "workflow_id": "WF-1-0001", "details": {"title": title, "data": {"amount": Decimal("1.50")}},
           "session_id": "s", "os_login": None, "tty": None, "remote_addr": None, "prev_hash": "00" * 32}
    body = canonical_bytes(rec)
    digest = chain_hash(bytes(32), body)
    line = jsonl_line(3, body, digest)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    obj = json.loads(line)
    again, claimed = body_from_export(obj)
    assert again == body and claimed == digest.hex()
    reordered = json.loads(json.dumps(obj, indent=2, sort_keys=False)[::1])  # a pipeline may re-indent
    assert body_from_export(reordered)[0] == body


def test_overwritten_body_stays_visible():
    line = jsonl_line(5, b"garbage\nwith newline", bytes(32))
    obj = json.loads(line)
    assert obj["seq"] == 5 and body_from_export(obj)[0] == b"garbage\nwith newline"


def test_markdown_escaping():
    assert _m("a | b") == "a \\| b"
    assert _m("<b>x</b> & *y*") == "&lt;b&gt;x&lt;/b&gt; &amp; \\*y\\*"
    assert _m("# not a heading") == "\\# not a heading" and _m("1. not a list") == "\\1. not a list"
    assert _m("line\nbreak") == "line break"


def test_histogram_is_within_two_percent():
    h = Histogram()
    for v in range(1, 1001):
        h.add(float(v))
    assert abs(h.quantile(0.5) - 500) / 500 < 0.02 and abs(h.quantile(0.9) - 900) / 900 < 0.02
    assert h.max == 1000 and h.count == 1000 and h.mean == pytest.approx(500.5)
    assert Histogram().quantile(0.5) is None


def _rec(seq, action, actor, wid, details, minute):
    ts = (datetime(2025, 1, 6, 9, tzinfo=timezone.utc) + timedelta(minutes=minute)).isoformat(timespec="microseconds")
    return {"seq": seq, "ts": ts, "actor": actor, "action": action, "workflow_id": wid, "details": details}


def test_stats_find_segregation_of_duties_breaches_in_the_log():
    """Records the engine itself would refuse to write: as if imported or edited behind its back."""
    stats = Stats(load_policy(), timeline_limit=2)
    created = {"workflow_type": "expense_approval", "risk_level": "HIGH", "title": "t"}

    def decision(stage, role, decider_role, after):
        return {"decision": "approve", "stage": stage, "stage_role": role, "decider_role": decider_role,
                "status_after": after}

    stats.feed(1, _rec(1, "created", "ann", "W1", created, 0))
    stats.feed(2, _rec(2, "approved", "ann", "W1", decision(0, "manager", "manager", "awaiting_approval"), 60))
    stats.feed(3, _rec(3, "approved", "bob", "W1", decision(1, "director", "employee", "awaiting_approval"), 120))
    stats.feed(4, _rec(4, "approved", "bob", "W1", decision(2, "executive", "executive", "approved"), 180))
    stats.feed(5, _rec(5, "created", "cat", "W2", {**created, "risk_level": "LOW"}, 200))
    stats.feed_row(6, b"not json")
    stats.finish()
    codes = [f["code"] for f in stats.flags]
    assert codes == ["sod_requester_decided", "decider_not_eligible", "sod_same_person_two_stages"]
    assert stats.flag_count == 3 and stats.unreadable == 1 and stats.entries == 6
    assert stats.outcomes["expense_approval"] == {"approved": 1, "awaiting_approval": 1}
    assert stats.risk["expense_approval"] == {"HIGH": 1, "LOW": 1}
    assert stats.to_final["expense_approval"].max == pytest.approx(180 * 60)
    assert stats.decision_time["HIGH"].count == 3
    assert list(stats.recent) == ["W1", "W2"]


def test_only_an_intact_chain_is_signed(svc):
    _decided(svc)
    good = gather_integrity(svc)
    assert good.ok and good.checkpoint.size == good.stop == good.verification.entries
    conn = svc._reader()  # a second connection holding the key, as an attacker would have
    conn.execute("DROP TRIGGER audit_log_no_update")
    body = bytes(conn.execute("SELECT body FROM audit_log WHERE seq = 7").fetchone()[0])
    assert b'"amount":"15000.00"' in body  # not personal: the title is sealed (privacy.py)
    conn.execute("UPDATE audit_log SET body = ? WHERE seq = 7", (body.replace(b'"15000.00"', b'"1500.00"'),))
    conn.close()
    before = len(svc.stored_checkpoints())
    bad = gather_integrity(svc)
    assert not bad.ok and bad.checkpoint is None and bad.stop is None and "BROKEN" in bad.banner
    assert len(svc.stored_checkpoints()) == before


def test_full_export_proves_itself_and_filtered_one_matches_the_database(svc, tmp_path):
    ids = _decided(svc)
    full, part = tmp_path / "full.jsonl", tmp_path / "part.jsonl"
    with open(full, "wb") as fh:
        export_audit(svc, "jsonl", fh, ExportFilter(), generated_by="carol.compliance")
    with open(part, "wb") as fh:
        export_audit(svc, "jsonl", fh, ExportFilter(workflow_ids=(ids[0],)), generated_by="carol.compliance")
    rep = inspect_file(full)
    assert rep.ok and any(c.name == "whole chain" and c.ok for c in rep.checks)
    rep = inspect_file(part)
    assert rep.ok and not any(c.name == "whole chain" for c in rep.checks)
    check_against_database(svc, rep)
    assert rep.ok and any(c.name == "export matches the database" for c in rep.checks)


def test_report_statistics_match_the_database(svc):
    _decided(svc)
    out = io.BytesIO()
    export_audit(svc, "html", out, ExportFilter(), generated_by="ian.itadmin")
    html = out.getvalue().decode()
    assert "<td>Approved / rejected / withdrawn</td><td>1 / 1 / 0</td>" in html
    assert "<td>expense_approval</td><td>2</td><td>1</td><td>1</td><td>0</td><td>0</td><td>0</td><td>50.0%</td>" in html


def test_only_oversight_or_administrators_export(svc):
    check_may_export(svc, "carol.compliance")
    check_may_export(svc, "lisa.executive")
    check_may_export(svc, "ian.itadmin")
    with pytest.raises(PermissionDenied, match="oversight role"):
        check_may_export(svc, "sarah.manager")
    with pytest.raises(PermissionDenied, match="oversight role"):
        export_audit(svc, "jsonl", io.BytesIO(), ExportFilter(), generated_by="john.doe")


def test_exports_after_an_erasure_verify_and_show_the_placeholder(svc, tmp_path):
    """Sealed personal values (VERIFY.md 10) through hitl-tui's own checks: the exports carry an
    erased opening for each erased value, read `erased on DATE`, and still prove themselves."""
    _a, rejected, _c = _decided(svc)
    svc.set_user_admin("carol.compliance", True, actor="ian.itadmin")
    svc.erasure.request(rejected, "the requester asked to be forgotten", actor="ian.itadmin")
    done = svc.erasure.confirm(rejected, actor="carol.compliance")
    gone = f"erased on {done.erased_on[:10]}"
    for fmt in ("jsonl", "csv"):
        path = tmp_path / f"after.{fmt}"
        with open(path, "wb") as fh:
            export_audit(svc, fmt, fh, ExportFilter(), generated_by="carol.compliance")
        text = path.read_text("utf-8-sig")
        assert "Team planning day" not in text and "Offsite" not in text  # the erased description and title
        rep = inspect_file(path)
        assert rep.ok, rep.checks
        personal = next(c for c in rep.checks if c.name == "personal data")
        assert f"; {done.values} erased by the entry that lists their key" in personal.detail, personal.detail
        check_against_database(svc, rep)
        assert rep.ok, rep.checks
    lines = [json.loads(x) for x in (tmp_path / "after.jsonl").read_text().splitlines()]
    created = next(e for e in lines if e.get("action") == "created" and e.get("workflow_id") == rejected)
    assert created["personal"] and all(o == {"erased": done.erased_on[:10], "by": done.seq}
                                       for o in created["personal"].values())
    out = io.BytesIO()
    export_audit(svc, "html", out, ExportFilter(workflow_ids=(rejected,)), generated_by="carol.compliance")
    html = out.getvalue().decode()
    assert f"{rejected}: {gone}" in html and "Offsite" not in html.split('id="hitl-audit-evidence"')[0]
