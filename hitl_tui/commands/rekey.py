"""`hitl-tui rekey`: rotate the database key and keep the new one where the old one was."""

from __future__ import annotations

import click

from .common import guarded, me, open_service, safe


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

    In team mode the service rotates the key of the database it holds (an administrator's
    command); its clients carry on unaffected. Where the service's key cannot be stored back (a
    systemd credential, HITL_DB_KEY), it refuses and says how to rotate with the service stopped.

    \b
    Example:
      HITL_DB_KEY_FILE=/etc/hitl/db.key hitl-tui rekey
    """
    # embedded: opening settles a rotation that an earlier, interrupted `rekey` left half-done, and
    # the engine refuses a key it cannot store before changing anything; in team mode the service
    # rotates the key of the database it holds (remote/rekey.py)
    with open_service(ctx) as service:
        stored = service.rekey(actor=me())
    click.echo(f"Rotated the key of {safe(service.path)}; the new key replaced the old one in {safe(stored.detail)}.")
