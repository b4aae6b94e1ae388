"""Key rotation as a service operation: an administrator's `hitl-tui rekey` in team mode.

The service rotates the key of the database it holds with the engine's own rotation
(WorkflowService.rekey, core/rotation.py): the same crash-safe pending-key protocol and the same
`key_rotated` entry as in embedded mode, with the connected administrator as its actor. No person
signs that entry in either mode (it is not among signatures.SIGNED_ACTIONS): it is hash-chained
and names the new key's fingerprint, never the key. The service keeps its one connection to the
database (PRAGMA rekey runs on it), so every connected client carries on over its own connection
without noticing; the new key is kept where the service's key came from, so a restart opens the
database with it. Neither key ever travels to a client, and no client can choose the new one.

Where the service cannot keep a new key (HITL_DB_KEY, a passphrase, a systemd credential), it
refuses before anything is written, in one line saying how to rotate instead: with the service
stopped, on the service account, in embedded mode.
"""

from __future__ import annotations

import os
import pwd
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import rbac
from ..core.errors import StoreError
from ..core.key_rotation import can_store_rotated_key, key_fingerprint
from ..core.store import users as user_sql
from . import systemd

if TYPE_CHECKING:
    from ..core.keys import ResolvedKey
    from ..core.service import WorkflowService
    from .methods import Call

@dataclass(frozen=True)
class Rotated:
    """What a client learns of a rotation: where the service keeps the new key, and its
    fingerprint (the one the `key_rotated` entry names); never the key."""

    detail: str
    fingerprint: str


def rotate(call: "Call") -> dict[str, Any]:
    """The "rekey" method: rotate the database key as the connection's user."""
    service = call.service
    # the administrator's rule first, so that nobody else learns how the key is kept
    rbac.check_admin(service.get_user(call.username), service._read(user_sql.has_admin))
    why = cannot_keep_new_key(service)
    if why is not None:
        raise StoreError(why)
    stored = service.rekey(actor=call.username)
    if stored is None:  # pragma: no cover - serve always opens through a key store
        raise StoreError("The service holds no key store to keep a new key in; nothing was changed.")
    return {"stored_in": stored.detail, "key_fingerprint": key_fingerprint(stored.key)}


def rotated(result: Any) -> Rotated:
    """The client's side of rotate()'s result."""
    return Rotated(str(result["stored_in"]), str(result["key_fingerprint"]))


def cannot_keep_new_key(service: "WorkflowService") -> str | None:
    """The one line refusing a rotation by the service, or None when it can keep the new key."""
    source = service.key_source
    if source is None:
        return None  # opened with a caller's key: the engine's rotation hands it back
    instead = _embedded_rotation(service.path)
    if _is_credential(source):
        return (f"The service's database key is the systemd credential {source.detail}, a copy it cannot "
                f"rewrite (systemd copies LoadCredential=hitl-db-key:FILE afresh at every start); rotate it with "
                f"the service stopped: {_stop()}, run {instead} (FILE, such as /etc/hitl-tui/db.key, readable and "
                f"replaceable by that account), then start the service. Nothing was changed.")
    possible, why = can_store_rotated_key(source)
    if possible:
        return None
    if source.source == "env":
        return (f"The service's database key comes from HITL_DB_KEY, which the service cannot change; rotate "
                f"it with the service stopped: write the key to a file FILE (mode 0600), run {instead}, then "
                f"start the service with HITL_DB_KEY_FILE=FILE instead of HITL_DB_KEY. Nothing was changed.")
    return f"{why} Nothing was changed."  # a passphrase: no rotation in either mode


def _is_credential(source: "ResolvedKey") -> bool:
    """A key file in $CREDENTIALS_DIRECTORY: systemd's copy, which a rotation must never rewrite
    (the next start would copy the old key back over it)."""
    directory = systemd.credentials_directory()
    if source.source != "key-file" or not directory:
        return False
    return Path(source.detail).resolve().is_relative_to(directory.resolve())


def _embedded_rotation(db: Path) -> str:
    """The command that rotates the key on the service account, with the service stopped."""
    try:
        account = pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        account = str(os.geteuid())
    return (f"on the service account: `sudo -u {shlex.quote(account)} env HITL_DB_KEY_FILE=FILE hitl-tui --db "
            f"{shlex.quote(str(db))} rekey`")


def _stop() -> str:
    """How to stop this service: its systemd unit when it runs as one."""
    unit = systemd.unit_name()
    return f"`systemctl stop {unit}`" if unit else "stop it"
