"""`hitl-tui token`: the HTTP API's bearer tokens (core/tokens.py), an administrator's.

`token create ACCOUNT` prints the new token alone on stdout, once (it is stored only as its
sha256, so nobody can show it again), and what it is on stderr; `token list` shows ids, never a
token; `token revoke ID` ends one at once, a wait in progress included. Each is recorded in the
audit trail. Works on the database and through the service alike.
"""

from __future__ import annotations

from typing import Any

import click

from .common import echo_json, guarded, me, open_service, safe


def tokens_of(service: Any) -> Any:
    """The token calls on this engine: the database's own, or the service's (team mode)."""
    from ..remote.client import RemoteService

    if isinstance(service, RemoteService):
        from ..remote.tokens_client import RemoteTokens

        return RemoteTokens(service)
    from ..core.tokens import Tokens

    return Tokens(service)


@click.group("token", short_help="Bearer tokens for the HTTP API: create, list, revoke (administrators).")
def token() -> None:
    """Bearer tokens for `hitl-tui http`: each stands for one directory account (normally an
    integration) and acts as it; a directory administrator makes and revokes them.

    \b
    Examples:
      hitl-tui token create billing-bot --name "ERP webhooks"
      hitl-tui token list
      hitl-tui token revoke tk-0a1b2c3d4e5f --reason "rotated"
    """


@token.command("create")
@click.argument("account")
@click.option("--name", default=None, metavar="LABEL", help="What the token is for (shown in `token list`).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (the token included).")
@click.pass_context
@guarded
def create(ctx: click.Context, account: str, name: str | None, as_json: bool) -> None:
    """Make a bearer token that acts as ACCOUNT, and print it, once: only its sha256 is kept.

    \b
    Example:
      TOKEN=$(hitl-tui token create billing-bot --name "ERP webhooks")
    """
    with open_service(ctx, writes=True) as service:
        secret, info = tokens_of(service).create(account, name, actor=me())
    if as_json:
        echo_json({"token": secret, **info.model_dump(mode="json")})
        return
    click.echo(secret)
    click.echo(f"Token {info.id} acts as {safe(info.username)}{_label(info.name)}. It is shown only now: keep it "
               f"in the caller's secret store. Revoke it with `hitl-tui token revoke {info.id}`.", err=True)


@token.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@guarded
def list_(ctx: click.Context, as_json: bool) -> None:
    """List the tokens (ids, never tokens): whom each acts as, who made it, whether it is revoked.

    \b
    Example:
      hitl-tui token list --json
    """
    with open_service(ctx) as service:
        found = tokens_of(service).listing(me())
    if as_json:
        echo_json([{**t.model_dump(mode="json"), "active": t.active} for t in found])
        return
    if not found:
        click.echo("No tokens yet; make one with `hitl-tui token create ACCOUNT`.")
        return
    from .users import aligned

    rows = [["ID", "ACCOUNT", "NAME", "CREATED", "STATUS"]]
    for t in found:
        state = "active" if t.active else f"revoked {t.revoked_at} by {t.revoked_by}"
        rows.append([t.id, safe(t.username), safe(t.name or "-"), f"{t.created_at} by {safe(t.created_by)}",
                     safe(state)])
    for line in aligned(rows):
        click.echo(line)


@token.command("revoke")
@click.argument("token_id", metavar="ID")
@click.option("--reason", default="", help="Why (recorded in the audit trail).")
@click.pass_context
@guarded
def revoke(ctx: click.Context, token_id: str, reason: str) -> None:
    """Revoke the token ID (or the token itself): every call with it is refused from now on, a
    wait in progress included.

    \b
    Example:
      hitl-tui token revoke tk-0a1b2c3d4e5f --reason "the ERP was decommissioned"
    """
    with open_service(ctx, writes=True) as service:
        info = tokens_of(service).revoke(token_id, reason, actor=me())
    click.echo(f"Revoked token {info.id} ({safe(info.username)}{_label(info.name)}).")


def _label(name: str | None) -> str:
    return f", {safe(name)}" if name else ""
