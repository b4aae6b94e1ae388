"""The service's side of `hitl-tui notify` (core/notifications.py), each as the CONNECTION's user:

    notify.webhook.add / .remove .prepare / .commit   an administrator's webhooks
    notify.prefs.prepare / .commit                    a person's preferences (theirs, or an
                                                      administrator's for anyone)
    notify.email.prepare / .commit                    the SMTP settings (an administrator's)
    notify.retry.prepare / .commit                    how deliveries are retried
    notify.webhook.list, notify.prefs.show, notify.email.show, notify.outbox   reads

The changes are two-phase writes like every other administrator's change (two_phase.py): the
client signs what the service prepared, once signatures.SIGNED_ACTIONS names these actions.
Delivery itself is the service's own loop (notify_loop.py); there is no flush over the wire.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ..core import notifications as nt

if TYPE_CHECKING:
    from .methods import Call, Method


def _webhook_added(call: "Call") -> Callable[[], Any]:
    p, me = call.params, call.username
    return lambda: nt.add_webhook(call.service, p["url"], p["kind"], secret=p["secret"], events=p["events"],
                                  sees_role=p["sees_role"], actor=me)


def _webhook_removed(call: "Call") -> Callable[[], Any]:
    return lambda: nt.remove_webhook(call.service, call.params["webhook_id"], actor=call.username)


def _prefs_set(call: "Call") -> Callable[[], Any]:
    p, me = call.params, call.username
    return lambda: nt.set_prefs(call.service, p["username"], email=p["email"], events=p["events"], quiet=p["quiet"],
                                off=p["off"], tz=p["tz"], actor=me)


def _email_set(call: "Call") -> Callable[[], Any]:
    p = call.params
    smtp = nt.Smtp(host=p["host"], port=p["port"], user=p["user"], sender=p["sender"],
                   password_file=p["password_file"], password_keyring=p["password_keyring"], ca_file=p["ca_file"])
    return lambda: nt.set_email(call.service, smtp, actor=call.username)


def _retry_set(call: "Call") -> Callable[[], Any]:
    p = call.params
    retry = nt.Retry(p["attempts"], p["backoff"], p["max_backoff"], p["lease"])
    return lambda: nt.set_retry(call.service, retry, actor=call.username)


def _outbox(call: "Call") -> Any:
    from .methods import InvalidParams, dump

    states = tuple(str(s) for s in call.params["states"])
    if not states or any(s not in ("pending", "failed", "sent", "gave_up") for s in states):
        raise InvalidParams("notify.outbox: 'states' are pending, failed, sent, gave_up.")
    return dump(nt.outbox(call.service, call.username, states, call.params["limit"]))


def notify_methods() -> list["Method"]:
    """The methods above, for methods._table() (built there, once Method exists: no import cycle)."""
    from .methods import Method, _p, _signed_method, dump

    return [
        *_signed_method("notify.webhook.add", _webhook_added, {
            "url": _p(str, required=True), "kind": _p(str, default=nt.GENERIC), "secret": _p(str),
            "events": _p(list), "sees_role": _p(str)}),
        *_signed_method("notify.webhook.remove", _webhook_removed, {"webhook_id": _p(str, required=True)}),
        *_signed_method("notify.prefs", _prefs_set, {
            "username": _p(str, required=True), "email": _p(str), "events": _p(list), "quiet": _p(str),
            "off": _p(bool, default=False), "tz": _p(str)}),
        *_signed_method("notify.email", _email_set, {
            "host": _p(str, required=True), "port": _p(int, default=587), "user": _p(str),
            "sender": _p(str, required=True), "password_file": _p(str), "password_keyring": _p(bool, default=False),
            "ca_file": _p(str)}),
        *_signed_method("notify.retry", _retry_set, {
            "attempts": _p(int, required=True), "backoff": _p(int, float, required=True),
            "max_backoff": _p(int, float, default=3600.0), "lease": _p(int, float, default=120.0)}),
        Method("notify.webhook.list", lambda c: dump(nt.list_webhooks(c.service, c.username))),
        Method("notify.prefs.show", lambda c: dump(nt.prefs_of(c.service, c.username, c.params["username"])),
               {"username": _p(str, required=True)}),
        Method("notify.email.show", lambda c: dump(nt.smtp_for(c.service, c.username))),
        Method("notify.outbox", _outbox, {"states": _p(list, default=["pending", "failed"]),
                                          "limit": _p(int, default=100)}),
    ]
