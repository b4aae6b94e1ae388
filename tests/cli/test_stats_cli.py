"""`hitl-tui stats` through the installed console script, and the HTML report's Analytics section
(inline SVG, no script, escaped labels) in a report that the standalone verifier still verifies."""

from __future__ import annotations

import json
import re

from hitl_tui.core.models import Decision
from hitl_tui.core.reports import charts
from tests.verifier.conftest import verify

from .conftest import ME, file_request, set_my_role


def _decided(cli) -> dict[str, str]:
    ids = {"approved": file_request(cli, title="Team lunch", data={"amount": "300", "category": "meals"}),
           "rejected": file_request(cli, title="Gala dinner", data={"amount": "900", "category": "meals"}),
           "waiting": file_request(cli, title="Conference travel", data={"amount": "5000", "category": "travel"}),
           "infra": file_request(cli, wtype="infrastructure_change", title="Rotate the logs",
                                 data={"impact": "low", "system": "logging"})}
    with cli.service() as s:
        s.decide(ids["approved"], "sarah.manager", Decision.APPROVE, "fine")
        s.decide(ids["rejected"], "sarah.manager", Decision.REJECT, "no gala this year")
        s.decide(ids["waiting"], "sarah.manager", Decision.APPROVE, "ok")  # now waits for a director
    return ids


def test_stats_prints_the_figures_over_what_you_may_see(ready):
    _decided(ready)
    set_my_role(ready, "executive")  # sees everything
    data = ready.json("stats", "--json")
    assert data["viewer"] == ME and data["sees_everything"] and data["filed"] == 4
    assert data["decisions"] == {"total": 3, "approve": 2, "reject": 1, "request_changes": 0}
    assert data["rates"]["reject"] == round(1 / 3, 4)
    assert data["time_to_decision"]["all"]["count"] == 2
    assert set(data["time_to_decision"]["by_type"]) == {"expense_approval"}
    assert data["waiting_now"] == {"director": 1, "it_admin": 1}
    assert data["bottleneck"]["most_waiting"]["waiting"] == 1
    assert {"username": "sarah.manager", "role": "manager", "decisions": 3, "waiting": 0} in data["workload"]
    assert sum(week["LOW"] + week["MEDIUM"] for week in data["risk_by_week"]) == 4
    text = ready.ok("stats").stdout
    assert "Analytics over every request" in text and "4 filed, 3 stage decisions" in text
    assert "2 approve (67%), 1 reject (33%), 0 request changes (0%)" in text
    assert re.search(r"sarah\.manager +Manager +3 decided +0 waiting", text)
    set_my_role(ready, "manager")  # a manager: not the infrastructure change (IT Admin only)
    mine = ready.json("stats", "--since", "2w", "--json")
    assert not mine["sees_everything"] and mine["filed"] == 3 and "it_admin" not in mine["waiting_now"]


def test_a_bad_period_is_one_line_naming_it(ready):
    ready.refused("stats", "--since", "soon", match="--since 'soon' is not a duration")
    ready.refused("stats", "--since", "0d", match="must be more than 0")


def test_the_html_report_has_the_analytics_as_svg_without_scripts_and_still_verifies(ready, tmp_path):
    _decided(ready)
    set_my_role(ready, "executive")
    path = tmp_path / "report.html"
    ready.ok("export-audit", "--format", "html", "-o", str(path))
    html = path.read_text("utf-8")
    section = html[html.index('<section class="charts">'):html.index("</section>")]
    assert '<h2 id="analytics">Analytics</h2>' in section and '<a href="#analytics">Analytics</a>' in html
    assert section.count("<svg") >= 7 and "<polyline" in section and "<rect" in section
    assert "<script" not in section.lower() and "href" not in section and "src=" not in section
    assert "over every request" in section and "4 filed, 3 stage decisions" in section
    assert "sarah.manager" in section and "67% (2)" in section
    assert html.count("<script") == 1  # the evidence's data block, as before
    result = verify(path)
    assert result.code == 0 and result.last == "verified", result.out


def test_chart_labels_are_escaped_and_never_markup():
    svg = charts.bar_chart("<b>chart</b>", [("<script>alert(1)</script>", 2.0, "\x1b[2J & more", "#000")])
    assert "<script>" not in svg and "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert "\x1b" not in svg and "\\x1b[2J &amp; more" in svg and "&lt;b&gt;chart&lt;/b&gt;" in svg
    assert json.dumps(charts.sparkline("s", []))  # no data: an empty line, not an error
