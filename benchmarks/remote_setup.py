"""The setting of benchmarks/bench_remote.py: an isolated home for this run, the filed database
(cached), and `hitl-tui serve` as a real process. Importing it isolates the run first: a
throwaway home, no HITL_ variable but HITL_BENCH_CACHE, the null keyring, all before hitl_tui
is imported, so the service, the clients and the embedded engine share that home (this OS
account's key store) and nothing is read from or written to the real one.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(os.environ.get("HITL_BENCH_CACHE", "/tmp/hitl-bench"))
ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".venv" / "bin" / "hitl-tui"
PYTHON = ROOT / ".venv" / "bin" / "python"
_HOME = Path(tempfile.mkdtemp(prefix="bench-remote-home-"))
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
for _name in [n for n in os.environ if n.startswith("HITL_") and n != "HITL_BENCH_CACHE"]:
    del os.environ[_name]
os.environ.update(HOME=str(_HOME), XDG_DATA_HOME=str(_HOME / "data"), XDG_CONFIG_HOME=str(_HOME / "config"),
                  XDG_STATE_HOME=str(_HOME / "state"), XDG_RUNTIME_DIR=str(_HOME / "run"),
                  PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
sys.path.insert(0, str(ROOT))

from hitl_tui.core.service import WorkflowService  # noqa: E402

#: bump whenever the filed history changes, so that no run reuses an older cached database
BUILD_VERSION = "1"
REQUESTERS = 20
#: under the first risk threshold: one stage, a manager's approval, and the request is done
AMOUNT = "500"
#: the throughput runs lift the per-connection limit with serve's own option: they measure the
#: service, not the limit
UNTHROTTLED_RATE = "100000"


def me() -> str:
    """The directory user every client decides as: the OS account, as the service reads it."""
    return pwd.getpwuid(os.getuid()).pw_name


# --- the filed database (cached) ------------------------------------------------------------------

def cached(requests: int) -> tuple[Path, bytes, Path]:
    """(database, key, people's key store) with `requests` awaiting this login's approval."""
    db = CACHE / f"remote-v{BUILD_VERSION}-{requests}-{me()}.db"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:  # two benchmarks started at once: one files, one waits
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _filed(db, requests)


def _filed(db: Path, requests: int) -> tuple[Path, bytes, Path]:
    keyfile, people = db.with_name(db.name + ".key"), db.with_name(db.name + ".people")
    if db.exists() and keyfile.exists() and people.is_dir():
        return db, bytes.fromhex(keyfile.read_text()), people
    tmp = db.with_name(f"{db.name}.{os.getpid()}.tmp")
    key = os.urandom(32)
    print(f"filing {requests:,} requests into {db} (cached for later runs)...", file=sys.stderr)
    shutil.rmtree(people, ignore_errors=True)
    try:
        svc = WorkflowService.open(tmp, key=key, create=True, operator=me())
        try:
            svc.use_personal_keys_in(people)  # every person's key made beside the database
            svc.add_user(me(), "manager", admin=True, actor=me())
            staff = [f"employee{i:02d}" for i in range(REQUESTERS)]
            for name in staff:
                svc.add_user(name, "employee", actor=me())
            for i in range(requests):
                svc.create_workflow_request("expense_approval", f"Software licence #{i}", "Annual renewal.",
                                            staff[i % REQUESTERS], {"amount": AMOUNT, "category": "software"})
        finally:
            svc.close(checkpoint=False)
        assert not tmp.with_name(tmp.name + "-wal").exists(), "the closed database left its WAL behind"
    except BaseException:
        for leftover in CACHE.glob(tmp.name + "*"):
            leftover.unlink()
        shutil.rmtree(people, ignore_errors=True)
        raise
    fd = os.open(keyfile, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    os.write(fd, key.hex().encode())
    os.close(fd)
    os.replace(tmp, db)  # under its real name only once complete
    return db, key, people


def pending_ids(db: Path, key: bytes) -> list[str]:
    svc = WorkflowService.open(db, key=key, create=False)
    try:
        rows = svc._read(lambda conn: conn.execute(
            "SELECT id FROM requests WHERE status = 'awaiting_approval' ORDER BY created_at, id").fetchall())
    finally:
        svc.close(checkpoint=False)
    return [r[0] for r in rows]


# --- the service ------------------------------------------------------------------------------------

@dataclass
class Service:
    proc: subprocess.Popen
    log: Path
    socket: Path

    @classmethod
    def start(cls, db: Path, keyfile: Path, socket: Path, *, unthrottled: bool = False) -> "Service":
        log = db.with_name(f"serve-{time.monotonic_ns()}.log")
        rate = ["--rate", UNTHROTTLED_RATE] if unthrottled else []
        env = {**os.environ, "HITL_DB_KEY_FILE": str(keyfile)}
        with log.open("wb") as sink:
            proc = subprocess.Popen([str(SCRIPT), "serve", "--db", str(db), "--socket", str(socket), *rate], env=env,
                                    stdin=subprocess.DEVNULL, stdout=sink, stderr=sink)
        service = cls(proc, log, socket)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"hitl-tui serve exited {proc.returncode}:\n{service.log_text()}")
            if "listening on" in service.log_text():
                return service
            time.sleep(0.05)
        proc.kill()
        raise SystemExit(f"hitl-tui serve did not start:\n{service.log_text()}")

    def log_text(self) -> str:
        return self.log.read_text("utf-8", "replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        if code != 0:
            print(f"warning: hitl-tui serve exited {code}; its log:\n{self.log_text()[-2000:]}", file=sys.stderr)
