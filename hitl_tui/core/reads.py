"""The read side of WorkflowService: requests, inbox views, users, audit trail, verification.

Kept apart from the writes so each file stays readable; it relies on the service's connection,
lock, policy and key (see service.py).
"""

from __future__ import annotations

import functools

from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, TypeVar

from . import assignment, delegation, rbac, replay
from .audit import ChainWalker
from .opened import opened_entries
from .checkpoints import checkpoint_from_row, signature_valid
from .errors import CheckpointError
from .proofs import InclusionProof, TreeBuilder, consistency, inclusion_proofs, verify_since
from .audit import utc_now
from .errors import UnknownUser, UnknownWorkflow
from .filter_query import Filter, SortOrder, parse_filter, parse_sort
from .hydrate import request_from_row
from .models import AuditEntry, Checkpoint, InboxView, RequestSummary, Role, User, VerifyResult, WorkflowRequest
from .policy import Policy
from .signature_check import SignaturePass
from .store import audit_log, meta
from .store.audit_log import CheckpointRow
from .store import requests as req_sql
from .store import users as user_sql
from .store.connection import Conn, DbError, begin, commit, data_version, open_connection, translate
from .text import check_inputs

if TYPE_CHECKING:
    from .approvals import Approvals
    from .news import Changes

Progress = Callable[[int, int], None]
_T = TypeVar("_T")


def filter_for(policy: Policy, search: "str | Filter | None") -> Filter:
    """The filter language against `policy`'s workflow types (a parsed Filter as it is)."""
    if isinstance(search, Filter):
        return search
    check_inputs(search=search)
    return parse_filter(search, types=policy.types)


