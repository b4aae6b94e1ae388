"""`hitl-tui key` (your own signing key) and `hitl-tui users key` (the registered keys).

Every decision and every change to the directory or the policy is signed by the person who made
it, with an Ed25519 key that only their OS account holds (core/personal_keys.py). `key show`
prints yours (made on first need) and the command an administrator runs to register it.
"""

from __future__ import annotations

import sys
from typing import Callable

import click

from .common import Failure, guarded, me, open_service, safe


def _tty() -> bool:
    return sys.stdin.isatty()


def _ask(prompt: str) -> str:
    import getpass

    return getpass.getpass(prompt, stream=sys.stderr)


def unlock_prompt() -> Callable[[str], str] | None:
    """The session's way to unlock a passphrase-protected signing key: asked on the terminal;
    None without one (the engine then refuses in one line)."""
    if not _tty():
        return None
    return lambda username: _ask(f"Passphrase of {username}'s signing key: ")


def reauth_prompt(username: str) -> Callable[[], str] | None:
    """For a decision the policy asks re-authentication for (reauth_at): the passphrase, typed
    for this one signing."""
    if not _tty():
        return None
    return lambda: _ask(f"Re-authenticate to sign as {username}: passphrase of your signing key: ")


def _register_line(username: str, public_key: str) -> str:
    return f'hitl-tui users key register {username} {public_key} --reason "..."'


@click.group(short_help="Your own signing key: show it, make a new one, protect it with a passphrase.")
def key() -> None:
    """Your signing key for this database: every decision you make is signed with it.

    It is kept where only your OS account can read it (a 0600 file in your data directory, or
    the OS keyring with personal_keys = "keyring"), never in the database.

    \b
    Examples:
      hitl-tui key show
      hitl-tui key passphrase
      hitl-tui key new            # rotate: then have an administrator register the new key
    """


_AS = click.option("--as", "username", default=None,
                   help="Whose key (default: you, the OS login); this account keeps keys for everyone it acts for.")


@key.command("show")
@_AS
@click.pass_context
@guarded
def show(ctx: click.Context, username: str | None) -> None:
    """Print the public half of your signing key (made on first need) and the command an
    administrator runs to register it.

    \b
    Example:
      hitl-tui key show
    """
    name = username or me()
    with open_service(ctx) as service:
        store = service.personal_keys
        registered = service.user_key_ids().get(name)
        held = store.find(name, registered) if registered else None
        key_ = held or store.ensure(name)
    click.echo(f"{safe(name)}'s signing key for database {service.database_id}:")
    click.echo(f"  {key_.public_key}")
    state = "protected by a passphrase" if key_.protected else "no passphrase (`hitl-tui key passphrase` sets one)"
    click.echo(f"  key id {key_.key_id}; {state}")
    if registered == key_.key_id:
        click.echo(f"It is registered: {safe(name)}'s decisions are signed with it.")
        return
    now = f"the registered key is {registered}" if registered else "no key is registered for you yet"
    click.echo(f"It is not registered ({now}). An administrator registers it with:")
    click.echo(f"  {_register_line(safe(name), key_.public_key)}")


@key.command("new")
@_AS
@click.pass_context
@guarded
def new(ctx: click.Context, username: str | None) -> None:
    """Make a new signing key (a rotation); the old one keeps signing until an administrator
    registers the new one.

    \b
    Example:
      hitl-tui key new
    """
    name = username or me()
    with open_service(ctx) as service:
        key_ = service.personal_keys.add(name)
    click.echo(f"New signing key {key_.key_id} for {safe(name)}: {key_.public_key}")
    click.echo("An administrator registers it (your old key signs until then):")
    click.echo(f"  {_register_line(safe(name), key_.public_key)}")


@key.command("passphrase")
@_AS
@click.pass_context
@guarded
def passphrase(ctx: click.Context, username: str | None) -> None:
    """Protect your signing key with a passphrase, or change it. A policy's re-authentication
    at signing (reauth_at) asks for it at each such decision.

    \b
    Example:
      hitl-tui key passphrase
    """
    if not _tty():
        raise Failure("`key passphrase` asks for the passphrase on a terminal; run it in one.")
    name = username or me()
    with open_service(ctx) as service:
        store = service.personal_keys
        registered = service.user_key_ids().get(name)
        key_ = (store.find(name, registered) if registered else None) or store.newest(name)
        if key_ is None:
            raise Failure(f"{name} has no signing key on this account yet; `hitl-tui key show` makes one.")
        private = key_.unlock(_ask("Current passphrase: ") if key_.protected else None)
        first = _ask("New passphrase: ")
        if len(first) < 8:
            raise Failure("A passphrase needs at least 8 characters; nothing was changed.")
        if _ask("Repeat the new passphrase: ") != first:
            raise Failure("The two passphrases differ; nothing was changed.")
        from ..core.personal_keys import with_passphrase

        store.replace(with_passphrase(key_, private, first))
    click.echo(f"{safe(name)}'s signing key {key_.key_id} is now protected by a passphrase.")


# --- `hitl-tui users key ...` -----------------------------------------------------------------

@click.group("key", short_help="Register or revoke a person's signing key (administrators).")
def users_key() -> None:
    """The signing key each person's decisions are verified by. Registering and revoking are
    audited, signed directory changes for a directory administrator.

    \b
    Examples:
      hitl-tui users key register lisa.director ed25519:3b6a...e1 --reason "new laptop"
      hitl-tui users key revoke lisa.director --reason "laptop lost"
    """


@users_key.command("register")
@click.argument("username")
@click.argument("public_key")
@click.option("--reason", default="", help="Why (required, recorded in the audit log).")
@click.pass_context
@guarded
def register(ctx: click.Context, username: str, public_key: str, reason: str) -> None:
    """Register PUBLIC_KEY (as `hitl-tui key show` prints it on USERNAME's account) as the key
    USERNAME signs with from now on; an older key stops being valid.

    \b
    Example:
      hitl-tui users key register lisa.director ed25519:3b6a...e1 --reason "key rotation"
    """
    with open_service(ctx, writes=True) as service:
        kid = service.register_user_key(username, public_key, reason, actor=me())
    click.echo(f"Registered key {kid} for {safe(username)}; their decisions are verified by it from now on.")


@users_key.command("revoke")
@click.argument("username")
@click.option("--reason", default="", help="Why (required, recorded in the audit log).")
@click.pass_context
@guarded
def revoke(ctx: click.Context, username: str, reason: str) -> None:
    """Revoke USERNAME's registered key: they cannot sign until a new one is registered.

    \b
    Example:
      hitl-tui users key revoke lisa.director --reason "laptop lost"
    """
    with open_service(ctx, writes=True) as service:
        kid = service.revoke_user_key(username, reason, actor=me())
    click.echo(f"Revoked {safe(username)}'s key {kid}; they cannot sign until a new key is registered.")
