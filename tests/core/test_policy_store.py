"""The policy stored in the database (policy_store.py, migration 4), through the engine: who may
change it, what every change records, how a running service follows a change made elsewhere,
and what happens when someone with the key edits the stored policy behind hitl-tui's back."""

from __future__ import annotations

import tomllib

import pytest

from hitl_tui.core.errors import PermissionDenied, PolicyError
from hitl_tui.core.models import RiskLevel, Role
from hitl_tui.core.policy_store import _toml, builtin, compose_text, sha256_of, summarize
from hitl_tui.core.service import WorkflowService

from .conftest import raw_connection

LAX_DELEGATION = '[access.also_decides]\nmanager = ["employee"]\n'
LOW_THRESHOLDS = {"LOW_RISK_EXPENSE_THRESHOLD": "100", "MEDIUM_RISK_EXPENSE_THRESHOLD": "200",
                  "HIGH_RISK_EXPENSE_THRESHOLD": "300"}


@pytest.fixture
def admin(service) -> str:
    service.add_user("ada.admin", "it_admin", admin=True)  # the directory now has an administrator
    return "ada.admin"


def _text(tmp_path, body: str = "", thresholds: dict | None = None) -> str:
    path = tmp_path / "p.toml"
    path.write_text(body)
    return compose_text(path, thresholds)[0]


def _file(service, amount: str) -> str:
    return service.create_workflow_request("expense_approval", "Chairs", "Office chairs", "john.doe",
                                           {"amount": amount, "category": "equipment"})


def _stored_version(db_path, db_key, wid: str):
    conn = raw_connection(db_path, db_key)
    try:
        return conn.execute("SELECT policy_version FROM requests WHERE id = ?", (wid,)).fetchone()[0]
    finally:
        conn.close()


def test_a_new_database_runs_on_the_built_in_default_as_version_0(service):
    stored = service.policy_in_force()
    assert (stored.version, stored.from_database, stored.sha256) == (0, False, builtin().sha256)
    assert "built-in default (no policy applied yet)" in stored.describe()
    wid = _file(service, "500000")
    created = service.get_audit_trail(wid)[0]
    assert (created.details["policy_version"], created.details["policy_sha256"]) == (0, builtin().sha256)


def test_no_caller_chooses_the_policy_at_open(db_path, db_key):
    with pytest.raises(TypeError):
        WorkflowService.open(db_path, key=db_key, policy=builtin().policy)  # the seam is gone


def test_an_administrator_applies_a_version_with_its_audit_entry(service, admin, tmp_path, db_path, db_key):
    before = _file(service, "250")
    text = _text(tmp_path, thresholds=LOW_THRESHOLDS)
    stored, summary = service.apply_policy(text, source="test", actor=admin)
    assert stored.version == 1 and stored.sha256 == sha256_of(text) and stored.applied_by == admin
    assert summary == "expense_approval thresholds 1,000, 10,000, 50,000 -> 100, 200, 300"
    after = _file(service, "250")
    assert service.get_workflow(before).risk_level is RiskLevel.LOW  # filed requests keep their chains
    assert service.get_workflow(after).risk_level is RiskLevel.HIGH
    assert (_stored_version(db_path, db_key, before), _stored_version(db_path, db_key, after)) == (0, 1)
    entry = [e for e in service.iter_audit() if e.action == "policy_applied"][0]
    assert entry.actor == admin and entry.details == {
        "version": 1, "sha256": stored.sha256, "previous_version": 0, "previous_sha256": builtin().sha256,
        "applied_from": "test", "summary": summary}
    assert service.verify_audit().ok


def test_applying_the_text_in_force_writes_nothing(service, admin, tmp_path):
    text = _text(tmp_path, LAX_DELEGATION)
    service.apply_policy(text, actor=admin)
    size = service.audit_size()
    stored, summary = service.apply_policy(text, actor=admin)
    assert (stored.version, summary, service.audit_size()) == (1, None, size)


def test_only_an_administrator_applies_and_a_refusal_writes_nothing(service, admin, tmp_path):
    size = service.audit_size()
    with pytest.raises(PermissionDenied, match="not a user-directory administrator"):
        service.apply_policy(_text(tmp_path, LAX_DELEGATION), actor="john.doe")
    with pytest.raises(PermissionDenied, match="not in the directory"):
        service.apply_policy(_text(tmp_path, LAX_DELEGATION), actor="mallory")
    assert service.policy_in_force().version == 0 and service.audit_size() == size


def test_a_malformed_text_is_refused_before_anything_is_written(service, admin):
    size = service.audit_size()
    with pytest.raises(PolicyError):
        service.apply_policy("currency = 'USD'\n", actor=admin)  # no workflow types: not a policy
    with pytest.raises(PolicyError):
        service.apply_policy("not toml [", actor=admin)
    assert service.policy_in_force().version == 0 and service.audit_size() == size


