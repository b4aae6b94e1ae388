"""`hitl-tui http` as systems on other hosts meet it: the installed console script serving a real
server on 127.0.0.1 (a free port), on an isolated HOME and a prepared encrypted database, driven
with httpx, while a person decides with the installed CLI. The account running the tests is that
person (a manager and the directory's administrator); the token stands for billing-bot, an
integration owned by sarah, so whatever the token files is billing-bot's, never the OS
account's. One test runs it in team mode, on an OS account of its own, through a real service.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from hitl_tui.client import verify_receipt
from hitl_tui.core.errors import PermissionDenied
from hitl_tui.core.tokens import SHAPE
from tests.cli.conftest import ME, SCRIPT, Cli

PAYLOAD = {"tool": "refund", "order_id": "1234", "amount": "25.00"}
FILING = {"type": "tool_call", "title": "Refund order 1234", "payload": PAYLOAD,
          "justification": "the customer was charged twice", "timeout_seconds": 600, "agent": "erp-webhooks"}
ENDPOINTS = {("post", "/v1/requests"), ("get", "/v1/requests"), ("get", "/v1/requests/{request_id}"),
             ("get", "/v1/requests/{request_id}/wait"), ("post", "/v1/requests/{request_id}/cancel"),
             ("post", "/v1/requests/{request_id}/resubmit"), ("get", "/v1/receipt-key")}
_LISTENING = re.compile(r"listening on (https?)://127\.0\.0\.1:(\d+)")


# --- the server, as a process ---------------------------------------------------------------------

@dataclass
class Http:
    proc: subprocess.Popen
    log: Path
    base: str

    def client(self, token: str | None = None, **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=90, **kw)

    def log_text(self) -> str:
        return self.log.read_text("utf-8", "replace")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(30)


def start(argv: list[str], env: dict[str, str], log: Path, cwd: Path | None = None) -> Http:
    """Launch `hitl-tui http ...` (argv) and wait for the line that says where it listens."""
    with log.open("wb") as sink:
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = _LISTENING.search(log.read_text("utf-8", "replace"))
        if found:
            return Http(proc, log, f"{found.group(1)}://127.0.0.1:{found.group(2)}")
        if proc.poll() is not None:
            raise AssertionError(f"hitl-tui http exited {proc.returncode}:\n{log.read_text()}")
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"hitl-tui http did not start:\n{log.read_text()}")


def one_line_error(response: httpx.Response, status: int, *words: str) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"] and "\n" not in body["error"] and "Traceback" not in body["error"], body
    for word in words:
        assert word in body["error"], body["error"]
    return str(body["error"])


def vkey(cli: Cli) -> str:
    """The verifier key `hitl-tui checkpoint` prints: the key receipts are signed with."""
    out = cli.ok("checkpoint", "-o", str(cli.root / f"cp-{time.monotonic_ns()}.note")).stdout
    return next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("Verifier key: "))


# --- an embedded database ---------------------------------------------------------------------------

@pytest.fixture
def desk(tmp_path: Path) -> tuple[Cli, str]:
    """You administer the database and decide as a manager; billing-bot is sarah's integration
    (its signing key made on this account, as `users add` does here); its token, from the CLI."""
    (tmp_path / "db").mkdir()
    cli = Cli(tmp_path / "db")
    cli.ok("init", "--role", "manager", "--email", "me@example.com")
    cli.ok("users", "add", "sarah", "--role", "manager")
    cli.ok("users", "add", "billing-bot", "--integration", "--owner", "sarah", "--role", "employee")
    token = cli.ok("token", "create", "billing-bot", "--name", "ERP webhooks").stdout.strip()
    assert SHAPE.match(token)
    return cli, token


def _serve(cli: Cli, log: Path, *options: str) -> Http:
    return start([str(SCRIPT), "http", "--listen", "127.0.0.1:0", *options], {**os.environ, **cli.env}, log,
                 cwd=cli.root)


@contextmanager
def serving(cli: Cli, log: Path, *options: str) -> Iterator[Http]:
    server = _serve(cli, log, *options)
    try:
        yield server
    finally:
        assert server.stop() == 0, server.log_text()
    text = server.log_text()
    assert "Traceback" not in text and text.rstrip().endswith("hitl-tui http: stopped"), text


@pytest.fixture
def api(desk: tuple[Cli, str], tmp_path: Path) -> Iterator[Http]:
    with serving(desk[0], tmp_path / "http.log") as server:
        yield server


def _filed(client: httpx.Client, **changes: Any) -> dict[str, Any]:
    made = client.post("/v1/requests", json={**FILING, **changes})
    assert made.status_code == 201, made.text
    return made.json()


def test_file_read_and_wait_while_a_person_approves_with_the_cli(desk, api):
    cli, token = desk
    with api.client(token) as client:
        made = client.post("/v1/requests", json=FILING)
        assert made.status_code == 201, made.text
        filed = made.json()
        rid = filed["request_id"]
        assert made.headers["location"] == f"/v1/requests/{rid}"
        assert (filed["outcome"], filed["final"], filed["receipt"], filed["agent"]) == \
            ("pending", False, None, "erp-webhooks")
        assert client.get(f"/v1/requests/{rid}").json()["outcome"] == "pending"
        shown = cli.ok("request", "show", rid).stdout
        assert "Filed by:   billing-bot (integration of sarah), agent erp-webhooks" in shown  # the token's account

        with ThreadPoolExecutor(1) as pool:
            started = time.monotonic()
            waiting = pool.submit(client.get, f"/v1/requests/{rid}/wait", params={"seconds": 40})
            time.sleep(1.0)
            assert not waiting.done()  # a long poll: nobody has decided yet
            cli.ok("approve", rid, "-m", "refund approved")
            approved_at = time.monotonic()
            decided = waiting.result(30)
        assert decided.status_code == 200, decided.text
        assert time.monotonic() - approved_at < 5 < 40 and approved_at - started >= 1.0
        body = decided.json()
        assert (body["outcome"], body["final"], body["decided_by"], body["decider_role"], body["comments"]) == \
            ("approved", True, ME, "manager", "refund approved")
        served_key = client.get("/v1/receipt-key").json()
        mine = client.get("/v1/requests").json()
    receipt = body["receipt"]
    assert receipt["request_id"] == rid and receipt["outcome"] == "approved"
    assert receipt["payload_sha256"] == hashlib.sha256(
        json.dumps(PAYLOAD, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert verify_receipt(receipt, served_key["key"], PAYLOAD)
    assert verify_receipt(receipt, vkey(cli), PAYLOAD)  # the key the database's checkpoints are signed with
    assert not verify_receipt(receipt, served_key["key"], {**PAYLOAD, "amount": "2500.00"})
    assert not verify_receipt({**receipt, "decided_by": "sarah"}, served_key["key"], PAYLOAD)
    assert mine["count"] == 1 and mine["requests"][0]["request_id"] == rid
    log = api.log_text()
    assert re.search(rf"127\.0\.0\.1 GET /v1/requests/{rid}/wait 200 \d+ ms tk-[0-9a-f]{{12}} billing-bot\n", log)
    assert "Refund order 1234" not in log and token not in log  # one line per request, no content, no token


def test_a_token_revoked_mid_wait_ends_the_wait_with_401(desk, api):
    cli, token = desk
    tid = cli.json("token", "list", "--json")[0]["id"]
    with api.client(token) as client:
        rid = _filed(client)["request_id"]
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(client.get, f"/v1/requests/{rid}/wait", params={"seconds": 50})
            time.sleep(1.0)
            assert not waiting.done()
            cli.ok("token", "revoke", tid, "--reason", "leaked in a ticket")
            revoked_at = time.monotonic()
            ended = waiting.result(30)
        assert time.monotonic() - revoked_at < 5
        line = one_line_error(ended, 401, f"Bearer token {tid} was revoked at")
        assert ended.headers["www-authenticate"] == 'Bearer realm="hitl-tui"'
        for again in (client.get(f"/v1/requests/{rid}"), client.post("/v1/requests", json=FILING),
                      client.get("/v1/requests")):
            assert one_line_error(again, 401) == line
    with cli.service() as s:
        assert s.get_workflow(rid).status.value == "awaiting_approval"  # revoking the token cancels nothing
        assert len(s.approvals.mine("billing-bot")) == 1


def test_missing_malformed_and_unknown_tokens_get_401(desk, api):
    _, token = desk
    unknown = "hitl_" + "A" * 43
    with api.client() as client:
        cases = {None: "No bearer token", "Basic Ym90OnB3": "must be `Bearer hitl_...`",
                 "Bearer": "must be `Bearer hitl_...`", "Bearer nope": "not a hitl-tui bearer token",
                 f"Bearer {unknown}": "not one this desk issued", f"Bearer {token}x": "not a hitl-tui bearer token"}
        for header, said in cases.items():
            got = client.get("/v1/requests", headers={"Authorization": header} if header else {})
            one_line_error(got, 401, said)
            assert got.headers["www-authenticate"] == 'Bearer realm="hitl-tui"'
        assert client.get("/v1/requests", headers={"Authorization": f"bearer {token}"}).status_code == 200


def test_the_rate_limit_answers_429_with_retry_after(desk, tmp_path):
    cli, token = desk
    server = _serve(cli, tmp_path / "http.log", "--rate", "1")  # bursts of 2
    try:
        with server.client(token) as client:
            answers = [client.get("/v1/requests") for _ in range(4)]
            assert [a.status_code for a in answers[:2]] == [200, 200]
            limited = answers[2]
            one_line_error(limited, 429, "at most 1 a second (2 at once)")
            assert int(limited.headers["retry-after"]) >= 1
            time.sleep(float(limited.headers["retry-after"]) + 0.1)
            assert client.get("/v1/requests").status_code == 200  # the bucket fills again
        with server.client() as stranger:  # another client's refused tokens are limited apart from it
            refused = [stranger.get("/v1/requests", headers={"Authorization": "Bearer hitl_" + "B" * 43})
                       for _ in range(4)]
            assert [r.status_code for r in refused] == [401, 401, 429, 429]
    finally:
        assert server.stop() == 0


def test_bodies_over_the_limit_get_413_and_hostile_payloads_are_bounded(desk, tmp_path):
    cli, token = desk
    with serving(cli, tmp_path / "http.log", "--rate", "500") as api, api.client(token) as client:
        huge = json.dumps({**FILING, "description": "x" * (1024 * 1024)})
        one_line_error(client.post("/v1/requests", content=huge), 413, "over the limit of 1,048,576")
        def chunks():  # no Content-Length: counted as it streams
            for _ in range(300):
                yield b" " * 4096
        one_line_error(client.post("/v1/requests", content=chunks()), 413, "over the limit")
        deep = '{"type":"tool_call","title":"t","payload":' + '{"a":' * 100_000 + "1" + "}" * 100_000 + "}"
        one_line_error(client.post("/v1/requests", content=deep), 400, "nested too deeply")
        nested: Any = 1
        for _ in range(20):
            nested = {"a": nested}
        one_line_error(client.post("/v1/requests", json={**FILING, "payload": nested}), 422, "deep")
        cases = [
            ({**FILING, "payload": {"tool": "refund", "blob": "y" * 70_000}}, "payload", 422),
            ({**FILING, "payload": ["not", "an", "object"]}, "payload", 422),
            ({**FILING, "payload": {"tool": "refund", "n": 2**60}}, "2^53", 422),
            ({**FILING, "title": "nul \x00 here"}, "title", 422),
            ({**FILING, "title": 42}, "title", 422),
            ({**FILING, "approver": ME}, "approver", 422),
            ({**FILING, "timeout_seconds": 0}, "timeout", 422),
            ({**FILING, "type": "no_such_type"}, "no_such_type", 422),
            ({k: v for k, v in FILING.items() if k != "title"}, "title", 422),
        ]
        for body, said, status in cases:
            one_line_error(client.post("/v1/requests", json=body), status, said)
        for raw, said in (("not json", "not JSON"), ('{"a": NaN}', "NaN"), ("1" * 5000, "more than 4,300 digits"),
                          ("", "empty")):
            one_line_error(client.post("/v1/requests", content=raw), 400, said)
        one_line_error(client.get("/v1/requests/WF-1/wait", params={"seconds": "9999"}), 422, "seconds")
        one_line_error(client.get("/v1/requests/WF-1/wait", params={"seconds": "nan"}), 422, "seconds")
        one_line_error(client.get("/v1/requests", params={"limit": "0"}), 422, "limit")
        one_line_error(client.get("/v1/requests", params={"status": "maybe"}), 422, "status")
        assert client.get("/v1/requests").json()["count"] == 0  # nothing was filed


def test_no_endpoint_approves_and_an_integration_cannot_decide(desk, api):
    cli, token = desk
    with api.client(token) as client:
        rid = _filed(client)["request_id"]
        for method, path in (("POST", f"/v1/requests/{rid}/approve"), ("POST", f"/v1/requests/{rid}/reject"),
                             ("POST", f"/v1/requests/{rid}/decide"), ("PUT", f"/v1/requests/{rid}")):
            got = client.request(method, path, json={"decision": "approve"})
            assert got.status_code in (404, 405), got.text
            one_line_error(got, got.status_code, "openapi.json")
        described = client.get("/openapi.json").json()
        assert not [p for p in described["paths"] if re.search(r"approve|reject|decide", p)]
        assert client.get(f"/v1/requests/{rid}").json()["outcome"] == "pending"
    with cli.service() as s:  # the engine refuses billing-bot every decision, whatever path asks
        with pytest.raises(PermissionDenied, match="billing-bot is an integration"):
            s.decide(rid, "billing-bot", "approve", "self-approved")


def test_a_revision_a_person_proposes_is_filed_only_when_the_system_resubmits_it(desk, api, tmp_path):
    cli, token = desk
    revised = {**PAYLOAD, "order_id": "1243"}
    (tmp_path / "revised.json").write_text(json.dumps(revised))
    with api.client(token) as client:
        rid = _filed(client)["request_id"]
        one_line_error(client.post(f"/v1/requests/{rid}/resubmit", json={"payload": revised}), 409, rid)  # pending
        cli.ok("request-changes", rid, "-m", "order 1243, not 1234", "--payload", str(tmp_path / "revised.json"))
        asked = client.get(f"/v1/requests/{rid}/wait", params={"seconds": 5}).json()
        assert (asked["outcome"], asked["final"], asked["proposed_payload"]) == ("changes_requested", False, revised)
        cli.refused("approve", rid, "-m", "the revision looks right")  # nothing to approve until it is accepted
        one_line_error(client.post(f"/v1/requests/{rid}/resubmit", json={"payload": [1]}), 422, "payload")
        one_line_error(client.post(f"/v1/requests/{rid}/resubmit", json={"payload": {**revised, "amount": "x" * 99}}),
                       422, "amount")
        again = client.post(f"/v1/requests/{rid}/resubmit", json={"payload": asked["proposed_payload"],
                                                                  "comments": "accepted"})
        assert again.status_code == 200, again.text
        assert (again.json()["outcome"], again.json()["revision"]) == ("pending", 2)
        cli.ok("approve", rid, "-m", "the revision looks right")
        done = client.get(f"/v1/requests/{rid}").json()
        key = client.get("/v1/receipt-key").json()["key"]
    assert done["outcome"] == "approved" and verify_receipt(done["receipt"], key, revised)
    assert not verify_receipt(done["receipt"], key, PAYLOAD)


def test_cancel_other_peoples_requests_and_unknown_ids(desk, api):
    cli, token = desk
    with cli.service() as s:
        theirs = s.create_workflow_request("expense_approval", "Team lunch", "", "sarah",
                                           {"amount": "80", "category": "meals"})
    with api.client(token) as client:
        rid = _filed(client)["request_id"]
        cancelled = client.post(f"/v1/requests/{rid}/cancel", json={"reason": "the customer called back"})
        assert cancelled.status_code == 200, cancelled.text
        body = cancelled.json()
        assert (body["outcome"], body["final"], body["decided_by"]) == ("cancelled", True, "billing-bot")
        assert verify_receipt(body["receipt"], client.get("/v1/receipt-key").json()["key"], PAYLOAD)
        one_line_error(client.post(f"/v1/requests/{rid}/cancel"), 409, rid)
        one_line_error(client.get(f"/v1/requests/{theirs}"), 403, "an integration reads only the requests it filed")
        one_line_error(client.post(f"/v1/requests/{theirs}/cancel"), 403, "Only sarah")
        one_line_error(client.get("/v1/requests/WF-0000000000-0000"), 404, "No workflow request")
        assert client.get("/v1/requests", params={"status": "cancelled"}).json()["count"] == 1
        assert client.get("/v1/requests", params={"status": "approved"}).json()["count"] == 0
    cli.refused("approve", rid, "-m", "too late")


def test_the_openapi_description_lists_exactly_the_endpoints(desk, api):
    with api.client() as anyone:  # no token needed to read how the API is used
        got = anyone.get("/openapi.json")
    assert got.status_code == 200
    doc = got.json()
    assert doc["openapi"].startswith("3.1")
    assert {(m, p) for p, ops in doc["paths"].items() for m in ops} == ENDPOINTS
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    schemas = doc["components"]["schemas"]
    assert {"NewRequest", "Decision", "DecisionList", "ReceiptKey", "Error", "Cancel"} <= set(schemas)
    filing = schemas["NewRequest"]
    assert set(filing["required"]) == {"type", "title", "payload"} and filing["additionalProperties"] is False
    wait = doc["paths"]["/v1/requests/{request_id}/wait"]["get"]
    assert {p["name"] for p in wait["parameters"]} == {"request_id", "seconds"}
    assert {"401", "404", "429"} <= set(wait["responses"])
    assert doc["paths"]["/v1/requests"]["post"]["responses"]["201"]["content"]["application/json"]["schema"] == \
        {"$ref": "#/components/schemas/Decision"}


def test_a_non_loopback_address_needs_tls_and_tls_serves(desk, tmp_path):
    cli, token = desk
    for address in ("0.0.0.0:8470", "192.0.2.7:8470", "[::]:8470", "example.com:8470"):
        cli.refused("http", "--listen", address, match="is not a loopback address")
    cli.refused("http", "--listen", "127.0.0.1", match="is not HOST:PORT")
    cli.refused("http", "--tls-cert", str(tmp_path / "none.pem"), match="needs both --tls-cert and --tls-key")
    cert, key = _self_signed(tmp_path)
    cli.refused("http", "--tls-cert", str(cert), "--tls-key", str(cert), match="Cannot use --tls-cert")
    server = _serve(cli, tmp_path / "tls.log", "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        assert server.base.startswith("https://")
        with server.client(token, verify=_trusting(cert)) as client:
            assert client.get("/v1/requests").status_code == 200
        with pytest.raises(httpx.HTTPError):  # plain HTTP to it is no conversation
            httpx.get(server.base.replace("https://", "http://") + "/v1/requests", timeout=5)
    finally:
        assert server.stop() == 0


def _self_signed(where: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = where / "cert.pem", where / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


def _trusting(cert: Path) -> Any:
    import ssl

    return ssl.create_default_context(cafile=str(cert))


def test_sigterm_during_a_wait_stops_within_seconds_and_seals_the_session(desk, tmp_path):
    cli, token = desk
    server = _serve(cli, tmp_path / "http.log")
    with cli.service() as s:
        before = len(s.stored_checkpoints())
    with server.client(token) as client, ThreadPoolExecutor(1) as pool:
        rid = _filed(client)["request_id"]
        waiting = pool.submit(client.get, f"/v1/requests/{rid}/wait", params={"seconds": 50})
        time.sleep(1.0)
        stopping = time.monotonic()
        assert server.stop(signal.SIGTERM) == 0
        assert time.monotonic() - stopping < 5  # the wait answers at once, not after its 50 s
        answered = waiting.result(10)
    one_line_error(answered, 503, "The HTTP API is stopping; ask again in a moment")
    assert answered.headers["retry-after"] == "5"
    log = server.log_text()
    assert f"GET /v1/requests/{rid}/wait 503 " in log
    assert "Traceback" not in log and log.rstrip().endswith("hitl-tui http: stopped")
    with cli.service() as s:
        assert len(s.stored_checkpoints()) == before + 1  # sealed on the way out
    assert cli.ok("verify-audit").exit_code == 0


# --- team mode ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def team_http() -> Iterator[Any]:
    """A real `hitl-tui serve` as root on a database only root reads; bob, a manager, and gw, the
    account the HTTP API runs as (in the socket's group, not in the directory), each a real OS
    account of its own (tests/remote/conftest.py's helpers). billing-bot, an integration owned by
    root, signs with a key made on gw's account with `hitl-tui key show --as billing-bot`, as
    the README says: the HTTP API's account holds the keys of the accounts it serves."""
    from tests.remote.conftest import _MAKE_KEY, _account, private_team

    with private_team("hitlht", "hitl-http-") as (team, suffix):
        bob = _account(team, "bob", f"hhb{suffix}", team.group)
        public = bob.python(_MAKE_KEY, team.database_id, bob.name)
        assert public.returncode == 0, public.stderr
        team.root_cli("users", "add", bob.name, "--role", "manager", "--key", public.stdout.strip())
        _account(team, "gw", f"hhg{suffix}", team.group)
        yield team


def test_team_mode_through_a_real_service_and_revoked_mid_wait(team_http, tmp_path):
    team = team_http
    bob, gw = team["bob"], team["gw"]
    service = team.start_service()
    server = None

    def as_root_through_the_service(*args: str) -> str:
        done = subprocess.run([str(SCRIPT), "--server", str(team.socket), *args], env=team.root_env(),
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
        return done.stdout

    try:
        shown = gw.ok("key", "show", "--as", "billing-bot").stdout  # made on gw's account, for billing-bot
        public = re.search(r"ed25519:[0-9a-f]{64}", shown).group(0)
        as_root_through_the_service("users", "add", "billing-bot", "--integration", "--owner", "root", "--role",
                                    "employee", "--key", public)
        token = as_root_through_the_service("token", "create", "billing-bot", "--name", "ERP").strip()
        assert SHAPE.match(token)
        server = start(gw.argv(str(SCRIPT), "http", "--listen", "127.0.0.1:0"), gw.env(), tmp_path / "http.log",
                       cwd=gw.home)
        assert f"as {gw.name}, through the service at {team.socket} (team mode)" in server.log_text()
        with server.client(token) as client:
            rid = _filed(client)["request_id"]
            assert f"Filed by:   billing-bot (integration of root)" in bob.ok("request", "show", rid).stdout
            with ThreadPoolExecutor(1) as pool:
                waiting = pool.submit(client.get, f"/v1/requests/{rid}/wait", params={"seconds": 40})
                time.sleep(1.0)
                assert not waiting.done()
                bob.ok("approve", rid, "-m", "refund approved")
                approved_at = time.monotonic()
                decided = waiting.result(30)
            assert time.monotonic() - approved_at < 5, "the service's push wakes the wait"
            body = decided.json()
            assert (body["outcome"], body["decided_by"]) == ("approved", bob.name), body
            key = client.get("/v1/receipt-key").json()["key"]
            assert verify_receipt(body["receipt"], key, PAYLOAD)  # signed by the service's checkpoint key

            # a bearer token reaches only the methods an integration needs: nothing decides
            probe = gw.python("import sys; from hitl_tui.remote.connection import ServiceConnection\n"
                              "c = ServiceConnection.open(sys.argv[1])\n"
                              "for m in ('bearer.decide.prepare', 'bearer.users.add.prepare'):\n"
                              "    try: c.call(m, token=sys.argv[2], workflow_id=sys.argv[3], decision='approve')\n"
                              "    except Exception as e: print(type(e).__name__, e)\n",
                              str(team.socket), token, rid)
            assert probe.stdout.count("No method 'bearer.") == 2, probe.stdout + probe.stderr

            second = _filed(client, title="Refund order 99", payload={**PAYLOAD, "order_id": "99"})["request_id"]
            tid = json.loads(as_root_through_the_service("token", "list", "--json"))[0]["id"]
            with ThreadPoolExecutor(1) as pool:
                waiting = pool.submit(client.get, f"/v1/requests/{second}/wait", params={"seconds": 40})
                time.sleep(1.0)
                assert not waiting.done()
                as_root_through_the_service("token", "revoke", tid)
                revoked_at = time.monotonic()
                ended = waiting.result(30)
            assert time.monotonic() - revoked_at < 5, "the service closes the revoked token's connection"
            one_line_error(ended, 401, f"Bearer token {tid} was revoked")
            one_line_error(client.get(f"/v1/requests/{second}"), 401, "revoked")
        assert json.loads(bob.ok("request", "show", second, "--json").stdout)["request"]["status"] == \
            "awaiting_approval"
        log = server.log_text()
        assert "Traceback" not in log and token not in log
    finally:
        if server is not None:
            assert server.stop() == 0, server.log_text()
        service.stop()
