"""Re-authentication at signing at the desk (21 CFR 11.200): the policy's reauth_at asks for the
signing key's passphrase in a modal before the decision is signed."""

from __future__ import annotations

from hitl_tui.core.personal_keys import with_passphrase
from hitl_tui.core.policy import default_policy_text
from hitl_tui.screens.decision_modal import DecisionModal
from hitl_tui.screens.desk import DeskScreen
from hitl_tui.screens.passphrase_prompt import PassphrasePrompt

from .conftest import SIZE, notes, screen_text, settle, wait_for

PASSPHRASE = "correct horse"


def _protect(desk) -> None:
    """reauth_at = MEDIUM, and bob.manager's key protected by a passphrase."""
    svc = desk.service()
    svc.apply_policy(default_policy_text() + '\n[signing]\nreauth_at = "MEDIUM"\n')  # bootstrap: no admin yet
    key = svc.personal_keys.newest("bob.manager")
    svc.personal_keys.replace(with_passphrase(key, key.unlock(), PASSPHRASE))


def _setup(desk) -> str:
    _protect(desk)
    return desk.service().create_workflow_request("expense_approval", "Team offsite", "", "alice", {"amount": "3000"})


async def _to_prompt(pilot, app) -> None:
    await settle(pilot)
    assert isinstance(app.screen, DeskScreen)
    await pilot.press("a")
    await settle(pilot)
    assert isinstance(app.screen, DecisionModal)
    await pilot.press(*"ok", "enter")
    await settle(pilot)
    assert isinstance(app.screen, PassphrasePrompt)


async def test_the_desk_asks_for_the_passphrase_and_signs_with_it(desk):
    wid = _setup(desk)
    svc = desk.service()
    size = svc.audit_size()
    app = desk.app("bob.manager")
    async with app.run_test(size=SIZE) as pilot:
        await _to_prompt(pilot, app)
        text = screen_text(app)
        assert f"{wid} is MEDIUM: the policy asks you to re-authenticate" in text
        assert "Passphrase of bob.manager's signing key" in text
        await pilot.press("escape")  # cancelled: nothing recorded
        await settle(pilot)
        assert isinstance(app.screen, DeskScreen) and svc.audit_size() == size

        await _to_prompt(pilot, app)
        await pilot.press(*"wrong one", "enter")
        await settle(pilot)
        await wait_for(pilot, lambda: any("Wrong passphrase" in n for n in notes(app)))
        assert svc.audit_size() == size

        await _to_prompt(pilot, app)
        assert PASSPHRASE not in screen_text(app)
        await pilot.press(*PASSPHRASE)
        assert PASSPHRASE not in screen_text(app)  # a password field
        await pilot.press("enter")
        await settle(pilot)
        await wait_for(pilot, lambda: any(f"Approved {wid}" in n for n in notes(app)))
    entry = svc.get_audit_trail(wid)[-1]
    assert entry.action == "approved" and entry.sig["key"] == svc.user_key_ids()["bob.manager"]
    assert svc.verify_audit().ok


async def test_a_protected_key_is_unlocked_once_per_session_below_reauth_at(desk):
    _protect(desk)
    svc = desk.service()
    small = svc.create_workflow_request("expense_approval", "Coffee", "", "alice", {"amount": "20"})
    other = svc.create_workflow_request("expense_approval", "Tea", "", "alice", {"amount": "10"})
    app = desk.app("bob.manager")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")  # the oldest awaiting request: the coffee
        await settle(pilot)
        assert isinstance(app.screen, DecisionModal) and small in screen_text(app)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PassphrasePrompt)
        assert "protected by a passphrase; type it once for this session" in screen_text(app)
        await pilot.press(*PASSPHRASE, "enter")
        await wait_for(pilot, lambda: any(f"Approved {small}" in n for n in notes(app)))
        assert not app.service.signing_key_locked("bob.manager")
        app.service.decide(other, "bob.manager", "approve")  # the same session: no passphrase asked again
    assert svc.get_audit_trail(small)[-1].sig is not None and svc.get_audit_trail(other)[-1].sig is not None


async def test_the_timeline_shows_each_signature_as_part_11_asks(desk):
    svc = desk.service()
    wid = svc.create_workflow_request("expense_approval", "Team lunch", "", "alice", {"amount": "300"})
    svc.approve_workflow(wid, "bob.manager", "fine")
    app = desk.app("alice")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("2")  # my requests
        await wait_for(pilot, lambda: "approved as Manager, stage 1 of 1" in screen_text(app))
        text = screen_text(app)
        assert "Signed by bob.manager, " in text and "Signed by alice, " in text and f"requested {wid}" in text
