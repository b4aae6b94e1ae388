"""Checking free text from people (titles, descriptions, comments): present when required,
bounded, no NUL, single line where it must be. The text is otherwise stored verbatim: showing it
safely (markup, terminal escapes) is the job of whoever displays it."""

from __future__ import annotations

from typing import Any

from .errors import ValidationFailed


def check_text(value: Any, field: str, limit: int, *, required: bool = True, single_line: bool = False,
                hint: str = "") -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be text.", field)
    text = value.strip()
    if required and not text:
        raise ValidationFailed(f"{field} is required" + (f": {hint}." if hint else "."), field)
    if "\x00" in text:
        raise ValidationFailed(f"{field} contains a NUL character.", field)
    if single_line and ("\n" in text or "\r" in text):
        raise ValidationFailed(f"{field} must be a single line.", field)
    if len(text) > limit:
        raise ValidationFailed(f"{field} is too long ({len(text):,} characters; at most {limit:,}).", field)
    return text
