"""Sealing the audit trail: WorkflowService's signed checkpoints, and the check that refuses to
sign a chain that does not verify from this account's last trusted checkpoint.

A collaborator of WorkflowService (service.py), which holds one Sealer; the service keeps the
outcome of the last seal in its public `seal_refused_reason` / `seal_error`, which the CLI, the
desk and WorkflowSystem report. The signing key and the checkpoint format are checkpoints.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, TypeVar

from .audit import GENESIS, ChainWalker, iso
from .checkpoints import Signer, load_signer, trusted_start
from .crashpoints import crash_point
from .errors import AuditChainBroken, HitlError
from .merkle import CompactRange, leaf_hash
from .models import Checkpoint
from .store import audit_log, merkle_nodes, meta
from .store.connection import Conn, begin, commit

if TYPE_CHECKING:
    from .service import WorkflowService

_T = TypeVar("_T")


class Sealer:
    def __init__(self, service: "WorkflowService") -> None:
        self._service = service
        self._signer: Signer | None = None

    def seal(self) -> bool:
        """Sign a checkpoint of the head if the chain grew since the last one; never raises for
        a seal that cannot be made. Never signs a chain that does not verify from this account's
        last trusted checkpoint (checkpoint()): then `seal_refused_reason` names the first bad
        entry. Any other failure (no usable signing key, a full disk) goes to `seal_error`.
        Returns True when the head is sealed (now, or by an earlier checkpoint)."""
        service = self._service
        service.seal_error = None
        try:
            service.checkpoint(only_if_grown=True)
        except AuditChainBroken as exc:
            service.seal_refused_reason = service.seal_refused_reason or str(exc)
            return False
        except HitlError as exc:
            service.seal_error = str(exc)
            return False
        except OSError as exc:  # creating the signing key: a full disk, a read-only directory
            where = f" ({exc.filename})" if exc.filename else ""
            service.seal_error = f"{exc.strerror or exc}{where}"
            return False
        return True

    def signer(self, create: bool = True) -> Signer | None:
        if self._signer is None:
            self._signer = load_signer(self._service.database_id, create=create,
                                       settings=self._service.settings)
        return self._signer

    def checkpoint(self, *, only_if_grown: bool = False) -> Checkpoint | None:
        """Sign (size, head) now and record it in the database; returns it for safe keeping.

        Never signs a head that does not verify: the entries after the newest checkpoint that
        THIS account's key signed are re-hashed from that checkpoint's head (and the entry at
        its size must still hash to it), or the whole chain when there is none. When they do not
        verify, nothing is signed, `seal_refused_reason` names the first bad entry, and
        AuditChainBroken is raised. The walk runs first on a snapshot, then only what was
        appended meanwhile is walked inside the write transaction, so writers wait little."""
        service = self._service

        def grown(conn: Conn) -> bool:
            return not only_if_grown or meta.audit_head(conn)[0] > audit_log.last_checkpoint_size(conn)

        if not service._read(grown):
            return None  # nothing new to seal: no signing key is made, nothing is walked
        signer = service.signer(create=True)
        assert signer is not None
        verified = service._read(lambda conn: _in_snapshot(conn, self._verified_head, signer, None))
        with service._write() as conn:
            audit_log.checked_head(conn)
            if not grown(conn):
                return None
            size, head, edge = self._verified_head(conn, signer, verified)
            crash_point("checkpoint.before_sign")
            fingerprint_key = f"signing_key:{signer.public_hex}"
            if meta.get(conn, fingerprint_key) is None:
                meta.put(conn, fingerprint_key, service.operator)
                service._audit(conn, service.operator, "signing_key_registered", None, {
                    "public_key": signer.public_hex, "key_file": str(signer.path) if signer.path else None,
                })
                size, head = audit_log.checked_head(conn)
                for leaf in merkle_nodes.leaves(conn, edge.size + 1, size):  # the entry just written
                    edge.append(leaf)
            cp = signer.sign(service.database_id, size, head.hex(), edge.root().hex())
            audit_log.insert_checkpoint(conn, cp.size, cp.head_hash, iso(cp.created_at), cp.public_key, cp.signature,
                                        cp.note, "".join(h.hex() for h in edge.hashes))
            crash_point("checkpoint.after_sign")
        service.seal_refused_reason = None
        return cp

    def _verified_head(self, conn: Conn, signer: Signer | None,
                       start: tuple[int, bytes, CompactRange] | None) -> tuple[int, bytes, CompactRange]:
        """(size, head, tree edge) of the log as recorded, after re-hashing it from `start` (a
        point this session verified already) or else from the last trusted checkpoint
        (checkpoints.py); the edge is extended with the leaves of the very bytes re-hashed, so the
        root signed is the tree of verified entries. Raises AuditChainBroken, and sets
        seal_refused_reason, when it does not verify."""
        service = self._service
        walker = ChainWalker()
        problem = None
        edge: CompactRange | None = CompactRange()
        if start is None and signer is not None:
            walker.count, walker.prev, edge, problem = trusted_start(conn, service.database_id, signer)
        elif start is None:
            walker.count, walker.prev = 0, GENESIS
        else:
            walker.count, walker.prev, edge = start[0], start[1], start[2].copy()
        size, head = meta.audit_head(conn)
        if problem is not None or edge is None:
            walker.fail(walker.count or 1, problem or "the tree cannot be rebuilt")
        else:
            for batch in audit_log.iter_rows(conn, start=walker.count + 1):
                if not walker.feed(batch):
                    break
                for row in batch[:walker.count - edge.size]:
                    edge.append(leaf_hash(row[1]))
            if walker.bad_seq is None:
                service._check_head(walker, size, head)
        if walker.bad_seq is not None:
            refusal = (f"AUDIT CHAIN BROKEN at entry {walker.bad_seq}: {walker.problem}; nothing was signed. "
                       f"Run `hitl-tui verify-audit` and tell your auditor.")
            service.seal_refused_reason = refusal
            raise AuditChainBroken(refusal)
        assert edge is not None and edge.size == size
        return size, head, edge

    def seal_check(self) -> str | None:
        """For the desk's header: None when this session's head could be sealed now, else the
        refusal line naming the first bad entry (the same check as checkpoint(), nothing written;
        cheap after the first seal: only the entries since this account's last checkpoint)."""
        service = self._service
        try:
            signer = service.signer(create=False)
        except HitlError:  # our key is unusable (load_signer says why when sealing): trust none
            signer = None
        start = None if signer is not None else (0, GENESIS, CompactRange())  # no key of ours yet: the whole chain
        try:
            service._read(lambda conn: _in_snapshot(conn, self._verified_head, signer, start))
        except AuditChainBroken as exc:
            return str(exc)
        return None


def _in_snapshot(conn: Conn, fn: Callable[..., _T], *args: Any) -> _T:
    """fn(conn, *args) inside one read transaction: one consistent state, however many queries."""
    begin(conn)
    try:
        return fn(conn, *args)
    finally:
        if conn.in_transaction:
            commit(conn)
