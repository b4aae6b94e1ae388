"""Building a Policy from its TOML tables (policy.py's build_policy): each table checked, and
anything wrong one PolicyError line naming the type, the field or the key.

Kept apart from policy.py, which holds what a policy is (its types, rules, chains and access
rules) and what the rest of the engine asks of it; this is only how a text becomes one.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any, Mapping

from .due import parse_calendar, parse_due
from .errors import PolicyError, ValidationFailed
from .models import RiskLevel, Role
from .stage_rules import details as stage_rules_details, parse_chain
from .policy import FIELD_KINDS, AccessRules, Band, ComplianceRules, FieldSpec, Policy, RiskRule, WorkflowType
from .values import format_threshold, parse_integer, parse_money


def field_minimum(where: str, name: str, kind: str, fspec: Mapping[str, Any]) -> Decimal | None:
    """A field's `minimum` from the policy: a number, for money and integer fields only."""
    if "minimum" not in fspec:
        return None
    raw = fspec["minimum"]
    if kind not in ("money", "integer"):
        raise PolicyError(f"{where}: field {name!r} is {kind}; a minimum applies to money and integer fields only.")
    try:
        value = parse_money(f"{name} minimum", str(raw)) if kind == "money" else parse_integer(f"{name} minimum", raw)
    except ValidationFailed as exc:
        raise PolicyError(f"{where}: field {name!r} has a bad minimum: {exc}") from None
    return Decimal(value)


def build(raw: dict[str, Any], source: str) -> Policy:
    types = {key: _build_type(key, spec) for key, spec in raw.get("types", {}).items()}
    if not types:
        raise PolicyError("it defines no workflow types.")
    access = raw.get("access", {})
    comp = raw.get("compliance", {})
    return Policy(
        currency=str(raw.get("currency", "USD")),
        types=types,
        access=AccessRules(
            management_line=tuple(Role.parse(r) for r in access.get("management_line", [])),
            oversight_roles=frozenset(Role.parse(r) for r in access.get("oversight_roles", [])),
            also_decides={
                Role.parse(stage): frozenset(Role.parse(r) for r in roles)
                for stage, roles in access.get("also_decides", {}).items()
            },
            segregate_owners=_flag(access, "segregate_owners", True, "[access]"),
        ),
        compliance=ComplianceRules(
            working_hours=tuple(comp.get("working_hours", [8, 19])),
            working_days=frozenset(comp.get("working_days", [0, 1, 2, 3, 4])),
            split_window_days=int(comp.get("split_window_days", 14)),
            split_margin=Decimal(str(comp.get("split_margin", "0.15"))),
            split_min_requests=int(comp.get("split_min_requests", 2)),
            unusual_amounts={k: Decimal(str(v)) for k, v in comp.get("unusual_amounts", {}).items()},
        ),
        source=source,
        reauth_at=_reauth_at(raw.get("signing", {}), "[signing]"),
        calendar=parse_calendar(raw.get("calendar")),
    )


def _flag(table: Mapping[str, Any], name: str, default: bool, where: str) -> bool:
    value = table.get(name, default)
    if not isinstance(value, bool):
        raise PolicyError(f"{where} {name} must be true or false, not {value!r}.")
    return value


def _reauth_at(table: Any, where: str) -> RiskLevel | None:
    """`reauth_at = "CRITICAL"`: decisions at this risk and above ask for the passphrase."""
    if not isinstance(table, dict):
        raise PolicyError(f"{where} must be a table.")
    unknown = sorted(set(table) - {"reauth_at"}) if where == "[signing]" else []
    if unknown:
        raise PolicyError(f"{where} has unknown key {unknown[0]!r}; it takes reauth_at only.")
    value = table.get("reauth_at")
    if value is None:
        return None
    try:
        return RiskLevel.parse(str(value))
    except ValidationFailed:
        raise PolicyError(f"{where} reauth_at {value!r} is not a risk level; choose LOW, MEDIUM, HIGH or "
                          f"CRITICAL.") from None


