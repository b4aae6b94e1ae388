"""What an erased personal value reads as, everywhere: `erased on YYYY-MM-DD` (privacy.py).
Standard library only, so the signature workers and the Part 11 display can use it."""

from __future__ import annotations

import re

_PLACEHOLDER = re.compile(r"erased on \d{4}-\d{2}-\d{2}\Z")


def placeholder(erased_on: str) -> str:
    """The date only (the UTC date of the erasure entry), never who or why."""
    return f"erased on {erased_on[:10]}"


def is_placeholder(value: object) -> bool:
    return isinstance(value, str) and bool(_PLACEHOLDER.match(value))
