"""The README's two commands work from a fresh clone: each sets itself up (virtual environment,
packages) and does its job. The clone gets its own .venv, exactly as a new user's would."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = (ROOT / "pyproject.toml").read_text("utf-8")
# both commands run in one clone (a module fixture): the demo reuses the .venv the test command made
pytestmark = pytest.mark.xdist_group("readme-clone")


def readme_commands() -> list[str]:
    quick_start = (ROOT / "README.md").read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", quick_start, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]


def test_ci_runs_exactly_the_readme_test_command():
    assert readme_commands() == ["./scripts/demo", "./scripts/test"]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ci[-1] == "exec ./scripts/test"


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.fail("the README test needs git and a git checkout of the project")
    target = tmp_path_factory.mktemp("clone") / "hitl-tui"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(target)], check=True)
    return target


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HITL_", "VIRTUAL_ENV", "PYTEST", "DBUS_"))}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "config"),
               XDG_STATE_HOME=str(home / "state"), XDG_CACHE_HOME=str(home / "cache"), CI="true",
               PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring", TERM="xterm-256color")
    return env


@pytest.mark.slow
def test_the_test_command_sets_itself_up_in_a_fresh_clone(clone, tmp_path):
    # one small test file: the point is the set-up (venv, install, import contract, pytest)
    out = subprocess.run(["./scripts/test", "-q", "-p", "no:cacheprovider", "tests/core/test_policy.py"],
                         cwd=clone, env=clean_env(tmp_path), capture_output=True, text=True, timeout=900,
                         stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert (clone / ".venv" / "bin" / "hitl-tui").exists()
    # the half minute of pip is announced (what, about how long) and timed, on stderr
    assert "hitl-tui setup: creating the virtual environment .venv" in out.stderr, out.stderr
    assert "hitl-tui setup: installing hitl-tui (editable) and its dependencies" in out.stderr
    assert re.search(r"hitl-tui setup: installed into \.venv \(\d+ s\)", out.stderr), out.stderr
    contracts = re.search(r"Contracts: (\d+) kept, 0 broken", out.stdout)  # every import contract ran and held
    assert contracts and int(contracts.group(1)) == PYPROJECT.count("[[tool.importlinter.contracts]]"), out.stdout
    assert re.search(r"\d+ passed", out.stdout)


@pytest.mark.slow
def test_the_demo_command_opens_the_tour_and_cleans_up(clone, tmp_path):
    """Run ./scripts/demo in a real terminal (tmux), wait for the tour, quit with q."""
    if shutil.which("tmux") is None:
        pytest.fail("tmux is missing: scripts/test installs it")
    env = clean_env(tmp_path)
    env["TMPDIR"] = str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir()
    socket = f"readme-{os.getpid()}"
    tmux = ["tmux", "-L", socket]
    exports = " ".join(f"{k}={v!r}" for k, v in env.items() if k in (
        "HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "TMPDIR",
        "PYTHON_KEYRING_BACKEND", "CI"))
    command = f"cd {clone} && env {exports} ./scripts/demo; echo demo-exit=$? > {tmp_path}/status; sleep 30"
    subprocess.run([*tmux, "new-session", "-d", "-x", "100", "-y", "30", command], check=True, env=env)
    try:
        screen = wait_for(tmux, ("Guided tour", "TOUR "), timeout=600)
        assert "hitl-tui" in screen and "demo" in screen.lower(), screen
        subprocess.run([*tmux, "send-keys", "q"], check=True)
        deadline = time.monotonic() + 30
        while not (tmp_path / "status").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert (tmp_path / "status").read_text().strip() == "demo-exit=0"
        assert not [p for p in (tmp_path / "tmp").iterdir() if "demo" in p.name], "the demo left files behind"
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)


def wait_for(tmux: list[str], texts: tuple[str, ...], timeout: float) -> str:
    """The screen once any of `texts` is on it (the tour's title: wide or narrow form)."""
    deadline, screen = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        screen = subprocess.run([*tmux, "capture-pane", "-p"], capture_output=True, text=True).stdout
        if any(text in screen for text in texts):
            return screen
        time.sleep(0.3)
    return screen
