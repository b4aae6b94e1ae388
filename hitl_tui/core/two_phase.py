"""Team mode's signed writes (issue 11): the service holds the database, each person holds their
own signing key on their own OS account, and nothing stays open across a round trip.

    prepared = two_phase.prepare("sarah.manager", lambda: service.approve_workflow(wid, "sarah.manager"))
    # sarah's own account signs each of prepared.statements with her key, then:
    two_phase.commit(prepared.ticket, signatures, "sarah.manager")

`prepare` runs the write in a transaction that is rolled back (service.WRITE_SEAM), records every
value it draws (draws.py) and, instead of signing, the statement of each signed entry
(signatures.statement_of) (key_directory.OUTSIDE_SIGNER). `commit` runs the same write again for
real with those values replayed, so it computes the same statements, and each entry carries the
signature given for it, once that signature verifies over the statement computed now against
the actor's registered key. If anything differs (someone decided the stage meanwhile, the key was
replaced, the policy now asks for re-authentication) the commit is refused in one line and
nothing is written; the person prepares again. Tickets live in memory only, for 60 seconds, for
one commit by the person they were prepared for. A write is one transaction (every signed
method of WorkflowService is).
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from . import draws
from .errors import ConcurrentChange, HitlError, SigningRefused, StoreError
from .key_directory import OUTSIDE_SIGNER, OutsideSigner
from .service import WRITE_SEAM, WriteSeam
from .signatures import ALG, parse_public_key, signature_valid, statement_of
from .store.user_keys import KeyRow

if TYPE_CHECKING:
    from .service import WorkflowService

T = TypeVar("T")

#: how long a prepared write waits for its signatures
TICKET_SECONDS = 60.0
#: what a dry run's entries carry where the signature will be (they are rolled back)
_PLACEHOLDER = "0" * 128
_SIGNATURE = re.compile(r"[0-9a-fA-F]{128}\Z")


@dataclass(frozen=True)
class Prepared:
    """What the person signs: each statement, in order, with the key `key_id` (None when the
    write signs nothing). `reauth`: the policy asks for re-authentication at this signing, so
    their account asks for the key's passphrase first. `expires`: on TwoPhase.clock."""

    ticket: str
    signer: str
    key_id: str | None
    statements: list[bytes]
    reauth: bool
    expires: float


@dataclass
class _Ticket:
    prepared: Prepared
    call: Callable[[], Any]
    tape: draws.Tape
    subject: str


def _subject(record: dict[str, Any]) -> str:
    """What the refusal names as having changed: the request, the person or the erasure target."""
    details = record.get("details") or {}
    if record.get("workflow_id") and record.get("action") != "created":
        return str(record["workflow_id"])
    for name in ("username", "target"):
        if isinstance(details.get(name), str) and details[name]:
            return str(details[name])
    return "The database"


def _own_entry(record: dict[str, Any], signer: str) -> None:
    actor = record.get("actor")
    if actor != signer:
        raise SigningRefused(f"This write makes an entry of {actor}'s, and {signer} signs only their own; "
                             f"nothing was written.")


@dataclass
class _Recorder:
    """prepare's seam: rolls the write back and keeps each statement instead of signing it."""

    signer: str
    database_id: str
    dry_run: bool = True
    statements: list[bytes] = field(default_factory=list)
    key_id: str | None = None
    subject: str = "The database"
    reauth: bool = False

    def before_commit(self) -> None:  # a dry run never commits
        raise AssertionError("a dry run does not commit")

    def sign(self, record: dict[str, Any], registered: KeyRow) -> dict[str, str]:
        _own_entry(record, self.signer)
        if not self.statements:
            self.subject, self.key_id = _subject(record), registered.key_id
        self.statements.append(statement_of(record, self.database_id))
        return {"alg": ALG, "key": registered.key_id, "value": _PLACEHOLDER}

    def reauth_asked(self) -> None:
        self.reauth = True


@dataclass
class _Committer:
    """commit's seam: each entry gets the given signature, if it verifies over what it states now."""

    held: _Ticket
    signatures: list[str]
    database_id: str
    replay: draws.Replay | None = None
    dry_run: bool = False
    used: int = 0
    reauth: bool = False

    def _changed(self, subject: str | None = None) -> ConcurrentChange:
        return ConcurrentChange(f"{subject or self.held.subject} changed while you were signing; nothing was written.")

    def sign(self, record: dict[str, Any], registered: KeyRow) -> dict[str, str]:
        prepared = self.held.prepared
        _own_entry(record, prepared.signer)
        statement = statement_of(record, self.database_id)
        if self.used >= len(prepared.statements) or statement != prepared.statements[self.used]:
            raise self._changed(_subject(record))
        if registered.key_id != prepared.key_id:
            raise ConcurrentChange(f"{prepared.signer}'s registered signing key is now {registered.key_id}, not "
                                   f"{prepared.key_id}: it changed while you were signing; nothing was written.")
        signature = self.signatures[self.used]
        if not signature_valid(statement, parse_public_key(registered.public_key), signature):
            raise SigningRefused(f"Signature {self.used + 1} of {len(prepared.statements)} does not verify against "
                                 f"{prepared.signer}'s registered key {registered.key_id} over the statement "
                                 f"prepared; nothing was written: sign each statement, in order, with that key.")
        self.used += 1
        return {"alg": ALG, "key": registered.key_id, "value": signature}

    def reauth_asked(self) -> None:
        self.reauth = True

    def before_commit(self) -> None:
        """Everything prepared was signed and drawn again, and nothing more was asked."""
        unread = self.replay.remaining if self.replay is not None else 0
        if self.used != len(self.held.prepared.statements) or unread:
            raise self._changed()
        if self.reauth and not self.held.prepared.reauth:
            raise ConcurrentChange(f"{self.held.subject} now needs your signing key's passphrase (it changed while "
                                   f"you were signing); nothing was written, decide again.")


