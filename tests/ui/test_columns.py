"""The inbox's columns at the widths a terminal gives them, and the text of every cell kind:
the title takes the spare width, the risk badge and the stage are never cut (they shorten to
forms the help explains), and every age is spelled one way that fits its column."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from hitl_tui.core.models import RequestSummary, RiskLevel, Role, WorkflowStatus
from hitl_tui.core.policy import load_policy
from hitl_tui.render.text import (AGE_WIDTH, RISK_SHORT, ROLE_SHORT, STATUS_SHORT, relative_age, risk_badge,
                                  short_forms, status_words)
from hitl_tui.widgets.request_list import RequestList, layout_columns

NOW = datetime(2026, 11, 26, 4, 20, 5, tzinfo=timezone.utc)
#: table widths: an 80-column terminal (78 inside the pane's border), a 160-column one (the
#: inbox is 3/5 of it: 94), and the widths the brief names
WIDTHS = (78, 80, 94, 100, 120, 160, 200)
TITLE = "Executive travel to Singapore for strategic planning"


def summary(risk=RiskLevel.HIGH, status=WorkflowStatus.AWAITING_APPROVAL, role: Role | None = Role.MANAGER,
            stage=0, stages=3, requester="john.doe", title=TITLE, age=timedelta(minutes=5)) -> RequestSummary:
    return RequestSummary(id="WF-1796146664-7137", workflow_type="expense_approval", title=title,
                          requester=requester, headline="15000", risk_level=risk, status=status,
                          current_stage=stage, stage_count=stages,
                          current_role=role if status is WorkflowStatus.AWAITING_APPROVAL else None,
                          created_at=NOW - age, updated_at=NOW - age)


def cells(width: int, s: RequestSummary) -> dict[str, str]:
    """What each column of a row shows, as the widget renders it (its own _cell)."""
    inbox = RequestList(load_policy(), lambda: NOW)
    inbox._columns = layout_columns(width)
    return {c.key: inbox._cell(c, s, NOW).plain for c in inbox._columns}


def every_row():
    for risk in RiskLevel:
        for status in WorkflowStatus:
            if status is WorkflowStatus.AWAITING_APPROVAL:
                for role in Role:
                    yield summary(risk, status, role, stage=3, stages=4)
            else:
                yield summary(risk, status)


#: the title's width at each table width: everything the other columns do not need
TITLE_AT = {78: 24, 80: 26, 94: 33, 100: 36, 120: 48, 160: 74, 200: 90}


def test_columns_fill_the_table_exactly_and_the_title_gets_the_spare_width():
    previous: dict[str, int] = {}
    for width in range(70, 260):  # narrower, the title keeps 16 cells and the table scrolls
        cols = layout_columns(width)
        assert sum(c.width + 2 for c in cols) + 1 == width  # padding of each column, a scrollbar cell
        now = {c.key: c.width for c in cols}
        if width in TITLE_AT:
            assert now["title"] == TITLE_AT[width], (width, now)
        # a wider table never takes a column, or a cell of one, away (only the title gives way)
        assert set(previous) <= set(now) and all(now[k] >= previous[k] for k in previous if k != "title"), width
        previous = now


def test_at_160_columns_the_title_is_no_longer_cut_at_26_while_requester_idles():
    cols = {c.key: c.width for c in layout_columns(94)}  # the inbox pane of a 160-column desk
    assert cols["title"] >= 33 and cols["requester"] <= 12
    assert cells(200, summary())["title"] == TITLE  # a 200-wide table shows the whole title


@pytest.mark.parametrize("width", WIDTHS)
def test_no_risk_badge_stage_or_age_is_ever_cut(width):
    for s in every_row():
        shown = cells(width, s)
        assert "…" not in shown["risk"] + shown["stage"] + shown["age"], (width, s.risk_level, s.status, shown)
        assert shown["risk"].strip() in (s.risk_level.value, RISK_SHORT[s.risk_level])
        stage = shown["stage"].strip()
        if s.status is WorkflowStatus.AWAITING_APPROVAL:
            assert stage in ("4/4 " + s.current_role.label, "4/4 " + ROLE_SHORT[s.current_role])
        else:
            assert stage in (s.status.label, STATUS_SHORT.get(s.status, s.status.label))


def test_short_forms_only_where_needed():
    critical = summary(RiskLevel.CRITICAL, WorkflowStatus.CHANGES_REQUESTED)
    withdrawn = summary(RiskLevel.CRITICAL, WorkflowStatus.WITHDRAWN)
    at80 = cells(78, critical)
    assert at80["risk"].strip() == "CRIT" and at80["stage"].strip() == "changes"  # was "CRITICA"
    assert cells(78, withdrawn)["stage"].strip() == "withdrawn"  # was "withdra…"
    assert cells(78, summary(role=Role.COMPLIANCE, stage=3, stages=4))["stage"].strip() == "4/4 Compl"
    at160 = cells(94, critical)
    assert at160["risk"].strip() == "CRITICAL"
    at120 = cells(120, critical)
    assert at120["stage"].strip() == "changes requested"  # was "changes requ…"
    assert cells(120, summary(role=Role.COMPLIANCE, stage=3, stages=4))["stage"].strip() == "4/4 Compliance"
    # what may be cut is cut with an ellipsis, never silently
    shown = cells(78, summary(requester="carol.compliance"))
    assert shown["requester"].endswith("…") and shown["title"].endswith("…")


def test_risk_badge_grows_rather_than_cuts():
    for level in RiskLevel:
        for width in range(0, 12):
            badge = risk_badge(level, width).plain
            assert badge.strip() in (level.value, RISK_SHORT[level])
            assert len(badge) == max(width, len(badge.strip()))
    assert risk_badge(RiskLevel.CRITICAL, 6).plain == " CRIT "
    assert risk_badge(RiskLevel.MEDIUM, 6).plain == "MEDIUM"  # the full word whenever it fits
    assert risk_badge(RiskLevel.MEDIUM, 5).plain == " MED "


def test_status_words_take_the_longest_form_that_fits():
    assert status_words(WorkflowStatus.WITHDRAWN, None, 0, 1, 8).plain == "wdrawn"
    assert status_words(WorkflowStatus.WITHDRAWN, None, 0, 1, 9).plain == "withdrawn"
    assert status_words(WorkflowStatus.CHANGES_REQUESTED, None, 0, 1).plain == "changes requested"
    assert status_words(WorkflowStatus.AWAITING_APPROVAL, Role.DIRECTOR, 1, 3, 11).plain == "2/3 Dir"
    assert status_words(WorkflowStatus.AWAITING_APPROVAL, Role.DIRECTOR, 1, 3, 12).plain == "2/3 Director"


AGES = [(0, "just now"), (9, "just now"), (24, "24s ago"), (59, "59s ago"), (60, "1m ago"), (3599, "59m ago"),
        (7200, "2h ago"), (86400 * 3, "3d ago"), (86400 * 13, "13d ago"), (86400 * 35, "5w ago"),
        (86400 * 120, "4mo ago"), (86400 * 729, "24mo ago"), (86400 * 800, "2y ago"), (-30, "just now"),
        (-600, "future")]


def test_one_age_spelling_that_fits_the_narrowest_column():
    assert [relative_age(NOW - timedelta(seconds=seconds), NOW) for seconds, _ in AGES] == [t for _, t in AGES]
    assert max(len(t) for _, t in AGES) <= AGE_WIDTH


def test_every_short_form_a_column_can_show_is_explained():
    explained = {form for form, _, _ in short_forms()}
    shown = {RISK_SHORT[level] for level in RiskLevel if RISK_SHORT[level] != level.value}
    shown |= set(ROLE_SHORT.values()) | set(STATUS_SHORT.values())
    assert shown <= explained
