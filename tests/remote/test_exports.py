"""export-audit, verify-audit FILE / --since and prove in team mode (conftest.py: real accounts,
a real `hitl-tui serve`, the installed console script).

One more account for this module, a member of the socket's group: quinn, a compliance officer
(an oversight role: she may export). bob and alice are managers, who may not. root is the first
administrator and also the service's own account, so root's embedded export is signed with the
very checkpoint key the service signs with: the two exports of one database state can be compared
byte for byte, but for the moment each was made.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from hitl_tui.core.reports import inspect_file
from hitl_tui.remote.protocol import MAX_MESSAGE
from tests.cli.conftest import SCRIPT, Run
from tests.remote.conftest import _MAKE_KEY, PYTHON, Account, Team, Wire, _account, _checked

# one worker holds the module's account and its data (pyproject: --dist loadgroup)
pytestmark = pytest.mark.xdist_group("remote-exports")

VERIFIER = Path(__file__).resolve().parents[2] / "verifier" / "hitl_verify.py"
REFUSED_EXPORT = "Exporting the audit log shows every request, so it needs an oversight role"
# requests only quinn (oversight) and the IT administrators see: no manager's inbox grows by them
BIG_REQUESTS = 130
_FILE_MANY = """
import sys
from hitl_tui.remote.client import RemoteService
service = RemoteService.connect(sys.argv[1])
for n in range(int(sys.argv[2])):
    service.create_workflow_request("infrastructure_change", f"Bulk change {n}", "x" * 9500, service.username,
                                    {"impact": "low", "system": f"batch-{n}"})
print("filed", n + 1)
"""


@pytest.fixture(scope="module")
def quinn(team: Team) -> Account:
    account = _account(team, "quinn", f"hq{team['alice'].name[2:]}", team.group)
    public = account.python(_MAKE_KEY, team.database_id, account.name)  # on her own account
    assert public.returncode == 0, public.stderr
    team.root_cli("users", "add", account.name, "--role", "compliance", "--key", public.stdout.strip(),
                  "--email", "quinn@example.com")
    return account


@pytest.fixture(scope="module")
def filed(team: Team, quinn: Account) -> dict[str, str]:
    """Requests of this module: two expenses of alice's (bob approves one), an infrastructure
    change of quinn's that no manager may see."""
    running = team.start_service()
    try:
        alice, bob = team["alice"], team["bob"]
        ids = {"trip": _created(alice.ok("request", "create", "--type", "expense_approval", "--title", "Export trip",
                                         "-d", "Flights to the audit", "-f", "amount=420", "-f",
                                         "category=travel").stdout),
               "meal": _created(alice.ok("request", "create", "--type", "expense_approval", "--title", "Export meal",
                                         "-d", "Team dinner", "-f", "amount=80", "-f", "category=meals").stdout),
               "change": _created(quinn.ok("request", "create", "--type", "infrastructure_change", "--title",
                                           "Rotate the audit disks", "-d", "Quarterly", "-f", "impact=low",
                                           "-f", "system=audit-store").stdout)}
        bob.ok("approve", ids["trip"], "-m", "fine")
    finally:
        running.stop()
    return ids


def _created(out: str) -> str:
    found = re.search(r"Created (WF-\d+-\d{4})", out)
    assert found, out
    return found.group(1)


def _root(team: Team, *args: str, through_service: bool, env: dict[str, str] | None = None) -> Run:
    """The console script as root: on the database itself, or through the service like anyone."""
    env = {**team.root_env(), **({"HITL_SERVER": str(team.socket)} if through_service else {}), **(env or {})}
    proc = subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    return _checked(Run(tuple(args), proc.returncode, proc.stdout, proc.stderr), "root")


def _database_files(team: Team) -> list[Path]:
    return [team.db.with_name(team.db.name + suffix) for suffix in ("", "-wal", "-shm")]


def _put_back(team: Team, kept: Path) -> None:
    for f in _database_files(team):
        if (kept / f.name).exists():
            shutil.copy2(kept / f.name, f.with_name(f.name + ".back"))
            os.replace(f.with_name(f.name + ".back"), f)
        else:
            f.unlink(missing_ok=True)


