"""The bytes each channel sends for one Notice, with user text made safe for that channel.

The only user text a message carries is the request's title (and, to a person, names from the
directory). It is never trusted as markup:

- Slack (mrkdwn): `&`, `<` and `>` become `&amp;`, `&lt;`, `&gt;` (Slack's own rule), so no
  `<https://evil|click here>` link, `<!channel>` or `<@U123>` mention can be written in a title;
  a bare address is broken (`https:\u200b//`) so Slack does not turn it into a link either.
- Teams (Adaptive Card TextBlock, a Markdown subset): HTML is escaped and every Markdown
  punctuation character backslash-escaped, so `[click](https://evil)` stays text; bare
  addresses are broken the same way.
- Email: plain text only (no HTML part to inject into); header values lose control characters
  (a title never carries a line break into a header).
- Generic webhooks: JSON, whose encoder escapes what JSON needs; the receiver renders it.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
from email.message import EmailMessage
from typing import Any

from ..core.notifications import Notice

SIGNATURE_HEADER = "X-Hitl-Signature"
EVENT_HEADER = "X-Hitl-Event-Id"

_SCHEME = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*):(//)")
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def _defang(text: str) -> str:
    """Break `scheme://` so no chat client turns a title into a link."""
    return _SCHEME.sub(lambda m: f"{m.group(1)}:\u200b{m.group(2)}", text)


def slack_escape(text: str) -> str:
    return _defang(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def teams_escape(text: str) -> str:
    return _defang(_MARKDOWN.sub(r"\\\1", html.escape(text, quote=True)))


def header_safe(text: str) -> str:
    return _CONTROL.sub(" ", text).strip()


def _facts(n: Notice) -> list[tuple[str, str]]:
    """The lines every message has (ids, kind, risk, type, status), none of them user text."""
    return [("Request", n.workflow_id), ("Event", n.event), ("Type", n.workflow_type), ("Risk", n.risk_level),
            ("Status", n.status)]


def generic_body(n: Notice, database_id: str) -> bytes:
    """The JSON a generic webhook receives: the event id (deduplicate by it) and the request id."""
    body: dict[str, Any] = {"event_id": n.event_id, "event": n.event, "request_id": n.workflow_id,
                            "type": n.workflow_type, "risk": n.risk_level, "status": n.status,
                            "created_at": n.created_at, "database_id": database_id}
    if n.title is not None:
        body["title"] = n.title
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signature(secret: str, body: bytes) -> str:
    """X-Hitl-Signature's value: sha256= and the hex HMAC-SHA256 of the exact body bytes."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def slack_body(n: Notice) -> bytes:
    title = f": {slack_escape(n.title)}" if n.title is not None else ""
    facts = "  ".join(f"*{k}:* {slack_escape(v)}" for k, v in _facts(n)[2:])
    text = f"*{slack_escape(n.headline())}*{title}\n{facts}\nevent {n.event_id}"
    return json.dumps({"text": text, "mrkdwn": True, "unfurl_links": False, "unfurl_media": False},
                      ensure_ascii=False).encode("utf-8")


def teams_body(n: Notice) -> bytes:
    blocks: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": teams_escape(n.headline()), "weight": "Bolder", "wrap": True}]
    if n.title is not None:
        blocks.append({"type": "TextBlock", "text": teams_escape(n.title), "wrap": True})
    blocks.append({"type": "FactSet", "facts": [{"title": k, "value": teams_escape(v)} for k, v in _facts(n)]})
    blocks.append({"type": "TextBlock", "text": teams_escape(f"event {n.event_id}"), "isSubtle": True, "size": "Small"})
    card = {"type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": "1.4", "body": blocks}
    return json.dumps({"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]},
        ensure_ascii=False).encode("utf-8")


def email_message(n: Notice, sender: str, to: str) -> EmailMessage:
    """A plain-text email with what the person may see at the desk; Message-ID carries the event
    id, so a mail system (or a person's filter) can drop a second copy."""
    msg = EmailMessage()
    subject = f"[hitl-tui] {n.headline()}" + (f": {n.title}" if n.title else "")
    msg["Subject"] = header_safe(subject)[:200]
    msg["From"] = sender
    msg["To"] = to
    msg["Message-ID"] = f"<{n.event_id}@hitl-tui>"
    msg[EVENT_HEADER] = n.event_id
    lines = [n.headline() + ".", ""]
    if n.title is not None:
        lines.append(f"Title:     {header_safe(n.title)}")
    lines += [f"{k + ':':<10} {v}" for k, v in _facts(n)]
    if n.requester:
        lines.append(f"Requester: {n.requester}")
    if n.actor:
        lines.append(f"By:        {n.actor}")
    lines += ["", f"Open it at the desk: hitl-tui request show {n.workflow_id}", "",
              f"(event {n.event_id}; change what you hear of with `hitl-tui notify prefs`)"]
    msg.set_content("\n".join(lines) + "\n")
    return msg