def _build_type(key: str, spec: dict[str, Any]) -> WorkflowType:
    where = f"workflow type {key!r}"
    fields = []
    for name, fspec in spec.get("fields", {}).items():
        kind = fspec.get("kind", "text")
        if kind not in FIELD_KINDS:
            raise PolicyError(f"{where}: field {name!r} has unknown kind {kind!r} ({', '.join(FIELD_KINDS)}).")
        choices = tuple(str(c).lower() for c in fspec.get("choices", ()))
        if kind == "choice" and not choices:
            raise PolicyError(f"{where}: choice field {name!r} lists no choices.")
        aliases = {str(a).lower(): str(t).lower() for a, t in fspec.get("aliases", {}).items()}
        for alias, target in aliases.items():
            if target not in choices:
                raise PolicyError(f"{where}: alias {alias!r} of {name!r} points at unknown choice {target!r}.")
        fields.append(FieldSpec(
            name=name, label=str(fspec.get("label", name.replace("_", " ").capitalize())), kind=kind,
            required=bool(fspec.get("required", False)), help=str(fspec.get("help", "")),
            choices=choices, aliases=aliases, minimum=field_minimum(where, name, kind, fspec),
            personal=_personal(where, name, kind, fspec),
        ))
    by_name = {f.name: f for f in fields}
    rspec = spec.get("risk") or {}
    risk = _risk_rule(where, rspec, by_name)
    if not by_name[risk.field].required:
        raise PolicyError(f"{where}: the risk field {risk.field!r} must be required.")
    also = rspec.get("also", [])
    if not isinstance(also, list) or not all(isinstance(a, dict) for a in also):
        raise PolicyError(f"{where}: risk `also` must be a list of rules ([[types.{key}.risk.also]] tables).")
    chains, stage_rules = {}, {}
    for level in RiskLevel:  # a stage is a role, { role, quorum } or { all = [...] } (stage_rules.py)
        chains[level], rules = parse_chain(where, level.value, spec.get("chains", {}).get(level.value))
        if stage_rules_details(rules):
            stage_rules[level] = rules
    return WorkflowType(key=key, name=str(spec.get("name", key)), description=str(spec.get("description", "")),
                        fields=tuple(fields), risk=risk, chains=chains,
                        also_risk=tuple(_risk_rule(where, a, by_name) for a in also),
                        reauth_at=_reauth_at(spec, f"workflow type {key!r}"),
                        retain_personal=_retention(where, spec.get("retain_personal")),
                        retain_text=None if spec.get("retain_personal") is None else str(spec["retain_personal"]),
                        due=parse_due(where, spec), stage_rules=stage_rules)


def _risk_rule(where: str, rspec: Mapping[str, Any], by_name: Mapping[str, FieldSpec]) -> RiskRule:
    """One risk rule: `bands` over a money or integer field, or `levels` of a choice field (every
    choice listed) or of a text field (with `otherwise` for a value it does not list: a tool's name)."""
    named = rspec.get("field")
    if not isinstance(named, str) or named not in by_name:
        raise PolicyError(f"{where}: risk rule looks at field {named!r}, which the type does not define.")
    rfield: str = named
    kind = by_name[rfield].kind
    if "levels" in rspec:
        levels = {str(w).lower(): RiskLevel.parse(v) for w, v in rspec["levels"].items()}
        if kind == "text":
            if "otherwise" not in rspec:
                raise PolicyError(f"{where}: levels of the text field {rfield!r} need `otherwise`, the level of a "
                                  f"value they do not list.")
            return RiskRule(field=rfield, levels=levels, otherwise=RiskLevel.parse(rspec["otherwise"]))
        missing = [c for c in by_name[rfield].choices if c not in levels]
        if missing or kind != "choice":
            raise PolicyError(f"{where}: every choice of {rfield!r} needs a risk level (missing: {missing}).")
        return RiskRule(field=rfield, levels=levels)
    if kind not in ("money", "integer"):
        raise PolicyError(f"{where}: bands need a money or integer field, {rfield!r} is not one.")
    bands = tuple(Band(Decimal(str(b["below"])), RiskLevel.parse(b["level"])) for b in rspec.get("bands", ()))
    if not bands or "otherwise" not in rspec:
        raise PolicyError(f"{where}: a banded risk rule needs `bands` and `otherwise`.")
    if any(a.below >= b.below for a, b in zip(bands, bands[1:])):
        limits = ", ".join(format_threshold(b.below) for b in bands)
        raise PolicyError(f"{where}: risk thresholds must increase (got {limits}).")
    return RiskRule(field=rfield, bands=bands, otherwise=RiskLevel.parse(rspec["otherwise"]))


def _personal(where: str, name: str, kind: str, fspec: Mapping[str, Any]) -> bool:
    value = fspec.get("personal", False)
    if not isinstance(value, bool):
        raise PolicyError(f"{where}: field {name!r} personal must be true or false, not {value!r}.")
    if value and kind != "text":
        raise PolicyError(f"{where}: field {name!r} is a {kind} field; only text fields can be marked personal.")
    return value


def _retention(where: str, value: Any) -> timedelta | None:
    """retain_personal = "P2Y": an ISO 8601 duration (years count 365 days, months 30)."""
    if value is None:
        return None
    from pydantic import TypeAdapter, ValidationError

    try:
        span = TypeAdapter(timedelta).validate_python(str(value)) if isinstance(value, str) else None
    except ValidationError:
        span = None
    if span is None or span <= timedelta(0) or not str(value).upper().startswith("P"):
        raise PolicyError(f"{where}: retain_personal {value!r} is not a positive ISO 8601 duration "
                          f"such as \"P2Y\", \"P90D\" or \"PT30S\".")
    return span
