"""What the edit form shows above its fields: the decision that sent this revision back (core's
one reading of it), and a verification summary whose counts agree with their verbs."""

from __future__ import annotations

from hitl_tui.core.models import VerifyResult


def test_change_request_is_the_latest_revisions_request_for_changes(service):
    wid = service.create_workflow_request("expense_approval", "Singapore travel", "Flights", "john.doe",
                                          {"amount": "15000", "category": "travel"})
    assert service.get_workflow(wid).change_request is None  # awaiting: nothing was asked
    service.request_changes(wid, "sarah.manager", "attach the hotel quote")
    asked = service.get_workflow(wid).change_request
    assert (asked.approver, asked.comments, asked.revision) == ("sarah.manager", "attach the hotel quote", 1)
    service.resubmit(wid, "john.doe", description="Flights; hotel quote attached")
    assert service.get_workflow(wid).change_request is None  # answered: the new revision awaits
    service.request_changes(wid, "tom.manager", "split flights and hotel")
    asked = service.get_workflow(wid).change_request
    assert (asked.approver, asked.comments, asked.revision) == ("tom.manager", "split flights and hotel", 2)


def test_verify_summary_agrees_in_number():
    one = VerifyResult(ok=True, entries=5, head_hash="h", checkpoints_checked=1)
    two = VerifyResult(ok=True, entries=5, head_hash="h", checkpoints_checked=1, external_checkpoints_checked=1)
    assert one.summary() == "audit chain verified: 5 entries, 1 signed checkpoint matches"
    assert two.summary() == "audit chain verified: 5 entries, 2 signed checkpoints match"
