"""The policy in force is part of the database: versions applied by an administrator, each the
full effective TOML with its sha256 and the audit entry that recorded it.

Nothing in a process's environment chooses the rules that govern its user: no HITL_POLICY_FILE,
no policy.toml, no threshold variables. A database with no stored version (made before
migration 4, or by the Direct API) runs on the built-in default, shown as version 0, until an
administrator applies one. WorkflowService holds one PolicyStore; every write that assesses or
decides reads the version in force inside its own transaction (`current`), so a policy applied
by another process governs the next action here, and the request records that version.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from .decisions import AuditAction
from .errors import PolicyError
from .policy import EXPENSE_THRESHOLD_ENV, Policy, build_policy, compose_policy
from .store import policies as sql
from .store.policies import PolicyRow
from .store.connection import Conn

BUILT_IN = "built-in default (no policy applied yet)"


@dataclass(frozen=True)
class StoredPolicy:
    """A policy version: 0 is the built-in default of this hitl-tui, with none applied."""

    version: int
    sha256: str
    text: str
    policy: Policy
    applied_by: str | None = None
    applied_at: str | None = None
    source: str = "built-in default"

    @property
    def from_database(self) -> bool:
        return self.version > 0

    def describe(self) -> str:
        """Where the rules come from, in one line (locate, policy show, export headers)."""
        if not self.from_database:
            return f"{BUILT_IN}, sha256 {self.sha256}"
        return (f"database, version {self.version}, applied by {self.applied_by} at {self.applied_at}, "
                f"sha256 {self.sha256}")

    def as_json(self) -> dict[str, Any]:
        return {"source": "database" if self.from_database else "built-in default", "version": self.version,
                "sha256": self.sha256, "applied_by": self.applied_by, "applied_at": self.applied_at,
                "applied_from": self.source, "toml": self.text}


def sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def compose_text(path: Path | None = None, thresholds: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(effective TOML, where it came from) for a file laid over the built-in default with the
    given thresholds, fully validated: a malformed file is one PolicyError and nothing else."""
    raw = compose_policy(path, thresholds)
    where = ["built-in default"] + ([str(path)] if path is not None else [])
    where += [f"{name}={value}" for name, value in (thresholds or {}).items() if name in EXPENSE_THRESHOLD_ENV]
    source = " + ".join(where)
    build_policy(raw, str(path) if path is not None else "built-in default")
    return _toml(raw), source


def _toml(tables: dict[str, Any]) -> str:
    """The stored form of a policy: TOML written by tomli-w (tomllib only reads), checked to
    read back as exactly the same tables, so a stored text is never a lossy rendering."""
    import tomllib

    import tomli_w

    text = tomli_w.dumps(tables)
    if tomllib.loads(text) != tables:
        raise PolicyError("The policy cannot be stored as TOML without changing it; nothing was changed.")
    return text


def parse_text(text: str, source: str) -> Policy:
    """A Policy from a stored text (complete: nothing is laid under it)."""
    import tomllib

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"The stored policy ({source}) is not TOML: {exc}") from None
    return build_policy(raw, source)


_builtin: StoredPolicy | None = None


def builtin() -> StoredPolicy:
    global _builtin
    if _builtin is None:
        text, _source = compose_text()
        _builtin = StoredPolicy(0, sha256_of(text), text, parse_text(text, BUILT_IN), source="built-in default")
    return _builtin


