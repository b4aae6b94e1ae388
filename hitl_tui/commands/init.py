"""`hitl-tui init`: create the encrypted database, its key, you as the first administrator, and
its policy version 1 (the built-in default, or --policy FILE laid over it, with the seed's
threshold variables when they are set)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ..core.errors import DatabaseExists, ValidationFailed
from .common import db_path, guarded, me, safe, settings_of


def _new_passphrase_prompt():
    if not sys.stdin.isatty():
        return None
    return lambda: click.prompt("New passphrase for the database", hide_input=True, confirmation_prompt=True,
                                err=True)


def _check_inputs(login: str, role: str, email: str | None):
    """Everything init could refuse, before anything exists on disk."""
    from ..core.models import Role
    from ..core.directory import USERNAME_RE

    if not USERNAME_RE.match(login):
        raise ValidationFailed(f"Your OS login {login!r} cannot be a hitl-tui username (letters, digits, '.', "
                               f"'_', '-', '@'); run init from an account with an ordinary login name.", "username")
    parsed = Role.parse(role)
    if email is not None and (not email.strip() or len(email) > 254 or "\n" in email or "@" not in email):
        raise ValidationFailed(f"--email {email!r} does not look like an email address.", "email")
    return parsed


def _remove_created(path: Path, key_file: Path | None, salt: Path | None) -> None:
    """Undo a half-finished init: the database files, and a key/salt file init itself made."""
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        p.unlink(missing_ok=True)
    for p in (key_file, salt):
        if p is not None:
            p.unlink(missing_ok=True)


@click.command(short_help="Create the database and make you its first administrator.")
@click.option("--role", default="it_admin", show_default=True,
              help="Your role in the directory (employee, manager, director, executive, compliance, security, it_admin).")
@click.option("--email", default=None, help="Your email address, for the directory.")
@click.option("--name", "display_name", default=None, help="Your display name, for the directory.")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A policy file laid over the built-in default, stored as policy version 1.")
@click.pass_context
@guarded
def init(ctx: click.Context, role: str, email: str | None, display_name: str | None,
         policy_file: Path | None) -> None:
    """Create a new encrypted database and make you (the OS login) its first administrator.

    The key is kept, in this order of preference: in the file named by HITL_DB_KEY_FILE (created
    0600 if missing), taken from HITL_DB_KEY, in the OS keyring (Secret Service, Keychain,
    Credential Locker; never a plain-text keyring), or derived from a passphrase
    (HITL_DB_PASSPHRASE or a prompt). An existing database is never touched.

    The database stores its policy: version 1 is the built-in default, or --policy FILE laid over
    it; LOW/MEDIUM/HIGH_RISK_EXPENSE_THRESHOLD, when set, replace the expense thresholds. Change
    it later with `hitl-tui policy apply FILE`.

    \b
    Examples:
      hitl-tui init
      hitl-tui init --role compliance --email carol@example.com
      hitl-tui init --policy our-policy.toml
      HIGH_RISK_EXPENSE_THRESHOLD=40000 hitl-tui init
      HITL_DB_KEY_FILE=~/.config/hitl-tui/db.key hitl-tui --db /srv/hitl/hitl.db init
    """
    from ..core import keys
    from ..core.policy import EXPENSE_THRESHOLD_ENV, thresholds_from
    from ..core.policy_store import compose_text
    from ..core.service import WorkflowService
    from .policy import warn_ignored_environment

    path = db_path(ctx)
    if path.exists():
        raise DatabaseExists(f"A database already exists at {path}; nothing was changed.")
    login = me()
    parsed_role = _check_inputs(login, role, email)
    warn_ignored_environment(honoured=EXPENSE_THRESHOLD_ENV)
    # the seed's threshold variables are part of the policy being applied, not settings (an
    # env-only fact: core/settings.py says why)
    policy_text, policy_source = compose_text(policy_file, thresholds_from(os.environ))  # before anything exists
    settings = settings_of(ctx)
    key_file, _named_by = keys.key_file_setting(settings)
    key_file_existed = key_file is not None and key_file.exists()
    salt_existed = keys.salt_path(path).exists()
    resolved = keys.create_key(path, passphrase_prompt=_new_passphrase_prompt(), settings=settings)
    made_key = key_file if resolved.source == "key-file" and not key_file_existed else None
    made_salt = keys.salt_path(path) if resolved.source == "passphrase" and not salt_existed else None
    try:
        service = WorkflowService.open(path, key=resolved.key, create=True, operator=login, settings=settings)
        try:
            service.add_user(login, parsed_role, email, display_name=display_name, admin=True, actor=login)
            stored, _summary = service.apply_policy(policy_text, source=policy_source, actor=login)
        finally:
            service.close()  # seals the new log with its first signed checkpoint
    except BaseException:
        _remove_created(path, made_key, made_salt)
        raise
    where = {"key-file": f"key file {resolved.detail}", "keyring": resolved.detail,
             "env": "HITL_DB_KEY (keep it safe: hitl-tui did not store it)",
             "passphrase": "your passphrase (nothing stored but the salt file)"}[resolved.source]
    click.echo(f"Created encrypted database {safe(path)}")
    click.echo(f"Key: {safe(where)}")
    click.echo(f"You ({safe(login)}) are the first user-directory administrator, role {parsed_role.label}.")
    click.echo(f"Policy: version 1 from {safe(policy_source)} (sha256 {stored.sha256}); `hitl-tui policy show`")
    click.echo("Next: hitl-tui users add USERNAME --role ROLE   (hitl-tui users --help)")
