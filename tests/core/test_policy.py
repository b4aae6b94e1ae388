"""The default policy reproduces the seed exactly; bad values are errors naming the field."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from hitl_tui.core.errors import PolicyError, UnknownWorkflowType, ValidationFailed
from hitl_tui.core.models import RiskLevel as R
from hitl_tui.core.models import Role
from hitl_tui.core.policy import (
    EXPENSE_THRESHOLD_ENV,
    ignored_environment,
    ignored_environment_warning,
    load_policy,
    thresholds_from,
)

M, D, E, C, S, I = Role.MANAGER, Role.DIRECTOR, Role.EXECUTIVE, Role.COMPLIANCE, Role.SECURITY, Role.IT_ADMIN


@pytest.fixture(scope="module")
def policy():
    return load_policy()


EXPENSE = [
    ("0.01", R.LOW, (M,)), ("999.99", R.LOW, (M,)), ("1000", R.MEDIUM, (M, D)), ("9999.99", R.MEDIUM, (M, D)),
    ("10000", R.HIGH, (M, D, E)), ("49999.99", R.HIGH, (M, D, E)), ("50000", R.CRITICAL, (M, D, E, C)),
    ("1000000", R.CRITICAL, (M, D, E, C)),
]
CONTRACT = [
    ("49999.99", R.LOW, (M,)), ("50000", R.MEDIUM, (M, C)), ("499999.99", R.MEDIUM, (M, C)),
    ("500000", R.HIGH, (M, C, D)), ("1999999.99", R.HIGH, (M, C, D)), ("2000000", R.CRITICAL, (M, C, D, E)),
]
INFRA = [
    ("low", R.LOW, (I,)), ("minimal", R.LOW, (I,)), ("medium", R.MEDIUM, (I, S)), ("Moderate", R.MEDIUM, (I, S)),
    ("high", R.HIGH, (I, S, D)), ("SIGNIFICANT", R.HIGH, (I, S, D)), ("critical", R.CRITICAL, (I, S, D, E)),
]
ESCALATION = [
    ("low", R.LOW, (M,)), ("minor", R.LOW, (M,)), ("medium", R.MEDIUM, (M, D)), ("moderate", R.MEDIUM, (M, D)),
    ("high", R.HIGH, (M, D)), ("Major", R.HIGH, (M, D)), ("critical", R.CRITICAL, (M, D, E)),
]


@pytest.mark.parametrize("amount,level,chain", EXPENSE)
def test_expense_bands(policy, amount, level, chain):
    a = policy.assess("expense_approval", {"amount": amount})
    assert (a.risk_level, a.chain) == (level, chain)
    assert a.data["amount"] == Decimal(amount)


@pytest.mark.parametrize("value,level,chain", CONTRACT)
def test_contract_bands(policy, value, level, chain):
    a = policy.assess("contract_approval", {"contract_value": value})
    assert (a.risk_level, a.chain) == (level, chain)


@pytest.mark.parametrize("impact,level,chain", INFRA)
def test_infrastructure_impact_words(policy, impact, level, chain):
    a = policy.assess("infrastructure_change", {"impact": impact})
    assert (a.risk_level, a.chain) == (level, chain)


@pytest.mark.parametrize("severity,level,chain", ESCALATION)
def test_customer_escalation_severity(policy, severity, level, chain):
    a = policy.assess("customer_escalation", {"severity": severity})
    assert (a.risk_level, a.chain) == (level, chain)


def test_risk_reason_names_the_rule(policy):
    assert policy.assess("expense_approval", {"amount": 15000}).risk_reason == "amount 15,000.00 >= 10,000, < 50,000"
    assert policy.assess("expense_approval", {"amount": "999.99"}).risk_reason == "amount 999.99 < 1,000"
    assert policy.assess("expense_approval", {"amount": 50000}).risk_reason == "amount 50,000.00 >= 50,000"
    assert policy.assess("infrastructure_change", {"impact": "significant"}).risk_reason == "impact is high"


def test_default_policy_ships_more_types_each_with_all_levels(policy):
    extra = set(policy.types) - {"expense_approval", "infrastructure_change", "contract_approval", "customer_escalation"}
    assert len(extra) >= 3
    for wtype in policy.types.values():
        assert set(wtype.chains) == set(R)


@pytest.mark.parametrize("data,field,words", [
    ({}, "amount", "required"),
    ({"amount": None}, "amount", "required"),
    ({"amount": "  "}, "amount", "required"),
    ({"amount": -1}, "amount", "negative"),
    ({"amount": "-5"}, "amount", "negative"),
    ({"amount": "abc"}, "amount", "must be a number"),
    ({"amount": "12.345"}, "amount", "two decimal places"),
    ({"amount": float("nan")}, "amount", "finite"),
    ({"amount": True}, "amount", "amount of money"),
    ({"amount": [1]}, "amount", "amount of money"),
    ({"amount": 10, "category": "yachts"}, "category", "not a known value"),
    ({"amount": 10, "amonut": 5}, "amonut", "Unknown field"),
])
def test_bad_values_name_the_field(policy, data, field, words):
    with pytest.raises(ValidationFailed) as err:
        policy.assess("expense_approval", data)
    assert err.value.field == field
    assert field in str(err.value) and words in str(err.value)


def test_unknown_words_are_errors_not_critical(policy):
    with pytest.raises(ValidationFailed, match="impact 'huge' is not a known value"):
        policy.assess("infrastructure_change", {"impact": "huge"})
    with pytest.raises(ValidationFailed, match="severity"):
        policy.assess("customer_escalation", {"severity": ""})


def test_unknown_type(policy):
    with pytest.raises(UnknownWorkflowType, match="known types: expense_approval"):
        policy.assess("lunch_order", {})


@pytest.mark.parametrize("text,expected", [
    ("15,000", "15000.00"), ("$15,000.50", "15000.50"), ("15000 USD", "15000.00"), ("15k", "15000.00"),
    (15000, "15000.00"), (0.1, "0.10"), (Decimal("7.5"), "7.50"),
])
def test_money_parsing_is_decimal(policy, text, expected):
    assert policy.assess("expense_approval", {"amount": text}).data["amount"] == Decimal(expected)


def test_the_seed_thresholds_are_an_input_that_replaces_the_expense_bands():
    thresholds = {"LOW_RISK_EXPENSE_THRESHOLD": "500", "MEDIUM_RISK_EXPENSE_THRESHOLD": "5000",
                  "HIGH_RISK_EXPENSE_THRESHOLD": "20000"}
    policy = load_policy(thresholds=thresholds)
    assert policy.assess("expense_approval", {"amount": 600}).risk_level is R.MEDIUM
    assert policy.assess("expense_approval", {"amount": 19999}).risk_level is R.HIGH
    assert policy.assess("expense_approval", {"amount": 20000}).risk_level is R.CRITICAL
    assert policy.assess("refund_approval", {"amount": 600, "customer": "x"}).risk_level is R.MEDIUM  # untouched


@pytest.mark.parametrize("thresholds", [
    {"LOW_RISK_EXPENSE_THRESHOLD": "lots"},
    {"LOW_RISK_EXPENSE_THRESHOLD": "20000"},  # above the medium threshold: bands must increase
])
def test_bad_thresholds_are_refused(thresholds):
    with pytest.raises(PolicyError):
        load_policy(thresholds=thresholds)


def test_loading_never_reads_the_environment(monkeypatch, tmp_path: Path):
    """What the seed did per process (issue 8): a requester's variables lowered their own risk."""
    path = tmp_path / "lax.toml"
    path.write_text('[access.also_decides]\nmanager = ["employee"]\n')
    monkeypatch.setenv("HITL_POLICY_FILE", str(path))
    monkeypatch.setenv("LOW_RISK_EXPENSE_THRESHOLD", "1000000")
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "hitl-tui"
    config.mkdir(parents=True, exist_ok=True)
    (config / "policy.toml").write_text('[access.also_decides]\nmanager = ["employee"]\n')
    policy = load_policy()
    assert policy.source == "built-in default" and not policy.access.also_decides
    assert policy.assess("expense_approval", {"amount": 500_000}).risk_level is R.CRITICAL


