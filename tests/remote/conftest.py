"""Team mode end to end: `hitl-tui serve` as a real process, its clients as real processes of
real, different OS accounts.

The service runs as root (this test run's account) on a database and key file only root can
read (a 0700 directory). Throwaway accounts are made with useradd for the session and removed
with userdel afterwards, as tests/cli/test_erase_cli.py does for its second administrator:

    alice, bob   managers in the user directory, members of the socket's group
    stranger     a member of the socket's group, not in the user directory
    outsider     in the user directory, NOT a member of the socket's group

Each account has a home of its own (its personal signing key is made there, by its own process)
and runs the installed console script through setpriv with no capability at all, so it can read
neither the database nor the key. The interpreter lives under root's 0700 home, which such an
account cannot enter: each client process starts in a mount namespace of its own in which a
0755 tmpfs covers that home and only the interpreter's directory is bound back in. Nothing else
changes for the client: the database, the key and the socket keep their real paths and modes.
"""

from __future__ import annotations

import json
import os
import pwd
import queue
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

from hitl_tui.core.service import WorkflowService
from tests.cli.conftest import SCRIPT, Run

PYTHON = SCRIPT.with_name("python")
WIRE = Path(__file__).with_name("wire.py")
_TOOLS = ("useradd", "userdel", "groupadd", "groupdel", "setpriv", "unshare", "mount")


# --- reaching the interpreter from an ordinary account ---------------------------------------

def _mounts_for_interpreter(stage: Path) -> list[str]:
    """Shell lines that, inside a private mount namespace, let any account reach this
    interpreter: the first directory on its path that others cannot enter is covered by a 0755
    tmpfs, and the one directory under it that leads to the interpreter is bound back."""
    target = Path(os.path.realpath(sys.executable)).parent
    chain = [*reversed(target.parents), target]
    blocked = next((d for d in chain if not d.stat().st_mode & 0o001), None)
    if blocked is None:
        return []
    below = chain[chain.index(blocked) + 1]
    if any(not d.stat().st_mode & 0o001 for d in chain[chain.index(below):]):
        pytest.skip(f"the interpreter's path {target} is closed to other accounts more than once")
    q = shlex.quote
    return [f"mount --bind {q(str(below))} {q(str(stage))}",
            f"mount -t tmpfs -o mode=0755,size=64k hitl-tests {q(str(blocked))}",
            f"mkdir {q(str(blocked / below.name))}",
            f"mount --bind {q(str(stage))} {q(str(blocked / below.name))}"]


def _prelude(stage: Path) -> str:
    """`sh -c PRELUDE sh UID GID CMD...`: the mounts, then CMD as that account, no capabilities."""
    return "; ".join(["set -e", *_mounts_for_interpreter(stage), 'uid=$1; gid=$2; shift 2',
                      'exec setpriv --reuid="$uid" --regid="$gid" --init-groups --no-new-privs -- "$@"'])


def _home_env(home: Path) -> dict[str, str]:
    names = {"HOME": "home", "XDG_CONFIG_HOME": "config", "XDG_DATA_HOME": "data", "XDG_CACHE_HOME": "cache",
             "XDG_STATE_HOME": "state", "XDG_RUNTIME_DIR": "run"}
    return {var: str(home / sub) for var, sub in names.items()}


_BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
             "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


def _checked(run: Run, where: str) -> Run:
    assert "Traceback" not in run.output, f"{run.args} as {where}:\n{run.output}"
    return run


# --- a client process of one account -----------------------------------------------------------

