"""A person's own time zone for their quiet hours (`notify prefs --tz`), through the installed
console script and the real outbox, `notify flush` and SMTP server: the hours are read on the
person's clock when they gave a zone, else on the desk's (the `timezone` setting)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from hitl_tui.core import notifications as nt
from tests.cli.conftest import file_request

TOKYO = "Asia/Tokyo"  # UTC+9 all year: a window around Tokyo's now never holds UTC's now


@pytest.fixture
def mail(ready, smtp_server):
    ready.ok("notify", "email", "set", "--host", smtp_server.host, "--port", str(smtp_server.port),
             "--from", "desk@example.com", "--ca-file", str(smtp_server.ca_file))
    return ready


def _quiet_around_now(zone: str) -> tuple[str, datetime]:
    """Quiet hours from half an hour ago to an hour and a half from now on `zone`'s clock, and
    when they end (UTC, to the minute)."""
    now = datetime.now(ZoneInfo(zone))
    start, end = now - timedelta(minutes=30), now + timedelta(minutes=90)
    return f"{start:%H:%M}-{end:%H:%M}", end.replace(second=0, microsecond=0).astimezone(timezone.utc)


def _only_row(cli) -> dict:
    (row,) = cli.json("notify", "outbox", "--state", "all", "--json")
    return row


def test_quiet_hours_are_read_on_the_persons_own_clock(mail, smtp_server):
    quiet, ends = _quiet_around_now(TOKYO)
    utc = {"HITL_TIMEZONE": "UTC"}  # the desk's clock: not quiet there now
    said = mail.ok("notify", "prefs", "sarah.manager", "--quiet", quiet, "--tz", TOKYO, env=utc).stdout
    assert f"quiet {quiet} {TOKYO} time" in said
    file_request(mail, data={"amount": "500", "category": "equipment"})
    assert "held for quiet hours" in mail.ok("notify", "flush", env=utc).stdout
    row = _only_row(mail)
    assert row["state"] == "pending" and row["attempts"] == 0
    assert datetime.fromisoformat(row["next_attempt_at"]) == ends  # when Tokyo's quiet hours end
    assert not smtp_server.messages
    assert f"{TOKYO} time" in mail.ok("notify", "prefs", "sarah.manager", "--show").stdout


def test_without_a_zone_the_desks_clock_decides(mail, smtp_server):
    quiet, _ = _quiet_around_now(TOKYO)
    utc = {"HITL_TIMEZONE": "UTC"}
    said = mail.ok("notify", "prefs", "sarah.manager", "--quiet", quiet, env=utc).stdout
    assert f"quiet {quiet} the desk's time" in said
    file_request(mail, data={"amount": "500", "category": "equipment"})
    assert mail.ok("notify", "flush", env=utc).stdout.startswith("Sent 1;")  # not quiet in UTC
    assert _only_row(mail)["state"] == "sent" and len(smtp_server.messages) == 1


def test_the_persons_zone_overrides_a_desk_that_is_quiet(mail, smtp_server):
    quiet, _ = _quiet_around_now(TOKYO)
    tokyo = {"HITL_TIMEZONE": TOKYO}  # the desk's clock is inside the hours; the person's (UTC) is not
    mail.ok("notify", "prefs", "sarah.manager", "--quiet", quiet, "--tz", "UTC", env=tokyo)
    file_request(mail, data={"amount": "500", "category": "equipment"})
    assert mail.ok("notify", "flush", env=tokyo).stdout.startswith("Sent 1;")
    assert len(smtp_server.messages) == 1
    # and once the zone is dropped, the desk's clock holds the next one
    mail.ok("notify", "prefs", "sarah.manager", "--quiet", quiet, env=tokyo)
    file_request(mail, title="Second monitor", data={"amount": "300", "category": "equipment"})
    assert "held for quiet hours" in mail.ok("notify", "flush", env=tokyo).stdout
    assert len(smtp_server.messages) == 1


def test_the_zone_is_in_the_signed_entry(ready):
    ready.ok("notify", "prefs", "sarah.manager", "--quiet", "22:00-07:00", "--tz", " Europe/Paris ")
    ready.ok("notify", "prefs", "mike.director")
    with ready.service() as s:
        made = {e.details["username"]: e.details for e in s.iter_audit() if e.action == nt.PREFS_SET}
        assert made["sarah.manager"]["tz"] == "Europe/Paris" and made["mike.director"]["tz"] is None
        assert s.verify_audit().ok


def test_an_unknown_zone_is_one_line_and_changes_nothing(ready):
    before = ready.audit_size()
    ready.refused("notify", "prefs", "sarah.manager", "--quiet", "22:00-07:00", "--tz", "Mars/Olympus_Mons",
                  match="Unknown time zone 'Mars/Olympus_Mons'")
    ready.refused("notify", "prefs", "sarah.manager", "--tz", "../../etc/passwd", match="timedatectl list-timezones")
    assert ready.audit_size() == before
    assert "hears of nothing" in ready.ok("notify", "prefs", "sarah.manager", "--show").stdout
