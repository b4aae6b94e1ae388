"""What a caller filed for approval, shown to the person who decides: the payload pretty-printed
and literal, the caller's justification marked as its words, and how long it has waited.

The payload came from an agent or another system, so every line is text, never markup, and every
character a terminal would interpret shows as an escape (text.neutralise, the one rule); a long
value is cut with a note of what is left, and a payload of many lines stops after MAX_LINES with
the command that shows it whole. The same lines serve `hitl-tui request show` and the desk's
detail pane.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rich.text import Text

from ..core.erased import is_placeholder
from ..core.models import Filing, WorkflowRequest, WorkflowStatus
from ..core.text import neutralise
from .text import local_time, relative_age

#: characters of one text value shown before it is cut
MAX_VALUE = 240
#: lines of payload shown before the rest is left to `request show --json`
MAX_LINES = 200
_INDENT = "  "
#: a list of scalars that fits in this many columns (with its indent and key) is shown on one line
FLAT_WIDTH = 72


def payload_lines(filing: Filing, workflow_id: str, *, max_value: int = MAX_VALUE,
                  max_lines: int = MAX_LINES) -> list[str]:
    """The payload as indented JSON-like lines, each safe to print as it is."""
    payload = filing.payload
    if payload is None:  # erased (or unreadable): say what it reads as
        return [neutralise(filing.payload_text)]
    lines: list[str] = []
    _value(payload, 0, "", "", lines, max_value)
    if len(lines) > max_lines:
        rest = len(lines) - max_lines
        lines = [*lines[:max_lines], f"… {rest:,} more line{'s' if rest != 1 else ''} "
                                     f"(all of it: hitl-tui request show {workflow_id} --json)"]
    return [neutralise(line) for line in lines]


def _value(value: Any, depth: int, key: str, comma: str, out: list[str], max_value: int) -> None:
    pad = _INDENT * depth
    if isinstance(value, dict) and value:
        out.append(f"{pad}{key}{{")
        items = sorted(value.items())
        for i, (k, v) in enumerate(items):
            _value(v, depth + 1, _scalar(k, max_value) + ": ", "," if i < len(items) - 1 else "", out, max_value)
        out.append(f"{pad}}}{comma}")
    elif isinstance(value, list) and value and (flat := _flat(value, max_value)) is not None \
            and len(pad) + len(key) + len(flat) + len(comma) <= FLAT_WIDTH:
        out.append(f"{pad}{key}{flat}{comma}")  # [1, 2, 3] on one line: forty numbers need not fill the pane
    elif isinstance(value, list) and value:
        out.append(f"{pad}{key}[")
        for i, v in enumerate(value):
            _value(v, depth + 1, "", "," if i < len(value) - 1 else "", out, max_value)
        out.append(f"{pad}]{comma}")
    else:
        out.append(f"{pad}{key}{_scalar(value, max_value)}{comma}")


def _flat(values: list[Any], max_value: int) -> str | None:
    """A list of scalars on one line, or None when it holds an object or a list."""
    if any(isinstance(v, (dict, list)) for v in values):
        return None
    return "[" + ", ".join(_scalar(v, max_value) for v in values) + "]"


def _scalar(value: Any, max_value: int) -> str:
    if isinstance(value, str) and len(value) > max_value:
        return json.dumps(value[:max_value], ensure_ascii=False) + f" … {len(value) - max_value:,} more characters"
    return json.dumps(value, ensure_ascii=False)


def waiting_words(req: WorkflowRequest, now: datetime) -> str:
    """'waiting since 14:02:11 (12m ago), until 15:02:11 (in 48m)'; 'expired at ...' once past."""
    filing = req.filing
    since = f"since {local_time(req.created_at, micro=False)} ({relative_age(req.created_at, now)})"
    if filing is None or filing.expires_at is None:
        return f"waiting {since}"
    until = local_time(filing.expires_at, micro=False)
    if req.status.is_final:
        return f"filed {since}; deadline {until}"
    if now >= filing.expires_at:
        return f"waited {since}; its deadline {until} has passed: nobody may decide it now"
    return f"waiting {since}, until {until} ({_time_left(filing.expires_at, now)})"


def _time_left(until: datetime, now: datetime) -> str:
    seconds = int((until - now).total_seconds())
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"in {seconds // size}{unit}"
    return f"in {max(seconds, 0)}s"


def proposed(req: WorkflowRequest) -> Filing | None:
    """The reviewer's proposed revision as a filing of its own (for payload_lines), while the
    request waits for its caller to accept it; None when there is none."""
    filing = req.filing
    if filing is None or filing.proposed_payload_text is None or req.status is not WorkflowStatus.CHANGES_REQUESTED:
        return None
    return filing.model_copy(update={"payload_text": filing.proposed_payload_text,
                                     "payload_sha256": filing.proposed_sha256 or "(erased)"})


def filing_lines(req: WorkflowRequest, now: datetime) -> list[str]:
    """The same as sentences, for the accessible desk (each safe to print as it is)."""
    filing = req.filing
    if filing is None:
        return []
    owner = f" (an integration of {neutralise(filing.owner)})" if filing.owner else ""
    agent = f", for the agent {neutralise(filing.agent)}" if filing.agent else ""
    words = neutralise(filing.justification or "none given", keep="")
    return [f"Filed for approval by {neutralise(req.requester)}{owner}{agent}.",
            f"Deadline: {waiting_words(req, now)}.",
            f"Justification, in the agent's words, checked by nobody: {words}",
            f"Payload, sha256 {filing.payload_sha256}, what approving approves exactly:",
            *(f"  {line}" for line in payload_lines(filing, req.id)),
            *_proposed_lines(req)]


def _proposed_lines(req: WorkflowRequest) -> list[str]:
    revision = proposed(req)
    if revision is None:
        return []
    return [f"Proposed revision, sha256 {revision.payload_sha256}, by the reviewer: not filed until "
            f"{neutralise(req.requester)} accepts it:", *(f"  {line}" for line in payload_lines(revision, req.id))]


def filing_text(req: WorkflowRequest, now: datetime, requester_role: str | None = None) -> Text:
    """The desk's detail section for a request filed for approval (empty for any other)."""
    filing = req.filing
    out = Text(end="")
    if filing is None:
        return out
    out.append("Filed by ", style="bold")
    out.append(neutralise(req.requester))
    who = [requester_role] if requester_role else []
    if filing.owner:
        who.append(f"integration of {neutralise(filing.owner)}")
    if who:
        out.append(f" ({', '.join(who)})", style="dim")
    if filing.agent:
        out.append(" for agent ", style="dim")
        out.append(neutralise(filing.agent))
    out.append("\n")
    out.append(waiting_words(req, now), style="bold" if not req.status.is_final else "dim")
    out.append("\n\nJustification ", style="bold")
    out.append("(the agent's words: nobody has checked them)\n", style="dim italic")
    words = filing.justification or "(none given)"
    out.append(neutralise(words, keep="\n"), style="italic dim" if is_placeholder(words) else "italic")
    out.append("\n\nPayload ", style="bold")
    out.append(f"sha256 {filing.payload_sha256[:16]}… (what approving approves, exactly)\n", style="dim")
    out.append("\n".join(payload_lines(filing, req.id)))
    out.append("\n")
    revision = proposed(req)
    if revision is not None:
        out.append("\nProposed revision ", style="bold")
        out.append(f"sha256 {revision.payload_sha256[:16]}… (the reviewer's: not filed until "
                   f"{neutralise(req.requester)} accepts it)\n", style="dim")
        out.append("\n".join(payload_lines(revision, req.id)))
        out.append("\n")
    return out
