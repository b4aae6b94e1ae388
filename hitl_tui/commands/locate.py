"""`hitl-tui locate`: where configuration, data, the database, policy, keys and logs live."""

from __future__ import annotations

import os
from pathlib import Path

import click

from .common import db_path, echo_json, guarded, safe


def _key_source(path: Path) -> tuple[str, str, bytes | None]:
    """(source, detail, key) without ever prompting: a passphrase is only used from the env."""
    from ..core import keys
    from ..core.errors import HitlError

    try:
        resolved = keys.resolve_key(path, passphrase_prompt=None)
    except HitlError as exc:
        if keys.salt_path(path).exists():
            return "passphrase", f"passphrase (salt {keys.salt_path(path)}); not unlocked here", None
        return "none", str(exc), None
    return resolved.source, resolved.detail, resolved.key


@click.command(short_help="Print where config, data, database, keys and logs live.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
@guarded
def locate(ctx: click.Context, as_json: bool) -> None:
    """Print where hitl-tui keeps things: config, data, the database, where the policy in force
    comes from (the database's version, or the built-in default), the checkpoint signing key,
    logs, and where the database key comes from. Never prompts.

    \b
    Examples:
      hitl-tui locate
      hitl-tui --db /srv/hitl/hitl.db locate --json
    """
    from ..core import paths
    from ..core.checkpoints import signing_key_path
    from ..core.errors import HitlError
    from ..core.os_keyring import keyring_backend_status
    from ..core.policy import ignored_environment

    db = db_path(ctx)
    source, detail, key = _key_source(db) if db.exists() else ("none", "no database yet", None)
    database_id, signing, policy, policy_text = None, None, None, "built-in default (no database yet)"
    if db.exists():
        policy_text = "unknown: the database was not opened"
    if key is not None:
        try:
            from ..core.service import WorkflowService

            service = WorkflowService.open(db, key=key, create=False)
            try:
                database_id = service.database_id
                signing = signing_key_path(database_id)
                stored = service.policy_in_force()
                policy, policy_text = stored.as_json(), stored.describe()
                del policy["toml"]  # `hitl-tui policy show` prints it
            except HitlError as exc:
                policy_text = f"unusable: {exc}"
            finally:
                service.close(checkpoint=False)
        except HitlError as exc:
            detail = f"{detail} (but it does not open the database: {exc})"
    usable, keyring_text = keyring_backend_status()
    info = {
        "config_dir": str(paths.config_dir()),
        "data_dir": str(paths.data_dir()),
        "database": str(db),
        "database_exists": db.exists(),
        "database_id": database_id,
        "policy": policy,
        "policy_in_force": policy_text,
        "key_source": source,
        "key_detail": detail,
        "keyring": keyring_text + ("" if usable else " (not used)"),
        "signing_key": str(signing) if signing else str(paths.signing_key_dir()),
        "signing_key_exists": bool(signing and signing.exists()),
        "log_dir": str(paths.log_dir()),
        "env_overrides": {k: os.environ[k] for k in ("HITL_DB_PATH", "HITL_DB_KEY_FILE",
                                                      "HITL_SIGNING_KEY_FILE") if k in os.environ},
        # set, but no longer changing anything: the policy is the database's
        "ignored_environment": ignored_environment(os.environ),
    }
    if as_json:
        echo_json(info)
        return
    exists = "" if db.exists() else "  (does not exist yet: `hitl-tui init`)"
    lines = [
        ("Config directory", info["config_dir"]), ("Data directory", info["data_dir"]),
        ("Database", f"{db}{exists}"), ("Database id", database_id or "-"),
        ("Policy", policy_text),
        ("Database key", f"{source}: {detail}"), ("OS keyring", info["keyring"]),
        ("Signing key", f"{info['signing_key']}{'' if info['signing_key_exists'] else ' (not created yet)'}"),
        ("Logs", info["log_dir"]),
    ]
    for label, value in lines:
        click.echo(f"{label + ':':<18} {safe(value)}")
