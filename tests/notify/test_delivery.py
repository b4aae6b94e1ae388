"""Notifications in embedded mode, through the installed console script: the outbox written with
the change, delivered by `hitl-tui notify flush` to a real HTTP receiver and a real SMTP server
(STARTTLS), signed, deduplicated, retried, given up, and never telling anyone more than they may
see."""

from __future__ import annotations

import json
import time

from hitl_tui.core import notifications as nt
from hitl_tui.core import rbac
from tests.cli.conftest import ME, file_request
from tests.notify.conftest import SECRET, Receiver

import pytest


def _secret_file(cli, secret: str = SECRET):
    path = cli.root / "hook.secret"
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return path


def _outbox(cli, state: str = "all") -> list[dict]:
    return cli.json("notify", "outbox", "--state", state, "--json")


def test_a_generic_webhook_gets_each_event_once_signed_with_ids_only(ready, receiver: Receiver):
    ready.ok("notify", "webhook", "add", receiver.url, "--secret-file", str(_secret_file(ready)))
    wid = file_request(ready, title="Q4 conference travel")
    rows = _outbox(ready)
    assert [(r["event"], r["workflow_id"], r["state"]) for r in rows] == [("waiting_for_you", wid, "pending")]

    done = ready.ok("notify", "flush")
    assert "Sent 1;" in done.stdout
    assert receiver.bad_signatures == 0 and len(receiver.raw) == 1
    (event_id, body), = receiver.unique.items()
    assert event_id == rows[0]["id"] and body["request_id"] == wid and body["event"] == "waiting_for_you"
    assert "title" not in body and "Q4" not in receiver.raw[0][1].decode()  # ids, kind, risk, type: no user text
    assert body["risk"] == "MEDIUM" and body["type"] == "expense_approval"
    assert ready.ok("notify", "flush").stdout.startswith("Sent 0;")  # sent is sent: nothing twice
    assert [r["state"] for r in _outbox(ready)] == ["sent"]


def test_a_wrong_secret_is_refused_by_the_receiver_and_retried(ready, receiver: Receiver):
    ready.ok("notify", "webhook", "add", receiver.url, "--secret-file", str(_secret_file(ready, "another-secret-0123456789")))
    file_request(ready)
    assert ready("notify", "flush").exit_code == 1
    assert receiver.bad_signatures == 1 and not receiver.unique
    (row,) = _outbox(ready)
    assert row["state"] == "failed" and row["attempts"] == 1 and "HTTP 401" in row["last_error"]


def test_the_webhook_change_is_audited_without_its_secret_or_address(ready, receiver: Receiver):
    ready.ok("notify", "webhook", "add", receiver.url, "--secret-file", str(_secret_file(ready)), "--events",
             "decided,expired")
    with ready.service() as s:
        entry = [e for e in s.iter_audit() if e.action == nt.WEBHOOK_ADDED][-1]
        text = json.dumps(entry.details)
    assert SECRET not in text and receiver.url not in text and entry.details["events"] == "decided,expired"
    listed = ready.json("notify", "webhook", "list", "--json")
    assert [h["host"] for h in listed] == ["127.0.0.1"] and SECRET not in json.dumps(listed)
    ready.ok("verify-audit")
    hook = listed[0]["id"]
    ready.ok("notify", "webhook", "remove", hook)
    ready.refused("notify", "webhook", "remove", hook, match="already removed")


@pytest.mark.parametrize("args, match", [
    (("notify", "webhook", "add", "ftp://example.com/x", "--secret", SECRET), "http(s) URL"),
    (("notify", "webhook", "add", "https://example.com/x"), "needs a secret"),
    (("notify", "webhook", "add", "https://example.com/x", "--secret", SECRET, "--events", "lunch"), "Unknown event"),
    (("notify", "prefs", "sarah.manager", "--quiet", "25:00-07:00"), "HH:MM-HH:MM"),
    (("notify", "prefs", "nobody.here"), "nobody.here"),
    (("notify", "email", "set", "--host", "h", "--from", "x@example.com", "--user", "u"), "needs a password"),
])
def test_bad_input_is_one_line(ready, args, match):
    ready.refused(*args, match=match)


def test_only_an_administrator_adds_a_webhook(ready):
    with ready.service() as s:
        with pytest.raises(Exception, match="not a user-directory administrator"):
            nt.add_webhook(s, "https://example.com/h", secret=SECRET, actor="sarah.manager")
        # a person sets their own preferences, and nobody else's
        nt.set_prefs(s, "sarah.manager", actor="sarah.manager")
        with pytest.raises(Exception, match="not a user-directory administrator"):
            nt.set_prefs(s, "mike.director", actor="sarah.manager")


