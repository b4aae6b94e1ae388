"""The offline assistant on every seed example, end to end: tframex agents, memory and tool
dispatch, the real service on a real encrypted database. Nothing here is mocked."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hitl_tui.agents.factory import create_assistant
from hitl_tui.core.models import AgentProposal, Decision, WorkflowStatus

from .helpers import expense, turn

Q4 = "Create an expense approval request for $5,000 travel costs for the Q4 conference including flights and accommodation"
SINGAPORE = "Create an expense approval request for $15,000 executive travel to Singapore for strategic planning"
MIGRATION = "Create an infrastructure change request for database migration with high impact"


@pytest.fixture
async def assistant_for(service):
    made = []

    def make(username: str):
        made.append(create_assistant(service, username))
        return made[-1]
    yield make
    for assistant in made:
        await assistant.aclose()


@pytest.fixture
def inbox(service):
    """Scenario 3's inbox: three requests awaiting a Manager."""
    return {
        "travel": expense(service, 15000),
        "licence": expense(service, 8000, "Software licence renewal", category="software"),
        "offsite": expense(service, 3000, "Team offsite", requester="jane.roe", category="other"),
    }


async def test_the_offline_assistant_says_what_it_is_and_what_it_understands(assistant_for):
    a = assistant_for("john.doe")
    assert a.describe() == "offline assistant (no model configured) · as john.doe (Employee)"
    t = await turn(a, "help")
    assert "I am the offline assistant: no language model is configured" in t.text
    for example in ("pending approvals for sarah.manager", "with comment", "audit trail", "for compliance"):
        assert example in t.text
    t = await turn(a, "what is the weather like in Lisbon?")
    assert t.text.startswith("Sorry, I did not understand that.") and "offline assistant" in t.text


async def test_drafts_the_singapore_trip_with_its_risk_and_chain(service, assistant_for):
    t = await turn(assistant_for("john.doe"), SINGAPORE)
    assert t.agent == "WorkflowCoordinator" and not t.failures
    (draft,) = t.drafts
    assert (draft.workflow_type, draft.data, draft.missing) == (
        "expense_approval", {"amount": Decimal("15000.00"), "category": "travel"}, ())
    assert draft.title == "Executive travel to Singapore for strategic planning"
    assert draft.description == "Executive travel to Singapore for strategic planning."
    assert "Risk: HIGH" in t.text and "approval chain: Manager -> Director -> Executive" in t.text
    assert t.text.startswith("(Offline assistant: no language model is configured")
    assert t.activity == ["drafted an expense approval request"]
    assert len(t.deltas) > 5  # streamed, not one lump
    assert service.count_requests("john.doe", "mine") == 0  # a draft files nothing


async def test_drafts_the_q4_conference_trip(assistant_for):
    t = await turn(assistant_for("john.doe"), Q4)
    (draft,) = t.drafts
    assert draft.data == {"amount": Decimal("5000.00"), "category": "travel"}
    assert draft.title == "Travel costs for the Q4 conference"
    assert "flights and accommodation" in draft.description
    assert "Risk: MEDIUM" in t.text and "Manager -> Director." in t.text


async def test_drafts_the_database_migration(assistant_for):
    t = await turn(assistant_for("john.doe"), MIGRATION)
    (draft,) = t.drafts
    assert (draft.workflow_type, draft.data, draft.title) == (
        "infrastructure_change", {"impact": "high"}, "Database migration")
    assert "IT Admin -> Security -> Director" in t.text


async def test_a_draft_asks_for_what_is_missing(assistant_for):
    t = await turn(assistant_for("john.doe"), "Create an expense approval request for team lunch with a client")
    (draft,) = t.drafts
    assert draft.missing == ("amount",)
    assert "Still needed: amount (Total amount in USD" in t.text and "Risk:" not in t.text


@pytest.mark.parametrize("asker, allowed", [("sarah.manager", True), ("lisa.executive", True),
                                            ("carol.compliance", True), ("john.doe", False),
                                            ("tom.manager", False)])
async def test_pending_approvals_for_sarah_manager(assistant_for, inbox, asker, allowed):
    t = await turn(assistant_for(asker), "Show me pending approvals for sarah.manager")
    assert t.agent == "ApprovalManager"
    if allowed:
        who = "You have" if asker == "sarah.manager" else "sarah.manager has"
        assert f"{who} 3 pending approvals:" in t.text
        assert all(wid in t.text for wid in inbox.values())
        assert "Executive travel to Singapore" in t.text and "15,000.00 USD" in t.text
    else:
        assert "I could not do that: You can see only your own pending approvals" in t.text
        assert not any(wid in t.text for wid in inbox.values())


async def test_my_pending_approvals(assistant_for, inbox):
    t = await turn(assistant_for("sarah.manager"), "show me my pending approvals")
    assert "You have 3 pending approvals:" in t.text
    t = await turn(assistant_for("john.doe"), "show me my pending approvals")
    assert "Nothing is waiting for you." in t.text


async def test_approve_with_comment_is_only_a_proposal(service, assistant_for, inbox):
    wid = inbox["travel"]
    t = await turn(assistant_for("sarah.manager"), f"Approve workflow {wid} with comment 'Business justification confirmed'")
    (p,) = t.proposals
    assert (p.agent, p.workflow_id, p.decision, p.comments) == (
        "ApprovalManager", wid, Decision.APPROVE, "Business justification confirmed")
    assert "Proposal (NOT decided)" in t.text and "sarah.manager must confirm it" in t.text
    assert t.events.index(p) > max(t.events.index(d) for d in t.deltas)  # shown after the reply
    req = service.get_workflow(wid)
    assert (req.status, req.approvals) == (WorkflowStatus.AWAITING_APPROVAL, [])
    assert [e.action for e in service.get_audit_trail(wid)] == ["created"]