def _at_the_same_moment(made: bytes, made_header: dict[str, Any], other_header: dict[str, Any]) -> bytes:
    """`made` as if it had been made when `other` was: its time of generation, and the time its
    checkpoint was signed with the signature over it, replaced by the other's (each spelling:
    as is, in JSON, in HTML). Nothing else is touched."""
    mine, theirs = made_header["checkpoint"], other_header["checkpoint"]
    pairs = [(made_header["generated_at"], other_header["generated_at"]), (mine["created_at"], theirs["created_at"]),
             (mine["signature"], theirs["signature"]),
             (_note_signature(mine["note"]), _note_signature(theirs["note"]))]
    for old, new in pairs:
        assert old != new
        for spell in (str, lambda s: json.dumps(s)[1:-1], html.escape):
            made = made.replace(spell(old).encode(), spell(new).encode())
    return made


def _note_signature(note: str) -> str:
    return note.rstrip("\n").rsplit(" ", 1)[1]


# --- the same bytes -------------------------------------------------------------------------------

EXPORTS = (("jsonl", ()), ("csv", ("--since", "2020-01-01")), ("html", ()), ("md", ("--until", "2999-12-31")))


def test_an_export_through_the_service_is_the_embedded_export_byte_for_byte(team: Team, quinn: Account,
                                                                             filed: dict[str, str]):
    """Each export signs a checkpoint, and the next one's verification counts it: so the embedded
    exports are made first, the database is put back as it was, and the same exports are made
    through the service in the same order."""
    out = team.base / "same-bytes"
    out.mkdir(exist_ok=True)
    kept = team.base / "before-the-exports"
    kept.mkdir(exist_ok=True)
    for f in _database_files(team):  # nothing has it open: the last service stopped
        if f.exists():
            shutil.copy2(f, kept / f.name)
    filters = {"jsonl": ("--workflow", filed["trip"]), "csv": (), "html": ("--type", "expense_approval"), "md": ()}
    # the report judges working hours in the exporting person's zone, not the service's
    zones = {"html": {"HITL_TIMEZONE": "Pacific/Kiritimati"}}
    try:
        for fmt, extra in EXPORTS:
            run = _root(team, "export-audit", "--format", fmt, "-o", str(out / f"embedded.{fmt}"), *extra,
                        *filters[fmt], through_service=False, env=zones.get(fmt))
            assert run.exit_code == 0, run.output
    finally:
        _put_back(team, kept)  # as it was before the embedded exports signed their checkpoints
    running = team.start_service()
    try:
        for fmt, extra in EXPORTS:
            run = _root(team, "export-audit", "--format", fmt, "-o", str(out / f"team.{fmt}"), *extra, *filters[fmt],
                        through_service=True, env=zones.get(fmt))
            assert run.exit_code == 0 and run.stderr.startswith("Exported "), run.output
    finally:
        running.stop()
    for fmt, _extra in EXPORTS:
        embedded, made = out / f"embedded.{fmt}", out / f"team.{fmt}"
        header, made_header = inspect_file(embedded).header, inspect_file(made).header
        assert header and made_header and made_header["generated_by"] == "root"
        assert _at_the_same_moment(made.read_bytes(), made_header, header) == embedded.read_bytes(), fmt
    assert b"Working hours are judged in Pacific/Kiritimati." in (out / "team.html").read_bytes()
    assert "built," in running.log_text() and "closed: sent" in running.log_text()


def test_quinn_exports_on_her_own_account_what_the_database_holds(team: Team, quinn: Account,
                                                                  filed: dict[str, str], service):
    quinn.ok("export-audit", "-o", "mine.jsonl", "--workflow", filed["trip"], "--workflow", filed["change"])
    mine = quinn.home / "mine.jsonl"
    assert mine.stat().st_uid == quinn.uid and mine.stat().st_mode & 0o777 == 0o600  # written on her side
    assert not [p for p in quinn.home.iterdir() if p.name.endswith(".tmp")]
    assert _root(team, "export-audit", "-o", str(team.base / "root-mine.jsonl"), "--workflow", filed["trip"],
                 "--workflow", filed["change"], through_service=False).exit_code == 0
    lines, root_lines = mine.read_bytes().splitlines(), (team.base / "root-mine.jsonl").read_bytes().splitlines()
    assert len(lines) > 2 and lines[1:] == root_lines[1:]  # every entry and the trailer, byte for byte
    header = json.loads(lines[0])
    assert header["generated_by"] == quinn.name and header["database_path"] == str(team.db)
    assert header["filters"]["workflow_ids"] == sorted([filed["trip"], filed["change"]])

    checked = quinn.ok("verify-audit", "--checkpoint", "mine.jsonl").stdout
    assert "export matches the database: the database holds exactly these" in checked and "Result: verified." in checked
    alone = subprocess.run([str(PYTHON), str(VERIFIER), str(mine)], capture_output=True, text=True, timeout=60)
    assert alone.returncode == 0 and alone.stdout.strip().endswith("verified"), alone.stdout + alone.stderr


