"""The agents' tools, bound to ONE logged-in human for the whole session.

Identity is a constructor argument, never a tool argument: no tool accepts "as user X". Every
read goes through the service's RBAC-checked reads, and every permission is checked here, inside
the tool, because tframex will run any registered tool by name whatever an agent advertises.

No tool decides anything. `propose_decision` returns a proposal that the session turns into a
DecisionProposal event; only the human's keystroke in the UI (or `y` in `hitl-tui ask`) commits
it. `draft_request` likewise only drafts. Tools run in worker threads (tframex runs sync tools
with asyncio.to_thread), which suits the synchronous, thread-safe service.

Every tool returns a JSON string: {"report": <plain text>, ...} or {"refused": <one line>}.
"""

from __future__ import annotations

import json
import re
import threading
from decimal import Decimal
from typing import Any, Callable

from ..core import rbac
from ..core.reports.flags import gather_flags, session_zone
from ..core.decisions import TERMS, parse_decision
from ..core.errors import HitlError, PermissionDenied, ValidationFailed
from ..core.models import InboxView, WorkflowRequest
from ..core.service import WorkflowService
from ..core.workflow import Action
from . import reports
from .events import ChatEvent, DecisionProposal, DraftRequest, ToolActivity

WORKFLOW_ID = re.compile(r"\bWF-\d+-\d+\b", re.I)
_TITLE_NOISE = {"the", "a", "an", "workflow", "request", "requests", "my", "this", "that", "one", "please"}