async def test_approve_the_executive_travel_workflow_by_title(service, assistant_for, inbox):
    a = assistant_for("sarah.manager")
    t = await turn(a, "Approve the executive travel workflow")
    (p,) = t.proposals
    assert p.workflow_id == inbox["travel"] and p.decision is Decision.APPROVE
    # the human confirms, as the TUI's modal would: the audit keeps the agent's proposal
    service.approve_workflow(p.workflow_id, "sarah.manager", "ok",
                             proposal=AgentProposal(agent=p.agent, decision=p.decision, rationale=p.rationale))
    t = await turn(a, f"Check the status of workflow {p.workflow_id}")
    assert "stage 2 of 3 (Director)" in t.text
    assert "Manager (approved by sarah.manager) -> Director (waiting) -> Executive" in t.text
    assert "[proposed by ApprovalManager, confirmed by sarah.manager]" in t.text


async def test_an_ambiguous_title_is_asked_about_not_guessed(assistant_for, service, inbox):
    expense(service, 2000, "Team travel to Berlin")
    t = await turn(assistant_for("sarah.manager"), "Approve the travel workflow")
    assert t.proposals == []
    assert "Several pending approvals match" in t.text and inbox["travel"] in t.text


async def test_reject_without_a_reason_says_one_is_needed(assistant_for, inbox):
    t = await turn(assistant_for("sarah.manager"), f"reject {inbox['licence']}")
    (p,) = t.proposals
    assert (p.decision, p.comments) == (Decision.REJECT, "")
    assert "A reason for the requester is required" in t.text


async def test_status_and_complete_audit_trail(service, assistant_for, inbox):
    wid = inbox["travel"]
    service.approve_workflow(wid, "sarah.manager", "Business justification confirmed",
                             proposal=AgentProposal(agent="ApprovalManager", decision=Decision.APPROVE,
                                                    rationale="within policy"))
    a = assistant_for("john.doe")
    t = await turn(a, f"Check the status of workflow {wid}")
    assert t.agent == "WorkflowCoordinator" and t.activity == [f"looked up {wid}"]
    assert "Status: awaiting approval, stage 2 of 3 (Director)" in t.text and "Risk: HIGH" in t.text
    assert "john.doe cannot decide it now: You requested" in t.text
    t = await turn(a, f"Show me the complete audit trail for workflow {wid}")
    assert f"Audit trail of {wid}: 2 entries" in t.text
    assert "john.doe created: risk HIGH; chain Manager -> Director -> Executive" in t.text
    assert "sarah.manager approved: stage 1 (Manager)" in t.text
    assert "agent proposal: ApprovalManager proposed approve (\u201cwithin policy\u201d); a human confirmed it" in t.text


async def test_compliance_review_finds_a_split_purchase(service, assistant_for):
    ids = [expense(service, amount, f"Laptops batch {n}", category="equipment",
                   description="Replacement laptops for the support team")
           for n, amount in enumerate((9500, 9800, 9900), 1)]
    t = await turn(assistant_for("carol.compliance"), f"check {ids[-1]} for compliance")
    assert t.agent == "ComplianceOfficer"
    assert "[HIGH] Possible split purchase" in t.text and all(i in t.text for i in ids)
    assert "compared it with 2 other requests" in t.text


async def test_the_conversation_survives_more_than_ten_messages(service, assistant_for):
    """tframex's default memory would show the model only the first ten messages, so from the
    fourth turn on it would keep answering the third question."""
    ids = [expense(service, 100 + n, f"Trip {n}") for n in range(6)]
    a = assistant_for("sarah.manager")
    for wid in ids:
        t = await turn(a, f"Check the status of workflow {wid}")
        assert f"{wid}: title" in t.text
        assert [w for w in ids if w in t.text] == [wid]


async def test_the_wrong_agent_points_to_the_right_one(service, assistant_for):
    t = await turn(assistant_for("john.doe"), SINGAPORE, agent="ComplianceOfficer")
    assert t.drafts == [] and "That is a job for the WorkflowCoordinator" in t.text


@pytest.mark.parametrize("text, agent", [
    (Q4, "WorkflowCoordinator"), (MIGRATION, "WorkflowCoordinator"),
    ("Show me pending approvals for sarah.manager", "ApprovalManager"),
    ("Approve workflow WF-1-1 with comment 'compliance confirmed'", "ApprovalManager"),
    ("Check the status of workflow WF-1-1", "WorkflowCoordinator"),
    ("Show me the complete audit trail for workflow WF-1-1", "WorkflowCoordinator"),
    ("check WF-1-1 for compliance", "ComplianceOfficer"),
])
async def test_routing_by_intent(assistant_for, text, agent):
    assert (await turn(assistant_for("sarah.manager"), text)).agent == agent


async def test_an_unknown_agent_name_fails_the_turn_clearly(assistant_for):
    t = await turn(assistant_for("john.doe"), "help", agent="Oracle")
    assert [f.message for f in t.failures] == [
        "Unknown agent 'Oracle'; choose one of: WorkflowCoordinator, ApprovalManager, ComplianceOfficer (or auto)."]
