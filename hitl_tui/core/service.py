"""WorkflowService: the synchronous engine. Every operation is RBAC + transition + write + audit
append in ONE `BEGIN IMMEDIATE` transaction, so there is never a state change without its audit
entry, nor the reverse, and two processes can never both decide the same stage.

Thread-safe (one connection behind a lock). The TUI calls it from thread workers, the CLI calls it
directly, and `WorkflowSystem` (system.py) wraps it in the seed's async API. Key rotation
(rotation.py) and sealing (sealing.py) are collaborators it holds and delegates to.
"""

from __future__ import annotations

import threading
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol

from . import delegation, draws, due, privacy, rbac, stage_rules
from .audit import AuditContext, build_record, canonical_bytes, chain_hash, iso, utc_now
from .checkpoints import Signer
from .crashpoints import crash_point
from .replay import MARKED as REPLAY_MARK, REPLAYED
from .decisions import TERMS, Decides, parse_decision
from .directory import DirectoryMixin
from .errors import ConcurrentChange, StoreError, UnknownUser, ValidationFailed, WrongKey
from .hydrate import data_to_json
from .keys import ResolvedKey
from .models import AgentProposal, Approval, Checkpoint, Decision, User, WorkflowRequest, WorkflowStatus
from .policy import DESCRIPTION_MAX, TITLE_MAX, Policy
from .policy_store import PolicyStore, StoredPolicy
from .reads import ReadsMixin
from .rotation import KeyRotation, open_beside_pending
from .sealing import Sealer
from .erasure import Erasure
from .approvals import (REVISED_COLS, Approvals, Draft, Revision, check_deadline, check_revision, proposed_revision,
                        revised_accepts)
from .key_directory import KeyDirectory
from .notifications import Outbox
from .personal_keys import KeyStore
from .signatures import SIGNED_ACTIONS
from .store import audit_log, meta, migrations
from .store import requests as req_sql
from .store import users as user_sql
from .store.connection import (Conn, DbError, begin, commit, missing_database, open_connection, rollback, translate,
                               wrong_key)
from .text import check_inputs, check_text
from .workflow import Action, transition

if TYPE_CHECKING:
    from .settings import Settings

COMMENT_MAX = 5000


class WriteSeam(Protocol):
    """How a write transaction ends in team mode's two phases (two_phase.py); embedded mode has none."""

    @property
    def dry_run(self) -> bool:
        """Roll back instead of committing: the run only shows what the write would sign."""
        ...

    def before_commit(self) -> None:
        """Right before the commit (never in a dry run): raise to refuse it, nothing is then written."""
        ...


#: the seam of the write transactions made in this context (thread, task); None: commit as usual
WRITE_SEAM: ContextVar[WriteSeam | None] = ContextVar("hitl_tui_write_seam", default=None)


def _rollback(conn: Conn) -> None:
    """Roll back what is still open. After a full disk or an I/O error SQLite has already rolled
    back itself, and an unconditional ROLLBACK would fail with "no transaction is active",
    hiding the real error."""
    if conn.in_transaction:
        try:
            rollback(conn)
        except DbError:
            pass  # the connection is unusable; the caller reports the error that got us here


