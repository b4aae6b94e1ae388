"""The tables are a replay of the trail: replaying the audit entries in order must give exactly
the requests, approvals and users tables (issue 10, section 1; the entries' content is contract B
of the trail's formats). verify_audit runs compare() once the chain verifies.

Streaming: entries are read in sequence order, in batches. Only requests still open are held (a
list of column values each); a request that reaches a final status, and every decision's
approvals row, is reduced at once to a 16-byte digest in a temporary table of the verifying
connection (in memory, never an unencrypted file). Each table is then read once beside those
digests. Where one differs, that request alone is replayed again from its own entries, to name
the first column that differs, in words (replay_words.py).

Entries from before every entry carried its replay details (details without "replay": 1) are
replayed for what they carry: their timestamps, and any field they lack, stay unknown and are
not compared; they are counted, and never reported as tampering.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Iterable

from .approvals import FILING_COLS, REVISED_COLS
from .hydrate import data_to_json
from .models import RiskLevel, VerifyResult, WorkflowStatus
from . import stage_rules
from .privacy import has_seals
from .unsealing import ERASURE_FLOW, Unsealer
from .store import audit_log
from .store import replay as sql
from .store.connection import Conn
from .store.replay import REQUEST_COLS
from .tokens import ACTIONS as TOKEN_ACTIONS, TokenReplay
from .delegation import ACTIONS as DELEGATION_ACTIONS, DelegationReplay
from .assignment import ACTIONS as ASSIGNMENT_ACTIONS, AssignmentReplay

#: the details key of an entry that carries everything a replay needs, and its version
MARK = "replay"
MARKED: dict[str, Any] = {MARK: 1}

DECISIONS = frozenset({"approved", "rejected", "changes_requested"})
#: the actions that end a request without a decision: its requester withdrew it, its deadline passed
CLOSINGS = frozenset({"withdrawn", "expired"})
#: an overdue stage given to a more senior role too (core/overdue.py)
ESCALATIONS = frozenset({"escalated", "reminded"})
REQUEST_ACTIONS = DECISIONS | CLOSINGS | ESCALATIONS | {"created", "resubmitted"}
USER_CHANGES = frozenset({"user_role_changed", "user_deactivated", "user_reactivated", "user_admin_changed"})
#: the actions whose entries carry a replay's details: the service marks them (_audit)
REPLAYED = REQUEST_ACTIONS | USER_CHANGES | {"user_added"}
FINAL = frozenset(s.value for s in WorkflowStatus if s.is_final)
#: what a request filed for approval carries: its `created` entry's members of these names
FILED = FILING_COLS
#: what a resubmission of a request filed for approval carries of its filing (approvals.REVISED_COLS)
REVISED = REVISED_COLS
AWAITING = WorkflowStatus.AWAITING_APPROVAL.value
FLUSH = 5_000


class _Unknown:
    """A value the trail does not say (an entry from before the replay details)."""

    def __repr__(self) -> str:
        return "unknown"


UNKNOWN: Any = _Unknown()
R = {name: i for i, name in enumerate(REQUEST_COLS)}
SEQ = len(REQUEST_COLS)  # a request state's slot after its columns: the seq of its created entry
#: then the stage roles the current stage's approvals filled (quorum, parallel: stage_rules.py),
#: and the first entry that moved a stage against its rule: (seq, words), or None
VOTES, MISCOUNT = SEQ + 1, SEQ + 2
_RANK = {level.value: level.rank for level in RiskLevel}


@dataclass
class Replay:
    """What compare() found: the first difference (None when the tables match the trail)."""

    entries: int = 0
    legacy: int = 0
    problem: str | None = None
    seq: int | None = None
    extras: dict[str, int] = field(default_factory=dict)

    def merged(self, result: VerifyResult) -> VerifyResult:
        return result.model_copy(update={
            "ok": result.ok and self.problem is None, "tables_checked": True, "tables_problem": self.problem,
            "replayed_entries": self.entries, "legacy_entries": self.legacy,
        })


def merged(result: VerifyResult, replay: "Replay | None") -> VerifyResult:
    """The chain's result with the replay's (None: not replayed, because the chain is broken)."""
    return result if replay is None else replay.merged(result)


def digest(values: Iterable[Any]) -> tuple[int, bytes]:
    """(mask of the known values, their digest): the same function reads a table's row."""
    mask, shown = 0, []
    for i, v in enumerate(values):
        if v is not UNKNOWN:
            mask |= 1 << i
            shown.append(v)
    return mask, _hash(shown)


