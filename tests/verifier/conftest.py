"""Fixtures for the standalone verifier's tests: one real database per module (made through the
engine and the installed `hitl-tui` script, in a private HOME), its exports in every format and
its audit bundle, and a runner that starts verifier/hitl_verify.py in a Python that cannot
import hitl_tui at all."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cast import SEED_CAST
from tests.cli.conftest import ME, Cli
from tests.keyring_session import isolated_home

REPO = Path(__file__).resolve().parents[2]
VERIFIER = REPO / "verifier" / "hitl_verify.py"
VECTORS = REPO / "docs" / "vectors"

# `python -I` ignores PYTHONPATH and the user's site, but the venv's editable install still puts
# hitl_tui on the path: a None in sys.modules makes every `import hitl_tui...` raise ImportError.
_BOOT = ("import sys, runpy; sys.modules['hitl_tui'] = None; sys.argv = sys.argv[1:]; "
         "runpy.run_path(sys.argv[0], run_name='__main__')")


@dataclass
class Verdict:
    code: int
    out: str
    err: str

    @property
    def last(self) -> str:
        lines = self.out.strip().splitlines()
        return lines[-1] if lines else ""

    def line(self, check: str) -> str:
        """The output line of one check (ok / FAIL / --), by its name."""
        for line in self.out.splitlines():
            if line[6:].startswith(check + ":"):
                return line
        raise AssertionError(f"no {check!r} line in:\n{self.out}")


def verify(*args: str | Path, verifier: Path = VERIFIER) -> Verdict:
    proc = subprocess.run([sys.executable, "-I", "-c", _BOOT, str(verifier), *map(str, args)],
                          capture_output=True, text=True, timeout=120, env={"PATH": os.environ.get("PATH", "")})
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return Verdict(proc.returncode, proc.stdout, proc.stderr)


@dataclass
class Trail:
    cli: Cli
    env: dict[str, str]
    requests: dict[str, str]  # name -> WF id
    exports: dict[str, Path]  # jsonl, csv, html, md, filtered
    bundle: Path


def _populate(cli: Cli) -> dict[str, str]:
    with cli.service() as s:
        for name, role in SEED_CAST.items():
            s.add_user(name, role, f"{name}@example.com", actor=ME)
        travel = s.create_workflow_request("expense_approval", "Zürich offsite \u202e \"Q4\"", "Flights\nand hotel",
                                           "john.doe", {"amount": "15000", "category": "travel"})
        s.approve_workflow(travel, "sarah.manager", "ok")
        s.approve_workflow(travel, "mike.director", "fine")
        laptop = s.create_workflow_request("expense_approval", "Laptop", "", "john.doe",
                                           {"amount": "500", "category": "equipment"})
        s.reject_workflow(laptop, "sarah.manager", "no budget")
        hotel = s.create_workflow_request("expense_approval", "Hotel", "", "john.doe",
                                          {"amount": "800", "category": "travel"})
        s.request_changes(hotel, "sarah.manager", "the receipt, please")
        s.resubmit(hotel, "john.doe", data={"amount": "700", "category": "travel"}, comments="attached")
        s.approve_workflow(hotel, "sarah.manager", "")
        taxi = s.create_workflow_request("expense_approval", "Taxi", "", "john.doe",
                                         {"amount": "50", "category": "travel"})
        s.withdraw_workflow(taxi, "john.doe", "not needed")
        s.set_user_role("sam.security", "director", actor=ME)
        s.set_user_active("ian.itadmin", False, actor=ME)
    return {"travel": travel, "laptop": laptop, "hotel": hotel, "taxi": taxi}


@pytest.fixture(scope="module")
def trail(tmp_path_factory) -> Trail:
    root = tmp_path_factory.mktemp("trail")
    with isolated_home(root / "home") as env:  # the autouse isolation is per test; this is per module
        cli = Cli(root)
        cli.ok("init", "--email", "me@example.com")
        requests = _populate(cli)
        out = root / "out"
        out.mkdir()
        exports = {}
        for fmt in ("jsonl", "csv", "html", "md"):
            exports[fmt] = out / f"audit.{fmt}"
            cli.ok("export-audit", "-o", str(exports[fmt]))
        exports["filtered"] = out / "hotel.jsonl"
        cli.ok("export-audit", "-o", str(exports["filtered"]), "--workflow", requests["hotel"])
        bundle = out / "bundle"
        cli.ok("export-audit", "--bundle", str(bundle))
        yield Trail(cli, env, requests, exports, bundle)