def test_who_may_not_export_is_refused_by_the_service_and_nothing_is_written(team: Team, quinn: Account,
                                                                             filed: dict[str, str], service):
    bob, stranger = team["bob"], team["stranger"]
    line = bob.refused("export-audit", "-o", "all.csv")
    assert line.startswith(f"hitl-tui: {REFUSED_EXPORT}") and line.endswith(f"{bob.name} is Manager."), line
    assert not list(bob.home.glob("*all.csv*"))
    assert bob.refused("export-audit", "--bundle", "kit").startswith(f"hitl-tui: {REFUSED_EXPORT}")
    assert not list(bob.home.glob("*kit*"))
    # the service is what refuses: asked over the raw wire, with no client of ours in between
    wire = bob.wire()
    for method in ("export.start", "export.bundle"):
        answer = wire.request(method, {})
        assert answer["error"]["data"]["kind"] == "permission_denied", answer
        assert answer["error"]["message"] == line.removeprefix("hitl-tui: ")
    wire.close()
    wire = stranger.wire()
    assert wire.request("export.start", {})["error"]["data"]["kind"] == "unknown_user"
    wire.close()
    # nor may bob have the service re-run an export's selection by checking one
    quinn.ok("export-audit", "-o", "for-bob.jsonl")
    shutil.copy(quinn.home / "for-bob.jsonl", bob.home / "given.jsonl")
    os.chown(bob.home / "given.jsonl", bob.uid, bob.gid)
    line = bob.refused("verify-audit", "--checkpoint", "given.jsonl")
    assert line.startswith("hitl-tui: Checking an export against the database re-runs its selection: "
                           f"{REFUSED_EXPORT}"), line
    assert bob.ok("verify-audit", "--offline", "--checkpoint", "given.jsonl").exit_code == 0  # by itself it is his


def test_prove_and_verify_through_the_service_and_a_tampered_export_fails_as_embedded(
        team: Team, quinn: Account, filed: dict[str, str], service):
    alice = team["alice"]
    quinn.ok("checkpoint", "-o", "first.checkpoint")
    proven = quinn.ok("prove", filed["trip"], "--checkpoint", "first.checkpoint").stdout
    assert proven.startswith("Checkpoint: ") and proven.count(", verified") >= 2, proven  # created and approved
    as_json = quinn.json("prove", "--seq", "1", "--seq", "2", "--json")
    assert [p["seq"] for p in as_json["proofs"]] == [1, 2]
    alice.ok("request", "create", "--type", "expense_approval", "--title", "After the first checkpoint",
             "-f", "amount=12", "-f", "category=other")
    quinn.ok("checkpoint", "-o", "second.checkpoint")
    consistent = quinn.ok("prove", "--from", "first.checkpoint", "--to", "second.checkpoint").stdout
    assert "consistent: the later log extends the earlier one" in consistent, consistent
    since = quinn.ok("verify-audit", "--since", "first.checkpoint").stdout
    assert "Result: verified." in since and "1 new entr" in since, since
    noted = quinn.ok("verify-audit", "--checkpoint", "first.checkpoint").stdout  # a note: the service's key
    assert "database matches the checkpoint" in noted and "Result: verified." in noted, noted

    # a person proves only what they may see, and the service is what says so
    assert "is outside what a Manager may see" in alice.refused("prove", filed["change"])
    wire = alice.wire()
    for method, params in (("audit.seqs", {"workflow_id": filed["change"]}),
                           ("prove.entries", {"seqs": _seqs(team, filed["change"]),
                                              "checkpoint": _stored_checkpoint(team)})):
        answer = wire.request(method, params)
        assert answer["error"]["data"]["kind"] == "permission_denied", (method, answer)
    wire.close()

    quinn.ok("export-audit", "-o", "honest.jsonl", "--workflow", filed["trip"])
    honest = (quinn.home / "honest.jsonl").read_text()
    tampered = quinn.home / "tampered.jsonl"
    tampered.write_text(honest.replace('"amount":"420.00"', '"amount":"42.00"', 1))
    os.chown(tampered, quinn.uid, quinn.gid)
    assert tampered.read_text() != honest
    team_run = quinn.cli("verify-audit", "--checkpoint", str(tampered))
    embedded = _root(team, "verify-audit", "--checkpoint", str(tampered), through_service=False)
    assert team_run.exit_code == embedded.exit_code == 3, team_run.output + embedded.output
    assert "FAIL  exported entries: entry " in team_run.stdout and "it was edited" in team_run.stdout
    assert _file_lines(team_run.stdout) == _file_lines(embedded.stdout)


