"""The store-fault fixtures: one `hitl-tui init` for the whole package, a fresh copy of it per
test, and mounts that are undone afterwards."""

from __future__ import annotations

import subprocess
import pytest

from .fault_desk import IS_ROOT, Desk


@pytest.fixture(scope="package")
def made_by_init(tmp_path_factory) -> Desk:
    """One `hitl-tui init --role it_admin` per package (in its own HOME); each test gets a copy."""
    home = tmp_path_factory.mktemp("init-home")
    d = Desk(home / "db")
    d.root.mkdir()
    d.env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "config"),
                 XDG_STATE_HOME=str(home / "state"))
    d.ok("init", "--role", "it_admin")
    return d


@pytest.fixture
def desk(tmp_path, made_by_init) -> Desk:
    d = Desk(tmp_path / "db")
    d.root.mkdir()
    made_by_init.copy_to(d)
    return d


@pytest.fixture
def mounted(tmp_path):
    """mount(*args) on a fresh directory; unmounted afterwards. Skips where mounting is refused."""
    points: list[Path] = []

    def mount(*args: str, point: Path | None = None) -> Path:
        if not IS_ROOT:
            pytest.skip("mounting needs root")
        point = point or tmp_path / f"mnt{len(points)}"
        point.mkdir(exist_ok=True)
        done = subprocess.run(["mount", *args, str(point)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"mount refused here: {done.stderr.strip()}")
        points.append(point)
        return point

    yield mount
    for point in reversed(points):
        subprocess.run(["umount", "-l", str(point)], check=False)
