"""The offline assistant's understanding: one user message -> one tool call (or a direct reply).

Pure and deterministic. It reads ONLY the user's own message, never tool results or request
text, so words inside a request can never steer it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ...core.policy import FieldSpec, Policy, WorkflowType

HELP = """I am the offline assistant: no language model is configured (set HITL_LLM_BASE_URL and \
HITL_LLM_MODEL to use one), so I understand a fixed set of commands:
- create an expense approval request for $5,000 travel costs for the Q4 conference
- create an infrastructure change request for database migration with high impact
- show me my pending approvals / show me pending approvals for sarah.manager
- approve workflow WF-... with comment '...' (also: reject WF-... because ..., request changes on WF-...)
- approve the executive travel workflow (by title, among your pending approvals)
- check the status of workflow WF-...
- show me the complete audit trail for workflow WF-...
- check WF-... for compliance
- show my requests / list workflow types
Decisions are only proposed: you confirm each one yourself."""

OFFLINE_RATIONALE = "Asked for in the chat; the offline assistant does not weigh requests itself."

_WF = re.compile(r"\bWF-\d+-\d+\b", re.I)
_HELP = re.compile(r"^\s*(?:help|\?+|hi|hello|hey|commands|what can you do|who are you)\b", re.I)
_DECIDE = re.compile(
    r"^\s*(?:please\s+)?(?P<verb>approve|reject|decline|deny|request\s+changes(?:\s+(?:on|to|for))?|send\s+back)\b"
    r"(?P<rest>.*)$", re.I | re.S)
_COMMENT = re.compile(
    r"(?:\bwith\s+(?:the\s+|a\s+)?(?:comments?|note|reason)\b|\bcomments?\b|\bbecause\b|\breason\b|\bsaying\b)"
    r"\s*[:=-]?\s*(?P<text>.+)$", re.I | re.S)
_AFTER_ID = re.compile(r"(?P<id>\bWF-\d+-\d+)\s*(?::|\s-|\u2013)\s*(?P<text>.+)$", re.I | re.S)
_QUOTED = re.compile(r"""['"\u2018\u201c](?P<text>.+?)['"\u2019\u201d]""", re.S)
_PENDING = re.compile(r"\b(?:pending|awaiting|waiting\s+for|inbox|queue)\b", re.I)
_FOR_USER = re.compile(
    r"\b(?:for|of)\s+(?!me\b|my\b|myself\b|us\b|approval)(?P<user>[A-Za-z0-9][\w.@-]*[A-Za-z0-9])", re.I)
_POSSESSIVE = re.compile(r"(?P<user>[A-Za-z0-9][\w.@-]*[A-Za-z0-9])'s\s+(?:pending|queue|inbox|approvals)", re.I)
_COMPLIANCE = re.compile(r"\b(?:complian\w*|flags?|segregation|split\s+purchases?|sod)\b", re.I)
_AUDIT = re.compile(r"\b(?:audit|trail|history)\b", re.I)
_CREATE = re.compile(r"\b(?:create|draft|new|file|submit|raise|open|start|make)\b", re.I)
_MY_REQUESTS = re.compile(r"\b(?:my\s+requests|requests\s+i\s+(?:filed|made|created|submitted))\b", re.I)
_ALL_REQUESTS = re.compile(r"\b(?:all|list|show)\s+(?:the\s+)?requests\b", re.I)
_TYPES = re.compile(r"\b(?:workflow|request)\s+types\b|\bwhat\s+(?:types|kinds)\b|\bkinds\s+of\s+requests?\b", re.I)
_MONEY = re.compile(
    r"(?:\$|\busd\s*)\s?(?P<a>\d[\d,]*(?:\.\d{1,2})?)\s?(?P<ak>[km])?\b"
    r"|\b(?P<b>\d[\d,]*(?:\.\d{1,2})?)\s?(?P<bk>[km])?\s?(?:usd|dollars)\b", re.I)
_TITLE_END = re.compile(r"\s+(?:including|with|because|so\s+that|which)\b|[,;.(]", re.I)


@dataclass(frozen=True)
class Plan:
    """Either a tool to call with its arguments, or a reply to give straight away."""

    tool: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    reply: str | None = None


def plan(text: str, policy: Policy) -> Plan:
    text = " ".join(str(text).split())
    if not text or _HELP.search(text):
        return Plan(reply=HELP)
    wid = _WF.search(text)
    wid_text = wid.group(0).upper() if wid else None
    decided = _DECIDE.match(text)
    if decided:
        return _decision(decided.group("verb"), decided.group("rest"))
    if _CREATE.search(text) and re.search(r"\brequest\b", text, re.I) and not wid_text:
        return _draft(text, policy)
    if _COMPLIANCE.search(text):
        return Plan("check_compliance", {"workflow_id": wid_text}) if wid_text else \
            Plan(reply="Which request should I check? For example: check WF-1704462345-7892 for compliance.")
    if _PENDING.search(text):
        return Plan("list_pending_approvals", {"for_user": _named_user(text)} if _named_user(text) else {})
    if _AUDIT.search(text) and wid_text:
        return Plan("get_audit_trail", {"workflow_id": wid_text})
    if wid_text:
        return Plan("get_workflow_status", {"workflow_id": wid_text})
    if _TYPES.search(text):
        return Plan("list_workflow_types", {})
    if _MY_REQUESTS.search(text):
        return Plan("list_requests", {"view": "mine"})
    if _ALL_REQUESTS.search(text):
        return Plan("list_requests", {"view": "visible"})
    return Plan(reply=f"Sorry, I did not understand that.\n\n{HELP}")


