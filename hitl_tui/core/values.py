"""Parsing and formatting of field values: money is Decimal, never float.

Every parse failure is a ValidationFailed that names the field, so the form, the CLI and the
agents can all point at the exact input that was wrong.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import ValidationFailed

CENT = Decimal("0.01")
# "15000", "15,000", "15,000.50", "$15,000", "USD 15000", "15000 usd", "15k"
_MONEY_RE = re.compile(
    r"^\s*(?:usd|\$)?\s*(?P<num>\d{1,3}(?:,\d{3})+|\d+)(?P<frac>\.\d+)?\s*(?P<k>[kKmM])?\s*(?:usd)?\s*$",
    re.IGNORECASE,
)


def parse_money(field: str, value: Any) -> Decimal:
    """Turn user input into a non-negative Decimal with at most two decimal places."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationFailed(f"{field} is required.", field)
    if isinstance(value, bool):
        raise ValidationFailed(f"{field} must be an amount of money, not {value!r}.", field)
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationFailed(f"{field} must be a finite amount, not {value!r}.", field)
        amount = Decimal(repr(value))  # shortest repr, so 0.1 stays 0.1
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("-") or text.startswith("(") or "-" in text:
            raise ValidationFailed(f"{field} cannot be negative (got {value!r}).", field)
        match = _MONEY_RE.match(text)
        if not match:
            raise ValidationFailed(
                f"{field} must be a number like 15000 or 15,000.00 (got {value!r}).", field
            )
        amount = Decimal(match["num"].replace(",", "") + (match["frac"] or ""))
        if match["k"]:
            amount *= 1000 if match["k"].lower() == "k" else 1_000_000
    else:
        raise ValidationFailed(f"{field} must be an amount of money, not {type(value).__name__}.", field)
    if not amount.is_finite():
        raise ValidationFailed(f"{field} must be a finite amount (got {value!r}).", field)
    if amount < 0:
        raise ValidationFailed(f"{field} cannot be negative (got {value!r}).", field)
    if amount != amount.quantize(CENT):
        raise ValidationFailed(f"{field} has more than two decimal places (got {value!r}).", field)
    if amount >= Decimal("1e15"):
        raise ValidationFailed(f"{field} is implausibly large (got {value!r}).", field)
    return amount.quantize(CENT)


def parse_integer(field: str, value: Any) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationFailed(f"{field} is required.", field)
    if isinstance(value, bool):
        raise ValidationFailed(f"{field} must be a whole number, not {value!r}.", field)
    try:
        if isinstance(value, int):
            number = value
        elif isinstance(value, (float, Decimal)):
            if value != int(value):
                raise ValueError
            number = int(value)
        else:
            text = str(value).strip().replace(",", "")
            if not re.fullmatch(r"[+-]?\d+", text):
                raise ValueError
            number = int(text)
    except (ValueError, OverflowError, InvalidOperation):
        raise ValidationFailed(f"{field} must be a whole number (got {value!r}).", field) from None
    if number < 0:
        raise ValidationFailed(f"{field} cannot be negative (got {value!r}).", field)
    if number > 10**12:
        raise ValidationFailed(f"{field} is implausibly large (got {value!r}).", field)
    return number


def parse_choice(field: str, value: Any, choices: list[str], aliases: dict[str, str]) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationFailed(f"{field} is required; choose one of: {', '.join(choices)}.", field)
    word = str(value).strip().lower().replace(" ", "_")
    if word in choices:
        return word
    if word in aliases:
        return aliases[word]
    dashed = word.replace("_", "-")
    if dashed in aliases:
        return aliases[dashed]
    raise ValidationFailed(
        f"{field} {str(value)!r} is not a known value; choose one of: {', '.join(choices)}.", field
    )


def parse_text(field: str, value: Any, max_length: int) -> str:
    if value is None:
        raise ValidationFailed(f"{field} is required.", field)
    if not isinstance(value, (str, int, Decimal)) or isinstance(value, bool):
        raise ValidationFailed(f"{field} must be text.", field)
    text = str(value).strip()
    if not text:
        raise ValidationFailed(f"{field} is required.", field)
    if len(text) > max_length:
        raise ValidationFailed(f"{field} is too long ({len(text)} characters; at most {max_length}).", field)
    return text


def format_money(amount: Decimal | int | str, currency: str | None = None) -> str:
    """15000 -> '15,000.00' (with ' USD' when a currency is given)."""
    value = Decimal(str(amount))
    text = f"{value:,.2f}"
    return f"{text} {currency}" if currency else text


def format_threshold(amount: Decimal) -> str:
    """Thresholds read better without cents: 10000 -> '10,000', 999.5 -> '999.50'."""
    if amount == amount.to_integral_value():
        return f"{int(amount):,}"
    return f"{amount:,.2f}"
