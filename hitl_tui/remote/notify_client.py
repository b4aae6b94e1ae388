"""Team mode's side of `hitl-tui notify` (core/notifications.py), answered by the service
(notify_methods.py): the methods of core.notifications.Notifications, with the same signatures,
as this OS account. The changes are signed on this account like every administrator's change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core import notifications as nt
from ..core.store import notify as sql
from .client import NotInTeamMode, RemoteService


class RemoteNotify:
    def __init__(self, remote: RemoteService) -> None:
        self._remote = remote

    def add_webhook(self, url: str, kind: str = nt.GENERIC, *, secret: str | None = None,
                    events: list[str] | None = None, sees_role: str | None = None,
                    actor: str | None = None) -> nt.WebhookInfo:
        self._remote._as_me(actor, "add webhooks")
        got = self._remote._signed("notify.webhook.add", None, url=url, kind=kind, secret=secret, events=events,
                                   sees_role=sees_role)
        return _hook(got)

    def remove_webhook(self, hook_id: str, *, actor: str | None = None) -> nt.WebhookInfo:
        self._remote._as_me(actor, "remove webhooks")
        return _hook(self._remote._signed("notify.webhook.remove", None, webhook_id=hook_id))

    def list_webhooks(self, viewer: str) -> list[nt.WebhookInfo]:
        self._remote._as_me(viewer, "list webhooks")
        return [_hook(h) for h in self._remote.call("notify.webhook.list")]

    def set_prefs(self, username: str, *, email: str | None = None, events: list[str] | None = None,
                  quiet: str | None = None, off: bool = False, tz: str | None = None,
                  actor: str | None = None) -> sql.PrefsRow | None:
        self._remote._as_me(actor, "set preferences")
        got = self._remote._signed("notify.prefs", None, username=username, email=email, events=events, quiet=quiet,
                                   off=off, tz=tz)
        return None if got is None else sql.PrefsRow(**got)

    def prefs_of(self, viewer: str, username: str) -> sql.PrefsRow | None:
        self._remote._as_me(viewer, "read preferences")
        got = self._remote.call("notify.prefs.show", username=username)
        return None if got is None else sql.PrefsRow(**got)

    def set_email(self, smtp: nt.Smtp, *, actor: str | None = None) -> nt.Smtp:
        self._remote._as_me(actor, "set the SMTP server")
        got = self._remote._signed("notify.email", None, host=smtp.host, port=smtp.port, user=smtp.user,
                                   sender=smtp.sender, password_file=_absolute(smtp.password_file),
                                   password_keyring=smtp.password_keyring, ca_file=_absolute(smtp.ca_file))
        return nt.Smtp(**got)

    def smtp_for(self, viewer: str) -> nt.Smtp | None:
        self._remote._as_me(viewer, "read the SMTP settings")
        got = self._remote.call("notify.email.show")
        return None if got is None else nt.Smtp(**got)

    def set_retry(self, retry: nt.Retry, *, actor: str | None = None) -> nt.Retry:
        self._remote._as_me(actor, "set retries")
        got = self._remote._signed("notify.retry", None, attempts=retry.attempts, backoff=retry.backoff,
                                   max_backoff=retry.max_backoff, lease=retry.lease)
        return nt.Retry(**got)

    def outbox(self, viewer: str, states: tuple[str, ...] = sql.OPEN_STATES, limit: int = 100) -> list[sql.OutboxRow]:
        self._remote._as_me(viewer, "read the outbox")
        return [sql.OutboxRow(**r) for r in self._remote.call("notify.outbox", states=list(states), limit=limit)]

    def flush(self) -> Any:
        raise NotInTeamMode("In team mode the service delivers notifications on its own, with retries; "
                            "`hitl-tui notify outbox` shows how far it got. Nothing was done.")


def _hook(got: dict[str, Any]) -> nt.WebhookInfo:
    return nt.WebhookInfo(**got)


def _absolute(path: str | None) -> str | None:
    """A file named on this side, as the service must read it (it runs elsewhere)."""
    return None if not path else str(Path(path).expanduser().absolute())
