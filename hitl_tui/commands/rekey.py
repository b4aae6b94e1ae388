"""`hitl-tui rekey`: rotate the database key and keep the new one where the old one was."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import click

from .common import Failure, db_path, guarded, me, passphrase_prompt, safe


@click.command(short_help="Rotate the database key.")
@click.pass_context
@guarded
def rekey(ctx: click.Context) -> None:
    """Rotate the database key: a new random 256-bit key replaces the old one, both in the
    database (SQLCipher PRAGMA rekey) and where the old key was kept (the key file named by
    HITL_DB_KEY_FILE, or the OS keyring). Needs directory administrator rights; the rotation is
    written to the audit log.

    Refused, with nothing changed, when the new key could not be stored: a key from HITL_DB_KEY
    (this program cannot change your environment) or derived from a passphrase.

    \b
    Example:
      HITL_DB_KEY_FILE=/etc/hitl/db.key hitl-tui rekey
    """
    from ..core import keys
    from ..core.service import WorkflowService

    path = db_path(ctx)
    resolved = keys.resolve_key(path, passphrase_prompt=passphrase_prompt(path))
    possible, why = keys.can_store_rotated_key(resolved)
    if not possible:
        raise Failure(f"{why} Nothing was changed.")
    service = WorkflowService.open(path, key=resolved.key, create=False, operator=me())
    try:
        old_key, new_key = resolved.key, secrets.token_bytes(keys.KEY_BYTES)
        service.rekey(new_key, actor=me())  # admin check + audit entry, then PRAGMA rekey
        try:
            keys.store_rotated_key(path, resolved, new_key)
        except Exception as exc:  # noqa: BLE001 - whatever went wrong, the database must stay openable
            _roll_back(service, path, old_key, new_key, exc)
    finally:
        service.close(checkpoint=False)
    click.echo(f"Rotated the key of {safe(path)}; the new key replaced the old one in {safe(resolved.detail)}.")


def _roll_back(service, path: Path, old_key: bytes, new_key: bytes, error: Exception) -> None:
    """The new key could not be stored: put the old key back on the database (a second audited
    rotation). If even that fails, save the new key in a 0600 rescue file rather than lose it."""
    try:
        service.rekey(old_key, actor=me())
    except Exception:  # noqa: BLE001
        rescue = Path(f"{path}.rescue-key")
        fd = os.open(rescue, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(new_key.hex() + "\n")
        raise Failure(f"Storing the new key failed ({error}) and so did restoring the old one; the database's "
                      f"key is now in {rescue} (mode 0600): point HITL_DB_KEY_FILE at it.") from None
    raise Failure(f"Storing the new key failed ({error}); the database was switched back to its old key, "
                  f"which still works.") from None