@dataclass(frozen=True)
class TypedWords:
    """What the human typed in a request for a decision, read by the rules the offline assistant
    uses: the comment or reason ("with comment '...'") and the request named ("WF-..." or "the
    executive travel workflow"); "" for what is not there. They win over a model's version."""

    comment: str = ""
    reference: str = ""


def typed_words(text: str, policy: Policy) -> TypedWords:
    found = plan(text, policy)
    if found.tool != "propose_decision":
        return TypedWords()
    return TypedWords(str(found.args.get("comments", "")), str(found.args.get("workflow", "")))


def _named_user(text: str) -> str | None:
    found = _POSSESSIVE.search(text) or _FOR_USER.search(text)
    return found.group("user") if found else None


def _decision(verb: str, rest: str) -> Plan:
    verb = " ".join(verb.lower().split())
    decision = ("approve" if verb == "approve" else "reject" if verb in ("reject", "decline", "deny")
                else "request_changes")
    comments = ""
    found = _COMMENT.search(rest)
    if found:
        comments, rest = _unquote(found.group("text")), rest[: found.start()]
    elif _QUOTED.search(rest):
        quoted = _QUOTED.search(rest)
        comments, rest = quoted.group("text").strip(), rest[: quoted.start()] + rest[quoted.end():]
    elif _AFTER_ID.search(rest):  # "request changes on WF-...: add the hotel invoice"
        after = _AFTER_ID.search(rest)
        comments, rest = after.group("text").strip(), rest[: after.end("id")]
    ref = rest.strip(" .:,-")
    if not ref:
        return Plan(reply=f"Which request should I propose to {verb}? Give its WF- id or words from its title.")
    args = {"workflow": ref, "decision": decision, "rationale": OFFLINE_RATIONALE}
    if comments:
        args["comments"] = comments
    return Plan("propose_decision", args)


def _unquote(text: str) -> str:
    text = text.strip()
    quoted = _QUOTED.fullmatch(text.rstrip(". "))
    return quoted.group("text").strip() if quoted else text.rstrip(".").strip()


# --- drafting --------------------------------------------------------------------------------

def _draft(text: str, policy: Policy) -> Plan:
    wtype = _find_type(text, policy)
    if wtype is None:
        known = ", ".join(t.name.lower() for t in policy.types.values())
        return Plan(reply=f"Which kind of request? I know: {known}. For example: create an expense approval "
                          f"request for $500 for team lunch with a client.")
    fields: dict[str, Any] = {}
    money = _MONEY.search(text)
    target = _money_field(wtype)
    if money and target:
        number = money.group("a") or money.group("b")
        suffix = money.group("ak") or money.group("bk") or ""
        fields[target.name] = f"{number}{suffix}"
    for spec in wtype.fields:
        if spec.kind == "choice":
            choice = _find_choice(text, spec)
            if choice:
                fields[spec.name] = choice
    purpose = _purpose(text, wtype, money)
    args: dict[str, Any] = {"workflow_type": wtype.key, "title": _title(purpose),
                            "description": _sentence(purpose), "fields": fields}
    return Plan("draft_request", args)


def _find_type(text: str, policy: Policy) -> WorkflowType | None:
    best: tuple[int, WorkflowType] | None = None
    for wtype in policy.types.values():
        words = {wtype.key.replace("_", " "), wtype.name.lower(), wtype.key.split("_")[0]}
        for word in words:
            found = re.search(rf"\b{re.escape(word)}\b", text, re.I)
            if found and (best is None or found.start() < best[0]):
                best = (found.start(), wtype)
    return best[1] if best else None


def _money_field(wtype: WorkflowType) -> FieldSpec | None:
    money = [f for f in wtype.fields if f.kind == "money"]
    risk = next((f for f in money if f.name == wtype.risk.field), None)
    return risk or next((f for f in money if f.required), None) or (money[0] if money else None)


def _find_choice(text: str, spec: FieldSpec) -> str | None:
    best: tuple[int, str] | None = None
    for word in (*spec.choices, *spec.aliases):
        found = re.search(rf"\b{re.escape(word.replace('_', ' '))}\b", text, re.I)
        if found and (best is None or found.start() < best[0]):
            best = (found.start(), spec.aliases.get(word, word))
    return best[1] if best else None


def _purpose(text: str, wtype: WorkflowType, money: re.Match | None) -> str:
    """What the request is for: the words after '... request for', without the amount."""
    if money:
        text = text[: money.start()] + " " + text[money.end():]
    after = re.search(r"\brequest\b[\s,:]*(?P<rest>.*)$", text, re.I | re.S)
    rest = after.group("rest") if after else text
    rest = re.sub(r"^(?:(?:for|to|about|regarding|of|worth)\s+)+", "", " ".join(rest.split()), flags=re.I)
    return rest.strip(" .")


def _title(purpose: str) -> str:
    cut = _TITLE_END.search(purpose)
    title = (purpose[: cut.start()] if cut else purpose).strip()
    if len(title) > 80:
        title = title[:80].rsplit(" ", 1)[0]
    return title[:1].upper() + title[1:]


def _sentence(purpose: str) -> str:
    return f"{purpose[:1].upper()}{purpose[1:]}." if purpose else ""