def row_digest(mask: int, row: Iterable[Any]) -> bytes:
    return _hash([v for i, v in enumerate(row) if mask >> i & 1])


def _hash(shown: list[Any]) -> bytes:
    return hashlib.blake2b(repr(shown).encode("utf-8", "surrogatepass"), digest_size=16).digest()


# --- one entry's effect ------------------------------------------------------------------------

#: a decision's approvals row as step() gives it: (revision, stage, values in APPROVAL_COLS order),
#: revision and stage as the entry states them (the callers keep only int ones)
StepApproval = tuple[Any, Any, tuple[Any, ...]]


def new_request(seq: int) -> list[Any]:
    state = [UNKNOWN] * (SEQ + 1) + [[], None]
    state[SEQ] = seq
    return state


def step(state: list[Any], rec: dict[str, Any], marked: bool) -> StepApproval | None:
    """Apply one request entry to its row's state; a decision returns its approvals row as
    (revision, stage, values in APPROVAL_COLS order)."""
    action, d, actor = rec["action"], rec.get("details") or {}, rec.get("actor")
    ts = rec.get("ts") if marked else UNKNOWN
    if action in ("created", "resubmitted"):
        _assessed(state, d)
        state[R["status"]] = d.get("status_after", AWAITING)
        state[R["current_stage"]] = d.get("stage_after", 0)
        state[R["deciders"]] = ","
        state[R["updated_at"]] = ts
        state[R["proposed_payload"]] = None  # filed or resubmitted: nothing proposed any more
        state[R["due_at"]], state[R["due_left"]] = d.get("due_at"), None  # due from now (core/due.py), or never
        state[R["escalated_to"]] = state[R["reminded"]] = None
        state[R["stage_rules"]], state[VOTES] = stage_rules.text_of(d.get("stage_rules")), []
        if action == "created":
            state[R["workflow_type"]] = d.get("workflow_type", UNKNOWN)
            state[R["requester"]] = actor
            state[R["revision"]] = d.get("revision", 1)  # a request is filed as revision 1
            state[R["created_at"]] = ts
            for key in FILED:  # absent from a request filed without a payload: NULL in the row
                state[R[key]] = d.get(key)
        else:
            state[R["revision"]] = d.get("revision", UNKNOWN)
            for key in REVISED:  # a resubmission of a payload request sends its (new) payload
                if key in d:
                    state[R[key]] = d[key]
        _current_role(state)
        return None
    if action in ESCALATIONS:  # the row's only change: who else may decide the overdue stage, or who was told
        if action == "escalated":
            state[R["escalated_to"]] = d.get("escalated_to", UNKNOWN)
        else:
            state[R["reminded"]] = d.get("kind", UNKNOWN)
        return None
    if action in CLOSINGS:
        state[R["status"]] = d.get("status_after", action)
        state[R["current_stage"]] = d.get("stage_after", state[R["current_stage"]])
        state[R["current_role"]] = None
        state[R["updated_at"]] = ts
        return None
    # a decision
    before = state[R["status"]], state[R["current_stage"]]
    if action == "approved" and isinstance(state[R["stage_rules"]], str):
        _count(state, rec, d)  # a quorum or parallel stage moves on with its last vote only
    state[R["status"]] = d.get("status_after", UNKNOWN)
    state[R["current_stage"]] = d.get("stage_after", UNKNOWN)
    deciders = state[R["deciders"]]
    state[R["deciders"]] = UNKNOWN if deciders is UNKNOWN else f"{deciders}{actor},"
    if before != (state[R["status"]], state[R["current_stage"]]):  # the stage is decided: the next starts afresh
        state[R["escalated_to"]] = state[R["reminded"]] = None
        state[VOTES] = []
    state[R["updated_at"]] = ts
    _current_role(state)
    if action == "changes_requested":  # the reviewer's proposed revision, or none
        state[R["proposed_payload"]] = d.get("proposed_payload")
        if "due_left" in d:  # the due clock pauses while the requester has it
            state[R["due_at"]], state[R["due_left"]] = None, d["due_left"]
    proposal = d.get("agent_proposal")
    values = (d.get("stage_role", UNKNOWN), actor, d.get("decider_role", UNKNOWN), d.get("decision", UNKNOWN), ts,
              d.get("comments", UNKNOWN), proposal.get("agent") if isinstance(proposal, dict) else None,
              d.get("on_behalf_of"))  # decided for a delegator (core/delegation.py), or null
    return d.get("revision", state[R["revision"]]), d.get("stage"), values