def test_people_hear_only_of_what_they_may_see(ready, receiver: Receiver):
    """Everyone with preferences: only the eligible deciders of the stage hear of it, and a person
    whose role changes before the delivery is no longer told."""
    for name in ("sarah.manager", "mike.director", "carol.compliance", "sam.security", "john.doe"):
        ready.ok("notify", "prefs", name)
    wid = file_request(ready, requester="john.doe", title="Team offsite", data={"amount": "500", "category": "travel"})
    rows = _outbox(ready)
    told = sorted(r["recipient"] for r in rows)
    with ready.service() as s:
        req = s.get_workflow(wid)
        for name in ("sarah.manager", "mike.director", "carol.compliance", "sam.security", "john.doe"):
            user = s.get_user(name)
            if name in told:
                assert rbac.may_view(s.policy, user, req) and rbac.may_decide(s.policy, user, req), name
        assert "john.doe" not in told  # the requester is not asked to decide their own request
        assert "sam.security" not in told and "carol.compliance" not in told
        assert "sarah.manager" in told
        s.set_user_role("sarah.manager", "security", actor=ME)  # she may no longer see it
    ready.ok("notify", "email", "set", "--host", "127.0.0.1", "--port", "9", "--from", "desk@example.com")
    ready("notify", "flush")
    sarah = [r for r in _outbox(ready) if r["recipient"] == "sarah.manager"][0]
    assert sarah["state"] == "gave_up" and "may no longer see" in sarah["last_error"]


def test_decisions_reach_the_requester(ready, receiver: Receiver):
    ready.ok("notify", "webhook", "add", receiver.url, "--secret-file", str(_secret_file(ready)), "--events", "decided")
    ready.ok("notify", "prefs", "john.doe", "--events", "decided,changes_requested")
    wid = file_request(ready, requester="john.doe", data={"amount": "500", "category": "travel"})
    assert _outbox(ready) == []  # nobody asked to hear of waiting_for_you
    with ready.service() as s:
        s.approve_workflow(wid, "sarah.manager", "ok")
    events = sorted((r["event"], r["recipient"]) for r in _outbox(ready))
    assert events[0] == ("decided", "john.doe") and events[1][0] == "decided"


def test_retries_back_off_and_give_up_with_the_reason(ready, receiver: Receiver):
    receiver.status = 500
    ready.ok("notify", "retry", "--attempts", "3", "--backoff", "0.05")
    ready.ok("notify", "webhook", "add", receiver.url, "--secret-file", str(_secret_file(ready)))
    file_request(ready)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready("notify", "flush")
        (row,) = _outbox(ready)
        if row["state"] == "gave_up":
            break
        assert row["state"] == "failed"
        time.sleep(0.1)
    assert row["state"] == "gave_up" and row["attempts"] == 3 and len(receiver.raw) == 3
    assert row["last_error"] == "gave up after 3 attempts: 127.0.0.1 answered HTTP 500"
    receiver.status = 200
    ready.ok("notify", "flush")
    assert len(receiver.raw) == 3  # given up is given up


def test_hostile_titles_are_text_in_every_channel(ready):
    """A title trying Slack links and mentions, Markdown links and HTML: escaped per channel."""
    slack, teams = Receiver(_port(), secret="").start(), Receiver(_port(), secret="").start()
    try:
        for hook, kind in ((slack, "slack"), (teams, "teams")):
            ready.ok("notify", "webhook", "add", hook.url, "--kind", kind, "--sees", "manager")
        hostile = "<https://evil.example|Approve now> <!channel> & [click](https://evil.example) <b>x</b>"
        file_request(ready, title=hostile, data={"amount": "500", "category": "travel"})
        ready.ok("notify", "flush")
        (s_body,), (t_body,) = [json.loads(b) for _, b in slack.raw], [json.loads(b) for _, b in teams.raw]
        text = s_body["text"]
        assert "<" not in text and ">" not in text and "https://" not in text
        assert "&lt;https:\u200b//evil.example|Approve now&gt; &lt;!channel&gt; &amp;" in text
        assert s_body["unfurl_links"] is False
        blocks = t_body["attachments"][0]["content"]["body"]
        title = blocks[1]["text"]
        assert "<" not in title and "[click](" not in title and "https://" not in title
        assert "\\[click\\]\\(https:\u200b//evil\\.example\\)" in title and "&lt;b&gt;x&lt;/b&gt;" in title
    finally:
        slack.stop()
        teams.stop()


def _port() -> int:
    from tests.notify.conftest import free_port

    return free_port()


