"""A payload filed for approval: the exact action (a tool's arguments, an ERP record) as one JSON
object, bounded, in its canonical form, and its sha256.

The canonical form is the audit trail's own (audit.canonical_bytes: sorted keys, no whitespace,
UTF-8), so the hash a receipt names is the hash of exactly the text the signed `created` entry
holds, and anyone recomputes it with VERIFY.md section 1. A payload holds JSON values only;
anything else (a Decimal, a date, a set, NaN) is refused naming where it is, rather than turned
into something the caller did not write: what is approved is what was sent.

The policy reads a request's fields from its payload (fields_for): each field of the type from
the payload's top level, or else from its `arguments` object (a tool call's arguments), so the
risk is assessed on the very values that are hashed and approved. Other members are the
payload's own business: kept, shown and hashed, never assessed.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any, Mapping

from .audit import canonical_bytes
from .errors import ValidationFailed
from .text import refuse_invalid

#: at most this many bytes of canonical JSON (a payload names the action; bulk data goes by reference)
MAX_BYTES = 64 * 1024
#: objects and arrays nested at most this deep
MAX_DEPTH = 16
#: JSON numbers beyond this lose digits in many languages (JavaScript's doubles): send them as text
MAX_INTEGER = 2**53
#: where a nested tool call keeps its arguments
ARGUMENTS = "arguments"


@dataclass(frozen=True)
class Payload:
    """A checked payload: its canonical text (what is stored, shown and hashed) and that text's sha256."""

    text: str
    sha256: str

    @property
    def size(self) -> int:
        return len(self.text.encode("utf-8"))


def checked(payload: Any) -> Payload:
    """`payload` as a Payload, or one ValidationFailed line naming what is wrong and where."""
    if not isinstance(payload, Mapping):
        raise ValidationFailed(f"payload must be a JSON object (the action's arguments by name), "
                               f"not {_kind(payload)}.", "payload")
    _Walk().value(payload, "payload", 0)
    body = canonical_bytes(dict(payload))
    if len(body) > MAX_BYTES:
        raise ValidationFailed(_too_large(len(body)), "payload")
    return Payload(body.decode("utf-8"), hashlib.sha256(body).hexdigest())


def sha256_of(payload: Any) -> str:
    """The sha256 a receipt names for `payload` (checked as for filing)."""
    return checked(payload).sha256


def fields_for(field_names: list[str] | tuple[str, ...], payload: Mapping[str, Any]) -> dict[str, Any]:
    """The values of the policy's fields for this type, read from the payload (its top level, else
    its `arguments` object); a field the payload does not name is left out (the policy then says
    whether it was required)."""
    arguments = payload.get(ARGUMENTS)
    nested = arguments if isinstance(arguments, Mapping) else {}
    found: dict[str, Any] = {}
    for name in field_names:
        if name in payload:
            where, value = f"payload.{name}", payload[name]
        elif name in nested:
            where, value = f"payload.{ARGUMENTS}.{name}", nested[name]
        else:
            continue
        if isinstance(value, (Mapping, list, tuple)):
            raise ValidationFailed(f"{where} must be a single value: the policy assesses the risk on its {name} "
                                   f"field.", name)
        found[name] = value
    return found


#: where a payload may say which currency its amounts are in
CURRENCY = "currency"


def check_currency(payload: Mapping[str, Any], currency: str, field: str) -> None:
    """A payload that names a currency for its money must name the policy's: the risk bands are
    in that currency, and the desk shows the amount in it, so 740 EUR assessed and shown as
    740 USD would mislead the approver. Refused in one line (nothing converts currencies)."""
    arguments = payload.get(ARGUMENTS)
    nested = arguments if isinstance(arguments, Mapping) else {}
    named = payload.get(CURRENCY, nested.get(CURRENCY))
    if named is None:
        return
    if not isinstance(named, str) or named.strip().upper() != currency.upper():
        raise ValidationFailed(f"payload.{CURRENCY} is {str(named)[:20]!r}, but this policy's amounts are in "
                               f"{currency}: give {field} in {currency} (nothing is converted), or leave "
                               f"{CURRENCY} out.", CURRENCY)


class _Walk:
    """One pass over the payload: types, depth and a running size, so a huge one is refused
    long before it is encoded."""

    def __init__(self) -> None:
        self.budget = MAX_BYTES

    def spend(self, size: int) -> None:
        self.budget -= size
        if self.budget < 0:
            raise ValidationFailed(_too_large(None), "payload")

    def value(self, value: Any, where: str, depth: int) -> None:
        if value is None or isinstance(value, bool):
            self.spend(4)
        elif isinstance(value, str):
            refuse_invalid(value, where)
            self.spend(len(value) + 2)
        elif isinstance(value, int):
            if abs(value) > MAX_INTEGER:
                raise ValidationFailed(f"{_short(where)} is a number beyond +/-2^53, which JSON readers in other "
                                       f"languages cannot hold exactly; send it as a string.", "payload")
            self.spend(len(str(value)) if abs(value) < 10**20 else 21)
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise ValidationFailed(f"{_short(where)} is {value!r}, which is not a JSON number.", "payload")
            self.spend(24)
        elif isinstance(value, (dict, list, tuple)) or (depth == 0 and isinstance(value, Mapping)):
            if depth >= MAX_DEPTH:
                raise ValidationFailed(f"payload is nested more than {MAX_DEPTH} levels deep (at {_short(where)}); "
                                       f"flatten it.", "payload")
            self.spend(2)
            if isinstance(value, Mapping):
                for key, item in value.items():
                    if not isinstance(key, str):
                        raise ValidationFailed(f"{_short(where)} has the key {repr(key)[:40]} ({_kind(key)}); JSON "
                                               f"object keys are text.", "payload")
                    refuse_invalid(key, f"{_short(where)} key")
                    self.spend(len(key) + 3)
                    self.value(item, f"{where}.{key}", depth + 1)
            else:
                for i, item in enumerate(value):
                    self.spend(1)
                    self.value(item, f"{where}[{i}]", depth + 1)
        else:
            raise ValidationFailed(f"{_short(where)} is {_kind(value)}: a payload holds JSON values only (objects, "
                                   f"arrays, text, numbers, true, false, null); convert it, e.g. str(value).",
                                   "payload")


def _too_large(size: int | None) -> str:
    got = f" ({size:,} bytes)" if size is not None else ""
    return (f"payload is too large{got}: at most {MAX_BYTES:,} bytes of canonical JSON; pass a reference to bulk "
            f"data (a document id, a URL and its sha256), not the data itself.")


def _kind(value: Any) -> str:
    return "null" if value is None else f"a {type(value).__name__}"


def _short(where: str) -> str:
    return where if len(where) <= 80 else where[:37] + "..." + where[-40:]
