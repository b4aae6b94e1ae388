"""The desk, the agents' compliance tool and the auditor's export show one list of compliance
flags for a request (issue 10, section 6): one gatherer in core (reports/flags.py), one view of
the requester's other requests, one limit, the session's time zone setting. Checked on a real
database where the old three ways disagreed: the split purchase's partner is older than the 50
newest requests the desk used to look at, and the session's zone is not the machine's."""

from __future__ import annotations

import html
import io
import json
import re
from datetime import datetime, timezone

import pytest

from hitl_tui.agents.tools import EventSink, SessionTools
from hitl_tui.core.reports import export_audit
from hitl_tui.core.reports.filters import ExportFilter
from hitl_tui.core.reports.flags import RELATED_LIMIT, gather_flags
from hitl_tui.core.service import WorkflowService
from hitl_tui.core.settings import Settings

VIEWER = "carol.compliance"  # sees every request, may export


def _zone_at_three_in_the_morning() -> str:
    """A fixed-offset zone where it is about 03:00 now: outside working hours, whatever the
    machine's own zone and the time the test runs."""
    offset = (3 - datetime.now(timezone.utc).hour) % 24
    offset = offset - 24 if offset > 14 else offset  # Etc/GMT-N is UTC+N, from -12 to +14
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"


@pytest.fixture
def world(tmp_path, db_key):
    settings = Settings.load(environ={"HITL_TIMEZONE": _zone_at_three_in_the_morning()})
    svc = WorkflowService.open(tmp_path / "flags.db", key=db_key, settings=settings)
    for name, role in {"john.doe": "employee", "sarah.manager": "manager", VIEWER: "compliance"}.items():
        svc.add_user(name, role)
    target = svc.create_workflow_request("expense_approval", "Team offsite, part 1", "", "john.doe",
                                         {"amount": "950", "category": "travel"})
    svc.create_workflow_request("expense_approval", "Team offsite, part 2", "Venue and catering for the team",
                                "john.doe", {"amount": "960", "category": "travel"})
    for n in range(55):  # newer requests of the same type, none near a threshold
        svc.create_workflow_request("expense_approval", f"Conference {n}", "Registration and hotel for the team",
                                    "john.doe", {"amount": "5000", "category": "travel"})
    svc.decide(target, "sarah.manager", "approve", "fine")
    yield svc, target
    svc.close(checkpoint=False)


async def _desk_flags(svc: WorkflowService, wid: str) -> list[dict]:
    """What the desk's detail pane is given, from a real desk on this database: the viewer's
    "all I may see" view (3), oldest first, so the request is the first row."""
    from hitl_tui.app import make_app
    from tests.ui.conftest import settle

    app = make_app(svc, VIEWER, poll_interval=None, background_delay=0)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        screen = app.screen
        assert screen.request is not None and screen.request.id == wid, screen.request
        assert screen.flags is not None
        return [f.model_dump(mode="json") for f in screen.flags]


async def test_desk_agents_and_export_show_the_same_flags(world):
    svc, wid = world
    req = svc.get_workflow(wid)
    found = gather_flags(svc, VIEWER, req)
    codes = {f.code for f in found.flags}
    # the partner is older than 50 newer requests; the decision at 03:00 in the session's zone
    assert {"split_purchase", "decision_outside_hours", "missing_justification"} <= codes, codes
    assert found.related == 56 <= RELATED_LIMIT
    expected = found.as_json()
    assert any("(+" in f["explanation"] or "(-" in f["explanation"] or "(GMT" in f["explanation"]
               or "(UTC" in f["explanation"] for f in expected if f["code"] == "decision_outside_hours")

    tools = SessionTools(svc, VIEWER, EventSink())
    assert json.loads(tools.check_compliance(wid))["flags"] == expected

    out = io.BytesIO()
    export_audit(svc, "md", out, ExportFilter(workflow_ids=(wid,)), generated_by=VIEWER)
    report = out.getvalue().decode()
    section = html.unescape(re.sub(r"\\(.)", r"\1", report[report.index(f"### {wid}"):]))  # escapes undone
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    for flag in expected:  # the timeline's compliance table: | severity | title | explanation |
        assert f"| {flag['severity']} | {flag['title']} | {flag['explanation']} |" in rows, (flag, rows)

    assert await _desk_flags(svc, wid) == expected