class ReadsMixin:
    # attributes provided by WorkflowService
    _conn: Conn
    _lock: AbstractContextManager[Any]  # a threading.RLock
    _key: bytes
    path: Path
    database_id: str

    if TYPE_CHECKING:  # WorkflowService's property (the policy version read last), and its collaborator
        @property
        def policy(self) -> Policy: ...

        approvals: "Approvals"

    def _read(self, fn: Callable[..., _T], *args: Any) -> _T:
        with self._lock:
            try:
                return fn(self._conn, *args)
            except DbError as exc:
                raise translate(exc, self.path) from None

    def _load(self, conn: Conn, workflow_id: str) -> WorkflowRequest:
        row = req_sql.get_row(conn, str(workflow_id).strip())
        if row is None:
            raise UnknownWorkflow(str(workflow_id))
        approvals = req_sql.approvals_for(conn, [row["id"]])[row["id"]]
        return request_from_row(self.policy, row, approvals)

    def _load_many(self, conn: Conn, ids: list[str]) -> list[WorkflowRequest]:
        rows = req_sql.get_rows(conn, ids)
        approvals = req_sql.approvals_for(conn, ids)
        return [request_from_row(self.policy, r, approvals[r["id"]]) for r in rows]

    # --- users ---------------------------------------------------------------------------------

    def get_user(self, username: str) -> User:
        check_inputs(username=username)
        user = self._read(user_sql.get, username)
        if user is None:
            raise UnknownUser(username)
        return user

    def find_user(self, username: str) -> User | None:
        check_inputs(username=username)
        return self._read(user_sql.get, username)

    def list_users(self, include_inactive: bool = True) -> list[User]:
        return self._read(user_sql.list_all, include_inactive)

    # --- requests ------------------------------------------------------------------------------

    def get_workflow(self, workflow_id: str) -> WorkflowRequest:
        check_inputs(workflow_id=workflow_id)
        return self._read(self._load, workflow_id)

    def get_workflows(self, workflow_ids: list[str]) -> dict[str, WorkflowRequest]:
        """The requests of these ids that exist, by id (one read for the lot)."""
        ids = sorted({str(w).strip() for w in workflow_ids})
        if not ids:
            return {}
        return {req.id: req for req in self._read(self._load_many, ids)}

    def get_workflow_for(self, viewer: str, workflow_id: str) -> WorkflowRequest:
        """The request, if `viewer` may see it (what the TUI, CLI and agents use)."""
        user = self.get_user(viewer)
        req = self.get_workflow(workflow_id)
        covering = () if rbac.may_view(self.policy, user, req) else self.covering_for(user.username)  # out of office
        rbac.check_view(self.policy, user, req, covering)
        return req

    def get_pending_approvals(self, username: str, limit: int | None = None) -> list[WorkflowRequest]:
        """Requests whose current stage this user may decide, oldest first."""
        user = self.get_user(username)
        if not user.active:
            return []
        self.approvals.sweep_on_read()  # an expired request waits for nobody
        decidable = rbac.decidable_by(self.policy, user)

        def run(conn: Conn) -> list[WorkflowRequest]:
            return self._load_many(conn, req_sql.pending_ids(conn, user.username, decidable, limit,
                                                             segregated_owner=self._segregated_owner(conn, user),
                                                             delegated=self._delegated(conn, user)))
        return self._read(run)

    def get_pending_approvals_for(self, viewer: str, owner: str, limit: int | None = None) -> list[WorkflowRequest]:
        """`owner`'s queue, if `viewer` may see it (rbac.check_see_queue): theirs, or anyone's
        for an oversight role."""
        rbac.check_see_queue(self.policy, self.get_user(viewer), owner)
        return self.get_pending_approvals(owner, limit)

    def _view_args(self, viewer: str) -> tuple[User, frozenset[Role], bool, bool]:
        """Who `viewer` is, the roles they decide for, whether they see everything, and whether
        what their integrations file is kept out of what awaits them (rbac.check_decide)."""
        user = self.get_user(viewer)
        policy = self.policy
        return (user, rbac.decidable_by(policy, user), rbac.sees_everything(policy, user),
                self._read(self._segregated_owner, user))

    def covering_for(self, username: str) -> "list[delegation.Covering]":
        """The delegations running now to `username`, with their delegators (for rbac.check_decide
        and may_decide: what the desk greys out, and the detail's "Deciding for ..." line)."""
        check_inputs(username=username)
        return self._read(delegation.covering, username, utc_now())

    def assigned_to(self, viewer: str, workflow_id: str) -> str | None:
        """Who `workflow_id`'s current stage is assigned to (core/assignment.py), if `viewer` may see it."""
        req = self.get_workflow_for(viewer, workflow_id)
        return self._read(assignment.assigned_to, req)

    def _delegated(self, conn: Conn, user: User) -> req_sql.Delegated:
        """Out of office (core/delegation.py): the delegators whose requests also await `user`."""
        if user.integration or not user.active:
            return ()
        return delegation.awaiting_for(conn, self.policy, user.username, utc_now())

    def _segregated_owner(self, conn: Conn, user: User) -> bool:
        return self.policy.access.segregate_owners and user_sql.owns_integration(conn, user.username)

    def list_requests(self, viewer: str, view: InboxView | str = InboxView.AWAITING_ME, *,
                      search: "str | Filter | None" = None, sort: "str | SortOrder" = "oldest",
                      limit: int = 100, offset: int = 0) -> list[RequestSummary]:
        """One page of an inbox view, as `viewer` may see it. `search` is the filter language
        (core/filter_query.py: words, "phrases", risk:>=high type:expense age:>2d ...) or a
        Filter parsed from it; `sort` a parse_sort spelling (oldest, newest, risk, -value...).
        A bad filter or sort raises FilterError before the database is touched."""
        check_inputs(viewer=viewer)
        flt, order = self._filter(search), parse_sort(sort)
        self.approvals.sweep_on_read()  # an expired request leaves every inbox before it is listed
        user, decidable, oversight, owner = self._view_args(viewer)
        return self._read(functools.partial(req_sql.list_view, segregated_owner=owner,
                                            delegated=self._read(self._delegated, user)), InboxView.parse(view),
                          user.username, decidable, oversight, flt, order,
                          max(1, min(int(limit), 1000)), max(0, int(offset)), utc_now())

    def count_requests(self, viewer: str, view: InboxView | str = InboxView.AWAITING_ME, *,
                       search: "str | Filter | None" = None) -> int:
        check_inputs(viewer=viewer)
        flt = self._filter(search)
        user, decidable, oversight, owner = self._view_args(viewer)
        return self._read(functools.partial(req_sql.count_view, segregated_owner=owner,
                                            delegated=self._read(self._delegated, user)), InboxView.parse(view),
                          user.username, decidable, oversight, flt, utc_now())

    def count_views(self, viewer: str, views: "Iterable[InboxView | str]" = tuple(InboxView), *,
                    search: "str | Filter | None" = None,
                    stop: "Callable[[], bool] | None" = None) -> "dict[InboxView, int]":
        """How many requests each of `views` holds under `search`, read on a connection of its
        own: over a large database four counts take seconds, and the desk's page and detail
        (on the shared connection) must not queue behind them. `stop()` is asked between views
        (a newer filter makes these counts pointless)."""
        check_inputs(viewer=viewer)
        flt = self._filter(search)
        user, decidable, oversight, owner = self._view_args(viewer)
        counts: dict[InboxView, int] = {}
        conn = self._reader()
        try:
            for view in views:
                if stop is not None and stop():
                    break
                view = InboxView.parse(view)
                counts[view] = req_sql.count_view(conn, view, user.username, decidable, oversight, flt, utc_now(),
                                                  segregated_owner=owner, delegated=self._delegated(conn, user))
        except DbError as exc:
            raise translate(exc, self.path) from None
        finally:
            conn.close()
        return counts

    def parse_filter(self, search: "str | Filter | None") -> Filter:
        """The filter language against the policy in force (its workflow types), without running
        it: what the desk calls on each keystroke to show a FilterError in the filter bar."""
        return self._filter(search)

    def _filter(self, search: "str | Filter | None") -> Filter:
        return filter_for(self.policy, search)

    def changes_since(self, viewer: str, after: int) -> "Changes":
        """What the entries after position `after` changed, as `viewer` may see it (core/news.py)."""
        from .news import changes_since

        return changes_since(self, viewer, int(after))

    def data_version(self) -> int:
        """Changes whenever ANOTHER connection commits: a cheap 'has anything changed?' poll."""
        return self._read(data_version)

    # --- audit ---------------------------------------------------------------------------------

    def get_audit_trail(self, workflow_id: str) -> list[AuditEntry]:
        """The request's entries, oldest first, read from the hashed bytes themselves."""
        check_inputs(workflow_id=workflow_id)
        wid = str(workflow_id).strip()

        def run(conn: Conn) -> list[AuditEntry]:
            if not req_sql.exists(conn, wid):
                raise UnknownWorkflow(wid)
            return opened_entries(conn, [(body, digest) for _, body, digest in audit_log.rows_for_workflow(conn, wid)])
        return self._read(run)

    def get_audit_trail_for(self, viewer: str, workflow_id: str) -> list[AuditEntry]:
        self.get_workflow_for(viewer, workflow_id)
        return self.get_audit_trail(workflow_id)

    def iter_audit(self, *, start: int = 1, stop: int | None = None) -> Iterator[AuditEntry]:
        """Every entry in sequence order, streamed from a separate read snapshot."""
        conn = self._reader()
        try:
            begin(conn)
            for batch in audit_log.iter_rows(conn, start, stop):
                yield from opened_entries(conn, [(row[1], row[2]) for row in batch])
            commit(conn)
        finally:
            conn.close()

    def iter_audit_rows(self, *, start: int = 1, stop: int | None = None,
                        **filters: Any) -> Iterator[list[tuple[int, bytes, bytes]]]:
        """Batches of raw (seq, body, hash) from a separate read snapshot, optionally filtered
        (see store.audit_log.iter_rows_filtered). For exports: no JSON parsing, no models, so a
        million entries stream at the speed of the disk."""
        try:
            conn = self._reader()
        except DbError as exc:
            raise translate(exc, self.path) from None
        try:
            begin(conn)
            yield from audit_log.iter_rows_filtered(conn, start=start, stop=stop, **filters)
            commit(conn)
        except DbError as exc:
            raise translate(exc, self.path) from None
        finally:
            conn.close()

    def audit_size(self) -> int:
        return self._read(lambda c: meta.audit_head(c)[0])

    def audit_head(self) -> tuple[int, str]:
        """(size, hex head hash) of the chain as the database records it beside the entries."""
        size, digest = self._read(meta.audit_head)
        return size, digest.hex()

    def _reader(self) -> Conn:
        """A second connection for long reads, so verification never blocks the writer."""
        conn: Conn = open_connection(self.path, self._key)
        return conn

    def stored_checkpoints(self) -> list[Checkpoint]:
        db_id = self.database_id
        return [checkpoint_from_row(row, db_id) for row in self._read(audit_log.checkpoints)]

    def verify_audit(self, checkpoints: list[Checkpoint] | None = None,
                     progress: Progress | None = None) -> VerifyResult:
        """Re-hash the whole chain from one consistent snapshot and check it against the head
        recorded in the database, the signed checkpoints stored in it, and any `checkpoints`
        kept elsewhere (files an auditor holds). Never raises for a broken chain: it reports."""
        external = list(checkpoints or [])
        try:
            conn = self._reader()
        except DbError as exc:
            raise translate(exc, self.path) from None
        try:
            begin(conn)  # a snapshot: writers carry on, we see one consistent state
            stored = audit_log.checkpoints(conn)
            size, head = meta.audit_head(conn)
            walker = ChainWalker(want_sizes=[s for s, *_ in stored] + [c.size for c in external])
            tree = TreeBuilder(want_sizes=walker.want)  # the Merkle tree, from the same bytes
            sigs = SignaturePass(meta.get(conn, "database_id") or "", size)  # each signed action, on every core
            tables = replay.Comparison(conn)  # the tables against the trail, while the signature workers verify
            for batch in audit_log.iter_rows(conn):
                if not walker.feed(batch):
                    break
                tree.feed(batch, walker.count)
                sigs.feed(batch, walker.count)
                tables.feed(batch)
                if progress:
                    progress(walker.count, size)
            if walker.bad_seq is None:
                self._check_head(walker, size, head)
            tree_problem = tree.stored_problem(conn) if walker.bad_seq is None else None
            registered = meta.signing_keys(conn)
            db_id = meta.get(conn, "database_id") or ""
            signed = sigs.finish(walker, conn)  # the first forgery, and the user_keys table against the trail
            if walker.bad_seq is None:
                replayed = tables.result()
            else:
                tables.abandon()  # a broken chain: no replay is reported
                replayed = None
            commit(conn)
        finally:
            conn.close()
        walker.root_at = tree.root_at  # for _compare
        checked = self._check_stored_checkpoints(walker, stored, registered, db_id)
        ext_checked = self._check_external(walker, external, db_id)
        if tree_problem is not None:
            walker.fail(*tree_problem)
        return replay.merged(walker.result(checkpoints_checked=checked, external_checkpoints_checked=ext_checked,
                                           **signed), replayed)

    def verify_audit_since(self, cp: Checkpoint, progress: Progress | None = None) -> VerifyResult:
        """Verify only what was appended after a trusted checkpoint (a file an auditor holds):
        its signature and database, the entry at its size, the tree's edge there against its
        root, the new entries re-hashed from its head, the nodes they completed, and a
        consistency proof from its tree to today's (proofs.verify_since). Cost proportional to
        the new entries. Never raises for a broken chain: it reports."""
        from .errors import CheckpointError

        if cp.root_hash is None:
            raise CheckpointError("That checkpoint is of the older format and states no tree root: verify the whole "
                                  "chain with `hitl-tui verify-audit --checkpoint FILE`.")
        conn = self._reader()
        try:
            begin(conn)
            db_id = meta.get(conn, "database_id") or ""
            if cp.database_id != db_id:
                walker = ChainWalker()
                walker.fail(1, f"the checkpoint file belongs to another database ({cp.database_id}, this is {db_id})")
                new = 0
            elif not signature_valid(cp):
                walker = ChainWalker()
                walker.fail(1, "the checkpoint file's signature does not verify")
                new = 0
            else:
                walker, new = verify_since(conn, cp, progress)
            signed = self._signatures_since(conn, cp, walker, db_id) if walker.bad_seq is None else {}
            commit(conn)
        except DbError as exc:
            raise translate(exc, self.path) from None
        finally:
            conn.close()
        return walker.result(external_checkpoints_checked=int(walker.bad_seq is None), verified_from=cp.size,
                             **signed)

    @staticmethod
    def _signatures_since(conn: Conn, cp: Checkpoint, walker: ChainWalker, db_id: str) -> dict[str, int]:
        """The signatures of the entries after `cp`, against the key history at `cp`: rebuilt from
        the entries filed under no request before it (the directory's and the keys'), each proven
        in the checkpoint's signed tree first. An entry whose index column was edited to hide it
        there is not found by this pass; the full verification's byte check of that column is."""
        from .errors import AuditChainBroken

        before = audit_log.unfiled_entries(conn, cp.size)
        try:
            inclusion_proofs(conn, [seq for seq, _ in before], cp.size, cp.root_hash or "")
        except AuditChainBroken as exc:
            walker.fail(1, f"an entry the key history rests on is not in the checkpoint's tree: {exc}")
            return {}
        sigs = SignaturePass(db_id, walker.count - cp.size)
        sigs.start_after(before)
        for batch in audit_log.iter_rows(conn, start=cp.size + 1, stop=walker.count):
            sigs.feed(batch, walker.count)
        return sigs.finish(walker, conn)

    def prove_entries(self, seqs: list[int], cp: Checkpoint) -> list[InclusionProof]:
        """Inclusion proofs of entries `seqs` against checkpoint `cp` (each checked before it is
        returned; AuditChainBroken when the stored tree cannot prove them)."""
        from .errors import CheckpointError

        if cp.root_hash is None:
            raise CheckpointError("That checkpoint is of the older format and states no tree root: sign a new one "
                                  "with `hitl-tui checkpoint`.")
        for seq in seqs:
            if not 1 <= seq <= cp.size:
                raise CheckpointError(f"Entry {seq} is not covered by the checkpoint ({cp.size:,} entries); "
                                      f"sign a newer one with `hitl-tui checkpoint`.")
        return self._read(lambda conn: _snapshot(conn, inclusion_proofs, seqs, cp.size, cp.root_hash))

    def prove_consistency(self, first: int, second: int) -> list[str]:
        """Hashes proving the tree of `second` entries extends the tree of `first` (RFC 9162)."""
        size = self.audit_size()
        if not 0 <= first <= second <= size:
            from .errors import CheckpointError

            raise CheckpointError(f"Cannot prove {first:,} -> {second:,} entries: the log has {size:,}.")
        return self._read(lambda conn: _snapshot(conn, consistency, first, second))

    def table_state(self) -> dict[str, Any]:
        """The requests, approvals and users tables whole, and the audit size they match, from
        one read snapshot (the audit bundle's state.json, for an offline replay check)."""
        from .store import table_state

        return self._read(lambda conn: _snapshot(conn, table_state.read))

    def audit_seqs_for(self, workflow_id: str) -> list[int]:
        """The sequence numbers of a request's audit entries, in order."""
        return [seq for seq, _b, _h in self._read(audit_log.rows_for_workflow, workflow_id)]

    @staticmethod
    def _check_head(walker: ChainWalker, size: int, head: bytes) -> None:
        if walker.count < size:
            walker.fail(walker.count + 1, f"the chain ends at entry {walker.count} but the database recorded {size} entries: entries were deleted from the end")
        elif walker.count > size:
            walker.fail(size + 1, f"entries after {size} were added behind the application's back")
        elif walker.prev != head:
            walker.fail(size, f"entry {size} is not the head the database recorded: the chain was rewritten")

    @staticmethod
    def _check_stored_checkpoints(walker: ChainWalker, stored: list[CheckpointRow], registered: set[str],
                                  db_id: str) -> int:
        from datetime import datetime

        checked = 0
        for row in stored:
            s, k = row[0], row[3]
            try:
                cp = checkpoint_from_row(row, db_id)
            except (ValueError, CheckpointError):
                walker.fail(min(s, walker.count) or 1, f"the checkpoint at entry {s} is malformed")
                break
            if k not in registered or not signature_valid(cp):
                walker.fail(min(s, walker.count) or 1, f"the checkpoint at entry {s} has an invalid or unregistered signature")
                break
            if _compare(walker, cp, "a checkpoint stored in the database"):
                checked += 1
            else:
                break
        return checked

    @staticmethod
    def _check_external(walker: ChainWalker, external: list[Checkpoint], db_id: str) -> int:
        checked = 0
        for cp in external:
            if cp.database_id != db_id:
                walker.fail(1, f"the checkpoint file belongs to another database ({cp.database_id}, this is {db_id})")
                break
            if not signature_valid(cp):
                walker.fail(1, "the checkpoint file's signature does not verify")
                break
            if _compare(walker, cp, f"the checkpoint signed by {cp.fingerprint}"):
                checked += 1
            else:
                break
        return checked


def _compare(walker: ChainWalker, cp: Checkpoint, what: str) -> bool:
    if walker.bad_seq is not None and walker.bad_seq <= cp.size:
        return False  # already failed before this point; the first problem is the one reported
    if cp.size > walker.count:
        walker.fail(walker.count + 1, f"{what} vouches for {cp.size} entries but only {walker.count} remain: the chain was truncated")
        return False
    if walker.hash_at.get(cp.size, b"").hex() != cp.head_hash:
        walker.fail(cp.size, f"entry {cp.size} differs from {what}: the chain was rewritten")
        return False
    roots = walker.root_at
    if cp.root_hash is not None and roots.get(cp.size) != cp.root_hash:
        walker.fail(cp.size, f"the Merkle tree of the first {cp.size:,} entries differs from the root in {what}: "
                             f"the entries were rewritten")
        return False
    return True


def _snapshot(conn: Conn, fn: Callable[..., _T], *args: Any) -> _T:
    """fn(conn, *args) inside one read transaction (a proof reads one consistent tree)."""
    begin(conn)
    try:
        return fn(conn, *args)
    finally:
        if conn.in_transaction:
            commit(conn)

