"""WorkflowService: the synchronous engine. Every operation is RBAC + transition + write + audit
append in ONE `BEGIN IMMEDIATE` transaction, so there is never a state change without its audit
entry, nor the reverse, and two processes can never both decide the same stage.

Thread-safe (one connection behind a lock). The TUI calls it from thread workers, the CLI calls it
directly, and `WorkflowSystem` (system.py) wraps it in the seed's async API.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from . import rbac
from .audit import AuditContext, build_record, canonical_bytes, chain_hash, iso, utc_now
from .checkpoints import Signer, load_signer
from .directory import DirectoryMixin
from .errors import ConcurrentChange, HitlError, StoreError, UnknownUser, ValidationFailed
from .hydrate import data_to_json
from .keys import ResolvedKey
from .models import AgentProposal, Approval, Checkpoint, Decision, User, WorkflowRequest, WorkflowStatus
from .policy import DESCRIPTION_MAX, TITLE_MAX, Policy, load_policy
from .reads import ReadsMixin
from .store import audit_log, meta, migrations
from .store import requests as req_sql
from .store import users as user_sql
from .store.connection import DbError, open_connection, translate
from .text import check_text
from .workflow import Action, transition

COMMENT_MAX = 5000


class WorkflowService(DirectoryMixin, ReadsMixin):
    def __init__(self, conn, path: Path, key: bytes, policy: Policy, *, key_source: ResolvedKey | None = None,
                 operator: str | None = None) -> None:
        self._conn = conn
        self._lock = threading.RLock()
        self._key = key
        self.path = Path(path)
        self.policy = policy
        self.key_source = key_source
        self.session_id = uuid.uuid4().hex
        self.ctx = AuditContext.current(self.session_id)
        #: who is acting for directory changes when the caller names no one: the OS login
        self.operator = operator or self.ctx.os_login or "unknown"
        self.database_id = meta.get(conn, "database_id") or ""
        self._signer: Signer | None = None
        self._closed = False

    # --- opening and closing -------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | str, key: bytes | None = None, *, create: bool | None = None,
             policy: Policy | None = None, passphrase_prompt: Callable[[], str] | None = None,
             operator: str | None = None) -> "WorkflowService":
        """Open (or, with a key and no file yet, create) the database at `path`.

        Without `key` the key is resolved (key file, env, keyring, passphrase). `create=None`
        creates only when the file is missing and a key was given; nothing is ever written on
        top of an existing file.
        """
        from .keys import resolve_key

        path = Path(path).expanduser()
        resolved = None
        if key is None:
            resolved = resolve_key(path, passphrase_prompt=passphrase_prompt)
            key = resolved.key
        if create is None:
            create = not path.exists()
        conn = open_connection(path, key, create=create)
        try:
            migrations.check_is_ours(conn, path)
            migrations.migrate(conn)
            if create or not meta.get(conn, "database_id"):
                cls._stamp(conn)
            policy = policy or load_policy()
        except BaseException:
            conn.close()
            raise
        return cls(conn, path, key, policy, key_source=resolved, operator=operator)

    @staticmethod
    def _stamp(conn) -> None:
        conn.execute("BEGIN IMMEDIATE")
        if not meta.get(conn, "database_id"):
            meta.put(conn, "database_id", uuid.uuid4().hex)
            meta.put(conn, "created_at", iso(utc_now()))
        conn.execute("COMMIT")

    def close(self, *, checkpoint: bool = True) -> None:
        """Seal the session with a signed checkpoint (when the chain grew), then close."""
        if self._closed:
            return
        try:
            if checkpoint:
                try:
                    self.checkpoint(only_if_grown=True)
                except HitlError:
                    pass  # a missing/unusable signing key must not stop an orderly close
        finally:
            with self._lock:
                self._closed = True
                self._conn.close()

    def __enter__(self) -> "WorkflowService":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- transactions --------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Any]:
        """One serialized write transaction; any failure rolls everything back."""
        with self._lock:
            if self._closed:
                raise StoreError("The database is closed.")
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
            except DbError as exc:
                raise translate(exc, self.path) from None
            try:
                yield conn
                conn.execute("COMMIT")
            except DbError as exc:
                conn.execute("ROLLBACK")
                raise translate(exc, self.path) from None
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _audit(self, conn, actor: str, action: str, workflow_id: str | None, details: dict[str, Any]) -> int:
        size, head = audit_log.checked_head(conn)
        seq, now = size + 1, utc_now()
        body = canonical_bytes(build_record(seq, head, now, actor, action, workflow_id, details, self.ctx))
        audit_log.append(conn, seq, workflow_id, body, chain_hash(head, body))
        return seq

    # --- requests ------------------------------------------------------------------------------

    def create_workflow_request(self, workflow_type: str, title: str, description: str, requester: str,
                                data: dict[str, Any] | None = None) -> str:
        title = check_text(title, "title", TITLE_MAX, single_line=True)
        description = check_text(description or "", "description", DESCRIPTION_MAX, required=False)
        assessment = self.policy.assess(workflow_type, data)
        with self._write() as conn:
            user = self._require_user(conn, requester)
            rbac.check_create(user)
            wid = self._new_id(conn)
            now = iso(utc_now())
            req_sql.insert(conn, {
                "id": wid, "workflow_type": assessment.workflow_type, "title": title, "description": description,
                "requester": user.username, "data": data_to_json(assessment.data),
                "risk_level": assessment.risk_level.value, "risk_rank": assessment.risk_level.rank,
                "risk_field": assessment.risk_field, "risk_reason": assessment.risk_reason,
                "headline": str(assessment.data[assessment.risk_field]),
                "chain": req_sql.encode_chain(assessment.chain), "current_stage": 0,
                "current_role": assessment.chain[0].value, "status": WorkflowStatus.AWAITING_APPROVAL.value,
                "revision": 1, "created_at": now, "updated_at": now,
            })
            self._audit(conn, user.username, "created", wid, {
                "workflow_type": assessment.workflow_type, "title": title,
                "data": assessment.data, "risk_level": assessment.risk_level.value,
                "risk_reason": assessment.risk_reason, "chain": [r.value for r in assessment.chain],
                "status_after": WorkflowStatus.AWAITING_APPROVAL.value, "stage_after": 0,
            })
        return wid

    def _new_id(self, conn) -> str:
        """WF-<unix>-<4 digits>, the seed's shape, unique: random digits, checked inside the
        write transaction; a full second moves on to the next one."""
        second = int(time.time())
        while True:
            for _ in range(40):
                wid = f"WF-{second}-{secrets.randbelow(10_000):04d}"
                if not req_sql.exists(conn, wid):
                    return wid
            taken = {r[0] for r in conn.execute("SELECT id FROM requests WHERE id LIKE ?", (f"WF-{second}-%",))}
            free = [f"WF-{second}-{n:04d}" for n in range(10_000) if f"WF-{second}-{n:04d}" not in taken]
            if free:
                return secrets.choice(free)
            second += 1

    def approve_workflow(self, workflow_id: str, approver: str, comments: str = "",
                         proposal: AgentProposal | None = None) -> WorkflowRequest:
        return self._decide(workflow_id, approver, Decision.APPROVE, comments, proposal)

    def reject_workflow(self, workflow_id: str, rejector: str, reason: str,
                        proposal: AgentProposal | None = None) -> WorkflowRequest:
        return self._decide(workflow_id, rejector, Decision.REJECT, reason, proposal)

    def request_changes(self, workflow_id: str, approver: str, comments: str,
                        proposal: AgentProposal | None = None) -> WorkflowRequest:
        return self._decide(workflow_id, approver, Decision.REQUEST_CHANGES, comments, proposal)

    def _decide(self, workflow_id: str, username: str, decision: Decision, comments: str,
                proposal: AgentProposal | None) -> WorkflowRequest:
        action = {Decision.APPROVE: Action.APPROVE, Decision.REJECT: Action.REJECT,
                  Decision.REQUEST_CHANGES: Action.REQUEST_CHANGES}[decision]
        required = decision is not Decision.APPROVE
        what = "reason" if decision is Decision.REJECT else "comments"
        comments = check_text(comments or "", what, COMMENT_MAX, required=required,
                               hint="say why, so the requester knows what to do")
        with self._write() as conn:
            user = self._require_user(conn, username)
            req = self._load(conn, workflow_id)
            rbac.check_decide(self.policy, user, req, action)
            stage_role = req.current_role
            assert stage_role is not None
            outcome = transition(action, req.status, req.current_stage, len(req.required_approvers), req.id)
            when = utc_now()
            now = iso(when)
            changed = req_sql.update(conn, req.id, req.revision, req.current_stage, req.status.value, {
                "status": outcome.status.value, "current_stage": outcome.stage, "updated_at": now,
                "current_role": (req.required_approvers[outcome.stage].value
                                 if outcome.status is WorkflowStatus.AWAITING_APPROVAL else None),
            }, add_decider=user.username)
            if not changed:  # cannot happen under BEGIN IMMEDIATE; kept as the last line of defence
                raise ConcurrentChange(f"{req.id} changed while you were deciding; nothing was written.")
            approval = Approval(stage=req.current_stage, role=stage_role, approver=user.username,
                                approver_role=user.role, decision=decision, decided_at=when,
                                comments=comments, revision=req.revision,
                                proposed_by=proposal.agent if proposal else None)
            req_sql.insert_approval(conn, req.id, approval, now)
            details: dict[str, Any] = {
                "decision": decision.value, "stage": req.current_stage, "stage_role": stage_role.value,
                "decider_role": user.role.value, "comments": comments, "revision": req.revision,
                "status_before": req.status.value, "status_after": outcome.status.value,
                "stage_after": outcome.stage,
            }
            if proposal:
                details["agent_proposal"] = {"agent": proposal.agent, "decision": proposal.decision.value,
                                             "rationale": proposal.rationale}
            action_name = {Decision.APPROVE: "approved", Decision.REJECT: "rejected",
                           Decision.REQUEST_CHANGES: "changes_requested"}[decision]
            self._audit(conn, user.username, action_name, req.id, details)
        # what the database now holds, without reading it back
        return req.model_copy(update={
            "status": outcome.status, "current_stage": outcome.stage, "approvals": [*req.approvals, approval],
            "updated_at": approval.decided_at,
        })

    def withdraw_workflow(self, workflow_id: str, requester: str, reason: str = "") -> WorkflowRequest:
        reason = check_text(reason or "", "reason", COMMENT_MAX, required=False)
        with self._write() as conn:
            user = self._require_user(conn, requester)
            req = self._load(conn, workflow_id)
            rbac.check_requester_action(user, req, Action.WITHDRAW)
            outcome = transition(Action.WITHDRAW, req.status, req.current_stage, len(req.required_approvers), req.id)
            req_sql.update(conn, req.id, req.revision, req.current_stage, req.status.value, {
                "status": outcome.status.value, "current_role": None, "updated_at": iso(utc_now()),
            })
            self._audit(conn, user.username, "withdrawn", req.id, {
                "comments": reason, "status_before": req.status.value, "status_after": outcome.status.value,
                "revision": req.revision,
            })
            return self._load(conn, req.id)

    def resubmit(self, workflow_id: str, requester: str, *, title: str | None = None,
                 description: str | None = None, data: dict[str, Any] | None = None,
                 comments: str = "") -> WorkflowRequest:
        """After changes were requested: edit, re-assess the risk, and restart the chain."""
        comments = check_text(comments or "", "comments", COMMENT_MAX, required=False)
        with self._write() as conn:
            user = self._require_user(conn, requester)
            req = self._load(conn, workflow_id)
            rbac.check_requester_action(user, req, Action.RESUBMIT)
            new_title = check_text(title, "title", TITLE_MAX, single_line=True) if title is not None else req.title
            new_desc = (check_text(description, "description", DESCRIPTION_MAX, required=False)
                        if description is not None else req.description)
            merged = dict(req.data) if data is None else data
            assessment = self.policy.assess(req.workflow_type, merged)
            outcome = transition(Action.RESUBMIT, req.status, req.current_stage, len(assessment.chain), req.id)
            req_sql.update(conn, req.id, req.revision, req.current_stage, req.status.value, {
                "title": new_title, "description": new_desc, "data": data_to_json(assessment.data),
                "risk_level": assessment.risk_level.value, "risk_rank": assessment.risk_level.rank,
                "risk_reason": assessment.risk_reason, "headline": str(assessment.data[assessment.risk_field]),
                "chain": req_sql.encode_chain(assessment.chain), "current_stage": outcome.stage,
                "current_role": assessment.chain[0].value, "status": outcome.status.value,
                "revision": req.revision + 1, "updated_at": iso(utc_now()), "deciders": ",",
            })
            self._audit(conn, user.username, "resubmitted", req.id, {
                "comments": comments, "revision": req.revision + 1, "title": new_title, "data": assessment.data,
                "risk_before": req.risk_level.value, "risk_level": assessment.risk_level.value,
                "risk_reason": assessment.risk_reason, "chain": [r.value for r in assessment.chain],
                "status_before": req.status.value, "status_after": outcome.status.value, "stage_after": 0,
            })
            return self._load(conn, req.id)

    # --- keys and checkpoints ------------------------------------------------------------------

    def rekey(self, new_key: bytes, *, actor: str | None = None) -> None:
        """Rotate the database key. The audit entry and the rekey commit or fail together."""
        if not isinstance(new_key, (bytes, bytearray)) or len(new_key) != 32:
            raise ValidationFailed("The new key must be exactly 32 raw bytes.", "key")
        with self._write() as conn:
            actor_name, actor_user = self._actor(conn, actor)
            rbac.check_admin(actor_user, user_sql.has_admin(conn))
            self._audit(conn, actor_name, "key_rotated", None, {
                "old_key_source": self.key_source.source if self.key_source else "caller",
            })
        with self._lock:
            try:
                self._conn.execute(f"PRAGMA rekey = \"x'{bytes(new_key).hex()}'\"")
            except DbError as exc:
                raise translate(exc, self.path) from None
            self._key = bytes(new_key)

    def signer(self, create: bool = True) -> Signer | None:
        if self._signer is None:
            self._signer = load_signer(self.database_id, create=create)
        return self._signer

    def checkpoint(self, *, only_if_grown: bool = False) -> Checkpoint | None:
        """Sign (size, head) now and record it in the database; returns it for safe keeping."""
        signer = self.signer(create=True)
        assert signer is not None
        with self._write() as conn:
            size, head = audit_log.checked_head(conn)
            if only_if_grown and size <= audit_log.last_checkpoint_size(conn):
                return None
            fingerprint_key = f"signing_key:{signer.public_hex}"
            if meta.get(conn, fingerprint_key) is None:
                meta.put(conn, fingerprint_key, self.operator)
                self._audit(conn, self.operator, "signing_key_registered", None, {
                    "public_key": signer.public_hex, "key_file": str(signer.path) if signer.path else None,
                })
                size, head = audit_log.checked_head(conn)
            cp = signer.sign(self.database_id, size, head.hex())
            audit_log.insert_checkpoint(conn, cp.size, cp.head_hash, iso(cp.created_at), cp.public_key, cp.signature)
        return cp

    # --- helpers -------------------------------------------------------------------------------

    def _require_user(self, conn, username: str) -> User:
        user = user_sql.get(conn, username) if isinstance(username, str) else None
        if user is None:
            raise UnknownUser(str(username))
        return user