def _seqs(team: Team, wid: str) -> list[int]:
    with team.peek() as engine:
        return engine.audit_seqs_for(wid)


def _stored_checkpoint(team: Team) -> dict[str, Any]:
    with team.peek() as engine:
        return engine.stored_checkpoints()[-1].model_dump(mode="json")


def _file_lines(out: str) -> list[str]:
    """What verify-audit says of the file (the lines after the database's own two)."""
    return [line for line in out.splitlines() if not line.startswith(("Database ", "  tables: "))]


def test_the_bundle_is_built_by_the_service_and_unpacked_on_her_side(team: Team, quinn: Account, filed, service):
    quinn.ok("export-audit", "--bundle", "kit")
    kit = quinn.home / "kit"
    assert kit.stat().st_uid == quinn.uid and kit.stat().st_mode & 0o777 == 0o700
    assert {p.name for p in kit.iterdir()} >= {"export.jsonl", "export.csv", "checkpoint.note", "checkpoint.vkey",
                                               "proofs.jsonl", "keys.json", "state.json", "VERIFY.md",
                                               "hitl_verify.py", "vectors", "README.txt"}
    assert all(p.stat().st_uid == quinn.uid for p in kit.rglob("*"))
    # root's embedded bundle of the same trail: the same files, and the same bytes in every one that
    # does not carry the moment it was made (the exports, the checkpoint and README.txt do)
    theirs = team.base / "root-kit"
    assert _root(team, "export-audit", "--bundle", str(theirs), through_service=False).exit_code == 0
    names = sorted(p.relative_to(kit).as_posix() for p in kit.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(theirs).as_posix() for p in theirs.rglob("*") if p.is_file())
    timeless = [n for n in names if n in ("proofs.jsonl", "keys.json", "state.json", "VERIFY.md", "hitl_verify.py")
                or n.startswith("vectors/")]
    assert len(timeless) > 5 and all((kit / n).read_bytes() == (theirs / n).read_bytes() for n in timeless)
    alone = subprocess.run([str(PYTHON), str(kit / "hitl_verify.py"), str(kit)], capture_output=True, text=True,
                           timeout=120)
    assert alone.returncode == 0 and alone.stdout.strip().endswith("verified"), alone.stdout[-2000:]
    assert quinn.refused("export-audit", "--bundle", "kit").endswith("is not empty; give a new or empty directory "
                                                                     "for the bundle.")


# --- more than one message ------------------------------------------------------------------------