def test_a_version_applied_by_another_process_governs_the_next_action_here(service, admin, tmp_path, db_path,
                                                                             db_key):
    wid = _file(service, "500")  # LOW: a Manager stage
    service.add_user("eve.employee", "employee", actor=admin)
    with WorkflowService.open(db_path, key=db_key) as other:
        other.apply_policy(_text(tmp_path, LAX_DELEGATION, LOW_THRESHOLDS), actor=admin)
    assert service.policy.access.also_decides == {}  # this service has not written since
    service.approve_workflow(wid, "eve.employee", "ok")  # the delegation applied elsewhere counts here
    again = _file(service, "250")
    assert service.get_workflow(again).risk_level is RiskLevel.HIGH
    assert _stored_version(db_path, db_key, again) == 1
    assert Role.EMPLOYEE in service.policy.stage_deciders(Role.MANAGER)


def _tamper(db_path, db_key, sql: str, *args) -> None:
    conn = raw_connection(db_path, db_key)
    conn.execute("DROP TRIGGER policies_no_update")
    conn.execute(sql, args)
    conn.close()


def test_a_stored_policy_edited_behind_hitl_tuis_back_governs_nothing(service, admin, tmp_path, db_path, db_key):
    stored, _ = service.apply_policy(_text(tmp_path), actor=admin)
    lax = stored.text.replace('{ below = "1000", level = "LOW" }', '{ below = "1000000", level = "LOW" }')
    _tamper(db_path, db_key, "UPDATE policies SET body = ?, sha256 = ? WHERE version = 1", lax, sha256_of(lax))
    with WorkflowService.open(db_path, key=db_key) as victim:  # still opens: verify-audit must run
        assert victim.verify_audit().ok  # the chain itself is intact; the policy row is not
        with pytest.raises(PolicyError, match="does not match its audit entry"):
            _file(victim, "500000")
        with pytest.raises(PolicyError, match="does not match its audit entry"):
            victim.policy_in_force()
        fixed, _ = victim.apply_policy(_text(tmp_path), actor=admin)  # an administrator replaces it
        assert fixed.version == 2
        assert victim.get_workflow(_file(victim, "500000")).risk_level is RiskLevel.CRITICAL


def test_a_version_inserted_without_its_audit_entry_governs_nothing(service, admin, tmp_path, db_path, db_key):
    lax = _text(tmp_path, thresholds={"LOW_RISK_EXPENSE_THRESHOLD": "1000000", "MEDIUM_RISK_EXPENSE_THRESHOLD":
                                      "2000000", "HIGH_RISK_EXPENSE_THRESHOLD": "3000000"})
    conn = raw_connection(db_path, db_key)
    conn.execute("INSERT INTO policies VALUES (1, ?, ?, 'ada.admin', 'now', 'forged', 1)", (lax, sha256_of(lax)))
    conn.close()
    with pytest.raises(PolicyError, match="version 1 does not match its audit entry 1"):
        _file(service, "500000")


def test_the_stored_text_reads_back_as_exactly_the_policy_that_was_composed(tmp_path):
    text = _text(tmp_path, '[types.odd]\nname = "Quote \\" back\\\\slash \\u00e9 tab\\t"\n'
                           '[types.odd.fields."a b"]\nkind = "money"\nrequired = true\n'
                           '[types.odd.risk]\nfield = "a b"\nbands = [{ below = 10.5, level = "LOW" }]\n'
                           'otherwise = "HIGH"\n[types.odd.chains]\nLOW = ["manager"]\nMEDIUM = ["manager"]\n'
                           'HIGH = ["manager"]\nCRITICAL = ["manager"]\n')
    raw = tomllib.loads(text)
    assert raw["types"]["odd"]["name"] == 'Quote " back\\slash \u00e9 tab\t'
    assert _toml(raw) == text  # deterministic: the same tables, the same bytes, the same sha256


def test_the_summary_names_types_thresholds_chains_and_access_rules(tmp_path):
    old = tomllib.loads(builtin().text)
    new = tomllib.loads(_text(tmp_path, LAX_DELEGATION + '[access]\noversight_roles = ["compliance"]\n'))
    assert summarize(old, new) == ("access.oversight_roles executive, compliance -> compliance; "
                                   "access.also_decides manager: +employee")
    fewer = tomllib.loads(builtin().text)
    del fewer["types"]["hiring_approval"]
    fewer["types"]["expense_approval"]["chains"]["LOW"] = ["director"]
    assert summarize(old, fewer) == "types removed: hiring_approval; expense_approval chains LOW"
    assert summarize(old, old) == "no changes"
    kept = tomllib.loads(builtin().text)
    kept["types"]["refund_approval"]["retain_personal"] = "P2Y"
    assert summarize(old, kept) == "refund_approval retain_personal none -> P2Y"


async def test_the_direct_api_reads_and_applies_the_stored_policy(tmp_path, db_key):
    from hitl_tui.core import WorkflowSystem

    system = await WorkflowSystem.open(tmp_path / "api.db", key=db_key)
    try:
        await system.add_user("ada.admin", "it_admin", admin=True)
        assert (await system.policy_in_force()).version == 0
        stored, summary = await system.apply_policy(_text(tmp_path, LAX_DELEGATION), actor="ada.admin")
        assert stored.version == 1 and summary == "access.also_decides manager: +employee"
        assert (await system.policy_in_force()).sha256 == stored.sha256
        assert Role.EMPLOYEE in system.policy.stage_deciders(Role.MANAGER)
    finally:
        await system.close()
