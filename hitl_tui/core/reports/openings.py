"""Sealed personal values in exports (docs/VERIFY.md section 10): how an entry reads with its
openings, and the checks that an export's openings are true.

An export carries, beside each entry that seals personal values, the member `personal`:
digest -> {"salt", "value"} (the value, which must hash to the digest) or {"erased", "by"} (the
erasure entry that destroyed its key). What a person reads (CSV summary and details, reports)
is the entry opened with them; what is hashed and signed stays the sealed form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..privacy import ERASING_ACTIONS, digest_of, is_sealed, placeholder, sealed_in

#: what a sealed value reads as when its export carries no opening for it
NOT_OPENED = "(sealed value not opened)"
Openings = Mapping[str, Any]
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_HEX32 = re.compile(r"[0-9a-f]{32}\Z")


def shown(opening: Any) -> Any:
    """What one opening reads as: the value, `erased on DATE`, or NOT_OPENED."""
    if isinstance(opening, dict) and set(opening) == {"salt", "value"}:
        return opening["value"]
    if isinstance(opening, dict) and set(opening) == {"erased", "by"}:
        return placeholder(str(opening["erased"]))
    return NOT_OPENED


def open_details(node: Any, personal: Openings | None) -> Any:
    """`node` with every sealed value replaced by what its opening reads as."""
    if isinstance(node, dict):
        if is_sealed(node):
            return shown((personal or {}).get(node["sealed"]))
        return {k: open_details(v, personal) for k, v in node.items()}
    if isinstance(node, list):
        return [open_details(v, personal) for v in node]
    return node


def opened_record(rec: dict[str, Any], personal: Openings | None) -> dict[str, Any]:
    """The record as a person reads it (its hashed form is `rec` itself)."""
    if next(sealed_in(rec.get("details")), None) is None:
        return rec
    return {**rec, "details": open_details(rec["details"], personal)}


@dataclass
class OpeningCheck:
    """The openings of an export, checked entry by entry (VERIFY.md 10.3); an erased opening is
    settled at the end, once its erasure entry (always later) has been read."""

    whole: bool
    opened: int = 0
    erased: int = 0
    unopened: int = 0
    unsettled: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)
    _pending: list[tuple[int, str, str, int]] = field(default_factory=list)  # seq, key, date, by
    _erasures: dict[int, tuple[frozenset[str], str]] = field(default_factory=dict)  # seq -> keys, date
    _valued: dict[str, int] = field(default_factory=dict)  # key -> first entry that opens a value under it

    def feed(self, seq: int, rec: dict[str, Any], personal: Any) -> None:
        if personal is not None and not isinstance(personal, dict):
            self.problems.append((seq, f"entry {seq} has a personal member that is not an object"))
            personal = {}
        personal = personal or {}
        seals = list(sealed_in(rec.get("details")))
        for digest in sorted(set(personal) - {s["sealed"] for s in seals}):
            self.problems.append((seq, f"entry {seq} carries an opening for {digest[:16]}..., which it does not seal"))
        for seal in seals:
            self._one(seq, seal, personal.get(seal["sealed"]))
        d = rec.get("details")
        if rec.get("action") in ERASING_ACTIONS and isinstance(d, dict) and isinstance(d.get("keys"), list):
            self._erasures[seq] = (frozenset(k for k in d["keys"] if isinstance(k, str)), str(rec.get("ts", ""))[:10])

    def _one(self, seq: int, seal: dict[str, str], opening: Any) -> None:
        digest, key = seal["sealed"], seal["key"]
        if opening is None:
            if self.whole:
                self.problems.append((seq, f"entry {seq} holds a sealed value the export does not open"))
            else:
                self.unopened += 1
        elif isinstance(opening, dict) and set(opening) == {"salt", "value"}:
            salt = opening["salt"]
            if not (isinstance(salt, str) and _HEX32.match(salt)) or digest_of(bytes.fromhex(salt), opening["value"]) != digest:
                self.problems.append((seq, f"entry {seq} holds a sealed value whose opening does not match its "
                                           f"digest: the value was edited"))
                return
            self.opened += 1
            self._valued.setdefault(key, seq)
        elif isinstance(opening, dict) and set(opening) == {"erased", "by"}:
            day, by = opening["erased"], opening["by"]
            if not (isinstance(day, str) and _DATE.match(day)) or not isinstance(by, int) or isinstance(by, bool) \
                    or by <= seq:
                self.problems.append((seq, f"entry {seq} holds a sealed value whose erased opening is malformed "
                                           f"(a date and a later entry are needed)"))
                return
            self._pending.append((seq, key, day, by))
        else:
            self.problems.append((seq, f"entry {seq} holds a sealed value whose opening is neither a value nor "
                                       f"an erasure"))

    def finish(self) -> list[tuple[int, str]]:
        """Every problem, earliest entry first."""
        for seq, key, day, by in self._pending:
            found = self._erasures.get(by)
            if found is None:
                if self.whole:
                    self.problems.append((seq, f"entry {seq} holds a sealed value marked erased by entry {by}, "
                                               f"which is not an erasure of personal data in this export"))
                else:
                    self.unsettled += 1
            elif key not in found[0]:
                self.problems.append((seq, f"entry {seq} holds a sealed value marked erased by entry {by}, which "
                                           f"does not list its key {key}"))
            elif found[1] != day:
                self.problems.append((seq, f"entry {seq} holds a sealed value marked erased on {day}, but entry "
                                           f"{by} is of {found[1]}"))
            else:
                self.erased += 1
        for by, (keys, _day) in sorted(self._erasures.items()):
            for key in sorted(keys & set(self._valued)):
                first = self._valued[key]
                self.problems.append((first, f"entry {first} opens a value sealed under key {key}, which entry "
                                             f"{by} erased: the erasure was not carried out"))
        return sorted(self.problems, key=lambda p: p[0])
