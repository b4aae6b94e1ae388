"""What the desk tells its user about changes: the requester hears how their request was decided,
and the header's entry count follows the desk's own decisions as well as everyone else's."""

from __future__ import annotations

from .conftest import SIZE, notes, settle, wait_for


def header_audit(app) -> str:
    return app.screen.header.audit.plain


async def test_the_requester_hears_of_approval_rejection_and_changes_requested(desk):
    svc = desk.service()
    small = svc.create_workflow_request("expense_approval", "Team lunch", "", "alice", {"amount": "40"})
    taxi = svc.create_workflow_request("expense_approval", "Airport taxi", "", "alice", {"amount": "60"})
    hotel = svc.create_workflow_request("expense_approval", "Hotel, two nights", "", "alice", {"amount": "300"})
    app = desk.app("alice", poll_interval=0.1)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        other = desk.service()  # bob at his own terminal
        other.approve_workflow(small, "bob.manager", "fine")
        other.reject_workflow(taxi, "bob.manager", "take the train")
        other.request_changes(hotel, "bob.manager", "attach the hotel quote")
        await wait_for(pilot, lambda: sum("bob.manager" in n for n in notes(app)) >= 3,
                       state=lambda: notes(app))
        said = notes(app)
        assert f"Your request {small} “Team lunch” was approved by bob.manager; fully approved." in said
        assert f"Your request {taxi} “Airport taxi” was rejected by bob.manager: “take the train”" in said
        assert any(n.startswith(f"bob.manager sent your request {hotel} “Hotel, two nights” back for changes: "
                                f"“attach the hotel quote”") for n in said)
        severities = {str(n.message): n.severity for n in app._notifications}
        assert severities[f"Your request {taxi} “Airport taxi” was rejected by bob.manager: “take the train”"] \
            == "warning"


async def test_an_approver_is_not_told_of_their_own_decisions_as_news(desk):
    svc = desk.service()
    wid = svc.create_workflow_request("expense_approval", "Team lunch", "", "alice", {"amount": "40"})
    app = desk.app("bob.manager", poll_interval=0.1)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        desk.service().approve_workflow(wid, "bob.manager", "from the CLI")  # bob himself, elsewhere
        await wait_for(pilot, lambda: not app.screen.inbox.rows)
        await settle(pilot)
        assert not any("Your request" in n or "New in Awaiting me" in n for n in notes(app))


async def test_the_header_counts_the_desks_own_decision(desk):
    svc = desk.service()
    wid = svc.create_workflow_request("expense_approval", "Team lunch", "", "alice", {"amount": "40"})
    app = desk.app("bob.manager")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = svc.verify_audit().entries
        assert header_audit(app) == f"audit ✔ verified, {before:,} entries"
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert svc.get_workflow(wid).status.value == "approved"
        now = svc.verify_audit().entries
        assert now == before + 1
        # not re-hashed yet (at most every few seconds): it says what it has and has not checked
        assert header_audit(app) == f"audit ✔ verified {before:,} of {now:,} entries"
        app.screen.verify_chain()
        await settle(pilot)
        assert header_audit(app) == f"audit ✔ verified, {now:,} entries"
