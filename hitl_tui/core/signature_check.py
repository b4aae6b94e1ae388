"""verify-audit's signature pass: every signed action checked against the key valid for its
actor at that entry, on every core.

The main process walks the entries in order (with the hash chain, reads.verify_audit) and keeps
the key history (signatures.KeyHistory); it parses only the rare entries that change it. For
every other signed action it reads the action and actor from the canonical bytes' fixed opening
(`{"action":"…","actor":"…",` — canonical JSON sorts its keys) and hands (body, expected key)
to worker processes, which parse, rebuild the statement and verify. Ed25519 verification in
`cryptography` holds the GIL (measured: two threads are slower than one), hence processes.
"""

from __future__ import annotations

import json
import os
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING, Any, Iterable

from .signatures import (HISTORY_ACTIONS, SIGNED_ACTIONS, BatchItem, BatchOutcome, KeyHistory, check_entry, expectation,
                         verify_batch)

if TYPE_CHECKING:
    from .audit import ChainWalker
    from .store.connection import Conn

#: below this many entries the pass runs in this process: starting workers costs more
POOL_FROM = 20_000
BATCH = 2_000
_HEAD = b'{"action":"'
_ACTOR = b'","actor":"'


def _action_actor(body: bytes) -> tuple[str, str] | None:
    """(action, actor) from the canonical opening, or None when the body is not plainly canonical
    there (then it is parsed in full: the slow path decides, never a guess)."""
    if not body.startswith(_HEAD) or body.count(b'"action":') != 1 or body.count(b'"actor":') != 1:
        return None
    end = body.find(b'"', 11)
    if body[end:end + 11] != _ACTOR:
        return None
    stop = body.find(b'"', end + 11)
    action, actor = body[11:end], body[end + 11:stop]
    if b"\\" in action or b"\\" in actor or stop < 0:
        return None
    return action.decode("utf-8", "replace"), actor.decode("utf-8", "replace")


