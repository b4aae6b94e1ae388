"""The hash-linked audit chain: canonical bytes, hashing, and verification.

Entry n is stored as the exact canonical bytes B_n that were hashed, with
    H_n = sha256(H_{n-1} || B_n),  H_0 = 32 zero bytes.
B_n itself names its sequence number and H_{n-1}, so an entry cannot be moved, and verification
only re-hashes stored bytes (no JSON parsing on the hot path). The database also keeps the head
(size, H_size) it expects, which catches a truncated tail; signed checkpoints (checkpoints.py)
catch even a rewrite of the whole chain by someone holding the database key.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from enum import Enum
from typing import Any, Iterable

from .models import AuditEntry, VerifyResult

GENESIS = bytes(32)
GENESIS_HEX = GENESIS.hex()


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(ts: datetime) -> str:
    """Microsecond UTC timestamps, always the same width so text order is time order."""
    return ts.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot put {type(value).__name__} in an audit entry")


def canonical_bytes(record: dict[str, Any]) -> bytes:
    """One byte sequence per record: sorted keys, no whitespace, UTF-8."""
    return json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
    ).encode("utf-8")


def chain_hash(prev: bytes, body: bytes) -> bytes:
    return hashlib.sha256(prev + body).digest()


@dataclass(frozen=True)
class AuditContext:
    """Who is at the keyboard, as far as the operating system can tell."""

    session_id: str
    os_login: str | None
    tty: str | None
    remote_addr: str | None

    @classmethod
    def current(cls, session_id: str) -> "AuditContext":
        return cls(session_id=session_id, os_login=os_login(), tty=_tty(), remote_addr=_remote_addr())


def os_login() -> str | None:
    """The OS account running this process. Never $USER/$LOGNAME, which anyone can set."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # a uid with no passwd entry (some containers)
        return f"uid:{os.geteuid()}"


def _tty() -> str | None:
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd):
                return os.ttyname(fd)
        except OSError:
            continue
    return None


def _remote_addr() -> str | None:
    conn = os.environ.get("SSH_CONNECTION") or os.environ.get("SSH_CLIENT")
    if conn:
        parts = conn.split()
        if parts:
            return parts[0]
    return None


def build_record(seq: int, prev_hash: bytes, ts: datetime, actor: str, action: str,
                 workflow_id: str | None, details: dict[str, Any], ctx: AuditContext) -> dict[str, Any]:
    return {
        "seq": seq,
        "ts": iso(ts),
        "actor": actor,
        "action": action,
        "workflow_id": workflow_id,
        "details": details,
        "session_id": ctx.session_id,
        "os_login": ctx.os_login,
        "tty": ctx.tty,
        "remote_addr": ctx.remote_addr,
        "prev_hash": prev_hash.hex(),
    }


def entry_from_row(body: bytes, digest: bytes) -> AuditEntry:
    """An AuditEntry read from the stored bytes themselves, never from the index columns."""
    rec = json.loads(body)
    return AuditEntry(
        seq=rec["seq"], timestamp=datetime.fromisoformat(rec["ts"]), actor=rec["actor"],
        action=rec["action"], workflow_id=rec.get("workflow_id"), details=rec.get("details") or {},
        session_id=rec["session_id"], os_login=rec.get("os_login"), tty=rec.get("tty"),
        remote_addr=rec.get("remote_addr"), prev_hash=rec["prev_hash"], hash=bytes(digest).hex(),
        sig=rec.get("sig") if isinstance(rec.get("sig"), dict) else None,
    )


class ChainWalker:
    """Re-hashes stored entries in sequence order, remembering the hash at chosen sizes.

    Feed it rows (seq, body, stored_hash) in ascending seq; it stops at the first problem.
    Kept as a class so the caller can stream a million rows without holding them.
    """

    def __init__(self, want_sizes: Iterable[int] = ()) -> None:
        self.prev = GENESIS
        self.count = 0
        self.bad_seq: int | None = None
        self.problem: str | None = None
        self.want = set(want_sizes)
        self.hash_at: dict[int, bytes] = {0: GENESIS}
        #: the Merkle root (hex) at the wanted sizes, when a proofs.TreeBuilder ran beside (reads.verify_audit)
        self.root_at: dict[int, str] = {}

    def feed(self, rows: Iterable[tuple[Any, ...]]) -> bool:
        """Rows are (seq, body, hash) or (seq, body, hash, workflow_id); with the index column,
        it is checked against the hashed bytes too. Returns False once a problem was found
        (and further feeding is pointless)."""
        if self.bad_seq is not None:
            return False
        prev, count, want, sha = self.prev, self.count, self.want, hashlib.sha256
        for row in rows:
            seq, body, stored = row[0], row[1], row[2]
            expected = count + 1
            if seq != expected:
                self.prev, self.count = prev, count
                self.bad_seq = expected
                self.problem = (
                    f"entry {expected} is missing (the next stored entry is {seq})"
                    if seq > expected else f"entry {seq} is out of order"
                )
                return False
            digest = sha(prev + body).digest()
            if digest != stored:
                self.prev, self.count = prev, count
                self.bad_seq, self.problem = diagnose(seq, body, prev)
                return False
            # canonical JSON sorts its keys, so the body ends with its workflow id: a byte
            # comparison shows whether the index column still says what the hashed bytes say
            if len(row) > 3 and not _filed_under(body, row[3]):
                self.prev, self.count = prev, count
                self.fail(seq, f"entry {seq} is filed under the wrong request: its index was edited to hide it")
                return False
            prev, count = digest, expected
            if count in want:
                self.hash_at[count] = digest
        self.prev, self.count = prev, count
        return True

    def result(self, **extra: Any) -> VerifyResult:
        return VerifyResult(
            ok=self.bad_seq is None, entries=self.count, head_hash=self.prev.hex(),
            first_bad_seq=self.bad_seq, problem=self.problem, **extra,
        )

    def fail(self, seq: int, problem: str) -> None:
        if self.bad_seq is None:
            self.bad_seq, self.problem = seq, problem


def diagnose(seq: int, body: bytes, prev: bytes) -> tuple[int, str]:
    """Entry `seq` does not hash as stored. Its own recorded seq and prev_hash tell what happened,
    so the report names the entry that was actually touched, not merely where the hash broke."""
    try:
        rec = json.loads(body)
        recorded_seq, recorded_prev = int(rec["seq"]), str(rec["prev_hash"])
    except (ValueError, KeyError, TypeError):
        return seq, f"entry {seq} is not a well-formed audit record: it was overwritten"
    if recorded_seq != seq:
        return seq, (f"entry {seq} holds what was written as entry {recorded_seq}: "
                     "entries were deleted, inserted or reordered")
    if recorded_prev != prev.hex():
        if seq == 1:
            return 1, "entry 1 does not start the chain: the log was cut or replaced from its start"
        return seq - 1, (f"entry {seq - 1} is not the entry that entry {seq} was chained to: "
                         f"entry {seq - 1} was altered or replaced")
    return seq, f"entry {seq} does not match its hash: its content was edited"



def _filed_under(body: bytes, workflow_id: str | None) -> bool:
    if workflow_id is None:
        return body.endswith(b',"workflow_id":null}')
    # our ids need no JSON escaping; the escaped form is only built for anything else
    return (body.endswith(b',"workflow_id":"' + workflow_id.encode() + b'"}')
            or body.endswith(b',"workflow_id":' + json.dumps(workflow_id, ensure_ascii=False).encode() + b"}"))
