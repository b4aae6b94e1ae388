"""The front door: the project's wheel, installed into a clean virtual environment without dev
extras, driven only as a user drives it, `hitl-tui` in a subprocess with no terminal.

The dev venv's editable install can hide what a user meets (its import finder pulled in
importlib.util, which cli.py used without importing, so `hitl-tui --help` crashed only for real
installs), and click's CliRunner reads exit statuses from click rather than from the process
(verify-audit exited 0 on a broken chain). Here every --help, a refusal, a usage error and a
broken chain go through the wheel's console script, and no output may contain a traceback.

Cost: building the wheel and installing it takes about 15 s (plus ~25 s the first time, and
whenever pyproject.toml's dependencies change, while their wheels are fetched into a cache kept
between runs: HITL_FRONT_DOOR_CACHE, default /tmp/hitl-front-door); then each `hitl-tui` call
is a fresh interpreter, about 0.3 s.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hitl_tui.cli import COMMANDS

from .conftest import Cli, seq_of, tamper_body

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("HITL_FRONT_DOOR_CACHE", "/tmp/hitl-front-door"))
DEV_ONLY = ("pytest", "hypothesis", "pytest_asyncio", "importlinter")  # the dev extras' modules
# one worker builds the wheel (a session fixture) and runs every test of it (scripts/test runs -n)
pytestmark = pytest.mark.xdist_group("front-door")


def _pip(*args: str | Path, timeout: float = 600) -> subprocess.CompletedProcess:
    # the cache lives outside HOME (tests never write there) and survives between runs
    env = {**os.environ, "PIP_CACHE_DIR": str(CACHE / "pip")}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *map(str, args)],
                          env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return proc


def _checked(proc: subprocess.CompletedProcess, what: str) -> None:
    if proc.returncode != 0:
        pytest.fail(f"front door: {what} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}", pytrace=False)


def _wheelhouse(wheel: Path) -> Path:
    """The dependencies' wheels, downloaded once per dependency list and Python version, so that
    each session installs offline in seconds instead of resolving against the index again."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    key = hashlib.sha256(json.dumps([sorted(deps), sys.version_info[:2]]).encode()).hexdigest()[:16]
    house = CACHE / f"wheels-{key}"
    if house.is_dir():
        return house
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = CACHE / f"wheels-{key}.{os.getpid()}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    _checked(_pip("download", "-d", partial, wheel), "downloading the dependencies")
    for own in partial.glob("hitl_tui-*"):
        own.unlink()  # the project itself always comes from this session's fresh wheel
    try:
        partial.rename(house)  # complete or absent: a killed download never poisons the cache
    except OSError:  # another session finished first
        shutil.rmtree(partial, ignore_errors=True)
    for old in CACHE.glob("wheels-*"):  # the wheels of older dependency lists
        if old != house and not old.name.endswith(".partial"):
            shutil.rmtree(old, ignore_errors=True)
    return house


@pytest.fixture(scope="session")
def front_door(tmp_path_factory) -> Path:
    """`hitl-tui` of a fresh venv holding only the wheel of this tree and its runtime deps."""
    started = time.monotonic()
    root = tmp_path_factory.mktemp("front-door")
    _checked(_pip("wheel", "--no-deps", "-w", root / "dist", ROOT), "building the wheel")
    (wheel,) = (root / "dist").glob("hitl_tui-*.whl")
    venv = root / "venv"
    _checked(subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], capture_output=True,
                            text=True, timeout=120), "creating the virtual environment")
    python = venv / "bin" / "python"
    # compiled at install, as pip does for users: with PYTHONDONTWRITEBYTECODE set, every call
    # would otherwise compile the whole program again (twice the time per call)
    install = ("--python", python, "install", "--no-index", "--find-links")
    proc = _pip(*install, _wheelhouse(wheel), wheel)
    if proc.returncode != 0:  # a wheelhouse from an older constraint set: fetch it again, once
        shutil.rmtree(_wheelhouse(wheel))
        proc = _pip(*install, _wheelhouse(wheel), wheel)
    _checked(proc, "installing the wheel")
    probe = subprocess.run([str(python), "-c", "import hitl_tui, importlib.util as u, sys; print(hitl_tui.__file__); "
                            f"print([m for m in {DEV_ONLY!r} if u.find_spec(m)])"],
                           capture_output=True, text=True, timeout=60, cwd=root)
    location, dev_modules = probe.stdout.splitlines()
    assert Path(location).is_relative_to(venv), f"hitl_tui imported from {location}, not the wheel"
    assert dev_modules == "[]", f"dev extras in the clean venv: {dev_modules}"
    script = venv / "bin" / "hitl-tui"
    assert script.exists()
    print(f"\nfront door: wheel built and installed in {time.monotonic() - started:.1f} s")
    return script


class Door:
    """The wheel's `hitl-tui` on a database and 0600 key file of this test's own."""

    def __init__(self, script: Path, root: Path) -> None:
        self.script = script
        self.root = root
        self.cli = Cli(root)  # the same paths, for the attacker's second connection
        self.env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
        self.env.update(self.cli.env)

    def __call__(self, *args: str | bytes) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(self.script), *args], env=self.env, cwd=self.root, capture_output=True,
                              timeout=120, stdin=subprocess.DEVNULL)
        out, err = proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")
        assert "Traceback" not in out + err, f"{args}: a traceback reached the user\n{out}{err}"
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def expect(self, code: int, *args: str | bytes) -> subprocess.CompletedProcess:
        proc = self(*args)
        assert proc.returncode == code, f"{args}: exit {proc.returncode}, expected {code}\n{proc.stdout}{proc.stderr}"
        return proc

    def one_line(self, code: int, *args: str | bytes) -> str:
        """A refusal or usage error: the status, and exactly one line on stderr."""
        err = self.expect(code, *args).stderr
        assert err.endswith("\n") and err.count("\n") == 1, f"{args}: not one line on stderr:\n{err}"
        return err.strip()


