"""`hitl-tui locate`: where configuration, data, the database, policy, keys and logs live, and
where each setting's value came from (--db, the environment, the config file, the default)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from .common import db_path, echo_json, guarded, safe, settings_of


def _key_source(path: Path, settings) -> tuple[str, str, bytes | None]:
    """(source, detail, key) without ever prompting: a passphrase is only used from the env."""
    from ..core import keys
    from ..core.errors import HitlError

    try:
        resolved = keys.resolve_key(path, passphrase_prompt=None, settings=settings)
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
    logs, and where the database key comes from; then every setting, its value, and where that
    value came from (--db, the environment, the config file, or the default). Never prompts.

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

    settings = settings_of(ctx)
    db = db_path(ctx)
    source, detail, key = _key_source(db, settings) if db.exists() else ("none", "no database yet", None)
    database_id, signing, policy, policy_text = None, None, None, "built-in default (no database yet)"
    if db.exists():
        policy_text = "unknown: the database was not opened"
    if key is not None:
        try:
            from ..core.service import WorkflowService

            service = WorkflowService.open(db, key=key, create=False, settings=settings)
            try:
                database_id = service.database_id
                signing = signing_key_path(database_id, settings)
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
        "config_file": str(settings.config_file),
        "config_file_exists": settings.config_file.exists(),
        "config_file_named_by": settings.config_file_named_by,
        "data_dir": str(paths.data_dir()),
        "database": str(db),
        "database_exists": db.exists(),
        "database_id": database_id,
        "policy": policy,
        "policy_in_force": policy_text,
        "key_source": source,
        "key_detail": detail,
        "keyring": keyring_text + ("" if usable else " (not used)"),
        "signing_key": str(signing) if signing else str(settings.signing_key_file or paths.signing_key_dir()),
        "signing_key_exists": bool(signing and signing.exists()),
        "log_dir": str(paths.log_dir()),
        # every setting: its value and where it came from (core/settings.py)
        "settings": {key: {"value": value, "from": origin.kind, "where": origin.detail}
                     for key, value, origin in _settings_rows(settings)},
        # set, but no longer changing anything: the policy is the database's (an env-only fact)
        "ignored_environment": ignored_environment(os.environ),
    }
    if as_json:
        echo_json(info)
        return
    exists = "" if db.exists() else "  (does not exist yet: `hitl-tui init`)"
    named = " (named by HITL_CONFIG)" if settings.config_file_named_by == "HITL_CONFIG" else ""
    missing = "" if info["config_file_exists"] else " (does not exist: the defaults apply)"
    lines = [
        ("Config directory", info["config_dir"]), ("Config file", f"{settings.config_file}{named}{missing}"),
        ("Data directory", info["data_dir"]),
        ("Database", f"{db}{exists}"), ("Database id", database_id or "-"),
        ("Policy", policy_text),
        ("Database key", f"{source}: {detail}"), ("OS keyring", info["keyring"]),
        ("Signing key", f"{info['signing_key']}{'' if info['signing_key_exists'] else ' (not created yet)'}"),
        ("Logs", info["log_dir"]),
    ]
    for label, value in lines:
        click.echo(f"{label + ':':<18} {safe(value)}")
    click.echo("")
    click.echo("Settings (value, then where it came from):")
    rows = [(key, _shown(value), _from(origin)) for key, value, origin in _settings_rows(settings)]
    width = max(len(key) for key, _, _ in rows)
    values = min(32, max(len(value) for _, value, _ in rows))
    for key, value, where in rows:
        click.echo(f"  {key:<{width}}  {safe(value):<{values}}  {where}")


def _settings_rows(settings):
    """(key, value, Origin) of every setting, a table's entries one row each (`ui.keymap["desk.approve"]`)."""
    for key, origin in settings.origins().items():
        yield key, _value_at(settings, key), origin


def _value_at(settings, key: str):
    name, _, entry = key.partition("[")
    value = settings
    for part in name.split("."):
        value = getattr(value, part)
    if entry:
        value = value[entry[1:-2]]  # ["desk.approve"] -> desk.approve
    if hasattr(value, "model_dump"):
        return {k: v for k, v in value.model_dump().items() if v is not None}
    return value


def _shown(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return ", ".join(f"{k} = {v}" for k, v in value.items()) or "(none)"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _from(origin) -> str:
    return {"env": f"environment ({origin.detail})", "file": "config file", "argument": origin.detail}.get(
        origin.kind, "default")