class WorkflowService(Decides, DirectoryMixin, ReadsMixin):
    def __init__(self, conn: Conn, path: Path, key: bytes, policies: PolicyStore, *,
                 key_source: ResolvedKey | None = None, operator: str | None = None,
                 settings: "Settings | None" = None) -> None:
        from .settings import given_or_loaded

        self._conn = conn
        #: what this session was opened with (key file, signing key file, busy timeout, time zone)
        self.settings = given_or_loaded(settings)
        self._lock = threading.RLock()
        self._key = key
        self.path = Path(path)
        #: the database's policy; writes read the version in force inside their transaction
        self._policies = policies
        self.key_source = key_source
        self.session_id = uuid.uuid4().hex
        self.ctx = AuditContext.current(self.session_id)
        #: who is acting for directory changes when the caller names no one: the OS login
        self.operator = operator or self.ctx.os_login or "unknown"
        self.database_id = meta.get(conn, "database_id") or ""
        self._closed = False
        self._rotation = KeyRotation(self)
        self._sealer = Sealer(self)
        #: each person's signing key: signs every signed action's entry (key_directory.py)
        self._keys = KeyDirectory(self)
        #: erasing personal data and applying retention rules (erasure.py)
        self.erasure = Erasure(self)
        #: requests filed for approval with their exact action: expiry, decisions, receipts (approvals.py)
        self.approvals = Approvals(self)
        #: who hears of each entry: its events, written with it (notifications.py)
        self._outbox = Outbox(self)
        #: why the last seal (checkpoint) was refused: the chain does not verify from this
        #: account's last trusted checkpoint (names the first bad entry); None when it was not
        self.seal_refused_reason: str | None = None
        #: why sealing at close failed for any other reason (no usable signing key, a full disk)
        self.seal_error: str | None = None

    # --- opening and closing -------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | str, key: bytes | None = None, *, create: bool | None = None,
             passphrase_prompt: Callable[[], str] | None = None,
             operator: str | None = None, settings: "Settings | None" = None) -> "WorkflowService":
        """Open (or, with a key and no file yet, create) the database at `path`.

        Without `key` the key is resolved (key file, env, keyring, passphrase). `create=None`
        creates only when the file is missing and a key was given; nothing is ever written on
        top of an existing file. The policy is the database's own (policy_store.py): no caller,
        file or environment variable chooses it; `apply_policy` changes it, as an administrator.
        `settings` (default: this process's, settings.py) name the key file, the signing key
        file and the busy timeout; the service keeps them for the whole session.
        """
        from .keys import resolve_key
        from .settings import given_or_loaded

        settings = given_or_loaded(settings)
        path = Path(path).expanduser()
        resolved = None
        if create is False and not path.exists():  # no key (or passphrase prompt) can help
            raise missing_database(path, settings)
        if key is None:
            resolved = resolve_key(path, passphrase_prompt=passphrase_prompt, settings=settings)
            if resolved.pending is not None and path.exists():  # a key rotation was under way
                return open_beside_pending(cls.open, path, resolved, operator, settings)
            key = resolved.key
        if create is None:
            create = not path.exists()
        try:
            conn = open_connection(path, key, create=create, settings=settings)
        except WrongKey:
            if resolved is None:
                raise
            raise wrong_key(path, resolved.source, resolved.detail, resolved.named_by) from None  # "wrong passphrase", ...
        try:
            migrations.check_is_ours(conn, path)
            migrations.migrate(conn)
            if create or not meta.get(conn, "database_id"):
                cls._stamp(conn)
            policies = PolicyStore()
            policies.load(conn)
        except DbError as exc:  # the migration or the stamp could not write: say why
            conn.close()
            raise translate(exc, path) from None
        except BaseException:
            conn.close()
            raise
        return cls(conn, path, key, policies, key_source=resolved, operator=operator, settings=settings)

    @staticmethod
    def _stamp(conn: Conn) -> None:
        """The database's id, once: a write lock only when it is missing (reads never wait)."""
        begin(conn, immediate=True)
        if not meta.get(conn, "database_id"):
            meta.put(conn, "database_id", uuid.uuid4().hex)
            meta.put(conn, "created_at", iso(utc_now()))
        commit(conn)

    def close(self, *, checkpoint: bool = True) -> None:
        """Seal the session (seal(), when `checkpoint`), then close; a second call does nothing.

        A refused or failed seal never stops the close nor undoes what the session committed:
        it is left in `seal_refused_reason` / `seal_error` for the caller to report (the CLI:
        open_service; the Direct API: WorkflowSystem.close() raises AuditChainBroken)."""
        if self._closed:
            return
        try:
            if checkpoint:
                self.seal()
        finally:
            with self._lock:
                self._closed = True
                self._conn.close()

    def seal(self) -> bool:
        """Sign a checkpoint of the head if the chain grew since the last one; never raises for
        a seal that cannot be made: a refusal (the chain does not verify) is left in
        `seal_refused_reason`, any other failure in `seal_error`. Returns True when the head is
        sealed (now, or by an earlier checkpoint). See sealing.Sealer.seal."""
        return self._sealer.seal()

    @property
    def policy(self) -> Policy:
        """The policy version read last (at open or by the latest write); writes re-read it."""
        return self._policies.cached.policy

    def __enter__(self) -> "WorkflowService":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transactions --------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Conn]:
        """One serialized write transaction; any failure rolls everything back."""
        with self._lock:
            if self._closed:
                raise StoreError("The database is closed.")
            conn = self._conn
            try:
                begin(conn, immediate=True)
            except DbError as exc:
                raise translate(exc, self.path) from None
            try:
                yield conn
                seam = WRITE_SEAM.get()
                if seam is not None:
                    if seam.dry_run:
                        _rollback(conn)  # what it would have written is gone, crash points and all
                        return
                    seam.before_commit()
                self._commit(conn)
            except DbError as exc:
                _rollback(conn)
                raise translate(exc, self.path) from None
            except BaseException:
                _rollback(conn)
                raise

    @staticmethod
    def _commit(conn: Conn) -> None:
        """The end of every write transaction that commits."""
        crash_point("write.before_commit")
        commit(conn)
        crash_point("write.after_commit")

    def _audit(self, conn: Conn, actor: str, action: str, workflow_id: str | None, details: dict[str, Any],
               ts: datetime | None = None, personal_fields: tuple[str, ...] = ()) -> int:
        """Append the entry; `ts` is the time the caller wrote into the row it changed (one
        timestamp for both, so a replay of the trail gives the row exactly: replay.py). Its
        personal values are sealed first (privacy.py), so the signature and the hash cover the
        sealed form and survive an erasure; `personal_fields`: the request's data fields the
        policy marks personal."""
        if action in REPLAYED:
            details = {**details, **REPLAY_MARK}  # carries all a replay needs (TRAIL10 B)
        now = ts or draws.now()
        self._keys.prepare(conn, actor, action, details)  # a legacy user's first key, in an entry of its own
        size, head = audit_log.checked_head(conn)
        seq = size + 1
        details = privacy.Sealer(conn, iso(now)).seal(seq, action, actor, workflow_id, details, personal_fields)
        record = build_record(seq, head, now, actor, action, workflow_id, details, self.ctx)
        if action in SIGNED_ACTIONS and (sig := self._keys.sign(conn, record)) is not None:
            record["sig"] = sig  # the actor's signature, inside the hashed bytes (signatures.py)
        append_entry(conn, record)
        self._outbox.enqueue(conn, seq, actor, action, workflow_id, details)  # in this transaction
        return seq

    # --- requests ------------------------------------------------------------------------------

    def create_workflow_request(self, workflow_type: str, title: str, description: str, requester: str,
                                data: dict[str, Any] | None = None, *, filing: "Draft | None" = None) -> str:
        """File a request; with `filing` (approvals.Draft: a payload, for approval) the policy's
        fields are read from its payload instead of `data`, and the row and the entry carry it."""
        check_inputs(workflow_type=workflow_type, title=title, description=description, requester=requester,
                     data=data)
        title = check_text(title, "title", TITLE_MAX, single_line=True)
        description = check_text(description or "", "description", DESCRIPTION_MAX, required=False)
        assessed_by = self.policy
        if filing is not None:
            data = filing.fields_for(assessed_by, workflow_type)
        assessment = assessed_by.assess(workflow_type, data)  # bad input: refused before the write lock
        with self._write() as conn:
            user = self._require_user(conn, requester)
            rbac.check_create(user)
            policy = self._policies.current(conn)
            if policy.policy is not assessed_by:  # another process applied a new version meanwhile
                data = data if filing is None else filing.fields_for(policy.policy, workflow_type)
                assessment = policy.policy.assess(workflow_type, data)
            wid = self._new_id(conn)
            when = draws.now()
            now = iso(when)
            filed = {} if filing is None else filing.filed(user, when)  # the row's columns, the entry's members
            filed.update(due.filed(policy.policy, assessment.workflow_type, assessment.risk_level, when))
            req_sql.insert(conn, {
                "id": wid, "workflow_type": assessment.workflow_type, "title": title, "description": description,
                "requester": user.username, "data": data_to_json(assessment.data),
                "risk_level": assessment.risk_level.value, "risk_rank": assessment.risk_level.rank,
                "risk_field": assessment.risk_field, "risk_reason": assessment.risk_reason,
                "headline": str(assessment.data[assessment.risk_field]),
                "chain": req_sql.encode_chain(assessment.chain), "current_stage": 0,
                "status": WorkflowStatus.AWAITING_APPROVAL.value, "stage_rules": stage_rules.encode(assessment.stages),
                **stage_rules.opening(assessment.chain, assessment.stages),  # current_role, awaited
                "revision": 1, "created_at": now, "updated_at": now, "policy_version": policy.version, **filed,
            })
            self._audit(conn, user.username, "created", wid, {
                "workflow_type": assessment.workflow_type, "title": title, "description": description,
                "data": assessment.data, "risk_level": assessment.risk_level.value,
                "risk_field": assessment.risk_field,
                "risk_reason": assessment.risk_reason, "chain": [r.value for r in assessment.chain],
                "status_after": WorkflowStatus.AWAITING_APPROVAL.value, "stage_after": 0, "revision": 1,
                **_assessed_under(policy), **filed, **stage_rules.details(assessment.stages),
            }, ts=when, personal_fields=policy.policy.workflow_type(assessment.workflow_type).personal_fields)
        return wid

    def _new_id(self, conn: Conn) -> str:
        """WF-<unix>-<4 digits>, the seed's shape, unique: random digits, checked inside the
        write transaction; a full second moves on to the next one."""
        second = draws.seconds()
        while True:
            for _ in range(40):
                wid = f"WF-{second}-{draws.randbelow(10_000):04d}"
                if not req_sql.exists(conn, wid):
                    return wid
            taken = req_sql.ids_starting(conn, f"WF-{second}-")
            free = [f"WF-{second}-{n:04d}" for n in range(10_000) if f"WF-{second}-{n:04d}" not in taken]
            if free:
                return draws.choice(free)
            second += 1

    def decide(self, workflow_id: str, username: str, decision: Decision | str, comments: str = "",
               proposal: AgentProposal | None = None, *,
               unlock: Callable[[], str] | None = None, payload: Any = None) -> WorkflowRequest:
        """`username` approves, rejects or requests changes on the request's current stage (the
        words of each decision: decisions.TERMS). A reject or a request for changes needs `comments`.
        Where the policy asks for re-authentication at signing (reauth_at), `unlock()` gives the
        passphrase of the decider's signing key; it is asked before the write lock is taken.
        `payload`: with a request for changes on a request filed for approval, the revision the
        reviewer proposes (the caller must accept it explicitly: approvals.Approvals.resubmit)."""
        decision = decision if isinstance(decision, Decision) else parse_decision(decision)
        if payload is not None and decision is not Decision.REQUEST_CHANGES:
            raise ValidationFailed(f"Only a request for changes proposes a revised payload; to "
                                   f"{TERMS[decision].verb} {str(workflow_id)[:40]}, leave the payload as filed.",
                                   "payload")
        action = TERMS[decision].action
        required, what = TERMS[decision].comment_required, TERMS[decision].comment_name
        check_inputs(workflow_id=workflow_id, **{what: comments,
                     "rejector" if decision is Decision.REJECT else "approver": username})
        comments = check_text(comments or "", what, COMMENT_MAX, required=required,
                               hint="say why, so the requester knows what to do")
        fresh = self._keys.reauth_key(workflow_id, username, unlock)
        with self._write() as conn:
            user = self._require_user(conn, username)
            req = self._load(conn, workflow_id)
            covering = delegation.covering(conn, user.username, draws.now())  # out of office: for whom they decide
            rbac.check_decide(self._policies.current(conn).policy, user, req, action, covering)
            acting = rbac.acting_for(self._policies.current(conn).policy, user, req, covering)
            stage_role = req.current_role
            assert stage_role is not None
            if req.stage_rules:  # a quorum or parallel stage: the role this vote fills, and is it the last one
                stage_role = stage_rules.slot_for(self._policies.current(conn).policy.stage_deciders, req,
                                                  acting.delegator.role if acting else user.role)  # a delegate: theirs
            outcome = transition(action, req.status, req.current_stage, len(req.required_approvers), req.id,
                                 completes=not req.stage_rules or stage_rules.completes(req, stage_role))
            moved = outcome.stage != req.current_stage or outcome.status is not req.status  # not for one vote of several
            when = draws.now()
            check_deadline(req, when)  # fail closed: past its deadline nobody decides it
            proposed = None if payload is None else proposed_revision(req, payload, self._policies.current(conn).policy)
            clock = (due.paused(req, when, self._policies.current(conn).policy)
                     if outcome.status is WorkflowStatus.CHANGES_REQUESTED else {})
            now = iso(when)
            changed = req_sql.update(conn, req.id, req.revision, req.current_stage, req.status.value, {
                "status": outcome.status.value, "current_stage": outcome.stage, "updated_at": now,
                **stage_rules.columns(req, outcome.status, outcome.stage,
                                      stage_role if action is Action.APPROVE else None),  # current_role, awaited
                **({} if proposed is None else {"proposed_payload": proposed.text}), **clock,
                **({} if req.escalated_to is None or not moved else {"escalated_to": None}),  # the stage is decided
                **({} if req.reminded is None or not moved else {"reminded": None}),  # the next stage: reminded afresh
            }, add_decider=user.username)
            if not changed:  # cannot happen under BEGIN IMMEDIATE; kept as the last line of defence
                raise ConcurrentChange(f"{req.id} changed while you were deciding; nothing was written.")
            approval = Approval(stage=req.current_stage, role=stage_role, approver=user.username,
                                approver_role=user.role, decision=decision, decided_at=when,
                                comments=comments, revision=req.revision,
                                proposed_by=proposal.agent if proposal else None,
                                on_behalf_of=acting.delegator.username if acting else None)
            req_sql.insert_approval(conn, req.id, approval, now)
            details: dict[str, Any] = {
                "decision": decision.value, "stage": req.current_stage, "stage_role": stage_role.value,
                "decider_role": user.role.value, "comments": comments, "revision": req.revision,
                "status_before": req.status.value, "status_after": outcome.status.value,
                "stage_after": outcome.stage, "stages": len(req.required_approvers),  # "stage 2 of 3", signed
            }
            if "due_left" in clock:  # the due clock pauses while the requester has it (due.py)
                details["due_left"] = clock["due_left"]
            if proposed is not None:  # signed with the decision: the reviewer proposed exactly this
                details["proposed_payload"] = proposed.text
                details["proposed_payload_sha256"] = proposed.sha256
            if acting is not None:  # signed with the decision: whom it was for, under which delegation
                details.update(on_behalf_of=acting.delegator.username, delegation=acting.delegation.id,
                               delegated_until=acting.delegation.until)
            if proposal:
                details["agent_proposal"] = {"agent": proposal.agent, "decision": proposal.decision.value,
                                             "rationale": proposal.rationale}
            self._keys.arm(req, user.username, fresh)  # the passphrase-unlocked key signs this entry
            self._audit(conn, user.username, TERMS[decision].audit_action, req.id, details, ts=when)
        # what the database now holds, without reading it back
        return req.model_copy(update={
            "status": outcome.status, "current_stage": outcome.stage, "approvals": [*req.approvals, approval],
            "updated_at": approval.decided_at,
        })

    def withdraw_workflow(self, workflow_id: str, requester: str, reason: str = "") -> WorkflowRequest:
        check_inputs(workflow_id=workflow_id, requester=requester, reason=reason)
        reason = check_text(reason or "", "reason", COMMENT_MAX, required=False)
        with self._write() as conn:
            user = self._require_user(conn, requester)
            req = self._load(conn, workflow_id)
            rbac.check_requester_action(user, req, Action.WITHDRAW)
            outcome = transition(Action.WITHDRAW, req.status, req.current_stage, len(req.required_approvers), req.id)
            when = draws.now()
            req_sql.update(conn, req.id, req.revision, req.current_stage, req.status.value, {
                "status": outcome.status.value, "current_role": None, "updated_at": iso(when),
            })
            self._audit(conn, user.username, "withdrawn", req.id, {
                "comments": reason, "status_before": req.status.value, "status_after": outcome.status.value,
                "revision": req.revision, "stage_after": req.current_stage,
            }, ts=when)
            return self._load(conn, req.id)

    def resubmit(self, workflow_id: str, requester: str, *, title: str | None = None,
                 description: str | None = None, data: dict[str, Any] | None = None,
                 comments: str = "", revision: "Revision | None" = None) -> WorkflowRequest:
        """After changes were requested: edit, re-assess the risk, and restart the chain. A request
        filed for approval is resubmitted with a `revision` (approvals.Revision: the payload the
        caller now asks to have approved), never with field values of its own."""
        check_inputs(workflow_id=workflow_id, requester=requester, title=title, description=description, data=data,
                     comments=comments)
        comments = check_text(comments or "", "comments", COMMENT_MAX, required=False)
        with self._write() as conn:
            user = self._require_user(conn, requester)
            req = self._load(conn, workflow_id)
            rbac.check_requester_action(user, req, Action.RESUBMIT)
            revised = check_revision(req, data, revision)
            new_title = check_text(title, "title", TITLE_MAX, single_line=True) if title is not None else req.title
            new_desc = (check_text(description, "description", DESCRIPTION_MAX, required=False)
                        if description is not None else req.description)
            policy = self._policies.current(conn)
            merged = (dict(req.data) if data is None else data) if revision is None \
                else revision.fields_for(policy.policy, req.workflow_type)
            assessment = policy.policy.assess(req.workflow_type, merged)
            outcome = transition(Action.RESUBMIT, req.status, req.current_stage, len(assessment.chain), req.id)
            when = draws.now()
            check_deadline(req, when)  # a revision does not buy more time
            clock = due.restarted(req, when, policy.policy, assessment.risk_level)
            req_sql.update(conn, req.id, req.revision, req.current_stage, req.status.value, {
                "title": new_title, "description": new_desc, "data": data_to_json(assessment.data),
                "risk_level": assessment.risk_level.value, "risk_rank": assessment.risk_level.rank,
                "risk_field": assessment.risk_field, "risk_reason": assessment.risk_reason, "headline": str(assessment.data[assessment.risk_field]),
                "chain": req_sql.encode_chain(assessment.chain), "current_stage": outcome.stage,
                "stage_rules": stage_rules.encode(assessment.stages),
                **stage_rules.opening(assessment.chain, assessment.stages), "status": outcome.status.value,
                "revision": req.revision + 1, "updated_at": iso(when), "deciders": ",",
                "policy_version": policy.version, **revised, "due_at": clock.get("due_at"), "due_left": None,
                "escalated_to": None, "reminded": None,
            })
            self._audit(conn, user.username, "resubmitted", req.id, {
                "comments": comments, "revision": req.revision + 1, "title": new_title, "data": assessment.data,
                "description": new_desc, "risk_field": assessment.risk_field,
                "risk_before": req.risk_level.value, "risk_level": assessment.risk_level.value,
                "risk_reason": assessment.risk_reason, "chain": [r.value for r in assessment.chain],
                "status_before": req.status.value, "status_after": outcome.status.value, "stage_after": 0,
                **_assessed_under(policy), **stage_rules.details(assessment.stages),
                **{k: v for k, v in revised.items() if k in REVISED_COLS}, **clock,
                **({} if revision is None else {"accepted_proposal": revised_accepts(req, revision)}),
            }, ts=when, personal_fields=policy.policy.workflow_type(req.workflow_type).personal_fields)
            return self._load(conn, req.id)

    # --- the policy ----------------------------------------------------------------------------

    def policy_in_force(self) -> StoredPolicy:
        """The policy version in force now (version 0: the built-in default, none applied)."""
        return self._read(self._policies.current)

    def apply_policy(self, text: str, *, source: str = "Direct API",
                     actor: str | None = None) -> tuple[StoredPolicy, str | None]:
        """Make the full policy `text` (TOML, as policy_store.compose_text makes it) the next
        version, as a directory administrator: the version row and its `policy_applied` audit
        entry in one transaction. Returns (version in force, a one-line summary of the changes,
        or None when `text` is already in force and nothing was written)."""
        check_inputs(policy=text, source=source)
        with self._write() as conn:
            actor_name, actor_user = self._actor(conn, actor)
            rbac.check_admin(actor_user, user_sql.has_admin(conn))
            stored, summary = self._policies.apply(conn, text, source, actor_name, self._audit, iso(draws.now()))
        if not _dry_run():  # a version that was rolled back must not govern reads here
            self._policies.adopt(stored)
        return stored, summary

    # --- keys and checkpoints (rotation.py, sealing.py) ---------------------------------------

    def rekey(self, new_key: bytes | None = None, *, actor: str | None = None) -> ResolvedKey | None:
        """Rotate the database key (a random one when `new_key` is None), crash-safe at every
        step, as a directory administrator; returns the new ResolvedKey when a key store holds
        it, else None (the caller keeps the key it gave). See rotation.KeyRotation.rekey."""
        return self._rotation.rekey(new_key, actor=actor)

    def signer(self, create: bool = True) -> Signer | None:
        """This account's signing key for the database (made when `create` and there is none)."""
        return self._sealer.signer(create)

    def checkpoint(self, *, only_if_grown: bool = False) -> Checkpoint | None:
        """Sign (size, head) now and record it in the database; returns it for safe keeping.
        Never signs a head that does not verify (AuditChainBroken): see sealing.Sealer.checkpoint."""
        return self._sealer.checkpoint(only_if_grown=only_if_grown)

    def seal_check(self) -> str | None:
        """For the desk's header: None when this session's head could be sealed now, else the
        refusal line naming the first bad entry (nothing written): see sealing.Sealer.seal_check."""
        return self._sealer.seal_check()

    # --- each person's signing key (key_directory.py, personal_keys.py) -------------------------

    def register_user_key(self, username: str, public_key: str, reason: str, *, actor: str | None = None) -> str:
        """Register `public_key` ("ed25519:<hex>", as `hitl-tui key show` prints it) as the key
        `username` signs with from now on, replacing any older one; as a directory administrator,
        audited and signed. Returns its key id."""
        return self._keys.register_user_key(username, public_key, reason, actor)

    def revoke_user_key(self, username: str, reason: str, *, actor: str | None = None) -> str:
        """Revoke `username`'s registered key (they cannot sign until a new one is registered)."""
        return self._keys.revoke_user_key(username, reason, actor)

    def user_key_ids(self) -> dict[str, str]:
        """username -> the id of the key each person signs with now."""
        from .store import user_keys

        return self._read(user_keys.valid_ids)

    @property
    def personal_keys(self) -> KeyStore:
        """This OS account's store of personal signing keys for this database."""
        return self._keys.store

    def signing_key_locked(self, username: str) -> bool:
        """Does `username`'s signing key here still need its passphrase in this session?"""
        return self._keys.locked(username)

    def use_personal_keys_in(self, directory: Path) -> None:
        """Keep the people's signing keys of this session in `directory` (the demo's own)."""
        self._keys.use_directory(Path(directory))

    def set_key_unlock(self, unlock: Callable[[str], str] | None) -> None:
        """How this session asks for a protected signing key's passphrase: unlock(username)."""
        self._keys.unlock = unlock

    # --- helpers -------------------------------------------------------------------------------

    def _require_user(self, conn: Conn, username: str) -> User:
        user = user_sql.get(conn, username) if isinstance(username, str) else None
        if user is None:
            raise UnknownUser(str(username))
        return user


def append_entry(conn: Conn, record: dict[str, Any]) -> None:
    """The entry `record` (build_record's, signed or not) at the end of the chain."""
    body = canonical_bytes(record)
    digest = chain_hash(bytes.fromhex(record["prev_hash"]), body)
    audit_log.append(conn, record["seq"], record["workflow_id"], body, digest)


def _dry_run() -> bool:
    seam = WRITE_SEAM.get()
    return seam is not None and seam.dry_run


def _assessed_under(policy: StoredPolicy) -> dict[str, Any]:
    """What a created/resubmitted audit entry says about the rules that assessed the request."""
    return {"policy_version": policy.version, "policy_sha256": policy.sha256}
