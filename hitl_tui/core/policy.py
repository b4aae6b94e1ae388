"""Workflow types, risk rules and approval chains, described in TOML.

The built-in default (default_policy.toml) reproduces the seed's rules exactly. The policy in
force is stored in the database (policy_store.py): an administrator's file laid over the default,
with the seed's LOW/MEDIUM/HIGH_RISK_EXPENSE_THRESHOLD variables as an input at that moment.
Nothing here reads the environment; `assess()` is a pure function of (type, data).
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Mapping

from .due import Calendar, DueRules, Span
from .errors import PolicyError, UnknownWorkflowType, ValidationFailed
from .models import RiskLevel, Role, StageRule
from .values import format_money, format_threshold, parse_choice, parse_integer, parse_money, parse_text

FIELD_KINDS = ("money", "integer", "text", "choice")
EXPENSE_THRESHOLD_ENV = (
    "LOW_RISK_EXPENSE_THRESHOLD",
    "MEDIUM_RISK_EXPENSE_THRESHOLD",
    "HIGH_RISK_EXPENSE_THRESHOLD",
)
#: read by nothing any more; named only to warn that it is ignored
POLICY_FILE_ENV = "HITL_POLICY_FILE"
TITLE_MAX = 200
DESCRIPTION_MAX = 10_000
TEXT_FIELD_MAX = 500


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    kind: str
    required: bool = False
    help: str = ""
    choices: tuple[str, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)
    #: money/integer: the smallest value that means something (an expense of 0 approves nothing)
    minimum: Decimal | None = None
    #: text only: the value is personal data, sealed in the trail so it can be erased (privacy.py)
    personal: bool = False

    def parse(self, value: Any) -> Any:
        if self.kind == "money":
            return parse_money(self.name, value, self.minimum)
        if self.kind == "integer":
            return parse_integer(self.name, value, self.minimum)
        if self.kind == "choice":
            return parse_choice(self.name, value, list(self.choices), dict(self.aliases))
        return parse_text(self.name, value, TEXT_FIELD_MAX)




@dataclass(frozen=True)
class Band:
    below: Decimal
    level: RiskLevel


@dataclass(frozen=True)
class RiskRule:
    field: str
    bands: tuple[Band, ...] = ()
    otherwise: RiskLevel | None = None
    levels: Mapping[str, RiskLevel] = dataclasses.field(default_factory=dict)  # `field` is a column here

    def assess(self, value: Any) -> tuple[RiskLevel, str]:
        """(level, the rule in words) for an already-parsed value."""
        if self.levels:
            listed = self.levels.get(str(value).lower())
            if listed is None and self.otherwise is not None:  # a text field's value the rule does not list
                return self.otherwise, f"{self.field} is {value} (not listed: {self.otherwise.value})"
            return listed if listed is not None else self.levels[value], f"{self.field} is {value}"
        lower: Decimal | None = None
        shown = format_money(value) if isinstance(value, Decimal) else f"{value:,}"
        for band in self.bands:
            if value < band.below:
                if lower is None:
                    return band.level, f"{self.field} {shown} < {format_threshold(band.below)}"
                return band.level, (
                    f"{self.field} {shown} >= {format_threshold(lower)}, < {format_threshold(band.below)}"
                )
            lower = band.below
        assert self.otherwise is not None and lower is not None
        return self.otherwise, f"{self.field} {shown} >= {format_threshold(lower)}"

    @property
    def thresholds(self) -> list[Decimal]:
        return [b.below for b in self.bands]


@dataclass(frozen=True)
class WorkflowType:
    key: str
    name: str
    description: str
    fields: tuple[FieldSpec, ...]
    risk: RiskRule
    chains: Mapping[RiskLevel, tuple[Role, ...]]
    #: decisions at or above this risk need the signing key's passphrase (reauth_at; None: the
    #: policy's [signing] reauth_at)
    reauth_at: RiskLevel | None = None
    #: retain_personal: how long after a request reaches a final status its personal data is kept
    retain_personal: timedelta | None = None
    #: the ISO 8601 text of retain_personal, as the policy spells it (for the trail and messages)
    retain_text: str | None = None
    #: further rules ([[types.NAME.risk.also]]) on other fields, applied when the field has a
    #: value: the request's risk is the highest any of them gives (a tool's name, then its amount)
    also_risk: tuple[RiskRule, ...] = ()
    #: [types.NAME.due] and on_overdue: how long a request may wait, and what then (due.py)
    due: DueRules = DueRules()
    #: the chains' quorum and parallel stages (stage_rules.py), for the levels that have any
    stage_rules: Mapping[RiskLevel, tuple[StageRule, ...]] = dataclasses.field(default_factory=dict)

    @property
    def personal_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.personal)

    def field(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)


@dataclass(frozen=True)
class Assessment:
    """What the policy makes of a request: clean data, its risk, and the chain it needs."""

    workflow_type: str
    data: dict[str, Any]
    risk_level: RiskLevel
    risk_field: str
    risk_reason: str
    chain: tuple[Role, ...]
    #: each stage's rule when the chain has a quorum or parallel stage; () when every stage is plain
    stages: tuple[StageRule, ...] = ()


@dataclass(frozen=True)
class AccessRules:
    management_line: tuple[Role, ...]
    oversight_roles: frozenset[Role]
    also_decides: Mapping[Role, frozenset[Role]]
    #: the person responsible for an integration may not decide what it files (rbac.check_decide)
    segregate_owners: bool = True


@dataclass(frozen=True)
class ComplianceRules:
    working_hours: tuple[int, int]
    working_days: frozenset[int]
    split_window_days: int
    split_margin: Decimal
    split_min_requests: int
    unusual_amounts: Mapping[str, Decimal]


@dataclass(frozen=True)
class Policy:
    currency: str
    types: Mapping[str, WorkflowType]
    access: AccessRules
    compliance: ComplianceRules
    source: str = "built-in default"
    #: [signing] reauth_at: re-authentication at signing for every type without its own rule
    reauth_at: RiskLevel | None = None
    #: [calendar]: due times count business time (due.py); None: wall-clock time
    calendar: Calendar | None = None

    def due_rule(self, workflow_type: str, risk: RiskLevel) -> tuple[Span, str] | None:
        """(due time, on_overdue) for a request of this type and risk; None when it has no due date."""
        wtype = self.types.get(workflow_type)
        return None if wtype is None else wtype.due.for_level(risk)

    @property
    def asks_reauth(self) -> bool:
        return self.reauth_at is not None or any(t.reauth_at is not None for t in self.types.values())

    def reauth_required(self, workflow_type: str, risk: RiskLevel) -> bool:
        """Does a decision on a request of this type and risk need the decider's passphrase at
        this signing (21 CFR 11.200)? The type's reauth_at, else [signing] reauth_at."""
        wtype = self.types.get(workflow_type)
        level = (wtype.reauth_at if wtype is not None and wtype.reauth_at is not None else self.reauth_at)
        return level is not None and risk.rank >= level.rank

    def workflow_type(self, key: str) -> WorkflowType:
        norm = str(key).strip().lower().replace(" ", "_").replace("-", "_")
        if norm in self.types:
            return self.types[norm]
        known = ", ".join(self.types)
        raise UnknownWorkflowType(f"Unknown workflow type {key!r}; known types: {known}.", "workflow_type")

    def validate_data(self, workflow_type: str, data: Mapping[str, Any] | None) -> dict[str, Any]:
        """Parse every field; refuse unknown fields and missing required ones, naming them."""
        wtype = self.workflow_type(workflow_type)
        if data is not None and not isinstance(data, Mapping):
            raise ValidationFailed(f"data must map field names to values, not {type(data).__name__}.", "data")
        data = dict(data or {})
        known = {f.name for f in wtype.fields}
        unknown = sorted((k for k in data if k not in known), key=repr)
        if unknown:
            name = unknown[0]
            shown = repr(name) if len(repr(name)) <= 60 else repr(name)[:57] + "..."
            raise ValidationFailed(
                f"Unknown field {shown} for {wtype.key}; its fields are: {', '.join(sorted(known))}.",
                name if isinstance(name, str) else "data",
            )
        clean: dict[str, Any] = {}
        for spec in wtype.fields:
            raw = data.get(spec.name)
            empty = raw is None or (isinstance(raw, str) and not raw.strip())
            if empty:
                if spec.required:
                    hint = f" ({spec.help})" if spec.help else ""
                    raise ValidationFailed(f"{spec.name} is required for {wtype.key}{hint}.", spec.name)
                continue
            clean[spec.name] = spec.parse(raw)
        return clean

    def assess(self, workflow_type: str, data: Mapping[str, Any] | None) -> Assessment:
        wtype = self.workflow_type(workflow_type)
        clean = self.validate_data(wtype.key, data)
        level, reason = wtype.risk.assess(clean[wtype.risk.field])
        for rule in wtype.also_risk:  # the highest level wins; its words say why
            if rule.field in clean:
                other, why = rule.assess(clean[rule.field])
                if other.rank > level.rank:
                    level, reason = other, why
        return Assessment(wtype.key, clean, level, wtype.risk.field, reason, wtype.chains[level],
                          wtype.stage_rules.get(level, ()))

    def stage_deciders(self, stage_role: Role) -> frozenset[Role]:
        """Every role that may decide a stage requiring `stage_role`."""
        roles = {stage_role}
        line = self.access.management_line
        if stage_role in line:
            roles.update(line[line.index(stage_role):])
        roles.update(self.access.also_decides.get(stage_role, ()))
        return frozenset(roles)

    def decidable_roles(self, role: Role) -> frozenset[Role]:
        """Every stage role that a user with `role` may decide (the inverse of stage_deciders)."""
        return frozenset(r for r in Role if role in self.stage_deciders(r))


