"""Who hears what (issue 14): the outbox, written in the transaction of the change that causes it.

WorkflowService._audit hands every entry to Outbox.enqueue, inside the same BEGIN IMMEDIATE
transaction, so an event is in the outbox exactly when its audit entry is in the trail (a rolled
back write, a team-mode dry run, announces nothing). Events and their recipients:

    waiting_for_you    the active people who may decide the stage now awaited (its role, minus
                       the requester, a segregated owner, who decided an earlier stage of this
                       revision, integrations: rbac.eligible_deciders), after filing, a
                       resubmission or an approval that moves the request on; at an `all`
                       stage, the people of each role it awaits. A vote that leaves a quorum
                       or `all` stage open tells nobody (its other voters were told when it
                       opened, and the voter knows)
    decided            the requester, once approved or rejected
    changes_requested  the requester
    expired            the requester
    escalated          the active people of the senior role an overdue stage escalated to (the
                       policy's on_overdue = "escalate": core/overdue.py), as for waiting_for_you
    (reassigned)       waiting_for_you, to the one person a stage was assigned to (core/assignment.py)
    delegated_to_you   the delegates covering (core/delegation.py) one of the people waiting_for_you
                       names, for the same stage (unless they may decide it in their own right)
    due_soon, overdue  the stage's approvers, as for waiting_for_you (core/overdue.py reminders)

A person hears of an event only with a preferences row (`hitl-tui notify prefs`), for the events
it names; a webhook (`hitl-tui notify webhook add`) hears of the events it names, or of all. The
rows name the recipient and the event, never the text: the message is made when it is sent
(notice_for), from what the request is then and what the recipient may then see, so an erasure
or a change of role in between is respected.

The directory-like changes (webhooks, preferences, SMTP and retry settings) are administrators'
(preferences: also the person's own), each an audit entry filed under no request.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from . import delegation, draws, rbac, stage_rules
from .audit import iso, utc_now
from .errors import InvalidTransition, PermissionDenied, UnknownUser, UnknownWorkflow, ValidationFailed
from .models import Role, User, WorkflowRequest, WorkflowStatus
from .settings import _zone_named as zone_named  # the one check of a zone's name (the `timezone` setting's too)
from .store import notify as sql
from .store import users as user_sql
from .store.connection import Conn
from .text import check_inputs, check_text

if TYPE_CHECKING:
    from .service import WorkflowService

# --- events -------------------------------------------------------------------------------------

WAITING = "waiting_for_you"
DECIDED = "decided"
CHANGES_REQUESTED = "changes_requested"
EXPIRED = "expired"
DELEGATED = "delegated_to_you"
DUE_SOON = "due_soon"
OVERDUE = "overdue"
ESCALATED = "escalated"
EVENTS = (WAITING, DECIDED, CHANGES_REQUESTED, EXPIRED, DELEGATED, DUE_SOON, OVERDUE, ESCALATED)

#: how each event reads in a message's first line
EVENT_WORDS = {
    WAITING: "waits for your decision", DECIDED: "was decided", CHANGES_REQUESTED: "needs changes from you",
    EXPIRED: "expired undecided", DELEGATED: "was delegated to you", DUE_SOON: "is due soon",
    OVERDUE: "is overdue", ESCALATED: "was escalated",
}

#: the channels of a webhook; a person's channel is email
GENERIC, SLACK, TEAMS, EMAIL = "generic", "slack", "teams", "email"
WEBHOOK_KINDS = (GENERIC, SLACK, TEAMS)

#: the audit actions of the changes made here (entries filed under no request)
WEBHOOK_ADDED = "notify_webhook_added"
WEBHOOK_REMOVED = "notify_webhook_removed"
PREFS_SET = "notify_prefs_set"
EMAIL_SET = "notify_email_set"
RETRY_SET = "notify_retry_set"
ACTIONS = frozenset({WEBHOOK_ADDED, WEBHOOK_REMOVED, PREFS_SET, EMAIL_SET, RETRY_SET})

#: the audit actions that may cause an event (anything else costs enqueue one set lookup)
_CAUSES = frozenset({"created", "resubmitted", "approved", "rejected", "changes_requested", "expired",
                     "escalated", "reminded", "reassigned"})

URL_MAX = 2000
SECRET_MIN = 16


@dataclass(frozen=True)
class Retry:
    """How the delivery loop retries: attempts in all, then gave_up; back-off doubles from
    `backoff` seconds up to `max_backoff`; a claimed row is taken again after `lease` seconds
    when whoever claimed it never said how it went (it died)."""

    attempts: int = 8
    backoff: float = 5.0
    max_backoff: float = 3600.0
    lease: float = 120.0

    def delay(self, attempts_made: int) -> float:
        return float(min(self.max_backoff, self.backoff * (2 ** max(0, attempts_made - 1))))


@dataclass(frozen=True)
class Smtp:
    """Where email goes: always STARTTLS; the password is read when sending, from a file or the
    keyring (service `hitl-tui-smtp`, the SMTP user), never stored nor given on a command line."""

    host: str
    port: int = 587
    user: str | None = None
    sender: str = ""
    password_file: str | None = None
    password_keyring: bool = False
    ca_file: str | None = None
    timeout: float = 20.0


# --- the outbox (the collaborator WorkflowService._audit calls) ---------------------------------

class Outbox:
    def __init__(self, service: "WorkflowService") -> None:
        self.service = service

    def enqueue(self, conn: Conn, seq: int, actor: str, action: str, workflow_id: str | None,
                details: dict[str, Any]) -> int:
        """Write the events entry `seq` causes (inside its transaction); how many rows."""
        if action not in _CAUSES or workflow_id is None or not sql.any_receiver(conn):
            return 0
        req = self.service._load(conn, workflow_id)  # as the change just left it
        policy = self.service._policies.current(conn).policy
        people: list[tuple[str, str]] = []  # (event, username)
        awaited = req.escalated_to if action == "escalated" else req.current_role
        if action == "approved" and req.status is WorkflowStatus.AWAITING_APPROVAL \
                and details.get("stage_after") == details.get("stage"):
            return 0  # one vote of several (a quorum or `all` stage): its voters were told when it opened
        if action == "reassigned":  # the stage was assigned to one person (core/assignment.py): they hear it
            people += [(WAITING, details["assignee"])] if details.get("assignee") else []
        elif req.status is WorkflowStatus.AWAITING_APPROVAL and awaited is not None:
            decided = {a.approver for a in req.approvals if a.revision == req.revision}
            prefs = sql.all_prefs(conn)
            candidates = [u for u in (user_sql.get(conn, name) for name in prefs) if u is not None]
            event = ESCALATED if action == "escalated" else WAITING  # escalated: the senior role it went to
            if action == "reminded":  # the engine's reminder (core/overdue.py): due soon, or overdue
                event = OVERDUE if details.get("kind") == "overdue" else DUE_SOON
            # an `all` stage awaits each of its missing roles at once: each role's people hear it
            roles = (awaited,) if action == "escalated" else (stage_rules.awaited(req) or (awaited,))
            for role in roles:
                named = {name for _, name in people}
                people += [(event, name) for name in rbac.eligible_deciders(policy, candidates, req, role, decided)
                           if name not in named]
            if event == WAITING:  # whoever covers one of its deciders (out of office) hears it was delegated to them
                for role in roles:
                    named = {name for _, name in people}
                    people += [(DELEGATED, name) for name in delegation.delegated_recipients(
                        conn, policy, req, role, decided, utc_now()) if name not in named]
        elif action in ("approved", "rejected"):
            people.append((DECIDED, req.requester))
        elif action == "changes_requested":
            people.append((CHANGES_REQUESTED, req.requester))
        elif action == "expired":
            people.append((EXPIRED, req.requester))
        now = iso(utc_now())
        rows: list[tuple[str, int, str, str | None, str, str, str | None, str]] = []
        for event, name in people:
            pref = sql.prefs(conn, name)
            if pref is not None and _wants(pref.events, event):
                rows.append((new_event_id(), seq, event, workflow_id, name, EMAIL, actor, now))
        events = {event for event, _ in people} or {_event_of(action, req)}
        for hook in sql.webhooks(conn):
            for event in sorted(events):
                if _wants(hook.events, event):
                    rows.append((new_event_id(), seq, event, workflow_id, hook.id, hook.kind, actor, now))
        sql.enqueue(conn, rows)
        return len(rows)


def _event_of(action: str, req: WorkflowRequest) -> str:
    """The event a webhook hears of when no person is concerned (nobody has preferences)."""
    if action == "escalated":
        return ESCALATED
    if action == "reminded":
        return OVERDUE if req.reminded == "overdue" else DUE_SOON
    if req.status is WorkflowStatus.AWAITING_APPROVAL:
        return WAITING
    return {"changes_requested": CHANGES_REQUESTED, "expired": EXPIRED}.get(action, DECIDED)


def _wants(events: str | None, event: str) -> bool:
    return events is None or event in events.split(",")


def new_event_id() -> str:
    """The id a message carries, for its receiver to deduplicate by: random, never reused."""
    return "ev-" + secrets.token_hex(16)


# --- what a message may say ---------------------------------------------------------------------

@dataclass(frozen=True)
class Notice:
    """One message's facts, already cut to what its recipient may see. `title` is None when the
    recipient may not see it (a webhook without --sees, or one whose role may not view it)."""

    event_id: str
    event: str
    workflow_id: str
    workflow_type: str
    risk_level: str
    status: str
    actor: str | None
    title: str | None
    requester: str | None
    created_at: str

    def headline(self) -> str:
        return f"{self.workflow_id} {EVENT_WORDS.get(self.event, self.event)}"


def notice_for(service: "WorkflowService", row: sql.OutboxRow) -> tuple[Notice | None, str]:
    """The message `row` may carry now, or (None, why nothing may be sent to its recipient)."""
    if row.workflow_id is None:
        return None, "the event names no request"
    try:
        req = service._read(service._load, row.workflow_id)
    except UnknownWorkflow:
        return None, f"{row.workflow_id} is no longer in the database"
    policy = service.policy
    if row.channel == EMAIL:
        user = service.find_user(row.recipient)
        if user is None or not user.active:
            return None, f"{row.recipient} is no longer an active person of the directory"
        covering = () if rbac.may_view(policy, user, req) else service.covering_for(user.username)  # a delegate
        if not rbac.may_view(policy, user, req, covering):
            return None, f"{row.recipient} may no longer see {req.id}"
        return _notice(row, req, title=True, requester=True), ""
    hook = service._read(sql.webhook, row.recipient)
    if hook is None or not hook.active:
        return None, f"webhook {row.recipient} was removed"
    return _notice(row, req, title=_role_sees(policy, hook.sees_role, req), requester=False), ""


def _role_sees(policy: Any, role: str | None, req: WorkflowRequest) -> bool:
    """Would a person of `role` (neither the requester nor a decider) see `req` at the desk?"""
    if role is None:
        return False
    probe = User(username="\x00webhook", role=Role(role), created_at=utc_now())
    return rbac.may_view(policy, probe, req)


def _notice(row: sql.OutboxRow, req: WorkflowRequest, *, title: bool, requester: bool) -> Notice:
    return Notice(event_id=row.id, event=row.event, workflow_id=req.id, workflow_type=req.workflow_type,
                  risk_level=req.risk_level.value, status=req.status.value, actor=row.actor if requester else None,
                  title=req.title if title else None, requester=req.requester if requester else None,
                  created_at=row.created_at)


# --- quiet hours --------------------------------------------------------------------------------

_QUIET = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)\Z")


def parse_quiet(text: str) -> tuple[time, time]:
    m = _QUIET.match(text.strip())
    if not m or m.group(1, 2) == m.group(3, 4):
        raise ValidationFailed(f"Quiet hours {text[:40]!r} are not HH:MM-HH:MM (for example 22:00-07:00, which "
                               f"runs over midnight); nothing was changed.", "quiet")
    a, b, c, d = (int(g) for g in m.groups())
    return time(a, b), time(c, d)


def checked_zone(tz: str | None) -> str | None:
    """A person's own time zone as stored: an IANA name zoneinfo knows, or None (the desk's)."""
    name = (tz or "").strip() or None
    if name is not None:
        try:
            zone_named(name)
        except ValueError:
            raise ValidationFailed(f"Unknown time zone {name[:60]!r}: give an IANA name such as Europe/Paris (see "
                                   f"`timedatectl list-timezones`); nothing was changed.", "tz") from None
    return name


def held_until(pref: sql.PrefsRow | None, now: datetime, desk_zone: tzinfo | None) -> datetime | None:
    """When email to the person of `pref` may go again (UTC), or None now: their quiet hours read
    in their own time zone when they gave one, else in the desk's."""
    if pref is None:
        return None
    try:  # checked when set; a zone this machine's tzdata has since lost falls back to the desk's
        zone = zone_named(pref.tz) if pref.tz else desk_zone
    except ValueError:
        zone = desk_zone
    return quiet_until(pref.quiet, now, zone)