class PolicyStore:
    """The service's view of the policy in force, cached by version number."""

    def __init__(self) -> None:
        self._cached: StoredPolicy = builtin()
        #: a stored version that failed its check: nothing may be decided under it (or any other)
        self._broken: PolicyError | None = None

    def load(self, conn: Conn) -> None:
        """At open: a stored version that fails its check is remembered, not raised, so that
        commands which need no policy (verify-audit, checkpoint) still run on that database."""
        try:
            self.current(conn)
        except PolicyError as exc:
            self._broken = exc

    @property
    def cached(self) -> StoredPolicy:
        """The version read last; what reads and the UI use between writes."""
        if self._broken is not None:
            raise self._broken
        return self._cached

    def current(self, conn: Conn) -> StoredPolicy:
        """The version in force now, read on `conn` (one primary-key lookup unless it changed)."""
        version, digest = sql.newest(conn)
        seen = (self._cached.version, self._cached.sha256 if self._cached.from_database else None)
        if (version, digest) != seen or self._broken is not None:
            self._broken = None
            try:
                self._cached = builtin() if version == 0 else _load(conn, version)
            except PolicyError as exc:
                self._broken = exc
                raise
        return self._cached

    def apply(self, conn: Conn, text: str, source: str, actor: str,
              audit: Callable[[Any, str, str, str | None, dict[str, Any]], int],
              now: str) -> tuple[StoredPolicy, str | None]:
        """Store `text` as the next version with its `policy_applied` audit entry, inside the
        caller's write transaction; (version in force, summary of the changes). The same text
        as the version in force writes nothing (summary None)."""
        policy = parse_text(text, "the policy to apply")  # checked again: the caller may be the Direct API
        digest = sha256_of(text)
        try:
            before = self.current(conn)
            previous = (before.version, before.sha256, before.text)
        except PolicyError:  # a version that fails its check is replaced, never built upon
            row = sql.get(conn, sql.newest(conn)[0])
            assert row is not None
            before, previous = None, (row.version, row.sha256, row.body)
        if before is not None and before.from_database and before.sha256 == digest:
            return before, None
        version = previous[0] + 1
        summary = summarize(_summary_tables(previous[2]), _summary_tables(text))
        seq = audit(conn, actor, AuditAction.POLICY_APPLIED, None, {
            "version": version, "sha256": digest, "previous_version": previous[0],
            "previous_sha256": previous[1], "applied_from": source, "summary": summary,
        })
        sql.insert(conn, PolicyRow(version, text, digest, actor, now, source, seq))
        return StoredPolicy(version, digest, text, _named(policy, version, digest), actor, now, source), summary

    def adopt(self, stored: StoredPolicy) -> None:
        """After the transaction that stored `stored` committed (never before: a rolled-back
        version must not govern reads here)."""
        self._cached, self._broken = stored, None


def _named(policy: Policy, version: int, digest: str) -> Policy:
    from dataclasses import replace

    return replace(policy, source=f"database, version {version} (sha256 {digest[:12]})")


def _load(conn: Conn, version: int) -> StoredPolicy:
    """A stored version, after checking it is the text its audit entry names: an edit of the
    policies table outside hitl-tui (by someone holding the key) must not govern anything."""
    row = sql.get(conn, version)
    if row is None:  # pragma: no cover - newest() just returned it, in the same transaction
        raise PolicyError(f"Policy version {version} vanished while it was being read.")
    digest = sha256_of(row.body)
    try:
        entry = json.loads(sql.audit_body(conn, row.audit_seq) or b"{}")
        details = entry.get("details") or {}
        recorded = (entry.get("action"), details.get("version"), details.get("sha256"))
    except (ValueError, AttributeError):  # not our canonical JSON: the chain check names it too
        recorded = None
    if digest != row.sha256 or recorded != (AuditAction.POLICY_APPLIED, version, digest):
        raise PolicyError(
            f"The stored policy version {version} does not match its audit entry {row.audit_seq} (it was "
            f"changed outside hitl-tui); nothing was done. An administrator can apply a policy again with "
            f"`hitl-tui policy apply FILE` after checking `hitl-tui verify-audit`.")
    policy = parse_text(row.body, f"database version {version}")
    return StoredPolicy(version, digest, row.body, _named(policy, version, digest), row.applied_by,
                        row.applied_at, row.source)


# --- comparing two versions --------------------------------------------------------------------

def unified_diff(before: StoredPolicy, after_text: str, after_name: str) -> str:
    name = f"version {before.version}" if before.from_database else "built-in default"
    return "".join(difflib.unified_diff(before.text.splitlines(keepends=True), after_text.splitlines(keepends=True),
                                        fromfile=f"policy in force ({name})", tofile=after_name))