# --- loading ---------------------------------------------------------------------------------
# Nothing here reads the environment or a well-known path: the policy in force is the one stored
# in the database (policy_store.py). These functions compose and check the text that `hitl-tui
# init` and `hitl-tui policy apply` store, and build a Policy from a stored text.

def default_policy_text() -> str:
    from importlib import resources  # imported here: it costs start-up time for a rare call

    return resources.files("hitl_tui.core").joinpath("default_policy.toml").read_text("utf-8")


def compose_policy(path: Path | None = None, thresholds: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The raw tables of a policy: the built-in default, `path` laid over it, then the seed's
    expense thresholds (a mapping of EXPENSE_THRESHOLD_ENV names to amounts). The caller decides
    where the thresholds come from; this function never looks at the environment."""
    raw = tomllib.loads(default_policy_text())
    if path is not None:
        path = Path(path).expanduser()
        try:
            override = tomllib.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise PolicyError(f"Cannot read policy file {path}: {reason}") from None
        _overlay(raw, override)
    _apply_expense_thresholds(raw, thresholds or {})
    return raw


def build_policy(raw: dict[str, Any], source: str) -> Policy:
    """A Policy from raw tables, or one PolicyError line naming what is wrong."""
    from .policy_build import build  # the tables' rules, read once per policy text

    try:
        return build(raw, source)
    except PolicyError as exc:
        raise PolicyError(f"Policy ({source}): {exc}") from None
    except ValidationFailed as exc:  # an unknown role or risk level named in the file
        raise PolicyError(f"Policy ({source}): {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError, InvalidOperation) as exc:
        raise PolicyError(f"Policy ({source}) is malformed: {type(exc).__name__} {exc}") from None


def load_policy(path: Path | None = None, *, thresholds: Mapping[str, str] | None = None) -> Policy:
    """The built-in default with `path` and `thresholds` laid over it, built and checked.

    For checking a file and for tests and benchmarks, which need a Policy without a database;
    what governs requests is only ever the database's policy (WorkflowService.policy)."""
    source = "built-in default" if path is None else str(path)
    return build_policy(compose_policy(path, thresholds), source)


def thresholds_from(env: Mapping[str, str]) -> dict[str, str]:
    """The seed's threshold variables that are set (non-empty) in `env`: an input to init and
    `policy apply`, never a per-process override."""
    return {name: env[name] for name in EXPENSE_THRESHOLD_ENV if env.get(name)}


def ignored_environment(env: Mapping[str, str], *, honoured: tuple[str, ...] = ()) -> list[str]:
    """The policy variables set in `env` that no longer change anything here (all but `honoured`)."""
    names = (POLICY_FILE_ENV, *EXPENSE_THRESHOLD_ENV)
    return [name for name in names if env.get(name) and name not in honoured]


def ignored_environment_warning(env: Mapping[str, str], *, honoured: tuple[str, ...] = ()) -> str | None:
    """One line saying that the policy variables set in `env` are ignored, and how to apply them."""
    names = ignored_environment(env, honoured=honoured)
    if not names:
        return None
    return (f"warning: {', '.join(names)} {'is' if len(names) == 1 else 'are'} ignored: the policy is stored in "
            f"the database; an administrator changes it with `hitl-tui policy apply FILE` (the threshold "
            f"variables are read by that command and by `init`).")


def _overlay(base: dict[str, Any], override: dict[str, Any]) -> None:
    for key, value in override.items():
        if key == "types" and isinstance(value, dict):
            base.setdefault("types", {}).update(value)  # a type is replaced whole
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key].update(value)
        else:
            base[key] = value


def _apply_expense_thresholds(raw: dict[str, Any], thresholds: Mapping[str, str]) -> None:
    bands = raw.get("types", {}).get("expense_approval", {}).get("risk", {}).get("bands")
    if not bands:
        return
    for name, band in zip(EXPENSE_THRESHOLD_ENV, bands):
        if thresholds.get(name):
            try:
                value = parse_money(name, thresholds[name])
            except ValidationFailed as exc:
                raise PolicyError(f"Environment variable {exc}") from None
            band["below"] = str(value)
