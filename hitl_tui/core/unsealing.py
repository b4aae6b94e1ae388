"""The replay's side of sealed personal data (privacy.py): each sealed value opened to what the
tables must hold, and the trail held to account for every key destroyed and every erasure's
two-person rule (replay.py feeds it; erasure.py and VERIFY.md section 10 describe the rules)."""

from __future__ import annotations

from typing import Any, Iterable

from .privacy import ERASING_ACTIONS, Opener, placeholder, seals_of
from .store import privacy as sql
from .store.connection import Conn

#: the entries of an erasure's two-person flow, which the replay holds to its rule
ERASURE_FLOW = ERASING_ACTIONS | {"erasure_requested", "erasure_cancelled"}


class Unsealer:
    """Opens the sealed personal values of replayed entries (privacy.py) to what the tables must
    hold: the value, or `erased on DATE` once its key was destroyed. It also holds the trail to
    account for every destroyed key: each must be listed by the erasure entry the database names,
    made on that date; a box or key deleted behind the application's back is named too."""

    def __init__(self, conn: Conn) -> None:
        self.opener = Opener(conn)
        self._seals: dict[int, list[dict[str, str]]] = {}
        self.problem: tuple[int, str] | None = None
        #: key id -> (seq of the entry that destroyed it, its date), from the erasure entries seen
        self.destroyed: dict[str, tuple[int, str]] = {}
        #: key id -> (seq of the first entry sealed under it, erased_seq, erased_on) as the database says
        self.claimed: dict[str, tuple[int, int | None, str]] = {}
        #: seq of a waiting erasure_requested -> (target, administrator who asked)
        self.asked: dict[int, tuple[Any, Any]] = {}

    def load(self, entries: Iterable[tuple[int, dict[str, Any]]]) -> None:
        """Read the sealed values of a batch of (seq, record) before open() is called for them."""
        self._seals = {seq: seals_of(rec.get("details")) for seq, rec in entries}
        self.opener.load(self._seals.items())

    def open(self, seq: int, rec: dict[str, Any]) -> None:
        details = rec.get("details")
        seals = self._seals.get(seq)
        if seals is None:
            seals = seals_of(details)
        for seal, got in self.opener.problems(seals):
            if got.problem:
                self._fail(seq, f"entry {seq} holds a sealed personal value that cannot be read: {got.problem}")
            elif seal["key"] not in self.claimed:
                self.claimed[seal["key"]] = (seq, got.erased_seq, got.erased_on or "")
        rec["details"] = self.opener.open(details, seals)

    def erasure(self, seq: int, rec: dict[str, Any]) -> None:
        action, d = rec.get("action"), rec.get("details") or {}
        named = d.get("request_seq")
        asked_in = named if isinstance(named, int) else -1
        if action == "erasure_requested":
            self.asked[seq] = (d.get("target"), rec.get("actor"))
            return
        if action == "erasure_cancelled":
            self.asked.pop(asked_in, None)
            return
        if action == "personal_data_erased":
            asked = self.asked.pop(asked_in, None)
            if asked is None or asked != (d.get("target"), d.get("requested_by")) or asked[1] == rec.get("actor"):
                self._fail(seq, f"entry {seq} erased personal data without a waiting request by another "
                                f"administrator: the two-person rule was broken")
        keys = d.get("keys")
        day = str(rec.get("ts", ""))[:10]
        for kid in keys if isinstance(keys, list) else ():
            if isinstance(kid, str):
                self.destroyed.setdefault(kid, (seq, day))

    def first_problem(self) -> tuple[int, str] | None:
        for kid, (first, by, on) in sorted(self.claimed.items(), key=lambda item: item[1][0]):
            made = self.destroyed.get(kid)
            if made is None or made[0] != by:
                self._fail(first, f"the personal data sealed in entry {first} is marked erased, but no erasure in "
                                  f"the trail destroyed its key {kid}: it was destroyed behind the application's back")
            elif made[1] != on[:10]:
                self._fail(first, f"the personal data sealed in entry {first} reads {placeholder(on)!r}, but "
                                  f"entry {by} erased it on {made[1]}")
        # the other direction: a key the trail destroyed must stay destroyed (a copy kept from
        # before the erasure and put back would otherwise make the erased values readable again)
        rows = sql.keys(self.opener.conn, self.destroyed)
        for kid, (seq, _day) in sorted(self.destroyed.items(), key=lambda item: item[1][0]):
            row = rows.get(kid)
            if row is not None and (row[1] is not None or row[2] != seq):
                self._fail(seq, f"entry {seq} erased key {kid}, but the database still holds it: the erasure was "
                                f"undone behind the application's back")
        return self.problem

    def _fail(self, seq: int, problem: str) -> None:
        if self.problem is None or seq < self.problem[0]:
            self.problem = (seq, problem)
