"""`hitl-tui users`: the user directory (add, list, set-role, deactivate, reactivate, set-admin)."""

from __future__ import annotations

import click

from .common import echo_json, guarded, me, open_service, safe


def _user_json(u, key_id: str | None = None) -> dict:
    return {"username": u.username, "role": u.role.value, "email": u.email, "display_name": u.display_name,
            "active": u.active, "admin": u.admin, "created_at": u.created_at, "key_id": key_id,
            "integration": u.integration, "owner": u.owner}


def _describe(u) -> str:
    flags = ([u.role.label] + (["administrator"] if u.admin else []) + ([] if u.active else ["DEACTIVATED"])
             + ([f"integration owned by {safe(u.owner)}"] if u.integration else []))
    return f"{safe(u.username)} ({', '.join(flags)})"


@click.group(short_help="Manage the user directory (add, list, set-role, deactivate...).")
def users() -> None:
    """The user directory: who may request and decide, and in which role.

    Changes need a directory administrator (the first one is whoever ran `hitl-tui init`); you act
    as your OS login. Every change is written to the audit log.

    \b
    Examples:
      hitl-tui users add sarah.manager --role manager --email sarah@example.com --name "Sarah Chen"
      hitl-tui users list --json
      hitl-tui users set-role john.doe manager
      hitl-tui users deactivate john.doe
    """


@users.command("add")
@click.argument("username")
@click.option("--role", required=True, help="employee, manager, director, executive, compliance, security or it_admin.")
@click.option("--email", default=None, help="Email address.")
@click.option("--name", "display_name", default=None, help="Display name.")
@click.option("--admin", is_flag=True, help="Also make them a user-directory administrator.")
@click.option("--key", "public_key", default=None, metavar="ed25519:HEX",
              help="Their signing key, as `hitl-tui key show` prints it on their account (default: a new key "
                   "kept on this account).")
@click.option("--integration", is_flag=True,
              help="An AI agent or a system, not a person: it may file requests and read its own, never decide.")
@click.option("--owner", default=None, metavar="PERSON",
              help="With --integration: the person responsible for it (who then may not decide what it files, "
                   "where the policy says so).")
@click.pass_context
@guarded
def add(ctx: click.Context, username: str, role: str, email: str | None, display_name: str | None, admin: bool,
        public_key: str | None, integration: bool, owner: str | None) -> None:
    """Add USERNAME to the directory with a role.

    An integration (--integration --owner PERSON) is the OS account an AI agent or a system runs
    as: it files requests for approval (the Python client, hitl_tui.client) and reads its own,
    and can never approve, reject or request changes, by any path.

    \b
    Examples:
      hitl-tui users add mike.director --role director --email mike@example.com
      hitl-tui users add billing-bot --integration --owner sarah.manager --role employee --key ed25519:...
    """
    if owner is not None and not integration:
        raise click.UsageError("--owner names the person responsible for an integration: give --integration too.")
    with open_service(ctx, writes=True) as service:
        if integration:
            user = service.approvals.add_integration(username, role, owner or "", email=email, admin=admin,
                                                     display_name=display_name, actor=me(), public_key=public_key)
        else:
            user = service.add_user(username, role, email, display_name=display_name, admin=admin, actor=me(),
                                    public_key=public_key)
    click.echo(f"Added {_describe(user)}.")


@users.command("list")
@click.option("--active-only", is_flag=True, help="Leave out deactivated users.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@guarded
def list_(ctx: click.Context, active_only: bool, as_json: bool) -> None:
    """List the directory.

    \b
    Examples:
      hitl-tui users list
      hitl-tui users list --active-only --json
    """
    with open_service(ctx) as service:
        people = service.list_users(include_inactive=not active_only)
        keys = service.user_key_ids()  # the key each person signs with (commands/keys.py)
    if as_json:
        echo_json([_user_json(u, keys.get(u.username)) for u in people])
        return
    if not people:
        click.echo("The directory is empty; add people with `hitl-tui users add`.")
        return
    rows = [["USERNAME", "ROLE", "ADMIN", "ACTIVE", "KEY", "NAME / EMAIL"]]
    for u in people:
        who = " ".join(x for x in (u.display_name, f"<{u.email}>" if u.email else None,
                                   f"(integration, owner {u.owner})" if u.integration else None) if x)
        rows.append([safe(u.username), u.role.value, "yes" if u.admin else "-", "yes" if u.active else "no",
                     keys.get(u.username, "-"), safe(who)])
    for line in aligned(rows):
        click.echo(line)


def aligned(rows: list[list[str]], gap: int = 2) -> list[str]:
    """Rows as lines whose columns line up on a terminal: each column as wide as its widest
    cell (header included), counted in terminal cells, so a name in CJK or with combining accents
    does not push the columns after it; the last column is not padded."""
    from rich.cells import cell_len  # the TUI's own measure of a terminal cell

    widths = [max(cell_len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [(" " * gap).join([*(cell + " " * (w - cell_len(cell)) for cell, w in zip(row, widths)), row[-1]]).rstrip()
            for row in rows]


@users.command("set-role")
@click.argument("username")
@click.argument("role")
@click.pass_context
@guarded
def set_role(ctx: click.Context, username: str, role: str) -> None:
    """Change USERNAME's role to ROLE.

    \b
    Example:
      hitl-tui users set-role john.doe manager
    """
    with open_service(ctx, writes=True) as service:
        user = service.set_user_role(username, role, actor=me())
    click.echo(f"{_describe(user)}: role is now {user.role.label}.")


@users.command("deactivate")
@click.argument("username")
@click.pass_context
@guarded
def deactivate(ctx: click.Context, username: str) -> None:
    """Stop USERNAME from requesting or deciding (their history stays).

    \b
    Example:
      hitl-tui users deactivate john.doe
    """
    with open_service(ctx, writes=True) as service:
        user = service.set_user_active(username, False, actor=me())
    click.echo(f"Deactivated {_describe(user)}.")


@users.command("reactivate")
@click.argument("username")
@click.pass_context
@guarded
def reactivate(ctx: click.Context, username: str) -> None:
    """Let a deactivated USERNAME act again.

    \b
    Example:
      hitl-tui users reactivate john.doe
    """
    with open_service(ctx, writes=True) as service:
        user = service.set_user_active(username, True, actor=me())
    click.echo(f"Reactivated {_describe(user)}.")


@users.command("set-admin")
@click.argument("username")
@click.option("--revoke", is_flag=True, help="Remove administrator rights instead of granting them.")
@click.pass_context
@guarded
def set_admin(ctx: click.Context, username: str, revoke: bool) -> None:
    """Grant (or with --revoke, remove) USERNAME's user-directory administrator rights.

    \b
    Examples:
      hitl-tui users set-admin carol.compliance
      hitl-tui users set-admin carol.compliance --revoke
    """
    with open_service(ctx, writes=True) as service:
        user = service.set_user_admin(username, not revoke, actor=me())
    click.echo(f"{_describe(user)}: administrator rights {'removed' if revoke else 'granted'}.")


def _key_group() -> None:
    """`hitl-tui users key register|revoke` (commands/keys.py)."""
    from .keys import users_key

    users.add_command(users_key, "key")


_key_group()
