"""Shared by the TUI benchmarks: their database (from bulkdata), the child processes' environment,
and launching a command in a real terminal (tmux) while watching the screen for a marker."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bulkdata

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
HITL = str(Path(PYTHON).parent / "hitl-tui")

MINIMAL_APP = """
from textual.app import App
from textual.widgets import Static
class Minimal(App):
    def compose(self):
        yield Static("minimal app ready")
Minimal().run()
"""

IMPORTS_THEN_MINIMAL = "import hitl_tui.cli\n" + MINIMAL_APP


def cached_db(n: int) -> tuple[Path, Path, dict[str, str]]:
    """(db, key file, env) for a database with n generated requests (built once, then reused),
    in which the OS login is a manager: the TUI opens on an inbox."""
    db, key = bulkdata.cached(n)
    env = clean_env(bulkdata.CACHE / "home")
    env["HITL_DB_KEY_FILE"] = str(key)
    return db, key, env


def clean_env(home: Path) -> dict[str, str]:
    """An explicit environment: a private HOME, never the real one or its keyring.

    PYTHONDONTWRITEBYTECODE goes too (this sandbox sets it): with it, every start of hitl-tui
    compiles our modules afresh while the baseline's libraries load precompiled from
    site-packages, so the start-up race would be timing the compiler. See precompile()."""
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HITL_", "DBUS_", "XDG_")) and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(HOME=str(home), TERM="xterm-256color", COLORTERM="truecolor",
               XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "config"),
               XDG_STATE_HOME=str(home / "state"), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    return env


def precompile() -> None:
    """Compile hitl_tui once before timing, as an installed package comes compiled, so that the
    programs compared all start from bytecode. (The warm-up run would write the .pyc files too,
    now that the children may; this also covers modules it never imports.)"""
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(ROOT / "hitl_tui")], check=True,
                   env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})


SOCKET = f"hitlbench-{os.getpid()}"  # a private tmux server: never touches anyone else's sessions


def tmux(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True, env=env)


class TmuxServer:
    """Keeps the private server up between runs: with no session left it would exit, and a
    session started while it shuts down fails ("server exited unexpectedly"). It starts with
    `env`: sessions inherit the server's environment, not the client's, so a variable dropped
    from `env` (PYTHONDONTWRITEBYTECODE) must never reach the server."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __enter__(self) -> "TmuxServer":
        done = tmux("new-session", "-d", "-s", "anchor", "sleep 86400", env=self.env)
        if done.returncode:
            raise RuntimeError(f"tmux: {done.stderr.strip()}")
        return self

    def __exit__(self, *exc) -> None:
        tmux("kill-server")


class Terminal:
    """One command in a detached tmux session of a given size."""

    serial = 0

    def __init__(self, command: list[str], env: dict[str, str], size: tuple[int, int] = (80, 24)) -> None:
        Terminal.serial += 1
        self.name = f"hitlbench-{os.getpid()}-{Terminal.serial}"
        self.command, self.env, self.size = command, env, size

    def start(self) -> float:
        env_args = []
        for key in ("HOME", "TERM", "COLORTERM", "HITL_DB_KEY_FILE", "XDG_DATA_HOME", "XDG_CONFIG_HOME",
                    "XDG_STATE_HOME", "PYTHON_KEYRING_BACKEND"):
            if key in self.env:
                env_args += ["-e", f"{key}={self.env[key]}"]
        started = time.perf_counter()
        done = tmux("new-session", "-d", "-s", self.name, "-x", str(self.size[0]), "-y", str(self.size[1]),
                    *env_args, *self.command, env=self.env)
        if done.returncode:
            raise RuntimeError(f"tmux: {done.stderr.strip()}")
        return started

    def screen(self) -> str:
        return tmux("capture-pane", "-p", "-t", self.name).stdout

    def wait_for(self, marker: str, timeout: float = 60.0) -> float:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if marker in self.screen():
                return time.perf_counter()
            time.sleep(0.003)
        raise TimeoutError(f"{marker!r} did not appear; screen:\n{self.screen()}")

    def keys(self, *keys: str) -> None:
        for key in keys:
            tmux("send-keys", "-t", self.name, key)

    def pid(self) -> int:
        """The program's process (tmux may start it under a shell)."""
        out = tmux("display-message", "-p", "-t", self.name, "#{pane_pid}").stdout.strip()
        pid = int(out)
        for _ in range(3):
            children = Path(f"/proc/{pid}/task/{pid}/children")
            kids = children.read_text().split() if children.exists() else []
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"python" in cmd or not kids:
                return pid
            pid = int(kids[0])
        return pid

    def stop(self) -> None:
        tmux("kill-session", "-t", self.name)


def script(text: str) -> Path:
    fd, path = tempfile.mkstemp(suffix=".py", prefix="hitl-bench-")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    return Path(path)


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM in KiB from /proc."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out
