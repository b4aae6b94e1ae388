"""The team-mode service delivers the outbox on its own, and a kill -9 loses nothing: a real
`hitl-tui serve` is killed while deliveries are undelivered (the receiver down) and again while
they are in flight (a slow receiver); after the restart every event has reached the receiver,
which deduplicates by event id, exactly once, and every outbox row says sent."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from tests.cli.conftest import SCRIPT
from tests.notify.conftest import SECRET, Receiver, free_port

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("notify-team")]

N = 12


def _rows(team) -> list:
    from hitl_tui.core.store import notify as sql

    with team.peek() as service:
        return service._read(sql.listing, ("pending", "failed", "sent", "gave_up"), 1000)


def _wait(team, what, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = _rows(team)
        if what(rows):
            return rows
        time.sleep(0.2)
    raise AssertionError(f"timed out: {[(r.id, r.state, r.attempts, r.last_error) for r in _rows(team)]}")


def _as_root_through_the_service(team, *args: str) -> subprocess.CompletedProcess:
    env = {**team.root_env(), "HITL_SERVER": str(team.socket)}
    env.pop("HITL_DB_PATH")
    env.pop("HITL_DB_KEY_FILE")
    return subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def test_kill_9_with_undelivered_and_in_flight_items_then_every_item_once():
    from tests.remote.conftest import private_team

    with private_team("hitlnt", "hitl-notify-") as (team, _suffix):
        receiver = Receiver(free_port())  # not started: the receiver is down
        secret = team.base / "hook.secret"
        secret.write_text(SECRET)
        team.root_cli("notify", "webhook", "add", receiver.url, "--secret-file", str(secret))
        team.root_cli("notify", "retry", "--attempts", "100", "--backoff", "0.2", "--max-backoff", "0.5")
        service = team.start_service()
        try:
            for i in range(N):
                made = _as_root_through_the_service(team, "request", "create", "--type", "expense_approval",
                                                    "--title", f"Item {i}", "-f", "amount=500", "-f",
                                                    "category=travel")
                assert made.returncode == 0, made.stdout + made.stderr
            # the service tries on its own clock, and fails: nobody listens yet
            _wait(team, lambda rows: len(rows) == N and all(r.attempts >= 1 and r.state == "failed" for r in rows))
            service.proc.send_signal(signal.SIGKILL)
            service.proc.wait(10)

            receiver.delay = 0.3  # slow: the next kill lands with deliveries claimed and in flight
            receiver.start()
            service = team.start_service()
            deadline = time.monotonic() + 30
            while len(receiver.raw) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            service.proc.send_signal(signal.SIGKILL)
            service.proc.wait(10)
            arrived_before = len(receiver.unique)
            assert 0 < arrived_before < N
            assert any(r.claim is not None for r in _rows(team))  # claimed, sent or not, never recorded

            receiver.delay = 0.0
            service = team.start_service()
            rows = _wait(team, lambda rows: all(r.state == "sent" for r in rows))
            assert "deliveries left unfinished by the last run are due again" in service.log_text()
        finally:
            if service.proc.poll() is None:
                service.stop()
            receiver.stop()
        assert len(rows) == N
        assert set(receiver.unique) == {r.id for r in rows}  # each event, once, after deduplication
        assert receiver.bad_signatures == 0
        assert {b["request_id"] for b in receiver.unique.values()} == {r.workflow_id for r in rows}
        assert len(receiver.raw) >= N  # at least once on the wire


_THROUGH_THE_SERVICE = """
import json, sys
from hitl_tui.remote.client import RemoteService
from hitl_tui.remote.notify_client import RemoteNotify
remote = RemoteService.connect(sys.argv[1])
notify = RemoteNotify(remote)
hook = notify.add_webhook(sys.argv[2], secret=sys.argv[3], events=["waiting_for_you"])
notify.set_retry(__import__("hitl_tui.core.notifications", fromlist=["Retry"]).Retry(5, 0.2, 1.0, 30.0))
print(json.dumps({"hook": hook.id, "listed": [h.id for h in notify.list_webhooks(remote.username)]}))
try:
    notify.flush()
except Exception as exc:
    print(json.dumps({"flush": str(exc)}))
remote.close()
"""


def test_the_administrators_changes_go_through_the_service_and_it_delivers():
    from tests.remote.conftest import PYTHON, private_team

    with private_team("hitlnu", "hitl-notify-") as (team, _suffix):
        receiver = Receiver(free_port()).start()
        service = team.start_service()
        try:
            env = {**team.root_env(), "HITL_SERVER": str(team.socket)}
            for name in ("HITL_DB_PATH", "HITL_DB_KEY_FILE"):
                env.pop(name)
            done = subprocess.run([str(PYTHON), "-c", _THROUGH_THE_SERVICE, str(team.socket), receiver.url, SECRET],
                                  env=env, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            first, second = (__import__("json").loads(line) for line in done.stdout.splitlines())
            assert first["listed"] == [first["hook"]]
            assert "the service delivers notifications on its own" in second["flush"]
            made = _as_root_through_the_service(team, "request", "create", "--type", "expense_approval", "--title",
                                                "Through the service", "-f", "amount=500", "-f", "category=travel")
            assert made.returncode == 0, made.stderr
            rows = _wait(team, lambda rows: len(rows) == 1 and rows[0].state == "sent", timeout=30)
        finally:
            service.stop()
            receiver.stop()
        assert list(receiver.unique) == [rows[0].id] and receiver.bad_signatures == 0
        with team.peek() as peek:
            actions = [e.action for e in peek.iter_audit()]
        assert "notify_webhook_added" in actions and "notify_retry_set" in actions
        team.root_cli("verify-audit")


def test_sigterm_stops_promptly_while_deliveries_wait_on_a_slow_receiver():
    """A stopping service attempts nothing more: it waits for the one send in flight, not for
    every claimed one (each could wait for its timeout); what it did not record is sent after
    the next start."""
    from tests.remote.conftest import private_team

    with private_team("hitlns", "hitl-notify-") as (team, _suffix):
        receiver = Receiver(free_port(), delay=2.0).start()
        secret = team.base / "hook.secret"
        secret.write_text(SECRET)
        team.root_cli("notify", "webhook", "add", receiver.url, "--secret-file", str(secret))
        for i in range(6):
            team.root_cli("request", "create", "--type", "expense_approval", "--title", f"Slow {i}", "-f",
                          "amount=500", "-f", "category=travel")
        service = team.start_service()
        try:
            deadline = time.monotonic() + 20
            while not receiver.raw and time.monotonic() < deadline:
                time.sleep(0.02)
            started = time.monotonic()
            assert service.stop(signal.SIGTERM, timeout=20) == 0
            took = time.monotonic() - started
            assert took < 6.0, took  # sending the other five would take 10 s more
            assert len(receiver.raw) <= 2
            receiver.delay = 0.0
            service = team.start_service()
            rows = _wait(team, lambda rows: len(rows) == 6 and all(r.state == "sent" for r in rows))
        finally:
            if service.proc.poll() is None:
                service.stop()
            receiver.stop()
        assert set(receiver.unique) == {r.id for r in rows}
