"""The desk says that HITL_POLICY_FILE and the threshold variables no longer change the rules
(issue 8): the stderr line printed before the desk takes the screen is out of sight."""

from __future__ import annotations

from .conftest import SIZE, notes, settle


async def test_the_desk_notifies_that_the_policy_environment_is_ignored(desk, monkeypatch, tmp_path):
    monkeypatch.setenv("HITL_POLICY_FILE", str(tmp_path / "mine.toml"))
    monkeypatch.setenv("HIGH_RISK_EXPENSE_THRESHOLD", "1000000")
    app = desk.app("bob.manager")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        said = [n for n in notes(app) if "ignored" in n]
        assert len(said) == 1 and "HITL_POLICY_FILE, HIGH_RISK_EXPENSE_THRESHOLD" in said[0]
        assert "hitl-tui policy apply" in said[0]


async def test_no_notice_without_those_variables(desk):
    app = desk.app("bob.manager")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert not [n for n in notes(app) if "ignored" in n]