class EventSink:
    """Events the tools raise during a turn (tools run in worker threads: hence the lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[ChatEvent] = []

    def emit(self, event: ChatEvent) -> None:
        with self._lock:
            self._events.append(event)

    def drain(self) -> list[ChatEvent]:
        with self._lock:
            events, self._events = self._events, []
        return events


def _json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, default=lambda v: str(v) if isinstance(v, Decimal) else repr(v))


class SessionTools:
    def __init__(self, service: WorkflowService, username: str, sink: EventSink) -> None:
        self._service = service
        self.username = service.get_user(username).username  # unknown users fail here, early
        self._sink = sink
        #: the agent whose turn is running (set by the session), named in the events
        self.agent = ""
        self._proposed_this_turn = False
        #: a comment or reason the human typed in this turn's question: it wins over the model's
        self._typed_comment = ""
        #: the request the human named in this turn's question ("the executive travel workflow")
        self._typed_reference = ""
        #: what the tools reported this turn, for when the model's own answer says nothing
        self.reports: list[str] = []

    @property
    def policy(self):
        return self._service.policy

    def start_turn(self, agent: str, typed_comment: str = "", typed_reference: str = "") -> None:
        self.agent = agent
        self._proposed_this_turn = False
        self._typed_comment = " ".join(typed_comment.split())
        self._typed_reference = " ".join(typed_reference.split())
        self.reports = []

    # --- plumbing ------------------------------------------------------------------------------

    def _run(self, what: Callable[[], tuple[str, dict[str, Any]]], doing: str) -> str:
        """Run a tool body; a refusal (any HitlError) becomes a one-line answer, not a crash."""
        try:
            activity, payload = what()
        except HitlError as exc:
            self._sink.emit(ToolActivity(self.agent, f"refused ({doing[:80]}): {exc}"))
            self.reports.append(f"Refused ({doing[:80]}): {exc}")
            return _json({"refused": str(exc)})
        self._sink.emit(ToolActivity(self.agent, activity))
        if payload.get("report"):
            self.reports.append(str(payload["report"]))
        return _json(payload)

    def _me(self):
        return self._service.get_user(self.username)

    def _tz(self):
        return session_zone(self._service)  # the session's timezone setting

    # --- reads ---------------------------------------------------------------------------------

    def get_workflow_status(self, workflow_id: str) -> str:
        def body():
            req = self._service.get_workflow_for(self.username, _clean_id(workflow_id))
            report = reports.request_report(self.policy, req, decide_note=self._decide_note(req), tz=self._tz())
            return f"looked up {req.id}", {"report": report, "workflow_id": req.id, "status": req.status.value}
        return self._run(body, f"look up {workflow_id}")

    def get_audit_trail(self, workflow_id: str) -> str:
        def body():
            wid = _clean_id(workflow_id)
            entries = self._service.get_audit_trail_for(self.username, wid)
            return f"read the audit trail of {wid} ({_count(len(entries), 'entry', 'entries')})", {
                "report": reports.audit_report(wid, entries, self._tz()), "workflow_id": wid}
        return self._run(body, f"audit trail of {workflow_id}")

    def list_pending_approvals(self, for_user: str | None = None) -> str:
        def body():
            target = (for_user or "").strip()
            if target.lower() in ("", "me", "my", "myself", "i", self.username.lower()):
                target = self.username
            pending = self._service.get_pending_approvals_for(self.username, target)
            who = "You have" if target == self.username else f"{target} has"
            if not pending:
                text = f"{who} no pending approvals." if target != self.username else "Nothing is waiting for you."
            else:
                text = "\n".join([f"{who} {len(pending)} pending approval{'s' if len(pending) != 1 else ''}:",
                                  *(reports.summary_line(self.policy, r) for r in pending)])
            return f"listed {_count(len(pending), 'pending approval')} for {target}", {
                "report": text, "workflow_ids": [r.id for r in pending]}
        return self._run(body, "pending approvals")

    def list_requests(self, view: str = "mine", search: str | None = None) -> str:
        def body():
            try:
                chosen = InboxView((view or "mine").strip().lower())
            except ValueError:
                raise ValidationFailed(f"Unknown view {view!r}; choose one of: "
                                       f"{', '.join(v.value for v in InboxView)}.", "view") from None
            rows = self._service.list_requests(self.username, chosen, search=search or None, limit=50)
            head = f"{len(rows)} request{'s' if len(rows) != 1 else ''} in view {chosen.value}" + \
                   (f" matching {quoted_plain(search)}" if search else "") + (":" if rows else ".")
            return f"listed {_count(len(rows), 'request')} ({chosen.value})", {
                "report": "\n".join([head, *(reports.summary_line(self.policy, r) for r in rows)]),
                "workflow_ids": [r.id for r in rows]}
        return self._run(body, "list requests")

    def list_workflow_types(self) -> str:
        def body():
            lines = ["Workflow types (fields marked * are required):"]
            for wtype in self.policy.types.values():
                fields = ", ".join(f"{f.name}{'*' if f.required else ''} ({f.kind}"
                                   f"{': ' + '/'.join(f.choices) if f.choices else ''})" for f in wtype.fields)
                chains = "; ".join(f"{lvl.value}: {' -> '.join(r.label for r in roles)}"
                                   for lvl, roles in wtype.chains.items())
                lines.append(f"- {wtype.key} ({wtype.name}): {fields}. Risk from {wtype.risk.field}. Chains: {chains}")
            return "listed the workflow types", {"report": "\n".join(lines)}
        return self._run(body, "workflow types")

    def _decide_note(self, req: WorkflowRequest) -> str:
        try:
            rbac.check_decide(self.policy, self._me(), req, Action.APPROVE)
        except HitlError as exc:
            return f"{self.username} cannot decide it now: {exc}"
        return f"{self.username} may decide the current stage (only as their own decision, confirmed by them)."

    # --- drafting ------------------------------------------------------------------------------

    def draft_request(self, workflow_type: str, title: str | None = None, description: str | None = None,
                      fields: dict[str, Any] | None = None, **loose_fields: Any) -> str:
        def body():
            wtype = self.policy.workflow_type(workflow_type)
            given = {**_as_dict(fields), **loose_fields}  # models often flatten, or send the object as text
            given = {k: _unwrapped(v) for k, v in given.items()}  # {"amount": {"value": "15000"}}: the value
            clean, problems = {}, []
            for name, value in given.items():
                if value is None or (isinstance(value, str) and not value.strip()):
                    continue
                try:
                    clean[name] = wtype.field(name).parse(value)
                except KeyError:
                    problems.append(f"{name} is not a field of {wtype.key}")
                except ValidationFailed as exc:
                    problems.append(str(exc))
            missing = [f.name for f in wtype.fields if f.required and f.name not in clean]
            title_text = " ".join(str(title or "").split())
            if not title_text:
                missing.insert(0, "title")
            desc = str(description or "").strip()
            lines = [f"Draft {wtype.name.lower()} request (not filed): title {reports.quoted(title_text or '?', 200)}"]
            if clean:
                lines.append("Details: " + "; ".join(
                    f"{k} {reports.value_text(self.policy, wtype.key, k, v)}" for k, v in clean.items()))
            payload: dict[str, Any] = {"workflow_type": wtype.key, "missing": missing, "problems": problems}
            if not missing and not problems:
                a = self.policy.assess(wtype.key, clean)
                chain = " -> ".join(r.label for r in a.chain)
                lines.append(f"Risk: {a.risk_level.value} ({a.risk_reason}); approval chain: {chain}.")
                payload.update(risk_level=a.risk_level.value, chain=[r.value for r in a.chain])
                clean = a.data
            for p in problems:
                lines.append(f"Problem: {p}")
            if missing:
                lines.append("Still needed: " + "; ".join(_field_help(wtype, m) for m in missing))
            if not desc:
                lines.append("No business justification yet: approvers and compliance will ask for one.")
            lines.append("Nothing is filed until you submit it yourself.")
            self._sink.emit(DraftRequest(self.agent, wtype.key, title_text, desc, dict(clean), tuple(missing)))
            payload["report"] = "\n".join(lines)
            return f"drafted {_a(wtype.name.lower())} request", payload
        return self._run(body, "draft a request")

    # --- proposals -----------------------------------------------------------------------------

    def propose_decision(self, workflow: str, decision: str, rationale: str | None = None,
                         comments: str | None = None) -> str:
        def body():
            chosen = parse_decision(decision)  # the vocabulary's words and synonyms (core/decisions.py)
            if self._proposed_this_turn:
                raise PermissionDenied("One decision per turn: the first proposal is waiting for the human; "
                                       "ask again for the next one.")
            req = self._resolve(workflow)
            rbac.check_decide(self.policy, self._me(), req, TERMS[chosen].action)  # only what the human could do
            why = " ".join(str(rationale or "").split()) or (
                f"{req.risk_level.value} risk ({req.risk_reason}); stage {req.current_stage + 1} "
                f"({req.current_role.label if req.current_role else '?'}) is {self.username}'s to decide.")
            # the human's own words, when they typed a comment in the question, over the model's
            note = self._typed_comment or " ".join(str(comments or "").split())
            self._proposed_this_turn = True
            self._sink.emit(DecisionProposal(self.agent, req.id, chosen, why, note,
                                             comment_typed=bool(self._typed_comment)))
            verb = TERMS[chosen].verb
            lines = [f"Proposal (NOT decided): {verb} {req.id} {reports.quoted(req.title, 120)} at stage "
                     f"{req.current_stage + 1} ({req.current_role.label if req.current_role else '?'}).",
                     f"Rationale: {why}"]
            if note:
                lines.append(f"Comments for the requester: {reports.quoted(note, 300)}")
            elif TERMS[chosen].comment_required:
                lines.append("A reason for the requester is required; it will be asked for at confirmation.")
            lines.append(f"Risk: {req.risk_level.value} ({req.risk_reason}); chain: {reports.chain_text(req)}.")
            lines.append(f"Nothing has been decided: {self.username} must confirm it.")
            return f"proposed to {verb} {req.id} (awaiting your confirmation)", {
                "report": "\n".join(lines), "workflow_id": req.id, "decision": chosen.value, "proposed": True}
        return self._run(body, f"propose {decision} for {workflow}")

    def _resolve(self, ref: str) -> WorkflowRequest:
        """The request a proposal is for: the one the human named in their question when their
        words name exactly one (small models invent ids such as "WF-1234" instead of looking the
        request up), else the model's reference, a WF- id or words of a title."""
        if self._typed_reference and self._typed_reference != str(ref or "").strip():
            try:
                return self._resolve_reference(self._typed_reference)
            except HitlError:
                pass  # "approve it": the human's words name nothing; the model's reference may
        return self._resolve_reference(ref)

    def _resolve_reference(self, ref: str) -> WorkflowRequest:
        """A workflow id, or words of a title among the user's own pending approvals."""
        text = str(ref or "").strip()
        found = WORKFLOW_ID.search(text)
        if found:
            return self._service.get_workflow_for(self.username, found.group(0).upper())
        words = [w for w in re.findall(r"[\w.$,-]+", text.lower()) if w not in _TITLE_NOISE]
        if not words:
            raise ValidationFailed("Which request? Give its WF- id or words from its title.", "workflow")
        pending = self._service.get_pending_approvals(self.username)
        matches = [r for r in pending if all(w in r.title.lower() for w in words)]
        if len(matches) == 1:
            return matches[0]
        if not matches:  # the queue itself, so the model can try again with a real id
            queue = "; ".join(f"{r.id} {reports.quoted(r.title, 60)}" for r in pending[:5]) or "none"
            raise ValidationFailed(f"None of your pending approvals has {quoted_plain(' '.join(words))} in its title; "
                                   f"give its WF- id (your pending approvals: {queue}).", "workflow")
        listed = ", ".join(f"{r.id} {reports.quoted(r.title, 60)}" for r in matches[:5])
        raise ValidationFailed(f"Several pending approvals match ({listed}); which one? Give its WF- id.", "workflow")

    # --- compliance ----------------------------------------------------------------------------

    def check_compliance(self, workflow_id: str) -> str:
        def body():
            req = self._service.get_workflow_for(self.username, _clean_id(workflow_id))
            found = gather_flags(self._service, self.username, req)  # the desk's and the exports' list
            flags = found.flags
            return f"checked {req.id} for compliance: {len(flags)} flag{'s' if len(flags) != 1 else ''}", {
                "report": reports.flags_report(req.id, flags, found.related), "workflow_id": req.id,
                "flags": found.as_json()}
        return self._run(body, f"compliance check of {workflow_id}")


def _unwrapped(value: Any) -> Any:
    """A field a model sent as {"value": x} (with at most a unit beside it): x."""
    if isinstance(value, dict) and "value" in value and set(value) <= {"value", "currency", "unit"}:
        return value["value"]
    return value


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def _clean_id(workflow_id: str) -> str:
    found = WORKFLOW_ID.search(str(workflow_id or ""))
    if not found:
        raise ValidationFailed(f"{str(workflow_id)!r} is not a workflow id (they look like WF-1704462345-7892).",
                               "workflow_id")
    return found.group(0).upper()


def _field_help(wtype, name: str) -> str:
    if name == "title":
        return "title (a short name for the request)"
    spec = wtype.field(name)
    extra = spec.help or (f"one of {', '.join(spec.choices)}" if spec.choices else spec.kind)
    return f"{name} ({extra})"


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _a(words: str) -> str:
    return ("an " if words[:1].lower() in "aeiou" else "a ") + words


def quoted_plain(text: str | None) -> str:
    return reports.quoted(text or "", 80)


__all__ = ["EventSink", "SessionTools", "WORKFLOW_ID"]
