"""A person's own time zone for quiet hours in team mode: `notify prefs --tz` from bob's own OS
account goes through the service, is signed there with the zone in its details, and a zone
zoneinfo does not know is refused in one line with nothing written."""

from __future__ import annotations

import pytest

from hitl_tui.core import notifications as nt
from tests.remote.conftest import Team

pytestmark = pytest.mark.xdist_group("remote-notify")


def test_a_persons_zone_goes_through_the_service_signed(team: Team, service):
    bob = team["bob"]
    with team.peek() as engine:
        size = engine.audit_size()
    line = bob.refused("notify", "prefs", bob.name, "--quiet", "22:00-07:00", "--tz", "Mars/Olympus_Mons")
    assert "Unknown time zone 'Mars/Olympus_Mons'" in line and "timedatectl list-timezones" in line, line
    said = bob.ok("notify", "prefs", bob.name, "--email", "bob@example.com", "--quiet", "22:00-07:00",
                  "--tz", "America/New_York").stdout
    assert "quiet 22:00-07:00 America/New_York time" in said, said
    assert "America/New_York time" in bob.ok("notify", "prefs", bob.name, "--show").stdout
    with team.peek() as engine:
        made = [e for e in engine.iter_audit() if e.seq > size]
        row = nt.prefs_of(engine, bob.name, bob.name)
        result = engine.verify_audit()
    assert [(e.action, e.details["tz"]) for e in made] == [("notify_prefs_set", "America/New_York")]
    assert made[0].sig is not None and row is not None and row.tz == "America/New_York"
    assert result.ok, result.problem
