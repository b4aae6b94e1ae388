"""The policy is part of the database (issue 8): the environment of whoever files or decides
cannot change the rules; only a directory administrator changes them, with `hitl-tui policy
apply`, and every change is an audit entry. Driven through the installed console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hitl_tui.core.policy import EXPENSE_THRESHOLD_ENV

from .conftest import CAST, ME, file_request

SCRIPT = Path(sys.executable).with_name("hitl-tui")
LAX_THRESHOLDS = {"LOW_RISK_EXPENSE_THRESHOLD": "1000000", "MEDIUM_RISK_EXPENSE_THRESHOLD": "2000000",
                  "HIGH_RISK_EXPENSE_THRESHOLD": "3000000"}
# what an employee would like the rules to be: employees decide Manager stages, nothing is big
DOCTORED = """
[access.also_decides]
manager = ["employee"]

[types.expense_approval.fields.amount]
kind = "money"
required = true
[types.expense_approval.risk]
field = "amount"
bands = [{ below = "100000000", level = "LOW" }]
otherwise = "CRITICAL"
[types.expense_approval.chains]
LOW = ["manager"]
MEDIUM = ["manager"]
HIGH = ["manager"]
CRITICAL = ["manager"]
"""
STRICTER = """
[types.expense_approval]
name = "Expense approval"
[types.expense_approval.fields.amount]
kind = "money"
required = true
[types.expense_approval.fields.category]
kind = "text"
[types.expense_approval.risk]
field = "amount"
bands = [{ below = "100", level = "LOW" }, { below = "200", level = "MEDIUM" }, { below = "300", level = "HIGH" }]
otherwise = "CRITICAL"
[types.expense_approval.chains]
LOW = ["manager"]
MEDIUM = ["manager", "director"]
HIGH = ["manager", "director", "executive"]
CRITICAL = ["manager", "director", "executive", "compliance"]
"""


class Installed:
    """The installed `hitl-tui` in a subprocess, on the `ready` database."""

    def __init__(self, cli) -> None:
        self.cli = cli
        base = {k: v for k, v in os.environ.items()
                if not k.startswith("HITL_") and k not in EXPENSE_THRESHOLD_ENV}  # HOME/XDG already isolated
        self.env = {**base, **cli.env}

    def __call__(self, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(SCRIPT), *args], env={**self.env, **(env or {})}, capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)

    def ok(self, *args: str, **kw) -> subprocess.CompletedProcess:
        done = self(*args, **kw)
        assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr
        return done

    def refused(self, *args: str, match: str, **kw) -> subprocess.CompletedProcess:
        done = self(*args, **kw)
        assert done.returncode == 1, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        errors = [line for line in done.stderr.splitlines() if not line.startswith("hitl-tui: warning:")]
        assert len(errors) == 1 and errors[0].startswith("hitl-tui: ") and match in errors[0], done.stderr
        assert "Traceback" not in done.stderr
        return done


@pytest.fixture
def run(ready) -> Installed:
    return Installed(ready)


@pytest.fixture
def doctored(tmp_path) -> Path:
    path = tmp_path / "doctored.toml"
    path.write_text(DOCTORED)
    return path


def _created(done: subprocess.CompletedProcess) -> dict:
    return json.loads(done.stdout)


def _policy_rows(cli) -> list[tuple]:
    conn = cli.raw()
    try:
        return conn.execute("SELECT version, sha256, applied_by FROM policies ORDER BY version").fetchall()
    finally:
        conn.close()


def _request_policy_version(cli, wid: str) -> int | None:
    conn = cli.raw()
    try:
        return conn.execute("SELECT policy_version FROM requests WHERE id = ?", (wid,)).fetchone()[0]
    finally:
        conn.close()


# --- the attack ------------------------------------------------------------------------------

def test_a_requesters_environment_does_not_lower_the_risk(run, doctored):
    """500,000 is CRITICAL (four stages) whatever HITL_POLICY_FILE and the thresholds say."""
    done = run.ok("request", "create", "--type", "expense_approval", "--title", "Fleet of cars",
                  "-d", "Company cars for the sales team", "-f", "amount=500000", "--json",
                  env={"HITL_POLICY_FILE": str(doctored), **LAX_THRESHOLDS})
    made = _created(done)
    assert made["risk_level"] == "CRITICAL"
    assert made["chain"] == ["manager", "director", "executive", "compliance"]
    warning = [line for line in done.stderr.splitlines() if line]
    assert len(warning) == 1 and "ignored" in warning[0] and "hitl-tui policy apply" in warning[0]
    assert "HITL_POLICY_FILE" in warning[0] and "LOW_RISK_EXPENSE_THRESHOLD" in warning[0]
    assert _request_policy_version(run.cli, made["id"]) == 1  # init installed version 1


def test_an_employee_with_a_doctored_policy_file_is_still_refused_the_manager_stage(run, doctored):
    wid = file_request(run.cli, data={"amount": "500", "category": "travel"})  # LOW: one Manager stage
    run.ok("users", "set-role", ME, "employee")
    run.refused("approve", wid, "-m", "fine by me", env={"HITL_POLICY_FILE": str(doctored)},
                match="as an Employee you cannot approve it")
    with run.cli.service() as s:
        assert s.get_workflow(wid).status.value == "awaiting_approval" and not s.get_workflow(wid).approvals


def test_the_policy_file_in_the_config_directory_is_not_read_either(run, tmp_path):
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "hitl-tui"
    config.mkdir(parents=True, exist_ok=True)
    (config / "policy.toml").write_text(DOCTORED)
    made = _created(run.ok("request", "create", "--type", "expense_approval", "--title", "Cars",
                           "-f", "amount=500000", "--json"))
    assert made["risk_level"] == "CRITICAL"
    located = run.ok("locate").stdout
    assert "in use" not in located and "policy.toml" not in located


# --- policy show / diff / apply ----------------------------------------------------------------

def test_init_installs_version_1_and_show_prints_it(run):
    rows = _policy_rows(run.cli)
    assert [(v, who) for v, _sha, who in rows] == [(1, ME)]
    shown = json.loads(run.ok("policy", "show", "--json").stdout)
    assert shown["version"] == 1 and shown["sha256"] == rows[0][1] and shown["applied_by"] == ME
    assert shown["source"] == "database" and "[types.expense_approval" in shown["toml"]
    text = run.ok("policy", "show").stdout
    assert f"# version 1, sha256 {rows[0][1]}" in text and "management_line" in text


def test_apply_by_an_admin_changes_the_chain_for_new_requests_and_is_audited(run, tmp_path):
    before = _created(run.ok("request", "create", "--type", "expense_approval", "--title", "Lunch",
                             "-f", "amount=250", "--json"))
    assert before["risk_level"] == "LOW"
    path = tmp_path / "stricter.toml"
    path.write_text(STRICTER)
    diff = run.ok("policy", "diff", str(path))  # exit 0 although there are differences
    assert '-    { below = "1000", level = "LOW" },' in diff.stdout
    assert '+    { below = "100", level = "LOW" },' in diff.stdout
    assert "expense_approval thresholds 1,000, 10,000, 50,000 -> 100, 200, 300" in diff.stdout.splitlines()[-1]
    applied = run.ok("policy", "apply", str(path))
    assert "Applied policy version 2" in applied.stdout
    after = _created(run.ok("request", "create", "--type", "expense_approval", "--title", "Lunch again",
                            "-f", "amount=250", "--json"))
    assert after["risk_level"] == "HIGH" and after["chain"] == ["manager", "director", "executive"]
    assert _request_policy_version(run.cli, before["id"]) == 1
    assert _request_policy_version(run.cli, after["id"]) == 2
    rows = _policy_rows(run.cli)
    with run.cli.service() as s:
        entries = [e for e in s.iter_audit() if e.action == "policy_applied"]
        created = [e for e in s.get_audit_trail(after["id"]) if e.action == "created"][0]
    assert [e.details["version"] for e in entries] == [1, 2]
    assert entries[1].actor == ME and entries[1].details["sha256"] == rows[1][1]
    assert entries[1].details["previous_sha256"] == rows[0][1] == entries[0].details["sha256"]
    assert (created.details["policy_version"], created.details["policy_sha256"]) == (2, rows[1][1])
    assert "no changes" in run.ok("policy", "diff", str(path)).stdout.splitlines()[-1]
    assert run.ok("verify-audit").returncode == 0


def test_resubmit_records_the_policy_it_was_reassessed_under(run, tmp_path):
    wid = file_request(run.cli, data={"amount": "250", "category": "travel"})
    with run.cli.service() as s:
        s.request_changes(wid, "sarah.manager", "Attach the receipt")
    path = tmp_path / "stricter.toml"
    path.write_text(STRICTER)
    run.ok("policy", "apply", str(path))
    with run.cli.service() as s:
        req = s.resubmit(wid, "john.doe", comments="Receipt attached")
        entry = [e for e in s.get_audit_trail(wid) if e.action == "resubmitted"][0]
    assert req.risk_level.value == "HIGH" and entry.details["policy_version"] == 2
    assert _request_policy_version(run.cli, wid) == 2


def test_thresholds_are_an_input_to_apply(run, tmp_path):
    path = tmp_path / "same.toml"
    path.write_text("")  # the built-in default ...
    env = {"LOW_RISK_EXPENSE_THRESHOLD": "500", "MEDIUM_RISK_EXPENSE_THRESHOLD": "5000",
           "HIGH_RISK_EXPENSE_THRESHOLD": "20000"}  # ... with the seed's variables laid over it
    run.ok("policy", "apply", str(path), env=env)
    made = _created(run.ok("request", "create", "--type", "expense_approval", "--title", "Monitors",
                           "-f", "amount=20000", "--json"))
    assert made["risk_level"] == "CRITICAL"
    again = run.ok("policy", "apply", str(path), env=env)
    assert "unchanged" in again.stdout and len(_policy_rows(run.cli)) == 2


def test_a_non_admin_apply_is_refused_and_changes_nothing(run, doctored):
    run.ok("users", "add", "boss", "--role", "director", "--admin")
    with run.cli.service() as s:
        s.set_user_admin(ME, False, actor="boss")
    audit = run.cli.audit_size()
    run.refused("policy", "apply", str(doctored), match="not a user-directory administrator")
    assert len(_policy_rows(run.cli)) == 1 and run.cli.audit_size() == audit


@pytest.mark.parametrize("text,words", [
    ("this is = not toml [", "Cannot read policy file"),
    ('[access.also_decides]\nmanager = ["janitor"]\n', "Unknown role"),
    ("[types.expense_approval]\nname = 'no rules'\n", "expense_approval"),
])
def test_a_malformed_file_is_one_line_and_changes_nothing(run, tmp_path, text, words):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    audit = run.cli.audit_size()
    run.refused("policy", "apply", str(path), match=words)
    run.refused("policy", "diff", str(path), match=words)
    assert len(_policy_rows(run.cli)) == 1 and run.cli.audit_size() == audit


def test_a_missing_file_is_one_line(run, tmp_path):
    run.refused("policy", "apply", str(tmp_path / "nope.toml"), match="nope.toml")


# --- init and locate ---------------------------------------------------------------------------

def test_init_takes_a_policy_file_and_the_thresholds(cli_factory, tmp_path):
    cli = cli_factory("fresh")
    run = Installed(cli)
    path = tmp_path / "stricter.toml"
    path.write_text(STRICTER)
    run.ok("init", "--policy", str(path), env={"HIGH_RISK_EXPENSE_THRESHOLD": "250"})
    shown = json.loads(run.ok("policy", "show", "--json").stdout)
    assert '{ below = "250.00", level = "HIGH" }' in shown["toml"] and shown["version"] == 1
    made = _created(run.ok("request", "create", "--type", "expense_approval", "--title", "Desk",
                           "-f", "amount=260", "--json"))
    assert made["risk_level"] == "CRITICAL"


def test_init_with_a_malformed_policy_creates_nothing(cli_factory, tmp_path):
    cli = cli_factory("fresh")
    path = tmp_path / "bad.toml"
    path.write_text("[types.x]\n")
    Installed(cli).refused("init", "--policy", str(path), match="workflow type 'x'")
    assert not cli.db.exists() and not cli.key_file.exists()


def test_locate_says_where_the_policy_comes_from(run, tmp_path, doctored):
    text = run.ok("locate").stdout
    line = [x for x in text.splitlines() if x.startswith("Policy:")][0]
    assert f"database, version 1, applied by {ME} at " in line and "sha256 " in line
    info = json.loads(run.ok("locate", "--json", env={"HITL_POLICY_FILE": str(doctored)}).stdout)
    assert info["policy"]["source"] == "database" and info["policy"]["version"] == 1
    assert info["ignored_environment"] == ["HITL_POLICY_FILE"]


def test_a_database_without_a_stored_policy_runs_on_the_built_in_default(cli_factory):
    """A database made before the change (or by the Direct API) has no policy row."""
    from hitl_tui.core.service import WorkflowService

    cli = cli_factory("old")
    cli.key_file.write_text(os.urandom(32).hex())
    cli.key_file.chmod(0o600)
    with WorkflowService.open(cli.db, key=cli.key, create=True) as s:
        s.add_user(ME, "it_admin", admin=True, actor=ME)
        for name, role in CAST.items():
            s.add_user(name, role, actor=ME)
    run = Installed(cli)
    assert "built-in default (no policy applied yet)" in run.ok("locate").stdout
    shown = run.ok("policy", "show").stdout
    assert "built-in default (no policy applied yet)" in shown and "hitl-tui policy apply" in shown
    made = _created(run.ok("request", "create", "--type", "expense_approval", "--title", "Cars",
                           "-f", "amount=500000", "--json"))
    assert made["risk_level"] == "CRITICAL" and _request_policy_version(cli, made["id"]) == 0


def test_policy_commands_have_help(run):
    for args in (("policy", "--help"), ("policy", "show", "--help"), ("policy", "diff", "--help"),
                 ("policy", "apply", "--help")):
        assert "Example" in run.ok(*args).stdout
