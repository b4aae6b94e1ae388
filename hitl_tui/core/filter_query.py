"""The inbox's filter language and sort vocabulary: parsed here, once, for the desk, the CLI and
the engine alike (store/requests.py turns the result into SQL).

    travel risk:>=high type:expense requester:john age:>2d "hotel quote" id:WF-1764

Free words and "quoted phrases" are full-text terms over title, description, requester, id and
type (every word a prefix: `trav` finds "travel"); `key:value` pieces narrow by a column. Every
piece must hold, together with the viewer's view, which decides what may be seen at all.

Parsing is total: any text either gives a Filter or raises FilterError, whose one line names the
offending piece and what is allowed there. User text never reaches FTS5 as syntax: each term is
sent as a quoted string (its own quotes doubled), which FTS5 only tokenizes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Iterator

from .errors import FilterError, ValidationFailed
from .models import RiskLevel, Role, WorkflowStatus
from .text import refuse_invalid

MAX_LENGTH = 1000  # characters; a filter is typed, not pasted from a file
MAX_TERMS = 32     # full-text terms in one filter: each is one more doclist for FTS5 to merge

#: key -> (what it takes, an example): the vocabulary, shown in errors, `--help` and the README
KEYS: dict[str, tuple[str, str]] = {
    "risk": ("a risk level, optionally compared", "risk:high, risk:>=high"),
    "type": ("a workflow type or the start of one", "type:expense"),
    "requester": ("the start of a username (= for exactly that one)", "requester:john, requester:=john.doe"),
    "status": ("a status", "status:approved, status:pending"),
    "stage": ("the role a request waits for now", "stage:director"),
    "age": ("time since it was filed, > or < a duration (s m h d w)", "age:>2d, age:<3h"),
    "amount": ("the request's headline value, where it is a number", "amount:>1000"),
    "id": ("the start of a request id (= for exactly that one)", "id:WF-1764"),
    "due": ("overdue, or a due date within < or beyond > a duration (s m h d w)", "due:overdue, due:<4h"),
}
ALIASES = {"value": "amount", "role": "stage", "user": "requester", "by": "requester"}
OPERATORS = (">=", "<=", ">", "<", "=")
_COMPARABLE = {"risk", "amount", "age", "due"}  # the keys that take > >= < <=
_LISTS = {"risk", "type", "status", "stage"}  # the keys that take a,b (either one)
STATUS_SYNONYMS = {"pending": WorkflowStatus.AWAITING_APPROVAL, "awaiting": WorkflowStatus.AWAITING_APPROVAL,
                   "open": WorkflowStatus.AWAITING_APPROVAL, "changes": WorkflowStatus.CHANGES_REQUESTED}
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d{1,6})([smhdw])")
_KEY = re.compile(r"([A-Za-z]+):")
_USERNAME_CHARS = re.compile(r"^[A-Za-z0-9._@-]*$")
_ID_CHARS = re.compile(r"^[A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class Condition:
    """One `key:value` piece. `op` is one of OPERATORS; `values` are normalised (risk ranks,
    type keys, status and role values, seconds for age, Decimal for amount, text prefixes)."""

    key: str
    op: str
    values: tuple[Any, ...]  # by key: words (str), risk ranks and ages in seconds (int), amounts (Decimal)
    exact: bool = False  # requester/id: `=` asks for the whole name, not a prefix


@dataclass(frozen=True)
class Filter:
    terms: tuple[str, ...] = ()           # full-text terms, already FTS5-quoted ('"trav"*')
    conditions: tuple[Condition, ...] = field(default_factory=tuple)

    @property
    def match(self) -> str | None:
        """The FTS5 MATCH expression (terms ANDed), or None when there is no full-text term."""
        return " AND ".join(self.terms) if self.terms else None

    def __bool__(self) -> bool:
        return bool(self.terms or self.conditions)


def parse_filter(text: str | None, *, types: Iterable[str] = ()) -> Filter:
    """Parse what the user typed. `types` are the workflow type keys of the policy in force (for
    `type:`); with none given, any type word is taken as typed."""
    if text is None or not text.strip():
        return Filter()
    try:
        refuse_invalid(text, "search")
    except ValidationFailed as exc:
        raise FilterError(str(exc)) from None
    if len(text) > MAX_LENGTH:
        raise FilterError(f"The filter is {len(text)} characters long; at most {MAX_LENGTH} are allowed.")
    known = tuple(sorted(types))
    terms: list[str] = []
    conditions: list[Condition] = []
    for kind, piece, value in _pieces(text):
        if kind == "key":
            conditions.append(_condition(piece, value, known))
            continue
        term = _term(value, phrase=kind == "phrase")
        if term:
            terms.append(term)
    if len(terms) > MAX_TERMS:
        raise FilterError(f"The filter has {len(terms)} search words; at most {MAX_TERMS} are allowed.")
    return Filter(tuple(terms), tuple(conditions))


def _pieces(text: str) -> Iterator[tuple[str, str, str]]:
    """(kind, the piece as typed, its value): kind is 'key' (value 'op+value', key in piece),
    'phrase' ("quoted words") or 'word'. An unclosed quote runs to the end (the desk parses
    while the user types)."""
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start = i
        if text[i] == '"':
            end = text.find('"', i + 1)
            end = n if end < 0 else end
            yield "phrase", text[start:end + 1], text[i + 1:end]
            i = end + 1
            continue
        m = _KEY.match(text, i)
        if m:
            j = m.end()
            if j < n and text[j] in "<>=":  # an operator may come before a quoted value
                while j < n and text[j] in "<>=":
                    j += 1
            if j < n and text[j] == '"':
                end = text.find('"', j + 1)
                end = n if end < 0 else end
                value = text[m.end():j] + text[j + 1:end]
                i = end + 1
            else:
                end = j
                while end < n and not text[end].isspace():
                    end += 1
                value = text[m.end():end]
                i = end
            yield "key", text[start:i], value
            continue
        while i < n and not text[i].isspace():
            i += 1
        yield "word", text[start:i], text[start:i]


def _term(value: str, *, phrase: bool) -> str | None:
    """An FTS5 string for one word or phrase; None for one with no letter or digit (FTS5's
    tokenizer would find nothing in it, and an empty phrase would match nothing at all)."""
    if not any(ch.isalnum() for ch in value):
        return None
    quoted = '"' + value.replace('"', '""') + '"'
    # words are prefixes (the last token of what was typed so far); a phrase is exact
    return quoted if phrase else quoted + "*"


def _bad(piece: str, why: str, key: str | None = None) -> FilterError:
    allowed = f"; {key} takes {KEYS[key][0]}, e.g. {KEYS[key][1]}" if key else ""
    return FilterError(f"Bad filter {piece!r}: {why}{allowed}.", piece)


def _condition(piece: str, raw: str, types: tuple[str, ...]) -> Condition:
    name = piece.split(":", 1)[0].lower()
    key = ALIASES.get(name, name)
    if key not in KEYS:
        raise FilterError(
            f"Bad filter {piece!r}: unknown key {name!r}; use one of {', '.join(f'{k}:' for k in KEYS)} "
            f"(or put the text in double quotes to search for it).", piece)
    op = next((o for o in OPERATORS if raw.startswith(o)), "")
    value = raw[len(op):].strip()
    if raw[len(op):len(op) + 1] in ("<", ">", "="):
        raise _bad(piece, f"{raw[:len(op) + 1]!r} is not an operator (use one of {' '.join(OPERATORS)})", key)
    if not value:
        raise _bad(piece, "no value after the key", key)
    if op not in ("", "=") and key not in _COMPARABLE:
        raise _bad(piece, f"{key} cannot be compared with {op!r}", key)
    if key == "age":
        if op in ("", "="):
            raise _bad(piece, "age needs > (older than) or < (newer than)", key)
        return Condition(key, op, (_seconds(piece, value),))
    if key == "amount":
        return Condition(key, op or "=", (_number(piece, value),))
    if key == "due":
        if op in ("", "=") and value.lower() == "overdue":
            return Condition(key, "=", ("overdue",))
        if op in ("", "="):
            raise _bad(piece, "due takes overdue, or < (due within) or > (due later than) a duration", key)
        return Condition(key, op, (_seconds(piece, value),))
    if key in ("requester", "id"):
        return _prefix(piece, key, value, exact=op == "=")
    words = [w.strip() for w in value.split(",")]
    if len(words) > 1 and op not in ("", "="):
        raise _bad(piece, f"a list of values cannot be compared with {op!r}", key)
    if any(not w for w in words):
        raise _bad(piece, "an empty value in the list", key)
    if key == "risk":
        return Condition(key, op or "=", tuple(sorted({_risk(piece, w) for w in words})))
    if key == "type":
        return Condition(key, "=", tuple(sorted({t for w in words for t in _types(piece, w, types)})))
    if key == "status":
        return Condition(key, "=", tuple(sorted({_status(piece, w) for w in words})))
    return Condition(key, "=", tuple(sorted({_role(piece, w) for w in words})))


def _one_of(word: str, choices: Iterable[str]) -> list[str]:
    """The choices `word` names: itself, else those it begins (case, '-' and ' ' forgiven)."""
    norm = word.lower().replace("-", "_").replace(" ", "_")
    choices = list(choices)
    if norm in choices:
        return [norm]
    return [c for c in choices if c.startswith(norm)]


def _risk(piece: str, word: str) -> int:
    found = _one_of(word, [lv.value.lower() for lv in RiskLevel])
    if len(found) != 1:
        raise _bad(piece, f"unknown risk level {word!r} (LOW, MEDIUM, HIGH or CRITICAL)", "risk")
    return RiskLevel(found[0].upper()).rank


def _types(piece: str, word: str, types: tuple[str, ...]) -> list[str]:
    if not types:
        return [word.lower().replace("-", "_")]
    found = _one_of(word, types)
    if not found:
        raise _bad(piece, f"no workflow type {word!r}; the policy has {', '.join(types)}")
    return found


def _status(piece: str, word: str) -> str:
    lowered = word.lower()
    if lowered in STATUS_SYNONYMS:
        return STATUS_SYNONYMS[lowered].value
    found = _one_of(word, [s.value for s in WorkflowStatus])
    if len(found) != 1:
        names = ", ".join([*(s.value for s in WorkflowStatus), *STATUS_SYNONYMS])
        raise _bad(piece, f"unknown status {word!r} (one of {names})")
    return found[0]


def _role(piece: str, word: str) -> str:
    found = _one_of(word, [r.value for r in Role])
    if len(found) != 1:
        raise _bad(piece, f"unknown role {word!r} (one of {', '.join(r.value for r in Role)})")
    return found[0]


def _seconds(piece: str, value: str) -> int:
    text = value.lower().replace(" ", "")
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise _bad(piece, f"{value!r} is not a duration: a number and a unit, s m h d or w (90m, 2d, 1d12h)", "age")
    return sum(int(n) * _UNITS[u] for n, u in parts)


def _number(piece: str, value: str) -> Decimal:
    from .values import parse_money

    try:
        return parse_money("amount", value)
    except ValidationFailed:
        raise _bad(piece, f"{value!r} is not an amount (1000, 15k, 2,500.50)", "amount") from None


def _prefix(piece: str, key: str, value: str, *, exact: bool) -> Condition:
    pattern = _USERNAME_CHARS if key == "requester" else _ID_CHARS
    if not pattern.match(value) or len(value) > 64:
        what = "a username has letters, digits, '.', '_', '-' or '@'" if key == "requester" \
            else "a request id has letters, digits and '-'"
        raise _bad(piece, f"{value!r} cannot start one: {what}", key)
    return Condition(key, "=", (value.upper() if key == "id" else value,), exact=exact)


# --- sorting -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class SortKey:
    key: str
    label: str      # the column, as a header or a menu shows it
    natural: str    # which way the key sorts by itself; a leading '-' reverses it
    reverse: str


#: every order the inbox can be listed in, in the order a "next sort" key cycles through them
SORT_KEYS: dict[str, SortKey] = {k.key: k for k in (
    SortKey("created", "Created", "oldest first", "newest first"),
    SortKey("risk", "Risk", "highest first", "lowest first"),
    SortKey("title", "Title", "A to Z", "Z to A"),
    SortKey("requester", "Requester", "A to Z", "Z to A"),
    SortKey("type", "Type", "A to Z", "Z to A"),
    SortKey("id", "Id", "lowest first", "highest first"),
    SortKey("value", "Value", "smallest first", "largest first"),
    SortKey("stage", "Stage", "by the role awaited, A to Z", "by the role awaited, Z to A"),
    SortKey("status", "Status", "in workflow order", "in reverse workflow order"),
    SortKey("due", "Due", "soonest first (none last)", "latest first (none last)"),
)}
#: the names the desk and CLI have always taken
SORT_ALIASES = {"oldest": "created", "newest": "-created"}


@dataclass(frozen=True)
class SortOrder:
    key: str
    reverse: bool = False

    @property
    def spec(self) -> str:
        """What parse_sort takes back: 'title', '-created'."""
        return ("-" if self.reverse else "") + self.key

    @property
    def label(self) -> str:
        k = SORT_KEYS[self.key]
        return f"{k.label}, {k.reverse if self.reverse else k.natural}"


def sort_choices() -> list[str]:
    """Every spelling parse_sort accepts, for help texts and completion."""
    return [*SORT_ALIASES, *SORT_KEYS, *(f"-{k}" for k in SORT_KEYS)]


def parse_sort(text: "str | SortOrder | None") -> SortOrder:
    """'oldest', 'newest', 'risk' (highest first), or a SORT_KEYS key, '-' before it reversing
    the key's natural order ('-created' is newest first, '-risk' lowest risk first)."""
    if isinstance(text, SortOrder):
        return text
    spec = SORT_ALIASES.get(str(text or "oldest").strip().lower(), str(text or "").strip().lower())
    key = spec.removeprefix("-").removeprefix("+")
    if key not in SORT_KEYS:
        shown = str(text)[:40]
        raise FilterError(f"Unknown sort {shown!r}; use oldest, newest, or one of {', '.join(SORT_KEYS)} "
                          f"('-' before it reverses, e.g. -created, -value).", shown, field="sort")
    return SortOrder(key, spec.startswith("-"))


def filter_text(search: Filter) -> str | None:
    """A parsed Filter written back in the filter language, so that parse_filter gives it again
    (team mode sends searches as text: the service parses every filter itself)."""
    pieces = []
    for term in search.terms:
        word = term[:-1] if term.endswith("*") else term
        inner = word[1:-1].replace('""', '"')
        pieces.append(inner if term.endswith("*") else f'"{inner}"')
    for c in search.conditions:
        op = "" if c.op == "=" else c.op
        if c.key in ("requester", "id"):
            pieces.append(f"{c.key}:{'=' if c.exact else ''}{c.values[0]}")
        elif c.key == "risk":
            names = [next(level.value for level in RiskLevel if level.rank == rank) for rank in c.values]
            pieces.append(f"risk:{op}{','.join(names)}")
        elif c.key == "amount":
            pieces.append(f"amount:{op}{c.values[0]}")
        elif c.key == "age":
            pieces.append(f"age:{op}{c.values[0]}s")
        elif c.key == "due":
            pieces.append("due:overdue" if c.values == ("overdue",) else f"due:{op}{c.values[0]}s")
        else:  # type, status, stage: lists of words
            pieces.append(f"{c.key}:{','.join(map(str, c.values))}")
    return " ".join(pieces) or None
