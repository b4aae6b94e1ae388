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
from .text import check_text

CENT = Decimal("0.01")
#: at or above this an amount is refused as implausible; checked before any rounding, which
#: needs the digits to fit Decimal's 28-digit context (10**30 used to crash there)
MONEY_LIMIT = Decimal("1e15")
INTEGER_LIMIT = 10**12
# "15000", "15,000", "15,000.50", "$15,000", "USD 15000", "15000 usd", "15k". re.ASCII: \s and
# IGNORECASE stay ASCII (else the Kelvin sign would read as k); digits are spelled [0-9],
# because \d would also read Devanagari or full-width digits as numbers.
_MONEY_RE = re.compile(
    r"^\s*(?:usd|\$)?\s*(?P<num>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?P<frac>\.[0-9]+)?\s*(?P<k>[km])?\s*(?:usd)?\s*$",
    re.IGNORECASE | re.ASCII,
)
_INTEGER_RE = re.compile(r"[+-]?[0-9]+", re.ASCII)


def _shown(value: Any) -> str:
    """A value as a message quotes it: repr (so controls and surrogates are escaped), cut short."""
    if isinstance(value, int) and value.bit_length() > 200:
        return "a number of more than 60 digits"  # repr() refuses ints over 4,300 digits
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _other_digits(field: str, value: Any) -> None:
    """Digits other than 0-9 (Devanagari, Arabic-Indic, full-width, superscripts) are refused,
    not silently read as numbers: a person should see exactly the number that is stored."""
    if isinstance(value, str) and any(not ch.isascii() and ch.isnumeric() for ch in value):
        raise ValidationFailed(f"{field} must be written with the digits 0-9 (got {_shown(value)}).", field)


def _at_least(field: str, number: Decimal | int, minimum: Decimal | None, value: Any) -> None:
    if minimum is not None and number < minimum:
        why = "; a request for nothing needs no approval" if number == 0 else ""
        raise ValidationFailed(
            f"{field} must be at least {format_threshold(Decimal(minimum))} (got {_shown(value)}){why}.", field
        )


def parse_money(field: str, value: Any, minimum: Decimal | None = None) -> Decimal:
    """Turn user input into a non-negative Decimal with at most two decimal places, at least
    `minimum` when one is given. Zero has no sign: -0 is stored as 0.00."""
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
        _other_digits(field, text)
        negative = text.startswith("(") or "-" in text
        match = _MONEY_RE.match(text.replace("-", "", 1) if text.count("-") == 1 else text)
        if not match:
            if negative:
                raise ValidationFailed(f"{field} cannot be negative (got {_shown(value)}).", field)
            raise ValidationFailed(
                f"{field} must be a number like 15000 or 15,000.00 (got {_shown(value)}).", field
            )
        amount = Decimal(match["num"].replace(",", "") + (match["frac"] or ""))
        if match["k"] and amount < MONEY_LIMIT:  # (a huge one is refused below, unmultiplied)
            amount *= 1000 if match["k"].lower() == "k" else 1_000_000
        if negative:
            amount = -amount
    else:
        raise ValidationFailed(f"{field} must be an amount of money, not {type(value).__name__}.", field)
    if not amount.is_finite():
        raise ValidationFailed(f"{field} must be a finite amount (got {_shown(value)}).", field)
    if amount.is_zero():
        amount = amount.copy_abs()  # -0, -0.0, "-0.00": zero, whatever the sign
    if amount < 0:
        raise ValidationFailed(f"{field} cannot be negative (got {_shown(value)}).", field)
    if amount >= MONEY_LIMIT:  # before quantize: rounding a huge number overflows the context
        raise ValidationFailed(f"{field} is implausibly large (got {_shown(value)}).", field)
    if amount != amount.quantize(CENT):
        raise ValidationFailed(f"{field} has more than two decimal places (got {_shown(value)}).", field)
    amount = amount.quantize(CENT)
    _at_least(field, amount, minimum, value)
    return amount


def parse_integer(field: str, value: Any, minimum: Decimal | None = None) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationFailed(f"{field} is required.", field)
    if isinstance(value, bool):
        raise ValidationFailed(f"{field} must be a whole number, not {value!r}.", field)
    large = ValidationFailed(f"{field} is implausibly large (got {_shown(value)}).", field)
    try:
        if isinstance(value, int):
            number = value
        elif isinstance(value, (float, Decimal)):
            if isinstance(value, Decimal) and value.is_finite() and abs(value) > INTEGER_LIMIT:
                raise large  # before int(): Decimal("1e999999999") would be a billion digits
            if value != int(value):
                raise ValueError
            number = int(value)
        elif isinstance(value, str):
            text = value.strip().replace(",", "")
            _other_digits(field, text)
            if not _INTEGER_RE.fullmatch(text):
                raise ValueError
            if len(text.lstrip("+-").lstrip("0")) > len(str(INTEGER_LIMIT)):
                raise large  # before int(), which refuses strings over 4,300 digits with ValueError
            number = int(text)
        else:
            raise ValueError
    except (ValueError, OverflowError, InvalidOperation):
        raise ValidationFailed(f"{field} must be a whole number (got {_shown(value)}).", field) from None
    if number < 0:
        raise ValidationFailed(f"{field} cannot be negative (got {_shown(value)}).", field)
    if number > INTEGER_LIMIT:
        raise large
    _at_least(field, number, minimum, value)
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
        f"{field} {_shown(str(value))} is not a known value; choose one of: {', '.join(choices)}.", field
    )


def parse_text(field: str, value: Any, max_length: int) -> str:
    if value is None:
        raise ValidationFailed(f"{field} is required.", field)
    if not isinstance(value, (str, int, Decimal)) or isinstance(value, bool):
        raise ValidationFailed(f"{field} must be text.", field)
    return check_text(str(value), field, max_length)


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