def quiet_until(quiet: str | None, now: datetime, zone: tzinfo | None) -> datetime | None:
    """When the quiet hours holding `now` end (UTC), or None when `now` is not in them. Clock
    times are read in `zone` (held_until: the person's, or the `timezone` setting; None: this
    machine's)."""
    if not quiet:
        return None
    start, end = parse_quiet(quiet)
    local = now.astimezone(zone) if zone is not None else now.astimezone()
    t = local.time().replace(tzinfo=None)
    inside = start <= t < end if start < end else (t >= start or t < end)
    if not inside:
        return None
    ends = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if ends <= local:
        ends += timedelta(days=1)
    return ends.astimezone(timezone.utc)


# --- the administrators' changes ----------------------------------------------------------------

@dataclass(frozen=True)
class WebhookInfo:
    """A webhook as lists show it: its host, never its full address (a Slack or Teams URL is a
    credential of its own) nor its secret."""

    id: str
    host: str
    kind: str
    events: list[str] | None
    sees_role: str | None
    created_at: str
    created_by: str

    @classmethod
    def of(cls, row: sql.WebhookRow) -> "WebhookInfo":
        return cls(row.id, urlsplit(row.url).hostname or "?", row.kind,
                   None if row.events is None else row.events.split(","), row.sees_role, row.created_at,
                   row.created_by)


