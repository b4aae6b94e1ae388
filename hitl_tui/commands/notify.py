"""`hitl-tui notify`: who hears of what, and how (core/notifications.py, hitl_tui/notify/).

Webhooks, SMTP and retry settings are an administrator's; a person's preferences are an
administrator's or their own. Each change is an audit entry. `notify outbox` shows what is
pending, failed, sent or given up; `notify flush` delivers what is due (embedded mode: no
service runs a delivery loop here, and the desk does not send). In team mode they go through the
service (remote/notify_methods.py), which delivers on its own (remote/notify_loop.py): there
`notify flush` is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
import click

from .common import echo_json, guarded, me, open_service, safe


@click.group("notify", short_help="Notifications: webhooks, email, preferences, the outbox.")
def notify() -> None:
    """Notifications: every event someone should hear about (waiting for you, decided, changes
    requested, expired) is written to an outbox with the change, then delivered by email, Slack,
    Teams or a signed generic webhook, with retries.

    \b
    Examples:
      hitl-tui notify webhook add https://ops.example.com/hitl --secret-file hook.secret
      hitl-tui notify webhook add https://hooks.slack.com/services/T/B/X --kind slack --events decided
      hitl-tui notify email set --host smtp.example.com --from desk@example.com --user desk --password-file pw
      hitl-tui notify prefs alice --events waiting_for_you --quiet 22:00-07:00
      hitl-tui notify outbox --state all
      hitl-tui notify flush
    """


def notify_of(service: Any) -> Any:
    """The notify calls on this engine: the database's own, or the service's (team mode)."""
    from ..remote.client import RemoteService

    if isinstance(service, RemoteService):
        from ..remote.notify_client import RemoteNotify

        return RemoteNotify(service)
    from ..core.notifications import Notifications

    return Notifications(service)


def _events(value: str | None) -> list[str] | None:
    return None if value is None else [value]


# --- webhooks ---------------------------------------------------------------------------------------

@notify.group("webhook", short_help="Webhooks (generic, Slack, Teams): add, list, remove.")
def webhook() -> None:
    """Webhooks an administrator adds: generic ones get a JSON body signed with
    `X-Hitl-Signature: sha256=<hex HMAC-SHA256 of the body>`; Slack and Teams incoming webhooks
    get a message for people."""


@webhook.command("add")
@click.argument("url")
@click.option("--secret", default=None, help="The signing secret (prefer --secret-file: a command line is seen).")
@click.option("--secret-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A file holding the signing secret (its first line).")
@click.option("--events", default=None, metavar="E1,E2", help="Only these events (default: all).")
@click.option("--kind", type=click.Choice(["generic", "slack", "teams"]), default="generic", show_default=True)
@click.option("--sees", "sees", default=None, metavar="ROLE",
              help="Include the title where a person of ROLE may see the request (default: ids only).")
@click.pass_context
@guarded
def webhook_add(ctx: click.Context, url: str, secret: str | None, secret_file: Path | None, events: str | None,
                kind: str, sees: str | None) -> None:
    """Add a webhook at URL (an administrator's; audited).

    \b
    Example:
      hitl-tui notify webhook add https://ops.example.com/hitl --secret-file hook.secret --events decided,expired
    """
    if secret is not None and secret_file is not None:
        raise click.UsageError("give the secret once: --secret or --secret-file")
    if secret_file is not None:
        lines = secret_file.read_text("utf-8").splitlines()
        secret = lines[0].strip() if lines else ""
    if kind != "generic" and secret:
        raise click.UsageError(f"a {kind} webhook signs nothing (its address is its credential): leave out the secret")
    with open_service(ctx, writes=True) as service:
        info = notify_of(service).add_webhook(url, kind, secret=secret, events=_events(events), sees_role=sees,
                                              actor=me())
    what = ", ".join(info.events) if info.events else "every event"
    click.echo(f"Added webhook {info.id} ({info.kind}, {safe(info.host)}) for {what}"
               f"{'; titles where a ' + info.sees_role + ' may see the request' if info.sees_role else '; ids only'}.")


@webhook.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@guarded
def webhook_list(ctx: click.Context, as_json: bool) -> None:
    """The webhooks (their host, never the whole address nor the secret)."""
    with open_service(ctx) as service:
        found = notify_of(service).list_webhooks(me())
    if as_json:
        echo_json([vars(h) for h in found])
        return
    if not found:
        click.echo("No webhooks; add one with `hitl-tui notify webhook add URL --secret-file FILE`.")
        return
    from .users import aligned

    rows = [["ID", "KIND", "HOST", "EVENTS", "TITLES", "ADDED"]]
    rows += [[h.id, h.kind, safe(h.host), ",".join(h.events) if h.events else "all", h.sees_role or "-",
              f"{h.created_at} by {safe(h.created_by)}"] for h in found]
    for line in aligned(rows):
        click.echo(line)


@webhook.command("remove")
@click.argument("webhook_id", metavar="ID")
@click.pass_context
@guarded
def webhook_remove(ctx: click.Context, webhook_id: str) -> None:
    """Remove webhook ID: nothing more is sent to it, what is pending for it gives up."""
    with open_service(ctx, writes=True) as service:
        info = notify_of(service).remove_webhook(webhook_id, actor=me())
    click.echo(f"Removed webhook {info.id} ({info.kind}, {safe(info.host)}).")


# --- email and retries ------------------------------------------------------------------------------

@notify.group("email", short_help="The SMTP server email is sent through (STARTTLS).")
def email() -> None:
    """The SMTP server: STARTTLS always; the password from a file or the keyring, never typed."""


@email.command("set")
@click.option("--host", required=True)
@click.option("--port", type=int, default=587, show_default=True)
@click.option("--user", default=None, help="The SMTP login (none: no login).")
@click.option("--from", "sender", required=True, metavar="ADDRESS", help="The sender address.")
@click.option("--password-file", default=None, metavar="FILE", help="A 0600 file holding the password, read at "
              "each send by whoever sends (the service account in team mode).")
@click.option("--password-keyring", is_flag=True, help="The password is in the keyring: service hitl-tui-smtp, "
              "the SMTP user.")
@click.option("--ca-file", default=None, metavar="FILE", help="Trust this CA for the server's certificate.")
@click.pass_context
@guarded
def email_set(ctx: click.Context, host: str, port: int, user: str | None, sender: str, password_file: str | None,
              password_keyring: bool, ca_file: str | None) -> None:
    """Set the SMTP server (an administrator's; audited)."""
    from ..core import notifications as nt

    with open_service(ctx, writes=True) as service:
        smtp = notify_of(service).set_email(nt.Smtp(host=host, port=port, user=user, sender=sender,
                                             password_file=password_file, password_keyring=password_keyring,
                                             ca_file=ca_file), actor=me())
    login = f", login {safe(smtp.user)}" if smtp.user else ", no login"
    click.echo(f"Email goes through {safe(smtp.host)}:{smtp.port} (STARTTLS{login}) from {safe(smtp.sender)}.")


@email.command("show")
@click.pass_context
@guarded
def email_show(ctx: click.Context) -> None:
    """The SMTP settings (never a password)."""
    with open_service(ctx) as service:
        smtp = notify_of(service).smtp_for(me())
    if smtp is None:
        click.echo("No SMTP server is set; `hitl-tui notify email set --host ... --from ...` sets one.")
        return
    where = smtp.password_file or ("the keyring" if smtp.password_keyring else "-")
    click.echo(f"{safe(smtp.host)}:{smtp.port} STARTTLS, from {safe(smtp.sender)}, user {safe(smtp.user or '-')}, "
               f"password from {safe(where)}")


@notify.command("retry")
@click.option("--attempts", type=int, required=True, help="Attempts in all before giving up.")
@click.option("--backoff", type=float, required=True, help="Seconds before the first retry (doubling after).")
@click.option("--max-backoff", type=float, default=3600.0, show_default=True)
@click.option("--lease", type=float, default=120.0, show_default=True,
              help="Seconds after which a claimed, unrecorded delivery is tried again.")
@click.pass_context
@guarded
def retry(ctx: click.Context, attempts: int, backoff: float, max_backoff: float, lease: float) -> None:
    """How deliveries are retried (an administrator's; audited)."""
    from ..core import notifications as nt

    with open_service(ctx, writes=True) as service:
        notify_of(service).set_retry(nt.Retry(attempts, backoff, max_backoff, lease), actor=me())
    click.echo(f"Deliveries are tried {attempts} times, {backoff:g} s apart at first, doubling up to "
               f"{max_backoff:g} s.")


# --- a person's preferences -------------------------------------------------------------------------

@notify.command("prefs")
@click.argument("username")
@click.option("--email", "address", default=None, help="Where to (default: the directory's address).")
@click.option("--events", default=None, metavar="E1,E2", help="Only these events (default: all).")
@click.option("--quiet", default=None, metavar="HH:MM-HH:MM", help="Hold email back in these hours.")
@click.option("--tz", default=None, metavar="ZONE", help="Read the quiet hours in this zone (default: the desk's).")
@click.option("--off", is_flag=True, help="Hear of nothing.")
@click.option("--show", is_flag=True, help="Show the preferences, change nothing.")
@click.pass_context
@guarded
def prefs(ctx: click.Context, username: str, address: str | None, events: str | None, quiet: str | None,
          tz: str | None, off: bool, show: bool) -> None:
    """A person's notifications (an administrator's, or the person's own; audited). A person hears
    of nothing until this is set.

    \b
    Example:
      hitl-tui notify prefs alice --events waiting_for_you,decided --quiet 22:00-07:00
      hitl-tui notify prefs bob --quiet 22:00-07:00 --tz Europe/Paris
    """
    with open_service(ctx, writes=not show) as service:
        if show:
            row = notify_of(service).prefs_of(me(), username)
        else:
            row = notify_of(service).set_prefs(username, email=address, events=_events(events), quiet=quiet, off=off,
                                               tz=tz, actor=me())
    if row is None:
        click.echo(f"{safe(username)} hears of nothing.")
        return
    zone = f"{safe(row.tz)} time" if row.tz else "the desk's time"  # whose clock the quiet hours are read on
    click.echo(f"{safe(username)} hears of {row.events or 'every event'} by email to "
               f"{safe(row.email or 'the directory address')}"
               f"{', quiet ' + row.quiet + ' ' + zone if row.quiet else ''}"
               f"{', time zone ' + safe(row.tz) if row.tz and not row.quiet else ''}.")


# --- the outbox -------------------------------------------------------------------------------------

_STATES = ("pending", "failed", "sent", "gave_up")


@notify.command("outbox")
@click.option("--state", default="pending,failed", show_default=True, metavar="S1,S2",
              help="pending, failed, sent, gave_up, or all.")
@click.option("--limit", type=int, default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@guarded
def outbox(ctx: click.Context, state: str, limit: int, as_json: bool) -> None:
    """What is pending, failed (to be retried), sent or given up, newest first."""
    states = _STATES if state.strip() == "all" else tuple(s.strip() for s in state.split(",") if s.strip())
    bad = [s for s in states if s not in _STATES]
    if bad or not states:
        raise click.UsageError(f"unknown state {(bad or [state])[0]!r}: give {', '.join(_STATES)} or all")
    with open_service(ctx) as service:
        rows = notify_of(service).outbox(me(), states, limit)
    if as_json:
        echo_json([vars(r) for r in rows])
        return
    if not rows:
        click.echo(f"Nothing {' or '.join(states)} in the outbox.")
        return
    from .users import aligned

    table = [["EVENT ID", "EVENT", "REQUEST", "TO", "STATE", "TRIES", "WHEN", "LAST ERROR"]]
    for r in rows:
        when = r.sent_at if r.state == "sent" else r.next_attempt_at
        table.append([r.id, r.event, r.workflow_id or "-", f"{safe(r.recipient)} ({r.channel})", r.state,
                      str(r.attempts), when or "-", safe(r.last_error or "")])
    for line in aligned(table):
        click.echo(line)


@notify.command("flush")
@click.pass_context
@guarded
def flush(ctx: click.Context) -> None:
    """Deliver what is due now (embedded mode; a team-mode service delivers on its own)."""
    from ..notify.delivery import Deliverer
    from ..remote.client import RemoteService

    with open_service(ctx) as service:
        if isinstance(service, RemoteService):
            notify_of(service).flush()  # refused: the service delivers on its own
        done = Deliverer(service).flush()
    click.echo(f"Sent {done.sent}; {done.failed} failed and will be retried; {done.gave_up} given up"
               f"{'; ' + str(done.held) + ' held for quiet hours' if done.held else ''}.")
    for line in done.errors[:20]:
        click.echo(f"  {safe(line)}", err=True)
    if done.failed or done.gave_up:
        ctx.exit(1)

