"""`hitl-tui erase` and `hitl-tui retention` end to end, through the installed console script.

The CLI acts as the OS login running it, so the two-person rule is exercised with a second, real
OS account (made with useradd, removed afterwards): one administrator asks, the other confirms,
each from their own account with their own signing key. Every refusal is one line naming its
cause and what to do; retention comes from the policy's retain_personal rule.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
import time
from datetime import timezone
from pathlib import Path

import pytest

from tests.cli.conftest import ME, SCRIPT, Cli, Run, file_request, set_my_role

TITLE = "Zanzibar offsite for Quentin"
DESCRIPTION = "Quentin Xylander flies out to meet the Zanzibar partners"
EMAIL = "john.doe@example.com"  # what the ready fixture gives him
COMMENT = "Within the travel budget"  # root's own words: not john's to erase
REASON = "GDPR Art. 17 request of 2026-11-30"
_ERASED_ON = re.compile(r"erased on (\d{4}-\d{2}-\d{2})")


# --- a second administrator on a second OS account ----------------------------------------------

class AsAccount(Cli):
    """The console script run as another OS account, with its own HOME/XDG directories (its
    own signing key and trusted checkpoints) and its own copy of the database key file.

    setpriv keeps one capability, CAP_DAC_READ_SEARCH (read and traverse, never write): the
    interpreter lives under root's 0700 home and pytest's tmp_path under a 0700 directory, which
    an ordinary account could not reach. Everything the account writes (the database, its -wal
    and -shm, its own files) goes through ordinary permissions: the shared group and its home."""

    def __init__(self, db_cli: Cli, account: pwd.struct_passwd, home: Path) -> None:
        super().__init__(db_cli.root)
        self.name = account.pw_name
        self.home = home
        self.key_file = home / "db.key"
        self.env = {**_home_env(home), "HITL_DB_PATH": str(db_cli.db), "HITL_DB_KEY_FILE": str(self.key_file)}
        self.prefix = ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--init-groups",
                       "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]

    def __call__(self, *args: str, env: dict | None = None, input: str | None = None) -> Run:
        full = {**os.environ, **self.env, **(env or {})}
        full = {k: v for k, v in full.items() if v is not None}
        proc = subprocess.run([*self.prefix, str(SCRIPT), *args], env=full, cwd=self.home, capture_output=True,
                              timeout=120, stdin=subprocess.DEVNULL)
        result = Run(tuple(args), proc.returncode, proc.stdout, proc.stderr)
        assert "Traceback" not in result.output, f"{args} as {self.name}:\n{result.output}"
        return result


def _home_env(home: Path) -> dict[str, str]:
    names = {"HOME": "home", "XDG_CONFIG_HOME": "config", "XDG_DATA_HOME": "data", "XDG_CACHE_HOME": "cache",
             "XDG_STATE_HOME": "state", "XDG_RUNTIME_DIR": "run"}
    return {var: str(home / sub) for var, sub in names.items()}


def _share(cli: Cli, gid: int) -> None:
    """The database directory and files as a shared database is kept: a common group, mode
    0660, and a setgid directory so new -wal/-shm files take its group."""
    os.chown(cli.root, -1, gid)
    cli.root.chmod(0o2770)
    for path in (cli.db, Path(f"{cli.db}-wal"), Path(f"{cli.db}-shm")):
        if path.exists():
            os.chown(path, -1, gid)
            path.chmod(0o660)


@pytest.fixture
def throwaway_account(tmp_path):
    """A real OS account and group of its own, with a home under tmp_path; removed afterwards."""
    if os.geteuid() != 0:
        pytest.skip("creating an OS account needs root")
    if not (shutil.which("useradd") and shutil.which("setpriv")):
        pytest.skip("needs useradd and setpriv")
    name = f"hitle{os.getpid() % 100000}"
    group = f"{name}g"
    home = tmp_path / "second-account"
    made = subprocess.run(["groupadd", group], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"groupadd refused: {made.stderr.strip()}")
    try:
        made = subprocess.run(["useradd", "--no-create-home", "--home-dir", str(home / "home"), "--shell",
                               "/usr/sbin/nologin", "--no-user-group", "--gid", group, name],
                              capture_output=True, text=True)
        if made.returncode != 0:
            pytest.skip(f"useradd refused: {made.stderr.strip()}")
        try:
            yield pwd.getpwnam(name), home
        finally:
            subprocess.run(["userdel", name], check=False)
    finally:
        subprocess.run(["groupdel", group], check=False)


@pytest.fixture
def second_admin(ready, throwaway_account) -> AsAccount:
    """The throwaway account as a second IT Admin administrator: its own key made by `key show`
    on its account, registered by root with `users add --key`."""
    account, home = throwaway_account
    for sub in _home_env(home).values():
        Path(sub).mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.copyfile(ready.key_file, home / "db.key")  # a key file must be 0600: each account holds its own copy
    for path in (home, *home.rglob("*")):
        os.chown(path, account.pw_uid, account.pw_gid)
    (home / "db.key").chmod(0o600)
    _share(ready, account.pw_gid)
    other = AsAccount(ready, account, home)
    probe = subprocess.run([*other.prefix, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"setpriv cannot switch accounts here: {probe.stderr.strip()}")
    shown = other.ok("key", "show").stdout
    public = re.search(r"ed25519:[0-9a-f]{64}", shown)
    assert public and f"{account.pw_name}'s signing key" in shown, shown
    assert list((home / "data").rglob("personal-keys/*")), "the key is kept on the second account"
    ready.ok("users", "add", account.pw_name, "--role", "it_admin", "--admin", "--key", public.group(0))
    return other


def _export_lines(cli: Cli) -> list[dict]:
    return [json.loads(line) for line in cli.ok("export-audit", "--format", "jsonl").stdout.splitlines()]


def _opened_values(lines: list[dict]) -> list[object]:
    return [o["value"] for e in lines for o in (e.get("personal") or {}).values() if "value" in o]


def test_two_administrators_on_two_os_accounts_erase_a_person(ready, second_admin):
    other = second_admin
    wid = file_request(ready, title=TITLE, description=DESCRIPTION, data={"amount": "400", "category": "travel"})
    set_my_role(ready, "manager")
    ready.ok("approve", wid, "-m", COMMENT)
    exported = _export_lines(ready)
    assert {TITLE, DESCRIPTION, EMAIL} <= set(_opened_values(exported))  # opened while the keys live

    ready.ok("users", "deactivate", "john.doe")
    asked = ready.ok("erase", "john.doe", "--reason", REASON).stdout
    assert "hitl-tui erase john.doe --confirm" in asked
    waiting = other.json("erase", "--list", "--json")  # the second administrator sees what waits
    assert [(w["target"], w["requested_by"], w["reason"]) for w in waiting] == [("john.doe", ME, REASON)]

    size = ready.audit_size()
    line = ready.refused("erase", "john.doe", "--confirm", match="two-person rule").stderr
    assert "a second administrator must confirm it" in line
    assert ready.audit_size() == size and len(ready.json("erase", "--list", "--json")) == 1

    done = other.ok("erase", "john.doe", "--confirm").stdout
    assert done.startswith("Erased the personal data of john.doe:") and "now destroyed" in done
    date = _ERASED_ON.search(done).group(1)
    gone = f"erased on {date}"
    with ready.service() as s:
        tombstones = [e for e in s.iter_audit() if e.action == "personal_data_erased"]
    assert len(tombstones) == 1
    stone = tombstones[0]
    assert (stone.actor, stone.details["requested_by"], stone.details["target"]) == (other.name, ME, "john.doe")
    assert stone.timestamp.astimezone(timezone.utc).date().isoformat() == date  # the tombstone's UTC date
    assert ready.json("erase", "--list", "--json") == []
    registered = {u["username"]: u["key_id"] for u in ready.json("users", "list", "--json")}
    assert stone.sig is not None and stone.sig["key"] == registered[other.name]  # signed on its own account

    assert "Result: verified." in ready.ok("verify-audit").stdout
    assert "Result: verified." in other.ok("verify-audit").stdout  # from the second account's trust too

    shown = ready.ok("request", "show", wid).stdout
    assert f"{wid}  {gone}" in shown and TITLE not in shown and DESCRIPTION not in shown
    assert COMMENT in shown  # the approver's comment is the approver's, not john's
    john = next(u for u in ready.json("users", "list", "--json") if u["username"] == "john.doe")
    assert john["email"] == gone and john["active"] is False

    after = _export_lines(ready)
    text = "\n".join(json.dumps(e, ensure_ascii=False) for e in after)
    for erased in (TITLE, DESCRIPTION, EMAIL, "Zanzibar", "Quentin"):
        assert erased not in text, erased
    assert COMMENT in _opened_values(after)
    created = next(e for e in after if e.get("action") == "created" and e.get("workflow_id") == wid)
    assert created["personal"] and all(o == {"erased": date, "by": stone.seq} for o in created["personal"].values())


# --- refusals: one line each, naming the cause and what to do ----------------------------------

def _one_line(result: Run, code: int) -> str:
    assert result.exit_code == code, f"{result.args}: exit {result.exit_code}\n{result.output}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def _names_cause_and_fix(line: str, cause: str, fix: str | None) -> None:
    assert cause in line, line
    rest = line.split(cause, 1)[1]
    if fix is not None:
        assert fix in rest, f"no fix {fix!r} after the cause in: {line}"
    else:  # the line must go on past the cause to say what to do
        assert len(re.findall(r"[A-Za-z`]+", rest)) >= 3, f"the line names no fix: {line}"


REFUSED = {
    "active person": (("erase", "john.doe", "--reason", "left the company"),
                      "john.doe is still active", "`hitl-tui users deactivate john.doe`"),
    "open request": (("erase", "{open}", "--reason", "customer asked"),
                     "{open} is still open", "once it is approved, rejected or withdrawn"),
    "unknown user": (("erase", "nobody.here", "--reason", "asked"),
                     "No user named 'nobody.here'", None),
    "unknown request id": (("erase", "WF-1000000000-0001", "--reason", "asked"),
                           "No workflow request with id 'WF-1000000000-0001'", None),
    "missing reason": (("erase", "john.doe"), "reason is required", "say why"),
    "blank reason": (("erase", "john.doe", "--reason", "   "), "reason is required", "say why"),
    "nothing waiting for --confirm": (("erase", "john.doe", "--confirm"), "No erasure of john.doe is waiting",
                                      '`hitl-tui erase john.doe --reason "..."`'),
    "nothing waiting for --cancel": (("erase", "john.doe", "--cancel", "--reason", "mistake"),
                                     "No erasure of john.doe is waiting", '`hitl-tui erase john.doe --reason "..."`'),
    "cancel without a reason": (("erase", "john.doe", "--cancel"), "reason is required", "say why"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_refused_erasure_is_one_line_and_writes_nothing(ready, case):
    open_wid = file_request(ready)  # john's, awaiting approval
    args, cause, fix = REFUSED[case]
    args = tuple(a.replace("{open}", open_wid) for a in args)
    size = ready.audit_size()
    line = _one_line(ready(*args), 1)
    assert line.startswith("hitl-tui: ")
    _names_cause_and_fix(line, cause.replace("{open}", open_wid), fix)
    assert ready.audit_size() == size
    assert ready.json("erase", "--list", "--json") == []


USAGE = {
    "--confirm and --cancel": ("erase", "john.doe", "--confirm", "--cancel", "--reason", "x"),
    "--confirm and --list": ("erase", "john.doe", "--confirm", "--list"),
    "--cancel and --list": ("erase", "--cancel", "--list", "--reason", "x"),
    "no target": ("erase", "--reason", "x"),
    "no target to confirm": ("erase", "--confirm"),
}


@pytest.mark.parametrize("case", sorted(USAGE))
def test_a_malformed_erase_command_is_one_usage_line(ready, case):
    """Usage errors exit 2 (the status every command gives them, commands/common.py), one line."""
    size = ready.audit_size()
    line = _one_line(ready(*USAGE[case]), 2)
    assert line.startswith("hitl-tui erase: ") and line.endswith("(see `hitl-tui erase --help`)"), line
    if "target" in case:
        assert "Name whose personal data to erase: a username or a request id (WF-...)" in line
    else:
        assert "Choose one of --confirm, --cancel and --list." in line
    assert ready.audit_size() == size


def test_a_second_request_and_a_cancel(ready):
    """One erasure of a target waits at a time; a cancelled one can no longer be confirmed."""
    ready.ok("users", "deactivate", "john.doe")
    first = ready.ok("erase", "john.doe", "--reason", REASON).stdout
    seq = int(re.search(r"audit entry (\d+)", first).group(1))
    line = _one_line(ready("erase", "john.doe", "--reason", "again"), 1)
    _names_cause_and_fix(line, f"An erasure of john.doe is already waiting (asked by {ME} in entry {seq})",
                         "`hitl-tui erase john.doe --confirm`")
    cancelled = ready.ok("erase", "john.doe", "--cancel", "--reason", "it was another John").stdout
    assert f"Cancelled the erasure of john.doe that {ME} asked for (entry {seq}); nothing was erased." in cancelled
    assert ready.ok("erase", "--list").stdout.strip() == "No erasure is waiting for a second administrator."
    line = _one_line(ready("erase", "john.doe", "--confirm"), 1)
    _names_cause_and_fix(line, "No erasure of john.doe is waiting", "`hitl-tui erase john.doe --reason")
    john = next(u for u in ready.json("users", "list", "--json") if u["username"] == "john.doe")
    assert john["email"] == EMAIL
    assert "Result: verified." in ready.ok("verify-audit").stdout


@pytest.mark.parametrize("args", [("erase", "john.doe", "--reason", REASON), ("erase", "john.doe", "--confirm"),
                                  ("erase", "john.doe", "--cancel", "--reason", "no"), ("retention", "--apply")],
                         ids=["ask", "confirm", "cancel", "retention"])
def test_only_an_administrator_erases(ready, args):
    with ready.service() as s:  # another administrator takes root's rights away
        s.set_user_admin("ian.itadmin", True, actor=ME)
        s.set_user_admin(ME, False, actor="ian.itadmin")
        s.set_user_active("john.doe", False, actor="ian.itadmin")
        if args[:3] != ("erase", "john.doe", "--reason"):
            s.erasure.request("john.doe", "asked by ian", actor="ian.itadmin")  # something to confirm/cancel
    size = ready.audit_size()
    line = _one_line(ready(*args), 1)
    _names_cause_and_fix(line, f"{ME} is not a user-directory administrator", None)
    assert ready.audit_size() == size


# --- retention: the policy's retain_personal ---------------------------------------------------

CUSTOMER = "Erika Mustermann-Zweig"


def _policy_with(cli: Cli, path: Path, retain: str) -> Path:
    policy = cli.ok("policy", "show").stdout  # the TOML in force, which apply accepts back
    assert "[types.refund_approval]\n" in policy
    path.write_text(policy.replace("[types.refund_approval]\n",
                                   f'[types.refund_approval]\nretain_personal = "{retain}"\n', 1))
    return path


def test_retention_erases_what_the_policy_expired(ready, tmp_path):
    ready.ok("policy", "apply", str(_policy_with(ready, tmp_path / "retain.toml", "PT1S")))
    refund = file_request(ready, wtype="refund_approval", title="Refund for a broken kettle",
                          description=f"{CUSTOMER} wrote twice", data={"amount": "120", "customer": CUSTOMER,
                                                                      "order_id": "A-17"})
    expense = file_request(ready, data={"amount": "400", "category": "travel"})  # no rule for its type
    still_open = file_request(ready, wtype="refund_approval", title="Refund still open",
                              data={"amount": "80", "customer": "Open Customer", "order_id": "A-18"})
    set_my_role(ready, "manager")
    ready.ok("approve", refund, "-m", "Kettle was faulty")
    ready.ok("approve", expense)
    time.sleep(2.2)  # PT1S after the approval

    assert ready.json("retention", "--json") == [
        {"workflow_id": refund, "workflow_type": "refund_approval", "retain": "PT1S"}]
    listed = ready.ok("retention").stdout
    assert f"{refund}  refund_approval  (retain_personal = PT1S)" in listed
    assert "1 request due; erase with: hitl-tui retention --apply" in listed

    applied = ready.ok("retention", "--apply").stdout
    assert applied.startswith("Expired the personal data of 1 refund_approval request ("), applied
    assert "Result: verified." in ready.ok("verify-audit").stdout
    with ready.service() as s:
        expired = [e for e in s.iter_audit() if e.action == "personal_data_expired"]
    assert len(expired) == 1 and expired[0].actor == ME
    assert expired[0].details["workflow_ids"] == [refund]
    assert expired[0].details["rule"] == {"type": "refund_approval", "retain": "PT1S"}
    gone = f"erased on {expired[0].timestamp.astimezone(timezone.utc).date().isoformat()}"

    shown = ready.ok("request", "show", refund).stdout
    assert f"{refund}  {gone}" in shown and CUSTOMER not in shown and "Refund for a broken kettle" not in shown
    assert "order_id = A-17" in shown  # not marked personal: kept
    assert "Q4 conference travel" in ready.ok("request", "show", expense).stdout
    assert "Refund still open" in ready.ok("request", "show", still_open).stdout
    assert CUSTOMER not in "\n".join(map(str, _opened_values(_export_lines(ready))))

    again = ready.ok("retention", "--apply").stdout
    assert again.strip() == "No request has outlived its type's retain_personal rule; nothing was erased."
    assert ready.json("retention", "--json") == []
    with ready.service() as s:
        assert [e.action for e in s.iter_audit()].count("personal_data_expired") == 1


def test_a_retention_that_is_not_a_duration_is_refused(ready, tmp_path):
    version = ready.json("policy", "show", "--json")["version"]
    size = ready.audit_size()
    bad = _policy_with(ready, tmp_path / "bad.toml", "2 years")
    line = _one_line(ready("policy", "apply", str(bad)), 1)
    _names_cause_and_fix(line, "retain_personal '2 years' is not a positive ISO 8601 duration", '"P2Y"')
    assert "refund_approval" in line
    assert ready.json("policy", "show", "--json")["version"] == version and ready.audit_size() == size