@pytest.fixture
def door(front_door, tmp_path) -> Door:
    return Door(front_door, tmp_path)


@pytest.fixture
def initialised(door) -> Door:
    door.expect(0, "init", "--email", "me@example.com")
    assert door.cli.key_file.stat().st_mode & 0o777 == 0o600
    return door


def _commands_in(help_text: str) -> list[str]:
    """The command names of a --help page's Commands: section (empty for a leaf command)."""
    section = help_text.split("\nCommands:\n", 1)
    if len(section) == 1:
        return []
    return [m.group(1) for m in re.finditer(r"^  (\S+)", section[1], re.M)]


def test_every_help_page_opens(door):
    top = door.expect(0, "--help")
    assert top.stdout.startswith("Usage: hitl-tui ") and top.stderr == ""
    assert door.expect(0, "-h").stdout == top.stdout
    assert door.expect(0, "--demo", "--help").stdout == top.stdout  # what `scripts/demo --help` runs
    listed = _commands_in(top.stdout)
    assert listed == sorted(COMMANDS), "the installed program lists other commands than cli.COMMANDS"
    pages, level = 0, [[name] for name in listed]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:  # one process per page
        while level:  # the commands, then the groups' sub-commands, and so on down
            found = []
            for path, page in zip(level, pool.map(lambda path: door.expect(0, *path, "--help"), level)):
                assert page.stdout.startswith(f"Usage: hitl-tui {' '.join(path)} ") and page.stderr == "", path
                found.extend([*path, sub] for sub in _commands_in(page.stdout))
            pages, level = pages + len(level), found
    assert pages > len(listed), "no group's sub-commands were found"
    assert door.expect(0, "request", "-h").stdout.startswith("Usage: hitl-tui request ")


def test_a_refusal_and_usage_errors_are_one_line(initialised):
    door = initialised
    created = door.expect(0, "request", "create", "--type", "expense_approval", "--title", "Team offsite",
                          "-d", "Planning day for the platform team", "-f", "amount=3000", "--json")
    wid = json.loads(created.stdout)["id"]
    refusal = door.one_line(1, "approve", wid, "-m", "fine")  # your own request
    assert refusal.startswith("hitl-tui: ") and "segregation of duties" in refusal
    assert door.one_line(1, "request", "show", "WF-0000000000-0000").startswith("hitl-tui: ")
    usage = door.one_line(2, "approve")
    assert "Missing argument" in usage and "--help" in usage
    assert "No such option" in door.one_line(2, "verify-audit", "--no-such-option")
    assert "No such command" in door.one_line(2, "frobnicate")
    # a byte that is not UTF-8 (an ISO-8859-1 terminal, say): refused before anything runs
    latin1 = door.one_line(2, "request", "show", b"Caf\xe9")
    assert latin1.startswith("hitl-tui: argument 3 'Caf\\xe9' is not valid UTF-8"), latin1
    assert not list(Path(os.environ["XDG_STATE_HOME"]).rglob("cli-errors.log")), "an expected error was logged"


def test_a_broken_chain_exits_3_everywhere(initialised):
    door = initialised
    door.expect(0, "request", "create", "--type", "expense_approval", "--title", "Team offsite",
                "-d", "Planning day for the platform team", "-f", "amount=3000", "-f", "category=travel")
    export, checkpoint = door.root / "audit.jsonl", door.root / "checkpoint.json"
    door.expect(0, "export-audit", "-o", str(export))
    door.expect(0, "checkpoint", "-o", str(checkpoint))
    checks = (("verify-audit",), ("verify-audit", "--json"), ("verify-audit", "--checkpoint", str(checkpoint)),
              ("verify-audit", "--checkpoint", str(export)))
    for args in checks:  # all intact: 0, so a 3 below is the tampering's
        door.expect(0, *args)
    door.expect(0, "verify-audit", "--offline", "--checkpoint", str(export))

    # someone holding the key edits the amount in the stored entry; and someone edits the export
    tamper_body(door.cli, seq_of(door.cli, "created"), b'"amount":"3000.00"', b'"amount":"300.00"')
    lines = export.read_text().splitlines(keepends=True)
    hit = next(i for i, line in enumerate(lines) if '"amount":"3000.00"' in line)
    lines[hit] = lines[hit].replace('"amount":"3000.00"', '"amount":"300.00"')
    edited = door.root / "edited.jsonl"
    edited.write_text("".join(lines))

    assert "VERIFICATION FAILED" in door.expect(3, "verify-audit").stdout
    assert json.loads(door.expect(3, "verify-audit", "--json").stdout)["ok"] is False
    door.expect(3, "verify-audit", "--checkpoint", str(checkpoint))
    door.expect(3, "verify-audit", "--checkpoint", str(export))  # the export against the live database
    assert "VERIFICATION FAILED" in door.expect(3, "verify-audit", "--offline", "--checkpoint", str(edited)).stdout
    exported = door.expect(3, "export-audit", "-o", str(door.root / "broken.jsonl"))
    assert "AUDIT CHAIN BROKEN" in exported.stderr
    assert "AUDIT CHAIN BROKEN" in (door.root / "broken.jsonl").read_text().splitlines()[0]
