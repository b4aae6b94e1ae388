"""`hitl-tui doctor` in team mode, from real accounts against the real service (conftest.py):
each account is told the one thing that keeps it from the desk, in its own words."""

from __future__ import annotations

from tests.remote.conftest import Account, Service, Team

FIX, OK = "FIX   ", "ok    "


def _doctor(account: Account) -> tuple[int, list[str], list[str]]:
    """(exit status, ok lines, FIX lines) of `hitl-tui doctor` as that account."""
    run = account.cli("doctor")
    lines = run.stdout.strip().splitlines()
    assert lines and all(line.startswith((OK, FIX)) for line in lines[:-1]), run.output
    return run.exit_code, [x for x in lines if x.startswith(OK)], [x for x in lines if x.startswith(FIX)]


def test_a_member_of_the_group_and_the_directory_passes(team: Team, service: Service):
    alice = team["alice"]
    code, oks, fixes = _doctor(alice)
    assert code == 0 and fixes == [], oks
    text = "\n".join(oks)
    assert f"this account is in group {team.group}, which may connect to {team.socket}" in text
    assert f"the hitl-tui service answers at {team.socket} (from HITL_SERVER)" in text
    assert f"{alice.name} is in the service's user directory (role manager)" in text
    with team.peek() as engine:
        kid = engine.user_key_ids()[alice.name]
    assert f"{alice.name}'s registered signing key {kid} is held by this account" in text
    assert "audit chain verified" in text


def test_an_account_outside_the_group_is_told_the_usermod_line(team: Team, service: Service):
    outsider = team["outsider"]
    code, _, fixes = _doctor(outsider)
    assert code == 1 and len(fixes) == 1, fixes  # not also "permission denied" for the same cause
    assert f"{outsider.name} is not in group {team.group}" in fixes[0]
    assert f"`sudo usermod -aG {team.group} {outsider.name}`" in fixes[0] and "log in again" in fixes[0]


def test_an_account_outside_the_directory_is_told_how_to_be_added(team: Team, service: Service):
    stranger = team["stranger"]
    code, oks, fixes = _doctor(stranger)
    assert code == 1 and len(fixes) == 1, fixes
    assert fixes[0].startswith(f"{FIX}{stranger.name} is not in the service's user directory: ")
    assert f"`hitl-tui users add {stranger.name} --role ROLE --key " in fixes[0]
    assert any("the hitl-tui service answers" in x for x in oks)  # it got that far


def test_a_stopped_service_is_one_line(team: Team, service: Service):
    assert service.stop() == 0
    code, _, fixes = _doctor(team["alice"])
    assert code == 1 and len(fixes) == 1, fixes
    assert fixes[0].startswith(f"{FIX}the hitl-tui service is not running") and "`hitl-tui serve --socket" in fixes[0]