class SignaturePass:
    def __init__(self, database_id: str, expected_entries: int = 0, workers: int | None = None) -> None:
        self.database_id = database_id
        self.history = KeyHistory()
        self.counts = {"checked": 0, "bootstrap": 0, "legacy": 0, "first_use": 0}
        self.forgery: tuple[int, str] | None = None
        self._pending: list[BatchItem] = []
        self._futures: deque[Future[BatchOutcome]] = deque()
        workers = workers if workers is not None else (os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None
        if workers > 1 and expected_entries >= POOL_FROM:
            import multiprocessing

            # never fork: the desk runs threads, and a forked SQLCipher connection is unsafe
            method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
            self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method))
            self._inflight = 3 * workers

    def start_after(self, entries: Iterable[tuple[int, bytes]]) -> None:
        """Begin from a trusted checkpoint: the key history and the administrators as the
        entries before it (`entries`: those that can change them, already proven to be in the
        signed tree) leave them, without checking their signatures again."""
        for seq, body in entries:
            try:
                rec = json.loads(body)
            except ValueError:
                continue
            if isinstance(rec, dict):
                self.history.apply(seq, rec)

    def feed(self, rows: Iterable[tuple[Any, ...]], upto: int) -> None:
        """Entries (seq, body, ...) in order, up to seq `upto` (those the chain vouches for)."""
        if self.forgery is not None:
            return
        history, pending = self.history, self._pending
        for row in rows:
            seq, body = row[0], bytes(row[1])
            if seq > upto:
                break
            head = _action_actor(body)
            if head is not None and head[0] not in HISTORY_ACTIONS:
                action, actor = head
                if action not in SIGNED_ACTIONS:
                    continue
                held = history.current.get(actor)
                unsigned = "bootstrap" if history.bootstrap else ("legacy" if history.first_key_seq is None else None)
                why = "" if held else (f"{actor}'s key was revoked" if actor in history.ever
                                       else f"{actor} has no registered key")
                pending.append((seq, body, held.public_key if held else None, held.key_id if held else None,
                                unsigned, why))
                if len(pending) >= BATCH:
                    self._submit()
                continue
            self._slow(seq, body)  # key entries, and anything not plainly canonical
            if self._forged():
                return

    def _slow(self, seq: int, body: bytes) -> None:
        try:
            rec = json.loads(body)
        except ValueError:
            rec = None
        if not isinstance(rec, dict):
            return  # the chain walker judges unreadable bodies; they sign nothing
        if rec.get("action") in SIGNED_ACTIONS:
            self._submit()  # keep order: what came before is checked against the history before this entry
            exp = expectation(self.history, seq, rec)
            kind, problem = check_entry(self.database_id, seq, rec, exp.key.public_key if exp.key else None,
                                        exp.key.key_id if exp.key else None, exp.unsigned_ok, exp.why_no_key,
                                        exp.forged)
            if problem:
                self._found(seq, problem)
                return
            self.counts[kind] += 1
            if exp.first_use:
                self.counts["first_use"] += 1
        self.history.apply(seq, rec)

    def _submit(self) -> None:
        if not self._pending:
            return
        items = self._pending[:]  # a copy: feed() keeps appending to the same list
        self._pending.clear()
        if self._pool is None:
            self._absorb(verify_batch(self.database_id, items))
            return
        self._futures.append(self._pool.submit(verify_batch, self.database_id, items))
        while len(self._futures) > self._inflight:
            self._absorb(self._futures.popleft().result())

    def _absorb(self, outcome: BatchOutcome) -> None:
        counts, problem = outcome
        for kind, n in counts.items():
            self.counts[kind] += n
        if problem is not None:
            self._found(*problem)

    def _forged(self) -> bool:
        """Has a forgery been found? (A call, not `self.forgery`: _slow sets it behind feed's back.)"""
        return self.forgery is not None

    def _found(self, seq: int, problem: str) -> None:
        if self.forgery is None or seq < self.forgery[0]:
            self.forgery = (seq, problem)

    def finish(self, walker: ChainWalker, conn: Conn | None = None) -> dict[str, int]:
        """Wait for the workers; name the first forgery on `walker` (before any later problem);
        with `conn` (the same snapshot), compare the user_keys table with the key history.
        Returns the counts for VerifyResult."""
        try:
            self._submit()
            while self._futures:
                self._absorb(self._futures.popleft().result())
        finally:
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)
        if self.forgery is None and conn is not None and walker.bad_seq is None:
            mismatch = self._table_problem(conn)
            if mismatch:
                walker.fail(*mismatch)
        if self.forgery is not None and (walker.bad_seq is None or self.forgery[0] <= walker.bad_seq):
            walker.bad_seq, walker.problem = self.forgery
        return {"signatures_checked": self.counts["checked"], "signatures_bootstrap": self.counts["bootstrap"],
                "signatures_legacy": self.counts["legacy"], "signatures_first_use": self.counts["first_use"]}

    def _table_problem(self, conn: Conn) -> tuple[int, str] | None:
        from .signatures import public_key_text
        from .store import user_keys

        try:
            table = {(r.username, r.key_id): r for r in user_keys.all_rows(conn)}
        except Exception:  # noqa: BLE001 - a database from before migration 10 has no such table
            return None
        trail = {(p.username, p.key_id): p for p in self.history.periods}
        for (name, kid), p in trail.items():
            row = table.get((name, kid))
            if row is None:
                return p.since, (f"the registered keys table lacks {name}'s key {kid}, which entry {p.since} "
                                 f"registered: the table was edited")
            if (row.public_key, row.since_seq, row.until_seq, row.ended) != (public_key_text(p.public_key), p.since,
                                                                              p.until, p.ended):
                return p.since, (f"the registered keys table disagrees with the trail about {name}'s key {kid} "
                                 f"(registered by entry {p.since}): the table was edited")
        for (name, kid), row in table.items():
            if (name, kid) not in trail:
                return max(1, row.since_seq), (f"the registered keys table holds a key {kid} for {name} that no "
                                               f"audit entry registered: the table was edited")
        return None
