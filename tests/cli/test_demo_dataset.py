"""The demo dataset: builds through the public API, verifies, and holds the seed's scenarios."""

from __future__ import annotations

import io
import os
from collections import Counter

import pytest

from hitl_tui.core import payloads
from hitl_tui.core.models import ApprovalOutcome, InboxView, RiskLevel, WorkflowStatus
from hitl_tui.core.reports import ExportFilter, export_audit
from hitl_tui.demo import SCENARIO, USERS, open_demo
from hitl_tui.demo.dataset import AGENT_REQUESTS, INTEGRATIONS


@pytest.fixture
def demo(tmp_path):
    session = open_demo(tmp_path / "demo")
    yield session
    session.close()


def test_demo_builds_and_verifies(demo):
    s = demo.service
    result = s.verify_audit()
    assert result.ok and result.entries > 100
    people = {u.username: u.role.value for u in s.list_users() if not u.integration}
    assert people == {k: v[0] for k, v in USERS.items()}
    reqs = [s.get_workflow(w) for w in demo.dataset.ids.values()]
    assert len(reqs) >= 30
    # every workflow type (tool_call too: the agents' requests) and every status (expired too)
    assert set(Counter(r.workflow_type for r in reqs)) == set(s.policy.types)
    assert set(Counter(r.risk_level for r in reqs)) == set(RiskLevel)  # every risk level
    assert set(Counter(r.status for r in reqs)) == set(WorkflowStatus)
    assert any(r.revision > 1 for r in reqs)  # one was resubmitted
    assert sum(1 for r in reqs if r.status is WorkflowStatus.AWAITING_APPROVAL and r.current_stage > 0) >= 5


def test_demo_scenarios(demo):
    s, ids = demo.service, demo.dataset.ids
    pending = s.list_requests("sarah.manager", InboxView.AWAITING_ME)
    titles = {r.title for r in pending}
    assert titles == {demo.dataset.titles[k] for k in ("singapore_travel", "software_license", "team_offsite")}
    assert {r.headline for r in pending} == {"15000.00", "8000.00", "3000.00"}
    # the refund an AI agent filed waits for a human: the director, after sarah's approval (issue 12)
    assert ids["agent_refund"] in {r.id for r in s.list_requests("mike.director", InboxView.AWAITING_ME)}

    travel = s.get_workflow(ids["singapore_travel"])
    assert [r.value for r in travel.required_approvers] == ["manager", "director", "executive"]
    migration = s.get_workflow(ids["db_migration"])
    assert migration.risk_level is RiskLevel.HIGH and migration.current_role.value == "it_admin"
    assert [r.value for r in migration.required_approvers] == ["it_admin", "security", "director"]

    # the tour: sarah approves the travel and it moves on to the director
    after = s.approve_workflow(ids["singapore_travel"], "sarah.manager", "Business justification confirmed")
    assert after.current_role.value == "director"
    assert ids["singapore_travel"] in {r.id for r in s.list_requests("mike.director", InboxView.AWAITING_ME)}


def test_demo_is_deterministic_in_titles_and_risk(tmp_path):
    def snapshot(seed, name):
        session = open_demo(tmp_path / name, seed=seed)
        try:
            s = session.service
            return {k: (s.get_workflow(w).title, s.get_workflow(w).risk_level, s.get_workflow(w).status)
                    for k, w in session.dataset.ids.items()}, \
                   {k: s.get_workflow(w).data for k, w in session.dataset.ids.items()}
        finally:
            session.close()

    a, data_a = snapshot(7, "a")
    b, data_b = snapshot(7, "b")
    c, _ = snapshot(8, "c")
    assert a == b == c and data_a == data_b
    for spec in SCENARIO:
        assert a[spec.key][0] == spec.title


def test_demo_touches_nothing_outside_its_directory(tmp_path):
    session = open_demo()
    directory = session.directory
    assert (directory / "demo-signing.ed25519").exists() and "HITL_SIGNING_KEY_FILE" not in os.environ
    session.close()
    assert not directory.exists()
    data_home = os.environ["XDG_DATA_HOME"]
    assert not any(os.scandir(data_home))  # no signing key or database in the (test) home


def test_demo_report_flags_the_split_purchase(demo):
    out = io.BytesIO()
    result = export_audit(demo.service, "md", out, ExportFilter(), generated_by="carol.compliance")
    text = out.getvalue().decode()
    assert result.ok and "Possible split purchase" in text
    assert demo.dataset.ids["laptops_1"] in text and "Database migration: orders DB to PostgreSQL 16" in text


def test_demo_agents_ask_a_human(demo):
    """The integrations file tool calls bound to their payloads; people decide, or the deadline does."""
    s, ids = demo.service, demo.dataset.ids
    users = {u.username: u for u in s.list_users()}
    assert {n for n, u in users.items() if u.integration} == set(INTEGRATIONS)
    for name, (_role, _display, owner) in INTEGRATIONS.items():
        assert users[name].owner == owner and not users[owner].integration
    outcomes = {}
    for spec in AGENT_REQUESTS:
        req = s.get_workflow(ids[spec.key])
        assert req.workflow_type == "tool_call" and req.requester == spec.requester
        assert req.filing is not None and req.filing.agent == spec.agent
        assert req.filing.owner == INTEGRATIONS[spec.requester][2]
        assert req.filing.justification == spec.justification
        assert req.filing.payload_sha256 == payloads.sha256_of(spec.payload)  # bound to exactly this payload
        assert req.filing.payload == spec.payload
        outcomes[spec.key] = s.approvals.decision("lisa.executive", req.id)
    assert outcomes["agent_refund"].outcome is ApprovalOutcome.PENDING
    assert outcomes["agent_deploy"].outcome is ApprovalOutcome.APPROVED
    assert outcomes["agent_deploy"].receipt is not None
    assert outcomes["agent_rejected_refund"].outcome is ApprovalOutcome.REJECTED
    assert outcomes["agent_expired_refund"].outcome is ApprovalOutcome.EXPIRED
    assert outcomes["agent_expired_refund"].decided_by == "system"  # the engine's sweep, not a person
    # nobody decided the deploy who owns the pipeline, and no integration decided anything
    deploy = s.get_workflow(ids["agent_deploy"])
    assert {a.approver for a in deploy.approvals}.isdisjoint({"ian.itadmin", *INTEGRATIONS})