@contextmanager
def _seamed(seam: "_Recorder | _Committer") -> Iterator[None]:
    """Inside the block (this context only): the write ends as `seam` says, `seam` signs."""
    write_seam: WriteSeam = seam
    outside: OutsideSigner = seam
    write_token = WRITE_SEAM.set(write_seam)
    sign_token = OUTSIDE_SIGNER.set(outside)
    try:
        yield
    finally:
        OUTSIDE_SIGNER.reset(sign_token)
        WRITE_SEAM.reset(write_token)


def _checked_signatures(signatures: Sequence[str], wanted: int) -> list[str]:
    if isinstance(signatures, (str, bytes)) or len(signatures) != wanted:
        given = 1 if isinstance(signatures, (str, bytes)) else len(signatures)
        raise SigningRefused(f"{wanted} statement(s) were prepared and {given} signature(s) given; sign each one, "
                             f"in order; nothing was written.")
    out = []
    for n, signature in enumerate(signatures, 1):
        if not isinstance(signature, str) or not _SIGNATURE.match(signature):
            raise SigningRefused(f"Signature {n} is not an Ed25519 signature (128 hex digits); nothing was written.")
        out.append(signature.lower())  # the form the trail stores
    return out


class TwoPhase:
    """Prepared writes of one service, waiting for their signatures (thread-safe)."""

    def __init__(self, service: "WorkflowService") -> None:
        self.service = service
        #: the tickets' clock (monotonic seconds), and only theirs
        self.clock: Callable[[], float] = time.monotonic
        self._tickets: dict[str, _Ticket] = {}
        self._lock = threading.Lock()

    def prepare(self, signer: str, call: Callable[[], T]) -> Prepared:
        """Run `call` (one signed write of the service, as `signer`) without writing anything:
        the statements `signer` is to sign, and the ticket that commits them. A refusal of the
        write itself is raised as the write would raise it."""
        recorder = _Recorder(signer, self.service.database_id)
        with draws.recording() as tape, _seamed(recorder):
            call()
        prepared = Prepared(ticket=secrets.token_hex(16), signer=signer, key_id=recorder.key_id,
                            statements=list(recorder.statements), reauth=recorder.reauth,
                            expires=self.clock() + TICKET_SECONDS)
        with self._lock:
            self._prune()
            self._tickets[prepared.ticket] = _Ticket(prepared, call, tape, recorder.subject)
        return prepared

    def commit(self, ticket: str, signatures: Sequence[str], signer: str) -> Any:
        """Write what `ticket` prepared, each signed entry carrying its signature from
        `signatures` (hex, in the order of the statements); returns what the write returns.
        The ticket is used up, whatever the outcome."""
        held = self._take(ticket, signer)
        given = _checked_signatures(signatures, len(held.prepared.statements))
        committer = _Committer(held, given, self.service.database_id)
        try:
            with draws.replaying(held.tape) as replay, _seamed(committer):
                committer.replay = replay
                return held.call()
        except draws.DrawsDiverged as exc:
            raise committer._changed() from exc
        except (ConcurrentChange, SigningRefused, StoreError):
            raise
        except HitlError as exc:  # what was allowed a moment ago is refused now: the state changed
            raise ConcurrentChange(f"{held.subject} changed while you were signing; nothing was written. "
                                   f"{exc}") from exc

    def _take(self, ticket: str, signer: str) -> _Ticket:
        with self._lock:
            held = self._tickets.get(ticket) if isinstance(ticket, str) else None
            if held is None:
                raise SigningRefused("That signing ticket is unknown, expired or already used; nothing was written: "
                                     "prepare the action again.")
            if held.prepared.signer != signer:
                raise SigningRefused(f"That signing ticket was prepared for {held.prepared.signer}, not {signer}; "
                                     f"nothing was written.")
            del self._tickets[ticket]
            self._prune()
            if held.prepared.expires <= self.clock():
                raise SigningRefused(f"That signing ticket expired (a prepared action waits {TICKET_SECONDS:.0f} "
                                     f"seconds for its signatures); nothing was written: prepare it again.")
            return held

    def _prune(self) -> None:
        """Drop expired tickets (under the lock): their tapes hold the data keys the write drew."""
        now = self.clock()
        for ticket in [t for t, held in self._tickets.items() if held.prepared.expires <= now]:
            del self._tickets[ticket]

    def pending(self) -> int:
        """How many prepared writes wait for their signatures and have not expired."""
        with self._lock:
            self._prune()
            return len(self._tickets)
