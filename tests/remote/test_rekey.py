"""Key rotation as a service operation (issue 11): an administrator's `hitl-tui rekey` in team
mode has the SERVICE rotate the key of the database it holds, while its clients carry on over
the connections they have; a restart opens the database with the new key. Where the service
cannot keep a new key (HITL_DB_KEY, a systemd credential) it refuses in one line saying how to
rotate instead, and that instruction, followed, works.

One more account for this module (prefix "hk"), a member of the socket's group: kim, a directory
administrator whom root (the first administrator) adds with the key her own account made.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from hitl_tui.core.errors import WrongKey
from hitl_tui.core.key_rotation import key_fingerprint, pending_key_file
from hitl_tui.core.service import WorkflowService
from tests.cli.conftest import SCRIPT
from tests.remote.conftest import _MAKE_KEY, Account, Team, _account
from tests.remote.test_lifecycle import _file, _signatures

# one worker holds the module's account and the order of its steps (pyproject: --dist loadgroup)
pytestmark = pytest.mark.xdist_group("remote-rekey")


@pytest.fixture(scope="module")
def kim(team: Team) -> Iterator[Account]:
    account = _account(team, "kim", f"hk{team['alice'].name[2:]}", team.group)
    public = account.python(_MAKE_KEY, team.database_id, account.name)  # on her own account
    assert public.returncode == 0, public.stderr
    team.root_cli("users", "add", account.name, "--role", "director", "--admin", "--key", public.stdout.strip(),
                  "--email", "kim@example.com")
    yield account


def _key(team: Team) -> bytes:
    return bytes.fromhex(team.key_file.read_text().strip())


def _size(team: Team) -> int:
    with team.peek() as engine:
        return engine.audit_size()


def _rotations(team: Team) -> list:
    with team.peek() as engine:
        return [e for e in engine.iter_audit() if e.action == "key_rotated"]


def _opened_and_closed(log: str, pid: int) -> tuple[int, int]:
    """How often the service logged a connection of process `pid` opened, and closed."""
    return (len(re.findall(rf"pid {pid}\) opened", log)), len(re.findall(rf"pid {pid}\) closed", log)))


def test_an_administrator_rotates_the_key_through_the_service_and_clients_carry_on(team: Team, kim: Account):
    alice, bob = team["alice"], team["bob"]
    old = _key(team)
    service = team.start_service()
    try:
        wid = _file(alice, "Decided across a rotation")
        listener = alice.listen()  # alice's RemoteService, subscribed before the rotation
        wire = bob.wire()  # bob's connection, open before the rotation, prepares before it and commits after
        prepared = wire.request("decide.prepare", {"workflow_id": wid, "decision": "approve",
                                                   "comments": "signed across the rotation"})["result"]
        size = _size(team)

        out = kim.ok("rekey").stdout
        new = _key(team)
        assert out == (f"Rotated the key of {team.db}; the new key replaced the old one in {team.key_file}.\n")
        assert new != old and not pending_key_file(team.key_file).exists()
        assert team.key_file.stat().st_mode & 0o777 == 0o600

        pushed = listener.next(10)  # alice's desk hears of the rotation like of any change: the new head
        assert pushed["audit_size"] == size + 1 and pushed["workflow_ids"] == []
        committed = wire.request("decide.commit", {"ticket": prepared["ticket"],
                                                   "signatures": _signatures(team, bob, prepared)})
        assert committed["result"]["status"] == "approved", committed
        assert wire.request("whoami")["result"]["username"] == bob.name
        assert _opened_and_closed(service.log_text(), wire.proc.pid) == (1, 0)  # the same connection throughout
        assert alice.json("request", "show", wid, "--json")["request"]["status"] == "approved"

        entry = _rotations(team)[-1]
        assert entry.actor == kim.name and entry.sig is None and entry.workflow_id is None
        assert entry.details == {"old_key_source": "key-file", "old_key_fingerprint": key_fingerprint(old),
                                 "new_key_fingerprint": key_fingerprint(new)}
        listener.close()
    finally:
        assert service.stop() == 0
    assert "sealed a checkpoint" in service.log_text()
    with pytest.raises(WrongKey):
        WorkflowService.open(team.db, key=old, create=False).close(checkpoint=False)

    restarted = team.start_service()  # reads the key file again: the new key opens the database
    try:
        assert bob.json("request", "show", wid, "--json")["request"]["status"] == "approved"
    finally:
        assert restarted.stop() == 0
    team.root_cli("verify-audit")  # exit 0: the chain, its signatures and the tables agree


def test_someone_who_is_not_an_administrator_is_refused_with_the_engines_line(team: Team, kim: Account, service):
    bob, stranger = team["bob"], team["stranger"]
    key, size = _key(team), _size(team)
    assert bob.refused("rekey") == (
        f"hitl-tui: {bob.name} is not a user-directory administrator; ask one (`hitl-tui users list` shows who) "
        f"to do it, or to make you one with `hitl-tui users set-admin`.")
    stranger.refused("rekey", match=f"No user named '{stranger.name}' in the user directory")
    assert _key(team) == key and _size(team) == size and not pending_key_file(team.key_file).exists()
    # no client names the new key: the method takes no parameter
    wire = kim.wire()
    answer = wire.request("rekey", {"key": "00" * 32})
    assert answer["error"]["code"] == -32602 and _key(team) == key and _size(team) == size


def test_a_key_from_hitl_db_key_is_refused_saying_how_to_rotate_instead(team: Team, kim: Account):
    key, size = _key(team), _size(team)
    service = team.start_service(env={"HITL_DB_KEY_FILE": None, "HITL_DB_KEY": key.hex()})
    try:
        line = kim.refused("rekey")
        assert line.startswith("hitl-tui: The service's database key comes from HITL_DB_KEY, which the service "
                               "cannot change; rotate it with the service stopped:"), line
        assert f"`sudo -u root env HITL_DB_KEY_FILE=FILE hitl-tui --db {team.db} rekey`" in line
        assert line.endswith("Nothing was changed."), line
        assert team["bob"].ok("request", "list", "--view", "visible").exit_code == 0  # it carries on
    finally:
        assert service.stop() == 0
    assert _key(team) == key and _size(team) == size


def test_a_systemd_credential_is_refused_and_the_rotation_it_describes_works(team: Team, kim: Account):
    credentials = team.base / "hk-credentials"
    credentials.mkdir(mode=0o700, exist_ok=True)
    credential = credentials / "hitl-db-key"
    _load_credential(team.key_file, credential)
    key, size = _key(team), _size(team)
    env = {"HITL_DB_KEY_FILE": None, "CREDENTIALS_DIRECTORY": str(credentials)}
    service = team.start_service(env=env)
    try:
        line = kim.refused("rekey")
        assert line.startswith(f"hitl-tui: The service's database key is the systemd credential {credential}, a "
                               f"copy it cannot rewrite"), line
        assert "rotate it with the service stopped: stop it, run on the service account: `sudo -u root env" in line
        assert line.endswith("then start the service. Nothing was changed."), line
        # nothing written anywhere: not beside the credential, not in the database
        assert sorted(p.name for p in credentials.iterdir()) == ["hitl-db-key"]
        assert credential.read_bytes() == team.key_file.read_bytes() and _size(team) == size
    finally:
        assert service.stop() == 0

    # what the line says, done: the service stopped, the command it gives run on the service
    # account (root here) with FILE the credential's source, then the service started again,
    # systemd copying the source afresh
    command = re.search(r"`sudo -u root (env HITL_DB_KEY_FILE=FILE hitl-tui [^`]+)`", line).group(1)
    argv = shlex.split(command.replace("=FILE ", f"={shlex.quote(str(team.key_file))} "))
    argv[argv.index("hitl-tui")] = str(SCRIPT)
    root_env = {k: v for k, v in team.root_env().items() if k not in ("HITL_DB_KEY_FILE", "HITL_DB_PATH")}
    done = subprocess.run(argv, env=root_env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0 and done.stdout.startswith(f"Rotated the key of {team.db}"), done.stderr
    new = _key(team)
    assert new != key
    _load_credential(team.key_file, credential)
    service = team.start_service(env=env)
    try:
        assert team["bob"].ok("request", "list", "--view", "visible").exit_code == 0
    finally:
        assert service.stop() == 0
    # the embedded rotation records what the service's records (the first test): the same
    # fields, and no person's signature in either mode
    embedded = _rotations(team)[-1]
    assert embedded.actor == "root" and embedded.sig is None and embedded.workflow_id is None
    assert embedded.details == {"old_key_source": "key-file", "old_key_fingerprint": key_fingerprint(key),
                                "new_key_fingerprint": key_fingerprint(new)}


def _load_credential(source: Path, credential: Path) -> None:
    """What LoadCredential= does at every start: a fresh 0400 copy of the source."""
    if credential.exists():
        credential.chmod(0o600)
    credential.write_bytes(source.read_bytes())
    credential.chmod(0o400)


def test_rekey_help_says_what_it_does_in_team_mode(team: Team):
    out = team["alice"].ok("rekey", "--help").stdout
    assert "In team mode the service rotates the key" in out
