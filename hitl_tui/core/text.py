"""Text from people: what the engine accepts, and how it is made safe to show.

Two rules live here, each once:

- What is text at all (`refuse_invalid`, `check_inputs`, `check_text`): no NUL (C strings and
  many tools stop at it) and no lone surrogate (it cannot be encoded as UTF-8, so SQLite, the
  audit chain and every output would fail on it). Every public entry point of the engine calls
  `check_inputs` first, so a bad character is refused naming its field before anything is
  written. Anything else is stored verbatim: the audit trail keeps what was typed.
- Which characters must never reach a terminal or a file reader raw (`neutralise`): control
  characters (C0, DEL, C1 such as the CSI U+009B), format characters (bidi overrides and
  isolates like U+202E, zero-width characters: "Trojan Source"), surrogates and the line and
  paragraph separators. They become visible escapes (\\x1b, \\u202e), or JSON's \\u escapes in
  JSON, so a title can never move the cursor, recolour the screen or read as something else.
  The CLI's `safe()` and every export format use it.
"""

from __future__ import annotations

import unicodedata
from typing import Any, Mapping

from .errors import ValidationFailed

#: Unicode categories that a terminal (or a bidi-aware viewer) interprets instead of showing
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
#: how deep check_inputs follows nested data (a cycle or a pathological document stops here)
MAX_NESTING = 32


def is_hidden(ch: str) -> bool:
    return unicodedata.category(ch) in HIDDEN_CATEGORIES


def neutralise(text: str, *, style: str = "visible", keep: str = "") -> str:
    """`text` with every hidden character (see HIDDEN_CATEGORIES) escaped.

    style "visible": \\x1b, \\u202e, \\U000e0041 (for terminals, CSV cells, HTML and Markdown
    text); style "json": \\u001b, \\u202e, \\udb40\\udc41 (valid only inside JSON strings, where
    it decodes back to the very same text). Characters in `keep` (say "\\n\\t") stay as they are.
    """
    if text.isprintable():  # C-speed fast path: every hidden character is non-printable
        return text
    out = []
    for ch in text:
        if ch in keep or not is_hidden(ch):
            out.append(ch)
            continue
        code = ord(ch)
        if style == "json":
            if code > 0xFFFF:  # JSON spells astral characters as a surrogate pair
                code -= 0x10000
                out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
            else:
                out.append(f"\\u{code:04x}")
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out)


def refuse_invalid(text: str, field: str) -> None:
    """ValidationFailed naming `field` if `text` holds a NUL or a lone surrogate."""
    if "\x00" in text:
        raise ValidationFailed(f"{field} contains a NUL character (U+0000), which is not allowed in text.", field)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        hint = ""
        if 0xDC80 <= code <= 0xDCFF:  # Python's stand-in (surrogateescape) for an undecodable byte
            hint = f": it stands for the byte 0x{code - 0xDC00:02X}, which is not UTF-8; pass UTF-8 text"
        raise ValidationFailed(
            f"{field} contains a lone surrogate (U+{code:04X}), which is not valid text{hint}.", field
        ) from None


def check_inputs(*, data: Any = None, **texts: Any) -> None:
    """What a caller passed to a public entry point, checked before anything else: each keyword
    names a text field, which must be text (or None where the call allows it) without NUL or
    lone surrogates. `data` (a request's fields) is walked: keys as "data field name", values
    under their key's name, lists item by item; its values' types are left to the policy."""
    for field, value in texts.items():
        if value is not None and not isinstance(value, str):
            raise ValidationFailed(f"{field} must be text, not {type(value).__name__}.", field)
        if value is not None:
            refuse_invalid(value, field)
    if data is not None:
        _walk(data, "data", 0)


def _walk(value: Any, field: str, depth: int) -> None:
    if isinstance(value, str):
        refuse_invalid(value, field)
        return
    if depth > MAX_NESTING:
        raise ValidationFailed(f"{field} is nested more than {MAX_NESTING} levels deep.", field)
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str):
                refuse_invalid(key, f"{field} field name")
                _walk(item, _name(key), depth + 1)
            else:
                _walk(item, field, depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            _walk(item, field, depth + 1)


def _name(key: str) -> str:
    """A data key as a field name in a message: as-is when it looks like one, else quoted."""
    return key if key.isidentifier() and len(key) <= 64 else f"data field {key[:40]!r}"


def check_text(value: Any, field: str, limit: int, *, required: bool = True, single_line: bool = False,
               hint: str = "") -> str:
    """Free text (titles, descriptions, comments, text fields): present when required, bounded,
    valid text, single line where it must be. Returns it stripped."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be text.", field)
    refuse_invalid(value, field)
    text = value.strip()
    if required and not text:
        raise ValidationFailed(f"{field} is required" + (f": {hint}." if hint else "."), field)
    if single_line and ("\n" in text or "\r" in text):
        raise ValidationFailed(f"{field} must be a single line.", field)
    if len(text) > limit:
        raise ValidationFailed(f"{field} is too long ({len(text):,} characters; at most {limit:,}).", field)
    return text