def _raw(wire: Wire, number: int, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(bytes of the answer's line, the answer) of one request sent on the raw wire."""
    wire.send(json.dumps({"jsonrpc": "2.0", "id": number, "method": method, "params": params}).encode() + b"\n")
    while True:
        line = wire.lines.get(timeout=60)
        assert line is not None, f"{method}: the service closed the connection"
        answer = json.loads(line)
        if answer.get("id") == number:
            return len(line), answer


def test_a_big_export_crosses_in_pieces_and_goes_with_its_connection(team: Team, quinn: Account, filed):
    running = team.start_service("--rate", "1000")  # the bulk filing below is not what is measured
    try:
        made = quinn.python(_FILE_MANY, str(team.socket), str(BIG_REQUESTS))
        assert made.returncode == 0 and f"filed {BIG_REQUESTS}" in made.stdout, made.stderr[-2000:]
    finally:
        running.stop()
    running = team.start_service()
    try:
        wire = quinn.wire()
        started = wire.request("export.start", {"format": "jsonl", "workflow_types": ["infrastructure_change"]})
        handle, offset, pieces, body = started["result"]["handle"], 0, 0, b""
        number = 100
        while True:
            number += 1
            size, answer = _raw(wire, number, "transfer.read", {"handle": handle, "offset": offset})
            assert size <= MAX_MESSAGE, size
            got = answer["result"]
            if got["pending"]:
                time.sleep(got["retry_after"])  # as the service asks: reads never wait on its side
                continue
            data = base64.b64decode(got["data"])
            body, offset, pieces = body + data, offset + len(data), pieces + 1
            if "result" in got:
                break
        assert len(body) > MAX_MESSAGE and pieces >= 2, (len(body), pieces)
        assert got["result"]["trailer"]["entries_exported"] == body.count(b'"record_type":"audit_entry"')
        again = wire.request("transfer.read", {"handle": handle, "offset": 0})
        assert again["error"]["data"]["kind"] == "transfer_refused"  # closed once all of it was sent

        # the CLI does the same, and the service checks the file it sends back, in pieces too
        quinn.ok("export-audit", "-o", "big.jsonl", "--type", "infrastructure_change")
        big = (quinn.home / "big.jsonl").read_bytes()
        assert big.splitlines()[1:] == body.splitlines()[1:]
        assert "Result: verified." in quinn.ok("verify-audit", "--checkpoint", "big.jsonl").stdout

        # a transfer whose connection goes is closed, and its temporary file with it
        before = set(Path(tempfile.gettempdir()).glob("hitl-transfer-*"))
        gone = wire.request("export.start", {"format": "csv"})["result"]["handle"]
        wire.kill()
        other = quinn.wire()
        for _ in range(50):  # each transfer call closes what lost its connection meanwhile
            other.request("transfer.close", {"handle": "none-such"})
            if f"export {gone[:8]} of {quinn.name} closed: " in running.log_text():
                break
            time.sleep(0.2)
        assert f"export {gone[:8]} of {quinn.name} closed: " in running.log_text(), running.log_text()[-3000:]
        assert set(Path(tempfile.gettempdir()).glob("hitl-transfer-*")) <= before
        other.close()
    finally:
        running.stop()


def test_transfers_are_bounded_and_a_bad_piece_is_refused(team: Team, quinn: Account, filed, service):
    wire = quinn.wire()
    held = [wire.request("export.start", {"format": "md", "workflow_ids": [filed["trip"]]})["result"]["handle"]
            for _ in range(4)]
    fifth = wire.request("export.start", {"format": "md"})["error"]
    assert fifth["data"]["kind"] == "transfer_refused" and "already holds 4 transfers" in fifth["message"], fifth
    assert all(wire.request("transfer.close", {"handle": h})["result"]["closed"] for h in held)
    other = team["alice"].wire()  # a handle is no use on another connection, nor to another person
    stolen = other.request("transfer.read", {"handle": held[0], "offset": 0})["error"]
    assert stolen["data"]["kind"] == "transfer_refused", stolen
    other.close()

    upload = wire.request("upload.start", {"size": 10})["result"]["handle"]
    for params, said in (({"offset": 5, "data": "aGVsbG8="}, "holds 0 bytes of this file, not 5"),
                         ({"offset": 0, "data": "not base64!"}, "is not base64"),
                         ({"offset": 0, "data": base64.b64encode(b"x" * 11).decode()}, "longer than the 10 bytes")):
        refused = wire.request("upload.write", {"handle": upload, **params})["error"]
        assert refused["data"]["kind"] == "transfer_refused" and said in refused["message"], refused
    assert wire.request("upload.write", {"handle": upload, "offset": 0, "data": "aGVsbG8="})["result"]["received"] == 5
    early = wire.request("verify.file", {"upload": upload, "path": "x"})["error"]
    assert "holds 5 of the file's 10 bytes" in early["message"], early
    too_big = wire.request("upload.start", {"size": 1 << 40})["error"]
    assert too_big["data"]["kind"] == "transfer_refused" and "--offline" in too_big["message"], too_big
    wire.close()