def _assessed(state: list[Any], d: dict[str, Any]) -> None:
    """What a create or a resubmission assessed: the fields an older entry lacks become unknown."""
    for key in ("title", "description", "risk_level", "risk_field", "risk_reason", "policy_version"):
        state[R[key]] = d.get(key, UNKNOWN)
    level = d.get("risk_level")  # an edited entry may hold anything here, even an unhashable list
    state[R["risk_rank"]] = _RANK.get(level, UNKNOWN) if isinstance(level, str) else UNKNOWN
    data, risk_field = d.get("data"), d.get("risk_field")
    state[R["data"]] = data_to_json(data) if isinstance(data, dict) else UNKNOWN
    state[R["headline"]] = (str(data[risk_field]) if isinstance(data, dict) and isinstance(risk_field, str)
                            and risk_field in data else UNKNOWN)
    chain = d.get("chain")
    state[R["chain"]] = "," + ",".join(chain) + "," if isinstance(chain, list) else UNKNOWN


def _current_role(state: list[Any]) -> None:
    status, stage, chain = state[R["status"]], state[R["current_stage"]], state[R["chain"]]
    state[R["awaited"]] = UNKNOWN if status is UNKNOWN else None
    if status is UNKNOWN:
        state[R["current_role"]] = UNKNOWN
    elif status != AWAITING:
        state[R["current_role"]] = None
    else:
        roles = chain.strip(",").split(",") if isinstance(chain, str) else []
        ok = isinstance(stage, int) and 0 <= stage < len(roles)
        state[R["current_role"]] = roles[stage] if ok else UNKNOWN
        rules = state[R["stage_rules"]]
        cols = stage_rules.replayed(rules, stage, state[VOTES]) if ok and isinstance(rules, str) else None
        if cols is not None:  # a parallel stage: the first role it still awaits, and all of them
            state[R["current_role"]], state[R["awaited"]] = cols


def _count(state: list[Any], rec: dict[str, Any], d: dict[str, Any]) -> None:
    """Count an approval at a stage with rules: the chain moves on with the vote that completes
    the stage, never before nor after. The first entry against that is kept (MISCOUNT)."""
    stage, status = state[R["current_stage"]], state[R["status"]]
    if not isinstance(stage, int) or status != AWAITING:
        return
    state[VOTES] = [*state[VOTES], d.get("stage_role")]
    counted = stage_rules.complete_after(state[R["stage_rules"]], stage, state[VOTES])
    after = d.get("stage_after")
    if counted is None or after is None or state[MISCOUNT] is not None:
        return
    done, needed = counted
    if (after == stage + 1) != done or after not in (stage, stage + 1):
        got = len(state[VOTES])
        how = (f"advances past stage {stage + 1} with {got} of the {needed} approvals it needs" if not done
               else f"keeps stage {stage + 1} waiting after the approval that completes it ({got} of {needed})")
        state[MISCOUNT] = (rec.get("seq"), f"entry {rec.get('seq')} {how} on {rec.get('workflow_id')} "
                                           f"(its approval chain's rule)")


def user_step(users: dict[str, list[Any]], rec: dict[str, Any], seq: int, marked: bool) -> None:
    """users: username -> values in USER_COLS order, then the seq of its user_added entry."""
    d = rec.get("details") or {}
    name = d.get("username")
    if not isinstance(name, str):
        return
    ts = rec.get("ts") if marked else UNKNOWN
    if rec["action"] == "user_added":
        admin = d.get("admin", UNKNOWN)
        users[name] = [d.get("role", UNKNOWN), d.get("email", UNKNOWN), d.get("display_name", UNKNOWN), 1,
                       UNKNOWN if admin is UNKNOWN else int(bool(admin)), ts, ts,
                       int(bool(d.get("integration", False))), d.get("owner"), seq]
        return
    user = users.get(name)
    if user is None:
        return  # a change to someone the trail never added: the table's row is reported as extra
    if rec["action"] in USER_CHANGES:
        for key, value in (d.get("after") or {}).items():
            if key in ("role", "email", "display_name"):
                user[sql.USER_COLS.index(key)] = value
            elif key in ("active", "admin"):
                user[sql.USER_COLS.index(key)] = int(bool(value))
        user[sql.USER_COLS.index("updated_at")] = ts
    else:  # another user_* entry (keys...) may touch the row's updated_at: not compared after it
        user[sql.USER_COLS.index("updated_at")] = UNKNOWN


