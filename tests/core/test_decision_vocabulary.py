"""One vocabulary for the decisions (issue 10, section 6): each decision knows its workflow action,
its audit name, its verb and its comment; the engine's public `decide` writes what the vocabulary
says; and no other module spells the vocabulary again."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hitl_tui.core.decisions import BY_AUDIT_ACTION, DECISION_ACTIONS, TERMS, AuditAction, parse_decision
from hitl_tui.core.errors import ValidationFailed
from hitl_tui.core.models import Decision, WorkflowStatus
from hitl_tui.core.workflow import Action, transition

PACKAGE = Path(__file__).resolve().parents[2] / "hitl_tui"


def test_every_decision_has_its_words():
    assert set(TERMS) == set(Decision)
    assert [TERMS[d].audit_action for d in Decision] == list(DECISION_ACTIONS)
    assert {d: TERMS[d].action for d in Decision} == {
        Decision.APPROVE: Action.APPROVE, Decision.REJECT: Action.REJECT, Decision.REQUEST_CHANGES: Action.REQUEST_CHANGES}
    assert [TERMS[d].verb for d in Decision] == ["approve", "reject", "request changes on"]
    assert [TERMS[d].done for d in Decision] == ["Approved", "Rejected", "Requested changes on"]
    assert [(TERMS[d].comment_required, TERMS[d].comment_name) for d in Decision] == [
        (False, "comments"), (True, "reason"), (True, "comments")]
    # the words other modules used to spell themselves now come from here
    assert [a.verb for a in (Action.APPROVE, Action.REJECT, Action.REQUEST_CHANGES)] == [
        TERMS[d].verb for d in Decision]
    assert [d.past_tense for d in Decision] == [TERMS[d].past_tense for d in Decision]
    # each decision's action moves the request where its audit name says
    after = {d: transition(TERMS[d].action, WorkflowStatus.AWAITING_APPROVAL, 0, 1).status for d in Decision}
    assert {TERMS[d].audit_action.value: s.value for d, s in after.items()} == {
        "approved": "approved", "rejected": "rejected", "changes_requested": "changes_requested"}


@pytest.mark.parametrize("text,expected", [
    ("approve", Decision.APPROVE), ("Approved", Decision.APPROVE), (" REJECT ", Decision.REJECT),
    ("deny", Decision.REJECT), ("request changes", Decision.REQUEST_CHANGES),
    ("request-changes", Decision.REQUEST_CHANGES), ("changes_requested", Decision.REQUEST_CHANGES),
])
def test_parse_decision(text, expected):
    assert parse_decision(text) is expected


def test_an_unknown_decision_is_one_line():
    with pytest.raises(ValidationFailed, match=r"^Unknown decision 'maybe'; choose approve, reject or "
                                               r"request_changes\.$"):
        parse_decision("maybe")


@pytest.mark.parametrize("decision", list(Decision))
def test_decide_writes_what_the_vocabulary_says(service, decision):
    wid = service.create_workflow_request("expense_approval", "Team lunch", "Lunch with the new team members",
                                          "john.doe", {"amount": "300"})
    req = service.decide(wid, "sarah.manager", decision.value, "because")  # its name is enough
    assert req.approvals[-1].decision is decision
    entry = service.get_audit_trail(wid)[-1]
    assert entry.action == TERMS[decision].audit_action
    assert BY_AUDIT_ACTION[entry.action] is decision
    assert entry.details["decision"] == decision.value


def test_a_required_comment_is_named_by_the_vocabulary(service):
    wid = service.create_workflow_request("expense_approval", "Team lunch", "Lunch with the new team members",
                                          "john.doe", {"amount": "300"})
    with pytest.raises(ValidationFailed) as refused:
        service.decide(wid, "sarah.manager", Decision.REJECT, "")
    assert refused.value.field == "reason"
    assert service.get_workflow(wid).status is WorkflowStatus.AWAITING_APPROVAL  # nothing written


# Spellings of the vocabulary that must appear only in core/decisions.py: the decision verbs,
# maps keyed by all three decisions, and the decision audit names as a literal tuple.
_SPELLINGS = [
    re.compile(r'"request changes on"'),
    # a decision -> its action, audit name, word or engine method (a glyph or a colour is the UI's)
    re.compile(r"\{\s*Decision\.APPROVE\s*:\s*(Action\.|\"|svc\.|service\.)[^{}]*Decision\.REJECT\s*:"),
    re.compile(r"\{\s*Action\.APPROVE\s*:\s*\"approve\""),
    re.compile(r'\(\s*"approved",\s*"rejected",\s*"changes_requested"\s*\)'),
    re.compile(r'"approve":\s*"approve",\s*"reject":\s*"reject"'),
]


def test_no_module_spells_the_vocabulary_again():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "decisions.py" and path.parent.name == "core":
            continue
        text = path.read_text("utf-8")
        for pattern in _SPELLINGS:
            for match in pattern.finditer(text):
                found.append(f"{path.relative_to(PACKAGE.parent)}: {match.group(0)[:60]!r}")
    assert not found, "spelled again outside core/decisions.py:\n" + "\n".join(found)


def test_audit_actions_are_the_stored_names():
    assert {a.value for a in AuditAction} >= {"created", "approved", "rejected", "changes_requested", "resubmitted",
                                              "withdrawn", "user_added", "policy_applied", "key_rotated"}