def _admin(service: "WorkflowService", conn: Conn, actor: str | None) -> str:
    name, user = service._actor(conn, actor)
    rbac.check_admin(user, True)
    return name


def checked_events(events: list[str] | tuple[str, ...] | None) -> str | None:
    """The events as stored (comma-separated), None for all; an unknown name is refused."""
    if not events:
        return None
    names = sorted({e.strip().lower().replace("-", "_") for item in events for e in item.split(",") if e.strip()})
    unknown = [n for n in names if n not in EVENTS]
    if unknown:
        raise ValidationFailed(f"Unknown event {unknown[0][:40]!r}; the events are {', '.join(EVENTS)}.", "events")
    return ",".join(names) or None


def checked_url(url: str) -> str:
    url = check_text(url, "URL", URL_MAX, single_line=True)
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValidationFailed(f"The webhook address must be an http(s) URL with a host, not {url[:60]!r}.", "url")
    return url


def add_webhook(service: "WorkflowService", url: str, kind: str = GENERIC, *, secret: str | None = None,
                events: list[str] | None = None, sees_role: str | None = None,
                actor: str | None = None) -> WebhookInfo:
    """Add a webhook, as an administrator. A generic webhook needs a `secret` (its bodies are
    signed with it); Slack and Teams addresses are their own credential and sign nothing."""
    check_inputs(url=url, kind=kind, secret=secret, sees_role=sees_role, actor=actor)
    url = checked_url(url)
    if kind not in WEBHOOK_KINDS:
        raise ValidationFailed(f"Unknown webhook kind {kind[:20]!r}; the kinds are {', '.join(WEBHOOK_KINDS)}.", "kind")
    if kind == GENERIC and (secret is None or len(secret) < SECRET_MIN):
        raise ValidationFailed(f"A generic webhook needs a secret of at least {SECRET_MIN} characters "
                               f"(--secret-file FILE); its receiver checks X-Hitl-Signature with it.", "secret")
    role = None if sees_role is None else Role.parse(sees_role).value
    stored_events = checked_events(events)
    with service._write() as conn:
        actor_name = _admin(service, conn, actor)
        # drawn (draws.py): in team mode the commit must draw what the dry run's statement holds
        hook_id = "wh-" + draws.token_bytes(6).hex()
        at = draws.now()
        when = iso(at)
        seq = service._audit(conn, actor_name, WEBHOOK_ADDED, None, {
            "webhook_id": hook_id, "kind": kind, "host": urlsplit(url).hostname,
            "url_sha256": hashlib.sha256(url.encode()).hexdigest(), "events": stored_events, "sees_role": role,
            "signed": secret is not None}, ts=at)
        row = sql.WebhookRow(hook_id, url, kind, secret, stored_events, role, when, actor_name, seq)
        sql.insert_webhook(conn, row)
    return WebhookInfo.of(row)