def is_marked(rec: dict[str, Any]) -> bool:
    d = rec.get("details")
    return isinstance(d, dict) and d.get(MARK) == 1


# --- the whole trail ---------------------------------------------------------------------------

class Replayer:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.unsealer = Unsealer(conn)
        self.live: dict[str, list[Any]] = {}
        self.users: dict[str, list[Any]] = {}
        self.requests_out: list[tuple[str, int, int, bytes]] = []  # what sql.put_requests takes
        self.approvals_out: list[tuple[str, int, int, str, int, int, bytes]] = []  # and sql.put_approvals
        self.revisit: set[str] = set()
        self.out: Replay = Replay()
        self.twice: list[tuple[str, int, int]] = []
        #: (seq, words) of each entry that moved a quorum or parallel stage against its rule
        self.miscounted: list[tuple[int, str]] = []
        #: the api_tokens rows the token entries make (tokens.py)
        self.tokens = TokenReplay()
        #: the delegations rows, and the delegated decisions checked against them (delegation.py)
        self.delegations = DelegationReplay()
        #: the assignments rows, and who may reassign whom (assignment.py)
        self.assignments = AssignmentReplay()

    def feed(self, rows: Iterable[tuple[Any, ...]]) -> None:
        loads, live, out = json.loads, self.live, self.out
        rows = list(rows)
        recs = [loads(row[1]) for row in rows]
        self.unsealer.load((row[0], rec) for row, rec in zip(rows, recs) if has_seals(row[1]))
        for row, rec in zip(rows, recs):
            if has_seals(row[1]):
                self.unsealer.open(row[0], rec)
            action = rec.get("action")
            if action in ERASURE_FLOW:
                self.unsealer.erasure(row[0], rec)
            if action in REQUEST_ACTIONS:
                wid, marked = rec.get("workflow_id"), is_marked(rec)
                out.entries += 1
                out.legacy += not marked
                state = live.get(wid)
                if state is None:
                    if action != "created":
                        self.revisit.add(wid)  # a change after its final status (or never created)
                        approval = step(new_request(row[0]), rec, marked)
                        if approval is not None:
                            self._approval(wid, row[0], approval, False)
                        continue
                    state = live[wid] = new_request(row[0])
                elif action == "created":
                    self.revisit.add(wid)  # filed twice
                if action in DECISIONS:  # made for a delegator: the delegation must have run then
                    self.delegations.claim(row[0], rec, state[R["workflow_type"]])
                approval = step(state, rec, marked)
                if approval is not None:  # a stage of several votes has a row per voter
                    self._approval(wid, row[0], approval, isinstance(state[R["stage_rules"]], str))
                if state[R["status"]] in FINAL:
                    self._done(wid, live.pop(wid))
            elif isinstance(action, str) and action.startswith("user_"):
                marked = is_marked(rec)
                out.entries += 1
                out.legacy += not marked
                user_step(self.users, rec, row[0], marked)
            elif action in TOKEN_ACTIONS:  # the api_tokens table (compared last, in result())
                self.tokens.step(row[0], rec)
            elif action in DELEGATION_ACTIONS:  # the delegations table, and who may grant one
                self.delegations.step(row[0], rec, self.users)
            elif action in ASSIGNMENT_ACTIONS:  # the assignments table, and who may reassign whom
                state = live.get(rec.get("workflow_id"))
                self.assignments.step(row[0], rec, self.users, None if state is None else {
                    key: state[R[key]] for key in ("status", "current_stage", "revision", "requester", "deciders")})
        if len(self.requests_out) + len(self.approvals_out) > FLUSH:
            self._flush()

    def _approval(self, wid: str, seq: int, approval: StepApproval, by_voter: bool) -> None:
        revision, stage, values = approval
        if isinstance(revision, int) and isinstance(stage, int):  # by_voter: a stage with rules, a row per voter
            self.approvals_out.append((wid, revision, stage, _voter(values) if by_voter else "", seq, *digest(values)))

    def _done(self, wid: str, state: list[Any]) -> None:
        self.requests_out.append((wid, state[SEQ], *digest(state[:SEQ])))
        if state[MISCOUNT] is not None:  # a stage moved against its rule (quorum, parallel)
            self.miscounted.append(state[MISCOUNT])

    def _flush(self) -> None:
        sql.put_requests(self.conn, self.requests_out)
        self.twice.extend(sql.put_approvals(self.conn, self.approvals_out))
        self.requests_out, self.approvals_out = [], []

    def finish(self) -> None:
        for wid, state in self.live.items():
            self._done(wid, state)
        self.live = {}
        self._flush()
        for wid in sorted(self.revisit):  # the rare request whose entries break the usual order
            replayed, _ = replay_one(self.conn, wid)
            if replayed is not None:
                self._done(wid, replayed)
        self._flush()