def test_the_ignored_variables_are_named_in_one_warning_line():
    env = {"HITL_POLICY_FILE": "/x.toml", "HIGH_RISK_EXPENSE_THRESHOLD": "1", "LOW_RISK_EXPENSE_THRESHOLD": ""}
    assert ignored_environment(env) == ["HITL_POLICY_FILE", "HIGH_RISK_EXPENSE_THRESHOLD"]
    assert ignored_environment(env, honoured=EXPENSE_THRESHOLD_ENV) == ["HITL_POLICY_FILE"]
    line = ignored_environment_warning(env)
    assert "\n" not in line and "HITL_POLICY_FILE, HIGH_RISK_EXPENSE_THRESHOLD are ignored" in line
    assert "hitl-tui policy apply FILE" in line
    assert ignored_environment_warning({}) is None
    assert thresholds_from(env) == {"HIGH_RISK_EXPENSE_THRESHOLD": "1"}


def test_policy_file_adds_a_type_without_code_changes(tmp_path: Path):
    path = tmp_path / "policy.toml"
    path.write_text('''
[types.laptop_request]
name = "Laptop request"
[types.laptop_request.fields.model]
kind = "choice"
required = true
choices = ["standard", "pro"]
[types.laptop_request.risk]
field = "model"
levels = { standard = "LOW", pro = "MEDIUM" }
[types.laptop_request.chains]
LOW = ["manager"]
MEDIUM = ["manager", "it_admin"]
HIGH = ["manager", "it_admin"]
CRITICAL = ["manager", "it_admin", "director"]
''')
    policy = load_policy(path)
    a = policy.assess("laptop_request", {"model": "pro"})
    assert a.risk_level is R.MEDIUM and a.chain == (M, I)
    assert "expense_approval" in policy.types  # the defaults remain
    assert policy.source == str(path)


