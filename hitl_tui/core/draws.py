"""Every value a write draws that ends up in a signed statement or in its entry: the time, a new
request id's second and random digits, a sealed value's salt, a data key and its id.

By default each call simply draws (the clock, the `secrets` module). Team mode (two_phase.py) runs
a signed write twice, once to show the statements to sign and once for real after they are
signed, so the second run must draw exactly what the first one did:

    with draws.recording() as tape:     # the first run: every value drawn, in order
        ...
    with draws.replaying(tape):          # the second run: the same values, in the same order
        ...

A replay that is asked for something else (another kind of value, another size, more values than
were recorded) means the database changed in between: it raises DrawsDiverged, a ConcurrentChange,
so the write is rolled back. The tape lives in a ContextVar, so a recording in one thread (or
task) never leaks into writes made by another. AES-GCM nonces are not drawn here: they are never
signed, and each encryption must have a fresh one.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, TypeVar

from .audit import utc_now
from .errors import ConcurrentChange

_T = TypeVar("_T")

#: (kind, its arguments, the value drawn)
Draw = tuple[str, tuple[int, ...], Any]


class DrawsDiverged(ConcurrentChange):
    """The replayed write asked for a value the recorded one did not: the state changed."""


@dataclass
class Tape:
    """The values one run of a write drew, in order."""

    drawn: list[Draw] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.drawn)


@dataclass
class Replay:
    """A cursor over a recorded tape; `remaining` is what the replayed run has not asked for yet."""

    tape: Tape
    position: int = 0

    @property
    def remaining(self) -> int:
        return len(self.tape.drawn) - self.position

    def take(self, kind: str, args: tuple[int, ...]) -> Any:
        if self.position >= len(self.tape.drawn):
            raise DrawsDiverged(f"The database changed while you were signing (the write now draws more than it did: "
                                f"{_shown(kind, args)}); nothing was written.")
        want_kind, want_args, value = self.tape.drawn[self.position]
        if (want_kind, want_args) != (kind, args):
            raise DrawsDiverged(f"The database changed while you were signing (the write now draws "
                                f"{_shown(kind, args)} where it drew {_shown(want_kind, want_args)}); "
                                f"nothing was written.")
        self.position += 1
        return value


_current: ContextVar[Tape | Replay | None] = ContextVar("hitl_tui_draws", default=None)


@contextmanager
def recording() -> Iterator[Tape]:
    """Record every value drawn inside the block (in this context) on the tape it yields."""
    tape = Tape()
    token = _current.set(tape)
    try:
        yield tape
    finally:
        _current.reset(token)


@contextmanager
def replaying(tape: Tape) -> Iterator[Replay]:
    """Inside the block, every draw returns the next value of `tape` (DrawsDiverged when the
    write asks for something else). The Replay it yields tells how much is left unread."""
    replay = Replay(tape)
    token = _current.set(replay)
    try:
        yield replay
    finally:
        _current.reset(token)


def _draw(kind: str, args: tuple[int, ...], make: Callable[[], _T]) -> _T:
    current = _current.get()
    if current is None:
        return make()
    if isinstance(current, Replay):
        value: _T = current.take(kind, args)
        return value
    value = make()
    current.drawn.append((kind, args, value))
    return value


def now() -> datetime:
    """The current time (audit.utc_now), as a write records it."""
    return _draw("now", (), utc_now)


def seconds() -> int:
    """Whole seconds of the Unix clock (a new request id's first part)."""
    return _draw("seconds", (), lambda: int(time.time()))


def token_bytes(n: int) -> bytes:
    return _draw("token_bytes", (n,), lambda: secrets.token_bytes(n))


def token_hex(n: int) -> str:
    return _draw("token_hex", (n,), lambda: secrets.token_hex(n))


def randbelow(n: int) -> int:
    return _draw("randbelow", (n,), lambda: secrets.randbelow(n))


def choice(seq: Sequence[_T]) -> _T:
    """One of `seq`. A replay returns the recorded one only if `seq` still holds it."""
    current = _current.get()
    if isinstance(current, Replay):
        value: _T = current.take("choice", ())
        if value not in seq:
            raise DrawsDiverged(f"The database changed while you were signing ({value!r} is no longer free); "
                                f"nothing was written.")
        return value
    return _draw("choice", (), lambda: secrets.choice(seq))


def _shown(kind: str, args: tuple[int, ...]) -> str:
    return f"{kind}({', '.join(map(str, args))})"