def _voter(values: tuple[Any, ...]) -> str:
    """Who an approvals row's values say decided (APPROVAL_COLS' approver): a key of the row."""
    return values[1] if isinstance(values[1], str) else ""


def replay_one(conn: Conn, wid: str) -> tuple[list[Any] | None,
                                              dict[tuple[int, int, str], tuple[int, tuple[Any, ...]]]]:
    """One request replayed from its own entries: (its row's state, {(revision, stage, approver):
    (seq, approvals values)}). The index column is safe to use: the chain check compared it with the
    hashed bytes of every entry."""
    state: list[Any] | None = None
    approvals: dict[tuple[int, int, str], tuple[int, tuple[Any, ...]]] = {}
    unsealer = Unsealer(conn)
    rows = [(seq, body, json.loads(body)) for seq, body, _ in audit_log.rows_for_workflow(conn, wid)]
    unsealer.load((seq, rec) for seq, body, rec in rows if has_seals(body))
    for seq, body, rec in rows:
        if has_seals(body):
            unsealer.open(seq, rec)
        if rec.get("action") not in REQUEST_ACTIONS:
            continue
        if state is None or rec["action"] == "created" and state[SEQ] is UNKNOWN:
            state = new_request(seq)
        approval = step(state, rec, is_marked(rec))
        if approval is not None and isinstance(approval[0], int) and isinstance(approval[1], int):
            approvals[(approval[0], approval[1], _voter(approval[2]))] = (seq, approval[2])
    return state, approvals


class Comparison:
    """compare() fed batch by batch: verify_audit hands it the rows it already reads for the
    chain, so the trail is read once and the replay runs in this process while the signature
    workers verify (at 1M entries it was a fifth of the time, run after them). Call result()
    once every entry was fed, or abandon()."""

    def __init__(self, conn: Conn) -> None:
        self.replayer = Replayer(conn)
        sql.begin(conn)

    def feed(self, rows: Iterable[tuple[Any, ...]]) -> None:
        self.replayer.feed(rows)

    def result(self) -> Replay:
        from . import replay_words as words

        try:
            self.replayer.finish()
            out = self.replayer.out
            found = (self.replayer.unsealer.first_problem() or self.replayer.delegations.problem  # a broken rule first
                     or self.replayer.assignments.problem
                     or words.first_difference(self.replayer.conn, self.replayer)
                     or self.replayer.tokens.first_difference(self.replayer.conn)
                     or self.replayer.delegations.first_difference(self.replayer.conn)
                     or self.replayer.assignments.first_difference(self.replayer.conn))
            if found is not None:
                out.seq, out.problem = found
            return out
        finally:
            self.abandon()

    def abandon(self) -> None:
        sql.end(self.replayer.conn)


def compare(conn: Conn) -> Replay:
    """Replay the whole trail (inside the caller's read snapshot) and compare it with the tables."""
    comparison = Comparison(conn)
    try:
        for batch in audit_log.iter_rows(conn):
            comparison.feed(batch)
    except BaseException:
        comparison.abandon()
        raise
    return comparison.result()