@pytest.mark.parametrize("text,words", [
    ("[types.x]\nname='x'\n[types.x.fields.a]\nkind='blob'\n", "unknown kind"),
    ("[types.x]\n[types.x.fields.a]\nkind='money'\nrequired=true\n[types.x.risk]\nfield='b'\n", "does not define"),
    ("[types.x]\n[types.x.fields.a]\nkind='money'\nrequired=true\n[types.x.risk]\nfield='a'\n"
     "bands=[{below=10,level='LOW'}]\notherwise='HIGH'\n[types.x.chains]\nLOW=['manager']\n", "no approval chain"),
    ("[types.x]\n[types.x.fields.a]\nkind='money'\nrequired=true\n[types.x.risk]\nfield='a'\n"
     "bands=[{below=10,level='LOW'}]\notherwise='HIGH'\n[types.x.chains]\nLOW=['manager']\nMEDIUM=['manager']\n"
     "HIGH=['manager']\nCRITICAL=['janitor']\n", "Unknown role"),
    ("this is = not toml [", "Cannot read policy file"),
])
def test_malformed_policy_files_are_clear_errors(tmp_path: Path, text, words):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert words in str(err.value)


def test_the_example_policy_in_assets_loads():
    path = Path(__file__).resolve().parents[2] / "assets" / "policy-example.toml"
    a = load_policy(path).assess("laptop_request", {"model": "Pro", "reason": "video editing"})
    assert a.risk_level is R.MEDIUM and a.chain == (M, I)


def _sample_inputs(wtype):
    """One input per risk level for any type: just under / at each band threshold, or each word."""
    base = {f.name: ("x" if f.kind == "text" else 1 if f.kind == "integer" else f.choices[0] if f.kind == "choice"
                     else "1") for f in wtype.fields if f.required and f.name != wtype.risk.field}
    rule = wtype.risk
    if rule.levels:
        return [({**base, rule.field: word}, level) for word, level in rule.levels.items()]
    cases, lower = [], wtype.field(rule.field).minimum or Decimal(0)  # the smallest amount the field takes
    for band in rule.bands:
        cases += [({**base, rule.field: str(lower)}, band.level),
                  ({**base, rule.field: str(band.below - Decimal("0.01"))}, band.level)]
        lower = band.below
    return cases + [({**base, rule.field: str(lower)}, rule.otherwise)]


@pytest.mark.parametrize("type_key", sorted(load_policy().types))
def test_every_type_reaches_every_risk_level_with_its_own_chain(policy, type_key):
    wtype = policy.types[type_key]
    seen = set()
    for data, level in _sample_inputs(wtype):
        a = policy.assess(type_key, data)
        assert a.risk_level is level and a.chain == wtype.chains[level]
        seen.add(a.risk_level)
    assert seen == set(R)