def remove_webhook(service: "WorkflowService", hook_id: str, *, actor: str | None = None) -> WebhookInfo:
    check_inputs(webhook=hook_id, actor=actor)
    with service._write() as conn:
        actor_name = _admin(service, conn, actor)
        row = sql.webhook(conn, hook_id.strip())
        if row is None:
            raise ValidationFailed(f"There is no webhook {hook_id[:40]!r}; `hitl-tui notify webhook list` shows "
                                   f"them.", "webhook")
        if not row.active:
            raise InvalidTransition(f"Webhook {row.id} was already removed at {row.removed_at}; nothing was changed.")
        at = draws.now()
        when = iso(at)
        seq = service._audit(conn, actor_name, WEBHOOK_REMOVED, None, {"webhook_id": row.id, "kind": row.kind},
                             ts=at)
        sql.remove_webhook(conn, row.id, when, actor_name, seq)
    return WebhookInfo.of(row)


def list_webhooks(service: "WorkflowService", viewer: str) -> list[WebhookInfo]:
    rbac.check_admin(service.find_user(viewer), True)
    return [WebhookInfo.of(r) for r in service._read(sql.webhooks)]


def set_prefs(service: "WorkflowService", username: str, *, email: str | None = None,
              events: list[str] | None = None, quiet: str | None = None, off: bool = False,
              tz: str | None = None, actor: str | None = None) -> sql.PrefsRow | None:
    """A person's notification preferences, set by an administrator or by the person. `email`:
    where to (else the directory's address); `off`: hear of nothing (the row goes); `tz`: the
    zone their quiet hours are read in (else the desk's `timezone` setting)."""
    check_inputs(username=username, email=email, quiet=quiet, tz=tz, actor=actor)
    if quiet:
        parse_quiet(quiet)
    tz = checked_zone(tz)
    if email is not None and not re.fullmatch(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+", email):
        raise ValidationFailed(f"{email[:60]!r} is not an email address (name@example.com).", "email")
    stored_events = checked_events(events)
    with service._write() as conn:
        actor_name, actor_user = service._actor(conn, actor)
        if actor_name != username:
            rbac.check_admin(actor_user, True)
        person = user_sql.get(conn, username)
        if person is None:
            raise UnknownUser(username)
        if person.integration:
            raise PermissionDenied(f"{username} is an integration; it hears of its requests by waiting on them, not "
                                   f"by email. Give its owner preferences instead.")
        address = email or person.email
        if not off and not address:
            raise ValidationFailed(f"{username} has no email address in the directory; give one with --email.", "email")
        at = draws.now()
        when = iso(at)
        seq = service._audit(conn, actor_name, PREFS_SET, None, {
            "username": username, "channel": None if off else EMAIL, "events": stored_events,
            "quiet": quiet or None, "tz": None if off else tz, "own_address": email is not None}, ts=at)
        if off:
            sql.delete_prefs(conn, username)
            return None
        sql.put_prefs(conn, username, email, stored_events, quiet or None, when, seq, tz)
        return sql.prefs(conn, username)


def set_email(service: "WorkflowService", smtp: Smtp, *, actor: str | None = None) -> Smtp:
    """Where email is sent from, as an administrator (a password file or the keyring, never a password)."""
    check_inputs(host=smtp.host, user=smtp.user, sender=smtp.sender, password_file=smtp.password_file,
                 ca_file=smtp.ca_file, actor=actor)
    host = check_text(smtp.host, "host", 255, single_line=True)
    if not 0 < smtp.port < 65536:
        raise ValidationFailed(f"SMTP port {smtp.port} is not a port (1-65535; 587 is submission).", "port")
    if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+", smtp.sender or ""):
        raise ValidationFailed("The sender (--from) must be an email address the server accepts mail from.", "from")
    if smtp.password_file and smtp.password_keyring:
        raise ValidationFailed("Give the SMTP password one way: --password-file or --password-keyring.", "password")
    if smtp.user and not (smtp.password_file or smtp.password_keyring):
        raise ValidationFailed("An SMTP user needs a password: --password-file FILE or --password-keyring.",
                               "password")
    value: dict[str, Any] = {"host": host, "port": smtp.port, "user": smtp.user, "sender": smtp.sender,
             "password_file": None if not smtp.password_file else str(Path(smtp.password_file).expanduser().absolute()),
             "password_keyring": smtp.password_keyring,
             "ca_file": None if not smtp.ca_file else str(Path(smtp.ca_file).expanduser().absolute()),
             "timeout": smtp.timeout}
    with service._write() as conn:
        actor_name = _admin(service, conn, actor)
        at = draws.now()
        seq = service._audit(conn, actor_name, EMAIL_SET, None, dict(value), ts=at)
        sql.put_config(conn, "smtp", value, iso(at), seq)
    return Smtp(**value)


def smtp_of(service: "WorkflowService") -> Smtp | None:
    value = service._read(sql.get_config, "smtp")
    return None if value is None else Smtp(**value)


def set_retry(service: "WorkflowService", retry: Retry, *, actor: str | None = None) -> Retry:
    if not (1 <= retry.attempts <= 100 and 0.01 <= retry.backoff <= 86400 and retry.backoff <= retry.max_backoff
            <= 7 * 86400 and 1 <= retry.lease <= 86400):
        raise ValidationFailed("Retries: 1-100 attempts, a back-off from 0.01 s up to --max-backoff (at most a "
                               "week), a lease of 1 s to a day.", "retry")
    value = {"attempts": retry.attempts, "backoff": retry.backoff, "max_backoff": retry.max_backoff,
             "lease": retry.lease}
    with service._write() as conn:
        actor_name = _admin(service, conn, actor)
        at = draws.now()
        seq = service._audit(conn, actor_name, RETRY_SET, None, dict(value), ts=at)
        sql.put_config(conn, "retry", value, iso(at), seq)
    return retry


def retry_of(service: "WorkflowService") -> Retry:
    value = service._read(sql.get_config, "retry")
    return Retry() if value is None else Retry(**value)


def outbox(service: "WorkflowService", viewer: str, states: tuple[str, ...] = sql.OPEN_STATES,
           limit: int = 100) -> list[sql.OutboxRow]:
    """What is pending / failed / sent / given up, newest first: for the administrators."""
    rbac.check_admin(service.find_user(viewer), True)
    return service._read(sql.listing, states, max(1, min(limit, 10000)))


def prefs_of(service: "WorkflowService", viewer: str, username: str) -> sql.PrefsRow | None:
    """`username`'s preferences, for them or an administrator."""
    if viewer != username:
        rbac.check_admin(service.find_user(viewer), True)
    return service._read(sql.prefs, username)


def smtp_for(service: "WorkflowService", viewer: str) -> Smtp | None:
    """The SMTP settings, for an administrator (where the password is read from, never a password)."""
    rbac.check_admin(service.find_user(viewer), True)
    return smtp_of(service)


class Notifications:
    """The functions above on one engine (what the CLI holds; team mode's is
    remote/notify_client.py, with the same methods)."""

    def __init__(self, service: "WorkflowService") -> None:
        self.service = service

    def add_webhook(self, url: str, kind: str = GENERIC, *, secret: str | None = None,
                    events: list[str] | None = None, sees_role: str | None = None,
                    actor: str | None = None) -> WebhookInfo:
        return add_webhook(self.service, url, kind, secret=secret, events=events, sees_role=sees_role, actor=actor)

    def remove_webhook(self, hook_id: str, *, actor: str | None = None) -> WebhookInfo:
        return remove_webhook(self.service, hook_id, actor=actor)

    def list_webhooks(self, viewer: str) -> list[WebhookInfo]:
        return list_webhooks(self.service, viewer)

    def set_prefs(self, username: str, *, email: str | None = None, events: list[str] | None = None,
                  quiet: str | None = None, off: bool = False, tz: str | None = None,
                  actor: str | None = None) -> sql.PrefsRow | None:
        return set_prefs(self.service, username, email=email, events=events, quiet=quiet, off=off, tz=tz,
                         actor=actor)

    def prefs_of(self, viewer: str, username: str) -> sql.PrefsRow | None:
        return prefs_of(self.service, viewer, username)

    def set_email(self, smtp: Smtp, *, actor: str | None = None) -> Smtp:
        return set_email(self.service, smtp, actor=actor)

    def smtp_for(self, viewer: str) -> Smtp | None:
        return smtp_for(self.service, viewer)

    def set_retry(self, retry: Retry, *, actor: str | None = None) -> Retry:
        return set_retry(self.service, retry, actor=actor)

    def outbox(self, viewer: str, states: tuple[str, ...] = sql.OPEN_STATES, limit: int = 100) -> list[sql.OutboxRow]:
        return outbox(self.service, viewer, states, limit)