class Wire:
    """A raw protocol client (wire.py pipe) of one account: the test writes bytes, reads lines."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        self._ids = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in iter(self.proc.stdout.readline, b""):
            self.lines.put(line)
        self.lines.put(None)

    def send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def next(self, timeout: float = 10.0) -> dict[str, Any] | None:
        """The next message from the service; None when it closed the connection."""
        line = self.lines.get(timeout=timeout)
        return None if line is None else json.loads(line)

    def request(self, method: str, params: dict[str, Any] | None = None, timeout: float = 10.0) -> dict[str, Any]:
        """Send one request and return its response (notifications before it are skipped)."""
        self._ids += 1
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": self._ids, "method": method}
        if params is not None:
            body["params"] = params
        self.send(json.dumps(body).encode() + b"\n")
        deadline = time.monotonic() + timeout
        while True:
            message = self.next(max(0.1, deadline - time.monotonic()))
            assert message is not None, f"{method}: the service closed the connection"
            if message.get("id") == self._ids:
                return message

    def closed_by_service(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.lines.get(timeout=max(0.05, deadline - time.monotonic())) is None:
                    return True
            except queue.Empty:
                return False
        return False

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Account:
    key: str  # alice, bob, stranger, outsider
    name: str
    uid: int
    gid: int
    home: Path
    team: "Team"

    def env(self, extra: dict[str, str | None] | None = None) -> dict[str, str]:
        full: dict[str, str | None] = {**_BASE_ENV, **_home_env(self.home), "HITL_SERVER": str(self.team.socket),
                                       **(extra or {})}
        return {k: v for k, v in full.items() if v is not None}

    def argv(self, *command: str) -> list[str]:
        return ["unshare", "--mount", "--", "sh", "-c", self.team.prelude, "sh", str(self.uid), str(self.gid),
                *command]

    def cli(self, *args: str, env: dict[str, str | None] | None = None) -> Run:
        proc = subprocess.run(self.argv(str(SCRIPT), *args), env=self.env(env), cwd=self.home, capture_output=True,
                              timeout=60, stdin=subprocess.DEVNULL)
        return _checked(Run(tuple(args), proc.returncode, proc.stdout, proc.stderr), self.name)

    def ok(self, *args: str, **kw: Any) -> Run:
        run = self.cli(*args, **kw)
        assert run.exit_code == 0, f"{args} as {self.name}: exit {run.exit_code}\n{run.output}"
        return run

    def refused(self, *args: str, match: str | None = None, **kw: Any) -> str:
        """Exit 1 and exactly one line on stderr; that line."""
        run = self.cli(*args, **kw)
        lines = run.stderr.strip().splitlines()
        assert run.exit_code == 1 and len(lines) == 1 and lines[0].startswith("hitl-tui: "), \
            f"{args} as {self.name}: exit {run.exit_code}\n{run.output}"
        if match:
            assert match in lines[0], lines[0]
        return lines[0]

    def json(self, *args: str, **kw: Any) -> Any:
        return json.loads(self.ok(*args, **kw).stdout)

    def python(self, code: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(str(PYTHON), "-c", code, *args), env=self.env(), cwd=self.home,
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)

    def wire(self, *, read: bool = True) -> Wire:
        command = [str(PYTHON), str(WIRE), "pipe", str(self.team.socket), *([] if read else ["--no-read"])]
        proc = subprocess.Popen(self.argv(*command), env=self.env(), cwd=self.home, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stderr is not None
        first = proc.stderr.readline().decode()
        assert first == "connected\n", f"{self.name} could not connect: {first}{proc.stderr.read().decode()}"
        wire = Wire(proc)
        self.team.processes.append(wire)
        return wire

    def listen(self) -> Wire:
        """A RemoteService of this account subscribed to changes: each "changed" is a line."""
        proc = subprocess.Popen(self.argv(str(PYTHON), str(WIRE), "listen", str(self.team.socket)), env=self.env(),
                                cwd=self.home, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        listener = Wire(proc)
        self.team.processes.append(listener)
        first = listener.next(20)
        assert first == {"ready": self.name}, first
        return listener


# --- the service ---------------------------------------------------------------------------------

@dataclass
class Service:
    proc: subprocess.Popen
    log: Path

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def log_text(self) -> str:
        return self.log.read_text("utf-8", "replace")


@dataclass
class Team:
    base: Path
    db: Path
    key_file: Path
    socket: Path
    group: str
    prelude: str
    root_home: Path
    accounts: dict[str, Account] = field(default_factory=dict)
    processes: list[Wire] = field(default_factory=list)
    database_id: str = ""

    def __getitem__(self, key: str) -> Account:
        return self.accounts[key]

    def root_env(self) -> dict[str, str]:
        return {**_BASE_ENV, **_home_env(self.root_home), "HITL_DB_PATH": str(self.db),
                "HITL_DB_KEY_FILE": str(self.key_file)}

    def root_cli(self, *args: str) -> Run:
        """The console script as root on the database itself (embedded mode)."""
        proc = subprocess.run([str(SCRIPT), *args], env=self.root_env(), capture_output=True, timeout=60,
                              stdin=subprocess.DEVNULL)
        run = _checked(Run(tuple(args), proc.returncode, proc.stdout, proc.stderr), "root")
        assert run.exit_code == 0, f"{args}: exit {run.exit_code}\n{run.output}"
        return run

    @contextmanager
    def peek(self) -> Iterator[WorkflowService]:
        """The database as root sees it, read only: closed without sealing anything."""
        service = WorkflowService.open(self.db, key=bytes.fromhex(self.key_file.read_text().strip()), create=False)
        try:
            yield service
        finally:
            service.close(checkpoint=False)

    def start_service(self, *options: str, env: dict[str, str | None] | None = None) -> Service:
        log = self.base / f"serve-{time.monotonic_ns()}.log"
        full = {k: v for k, v in {**self.root_env(), **(env or {})}.items() if v is not None}
        with log.open("wb") as sink:
            proc = subprocess.Popen([str(SCRIPT), "serve", "--db", str(self.db), "--socket", str(self.socket),
                                     "--group", self.group, *options], env=full, stdin=subprocess.DEVNULL,
                                    stdout=sink, stderr=sink)
        service = Service(proc, log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"hitl-tui serve exited {proc.returncode}:\n{service.log_text()}")
            if "listening on" in service.log_text():
                return service
            time.sleep(0.05)
        proc.kill()
        raise AssertionError(f"hitl-tui serve did not start:\n{service.log_text()}")


def _account(team: Team, key: str, name: str, group: str) -> Account:
    made = subprocess.run(["useradd", "--no-create-home", "--home-dir", str(team.base / "homes" / name / "home"),
                           "--shell", "/usr/sbin/nologin", "--no-user-group", "--gid", group, name],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"useradd refused: {made.stderr.strip()}")
    entry = pwd.getpwnam(name)
    home = team.base / "homes" / name
    for sub in [home, *(Path(p) for p in _home_env(home).values())]:
        sub.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chown(sub, entry.pw_uid, entry.pw_gid)
        sub.chmod(0o700)
    account = Account(key, name, entry.pw_uid, entry.pw_gid, home, team)
    team.accounts[key] = account
    return account


_MAKE_KEY = ("import sys; from hitl_tui.core.personal_keys import KeyStore; "
             "print(KeyStore(sys.argv[1]).ensure(sys.argv[2]).public_key)")


@pytest.fixture(scope="session")
def team() -> Iterator[Team]:
    if os.geteuid() != 0:
        pytest.skip("the team-mode tests make OS accounts: they need root")
    missing = [t for t in _TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"the team-mode tests need {', '.join(missing)}")
    suffix = f"{os.getpid() % 100000}"
    # prefixes no other test uses for an account or a group (useradd makes a group of the name)
    group, other = f"hitlrg{suffix}", f"hitlrx{suffix}"
    base = Path(tempfile.mkdtemp(prefix="hitl-remote-", dir="/tmp"))
    base.chmod(0o755)
    made_groups: list[str] = []
    try:
        for name in (group, other):
            done = subprocess.run(["groupadd", name], capture_output=True, text=True)
            if done.returncode != 0:
                pytest.skip(f"groupadd refused: {done.stderr.strip()}")
            made_groups.append(name)
        state = base / "state"
        state.mkdir(mode=0o700)
        (base / "homes").mkdir(mode=0o755)
        stage = base / "stage"
        stage.mkdir(mode=0o700)
        team = Team(base, state / "hitl.db", state / "db.key", base / "run" / "hitl.sock", group, _prelude(stage),
                    state / "root-home")
        try:
            yield from _populated(team, suffix, group, other)
        finally:
            for wire in team.processes:
                wire.kill()
            for account in team.accounts.values():
                subprocess.run(["userdel", account.name], capture_output=True)
    finally:
        for name in made_groups:
            subprocess.run(["groupdel", name], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def _populated(team: Team, suffix: str, group: str, other: str) -> Iterator[Team]:
    for path in _home_env(team.root_home).values():
        Path(path).mkdir(mode=0o700, parents=True, exist_ok=True)
    team.root_cli("init", "--email", "root@example.com")
    with team.peek() as service:
        team.database_id = service.database_id
    for key, prefix, their_group in (("alice", "ha", group), ("bob", "hb", group), ("stranger", "hs", group),
                                     ("outsider", "ho", other)):
        _account(team, key, f"{prefix}{suffix}", their_group)
    probe = team["alice"].python("import hitl_tui, sqlcipher3, cryptography")
    if probe.returncode != 0:
        pytest.skip(f"an ordinary account cannot run this interpreter here: {probe.stderr.strip()[-300:]}")
    for key in ("alice", "bob", "outsider"):
        account = team[key]
        made = account.python(_MAKE_KEY, team.database_id, account.name)  # on their own account, by their own process
        assert made.returncode == 0, made.stderr
        team.root_cli("users", "add", account.name, "--role", "manager", "--key", made.stdout.strip(),
                      "--email", f"{key}@example.com")
    yield team


@pytest.fixture
def service(team: Team) -> Iterator[Service]:
    running = team.start_service()
    yield running
    if running.proc.poll() is None:
        running.stop()


@contextmanager
def private_team(group_prefix: str, dir_prefix: str) -> Iterator[tuple[Team, str]]:
    """A team of its own for a module outside tests/remote (not the session `team`, which would be
    made a second time beside tests/remote's own): a group named `group_prefix` + a number, a
    database root has initialised, and no account yet; yields it and the number, to name the
    accounts the caller makes (_account), and removes accounts, group and files afterwards."""
    if os.geteuid() != 0:
        pytest.skip("the team-mode test makes OS accounts: it needs root")
    missing = [t for t in _TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"the team-mode test needs {', '.join(missing)}")
    suffix = f"{os.getpid() % 100000}"
    group = f"{group_prefix}{suffix}"
    base = Path(tempfile.mkdtemp(prefix=dir_prefix, dir="/tmp"))
    base.chmod(0o755)
    made = subprocess.run(["groupadd", group], capture_output=True, text=True)
    if made.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"groupadd refused: {made.stderr.strip()}")
    team = None
    try:
        state, stage = base / "state", base / "stage"
        state.mkdir(mode=0o700)
        stage.mkdir(mode=0o700)
        (base / "homes").mkdir(mode=0o755)
        team = Team(base, state / "hitl.db", state / "db.key", base / "run" / "hitl.sock", group, _prelude(stage),
                    state / "root-home")
        for path in _home_env(team.root_home).values():
            Path(path).mkdir(mode=0o700, parents=True, exist_ok=True)
        team.root_cli("init", "--email", "root@example.com")
        with team.peek() as service:
            team.database_id = service.database_id
        yield team, suffix
    finally:
        if team is not None:
            for account in team.accounts.values():
                subprocess.run(["userdel", account.name], capture_output=True)
        subprocess.run(["groupdel", group], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