def test_email_over_starttls_with_a_password_file(ready, smtp_server):
    pw = ready.root / "smtp.pw"
    pw.write_text("mail-pass-1\n")
    pw.chmod(0o600)
    ready.ok("notify", "email", "set", "--host", smtp_server.host, "--port", str(smtp_server.port), "--user", "desk",
             "--from", "desk@example.com", "--password-file", str(pw), "--ca-file", str(smtp_server.ca_file))
    ready.ok("notify", "prefs", "sarah.manager", "--email", "sarah@example.org")
    wid = file_request(ready, title="Laptops for the new team", data={"amount": "500", "category": "equipment"})
    done = ready.ok("notify", "flush")
    assert "Sent 1;" in done.stdout, done.output
    (msg,) = smtp_server.messages
    (row,) = _outbox(ready)
    assert smtp_server.logins == [("desk", "mail-pass-1")]  # a login only ever after STARTTLS (auth_require_tls)
    assert smtp_server.envelopes == [("desk@example.com", ["sarah@example.org"])]
    assert msg["Message-ID"] == f"<{row['id']}@hitl-tui>" and msg["X-Hitl-Event-Id"] == row["id"]
    assert wid in msg["Subject"] and "Laptops for the new team" in msg["Subject"]
    body = msg.get_payload(decode=True).decode()
    assert "Requester: john.doe" in body and "waits for your decision" in body
    assert "mail-pass-1" not in (ready.root / "hitl.db").read_bytes().decode("latin-1")


def test_a_readable_password_file_is_refused_at_sending(ready, smtp_server):
    pw = ready.root / "smtp.pw"
    pw.write_text("mail-pass-1\n")
    pw.chmod(0o644)
    ready.ok("notify", "email", "set", "--host", smtp_server.host, "--port", str(smtp_server.port), "--user", "desk",
             "--from", "desk@example.com", "--password-file", str(pw), "--ca-file", str(smtp_server.ca_file))
    ready.ok("notify", "prefs", "sarah.manager")
    file_request(ready, data={"amount": "500", "category": "equipment"})
    assert ready("notify", "flush").exit_code == 1
    (row,) = _outbox(ready)
    assert row["state"] == "failed" and "readable by others" in row["last_error"] and not smtp_server.messages


def test_an_smtp_server_without_a_trusted_certificate_gets_nothing(ready, smtp_server):
    ready.ok("notify", "email", "set", "--host", smtp_server.host, "--port", str(smtp_server.port),
             "--from", "desk@example.com")  # no --ca-file: the test's certificate is not trusted
    ready.ok("notify", "prefs", "sarah.manager")
    file_request(ready, data={"amount": "500", "category": "equipment"})
    assert ready("notify", "flush").exit_code == 1
    (row,) = _outbox(ready)
    assert "CERTIFICATE_VERIFY_FAILED" in row["last_error"] and not smtp_server.messages


def test_quiet_hours_hold_email_without_an_attempt(ready, smtp_server):
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc).astimezone()
    start, end = (now - timedelta(minutes=30)).strftime("%H:%M"), (now + timedelta(minutes=90)).strftime("%H:%M")
    ready.ok("notify", "email", "set", "--host", smtp_server.host, "--port", str(smtp_server.port),
             "--from", "desk@example.com", "--ca-file", str(smtp_server.ca_file))
    ready.ok("notify", "prefs", "sarah.manager", "--quiet", f"{start}-{end}")
    file_request(ready, data={"amount": "500", "category": "equipment"})
    assert "held for quiet hours" in ready.ok("notify", "flush").stdout
    (row,) = _outbox(ready)
    assert row["state"] == "pending" and row["attempts"] == 0 and datetime.fromisoformat(row["next_attempt_at"]) > now
    assert not smtp_server.messages


@pytest.fixture
def filed_for_sarah(ready):
    """A request sarah hears of, filed before the keyring fixture moves the people's keys' store."""
    ready.ok("notify", "prefs", "sarah.manager")
    file_request(ready, data={"amount": "500", "category": "equipment"})
    return ready


@pytest.mark.keyring
def test_the_smtp_password_from_the_keyring(real_keyring, filed_for_sarah, smtp_server):  # the keyring first: it holds the signing key too
    import keyring

    from hitl_tui.notify.channels import KEYRING_SERVICE

    ready = filed_for_sarah
    keyring.set_password(KEYRING_SERVICE, "desk", "mail-pass-1")
    ready.ok("notify", "email", "set", "--host", smtp_server.host, "--port", str(smtp_server.port), "--user", "desk",
             "--from", "desk@example.com", "--password-keyring", "--ca-file", str(smtp_server.ca_file))
    assert "Sent 1;" in ready.ok("notify", "flush").stdout
    assert smtp_server.logins == [("desk", "mail-pass-1")] and len(smtp_server.messages) == 1