def _summary_tables(text: str) -> dict[str, Any]:
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:  # a stored text that fails its check: compare with nothing
        return {}


def summarize(old: dict[str, Any], new: dict[str, Any]) -> str:
    """One line naming what changes: workflow types, thresholds, chains, access rules."""
    parts: list[str] = []
    if old.get("currency") != new.get("currency"):
        parts.append(f"currency {old.get('currency')} -> {new.get('currency')}")
    old_types, new_types = old.get("types", {}), new.get("types", {})
    added = [k for k in new_types if k not in old_types]
    removed = [k for k in old_types if k not in new_types]
    if added:
        parts.append("types added: " + ", ".join(added))
    if removed:
        parts.append("types removed: " + ", ".join(removed))
    for key in (k for k in new_types if k in old_types and new_types[k] != old_types[k]):
        parts.extend(_type_changes(key, old_types[key], new_types[key]))
    old_access, new_access = old.get("access", {}), new.get("access", {})
    for name in dict.fromkeys([*old_access, *new_access]):
        if name == "also_decides":
            parts.extend(_delegation_changes(old_access.get(name) or {}, new_access.get(name) or {}))
        elif old_access.get(name) != new_access.get(name):
            parts.append(f"access.{name} {_list(old_access.get(name))} -> {_list(new_access.get(name))}")
    old_comp, new_comp = old.get("compliance", {}), new.get("compliance", {})
    changed = [k for k in dict.fromkeys([*old_comp, *new_comp]) if old_comp.get(k) != new_comp.get(k)]
    if changed:
        parts.append("compliance " + ", ".join(changed))
    rest = [k for k in dict.fromkeys([*old, *new]) if k not in ("currency", "types", "access", "compliance")
            and old.get(k) != new.get(k)]
    if rest:
        parts.append("other " + ", ".join(rest))
    return "; ".join(parts) if parts else "no changes"


def _type_changes(key: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out = []
    old_risk, new_risk = old.get("risk", {}), new.get("risk", {})
    if old_risk != new_risk:
        old_bands, new_bands = _thresholds(old_risk), _thresholds(new_risk)
        if old_bands != new_bands and old_bands and new_bands:
            out.append(f"{key} thresholds {old_bands} -> {new_bands}")
        else:
            out.append(f"{key} risk rule")
    if old.get("chains") != new.get("chains"):
        levels = [lv for lv in dict.fromkeys([*old.get("chains", {}), *new.get("chains", {})])
                  if old.get("chains", {}).get(lv) != new.get("chains", {}).get(lv)]
        out.append(f"{key} chains " + ", ".join(levels))
    if old.get("fields") != new.get("fields"):
        out.append(f"{key} fields")
    others = [k for k in dict.fromkeys([*old, *new]) if k not in ("risk", "chains", "fields") and old.get(k) != new.get(k)]
    out += [f"{key} {k} {_shown(old.get(k))} -> {_shown(new.get(k))}" for k in others if k in _SETTINGS]
    if any(k not in _SETTINGS for k in others):
        out.append(f"{key} name/description")
    return out


#: a type's own settings, summarised with their values (retain_personal "none" -> "P2Y")
_SETTINGS = ("retain_personal", "reauth_at")


def _shown(value: Any) -> str:
    return "none" if value is None else str(value)


def _thresholds(risk: dict[str, Any]) -> str:
    from decimal import Decimal, InvalidOperation

    from .values import format_threshold

    try:
        return ", ".join(format_threshold(Decimal(str(b["below"]))) for b in risk.get("bands", ()))
    except (InvalidOperation, KeyError, TypeError):
        return ""


def _delegation_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out = []
    for stage in dict.fromkeys([*old, *new]):
        before, after = set(old.get(stage, ())), set(new.get(stage, ()))
        if before != after:
            moves = [f"+{r}" for r in sorted(after - before)] + [f"-{r}" for r in sorted(before - after)]
            out.append(f"access.also_decides {stage}: {' '.join(moves)}")
    return out


def _list(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
