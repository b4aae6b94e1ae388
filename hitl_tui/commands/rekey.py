"""`hitl-tui rekey`: rotate the database key and keep the new one where the old one was."""

from __future__ import annotations

import click

from .common import Failure, db_path, guarded, me, passphrase_prompt, safe, settings_of


@click.command(short_help="Rotate the database key.")
@click.pass_context
@guarded
def rekey(ctx: click.Context) -> None:
    """Rotate the database key: a new random 256-bit key replaces the old one, both in the
    database (SQLCipher PRAGMA rekey) and where the old key was kept (the key file named by
    HITL_DB_KEY_FILE, or the OS keyring). Needs directory administrator rights; the rotation is
    written to the audit log (with the new key's fingerprint, never the key).

    Safe against a kill at any moment: the new key is first stored beside the old one (KEYFILE.pending,
    or a second keyring entry "... (pending)"), then the database is re-keyed, the rotation
    recorded, and the new key moved into place. If the process dies part-way, the next command
    that opens the database finishes the rotation, or discards the new key if the database was
    never re-keyed.

    Refused, with nothing changed, when the new key could not be stored: a key from HITL_DB_KEY
    (this program cannot change your environment) or derived from a passphrase.

    \b
    Example:
      HITL_DB_KEY_FILE=/etc/hitl/db.key hitl-tui rekey
    """
    from ..core.key_rotation import can_store_rotated_key
    from ..core.service import WorkflowService

    path = db_path(ctx)
    # opening settles a rotation that an earlier, interrupted `rekey` left half-done
    service = WorkflowService.open(path, passphrase_prompt=passphrase_prompt(path), create=False, operator=me(),
                                   settings=settings_of(ctx))
    try:
        possible, why = can_store_rotated_key(service.key_source)
        if not possible:
            raise Failure(f"{why} Nothing was changed.")
        stored = service.rekey(actor=me())
    finally:
        service.close(checkpoint=False)
    click.echo(f"Rotated the key of {safe(path)}; the new key replaced the old one in {safe(stored.detail)}.")
