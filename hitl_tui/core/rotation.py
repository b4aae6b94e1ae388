"""Rotating the database key, crash-safe at every step: WorkflowService.rekey and the open that
finishes (or discards) a rotation a kill interrupted.

The engine's side of the rotation; where the keys are kept (the pending key, the rotation lock,
the key's fingerprint) is key_rotation.py. A collaborator of WorkflowService (service.py), which
holds one KeyRotation and hands it its connection, lock, key and audit writer.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from . import key_rotation, rbac
from .crashpoints import crash_point
from .decisions import AuditAction
from .errors import HitlError, StoreBusy, StoreError, ValidationFailed, WrongKey
from .keys import KEY_BYTES, ResolvedKey, resolve_key
from .store import meta
from .store import users as user_sql
from .store.connection import Conn, DbError, open_connection, rekey, still_opens, translate, wrong_key

if TYPE_CHECKING:
    from .service import WorkflowService


class KeyRotation:
    def __init__(self, service: "WorkflowService") -> None:
        self._service = service

    def rekey(self, new_key: bytes | None = None, *, actor: str | None = None) -> ResolvedKey | None:
        """Rotate the database key (a random one when `new_key` is None), crash-safe at every step.

        Opened through a key store (key file or keyring, see `key_source`), the new key ends up
        where the old one was: (1) it is stored durably as the PENDING key beside the current
        one, (2) PRAGMA rekey, (3) the `key_rotated` audit entry is written under the new key,
        naming the new key's fingerprint (never the key), (4) the pending key is promoted to the
        main place. A kill before (2) leaves the old key working, and the next open discards the
        stale pending key; after (2), the next open finds that only the pending key opens the
        database and does (3), unless it was done, and (4). So the entry exists exactly when the
        rotation happened. The steps run under key_rotation.rotation_lock, which opening also
        takes before it decides that a pending key is stale.

        Opened with a caller's key (`key=`), there is no store: (2) and (3) run, and the caller
        keeps the new key. Returns the new ResolvedKey when a store holds it, else None.
        Needs a directory administrator (bootstrap: anyone, before there is one); HITL_DB_KEY
        and passphrase-derived keys are refused, with nothing changed.
        """
        service = self._service
        new_key = secrets.token_bytes(KEY_BYTES) if new_key is None else new_key
        if not isinstance(new_key, (bytes, bytearray)) or len(new_key) != KEY_BYTES:
            raise ValidationFailed("The new key must be exactly 32 raw bytes.", "key")
        new_key, old_key, source = bytes(new_key), service._key, service.key_source
        if source is not None:
            possible, why = key_rotation.can_store_rotated_key(source)
            if not possible:
                raise StoreError(f"{why} Nothing was changed.")

        def check_admin(conn: Conn) -> str:
            actor_name, actor_user = service._actor(conn, actor)
            rbac.check_admin(actor_user, user_sql.has_admin(conn))
            return actor_name

        details = {"old_key_source": source.source if source else "caller",
                   "old_key_fingerprint": key_rotation.key_fingerprint(old_key)}
        if source is None:
            actor_name = service._read(check_admin)
            self._pragma_rekey(new_key)
            crash_point("rekey.after_rekey")
            self.record_rotation(actor_name, details)
            crash_point("rekey.after_audit")
            return None
        with key_rotation.rotation_lock(service.path) as locked:
            if not locked:
                raise StoreBusy(f"Another key rotation of {service.path} is under way (or "
                                f"{key_rotation.rotation_lock_path(service.path)} cannot be created); "
                                f"nothing was changed.")
            self._still_opens("Another key rotation finished while this one waited")
            if resolve_key(service.path, settings=service.settings).key != service._key:
                # this session runs on a pending key that could not be promoted yet: storing
                # another pending key now would leave no stored key that opens the database
                raise StoreError(f"An earlier key rotation of {service.path} is not finished (its new key is "
                                 f"still pending beside {source.detail}); nothing was changed. Open the "
                                 f"database once (any command) to finish it, then rotate again.")
            actor_name = service._read(check_admin)
            crash_point("rekey.before_pending")
            where = key_rotation.store_pending_key(service.path, source, new_key)
            crash_point("rekey.after_pending")
            try:
                self._pragma_rekey(new_key)
            except BaseException:
                self._after_failed_rekey(source, old_key, where)
                raise
            crash_point("rekey.after_rekey")
            try:
                self.record_rotation(actor_name, details)
            except HitlError as exc:
                raise StoreError(f"The database key was rotated, but its audit entry could not be written "
                                 f"({exc}); the new key is kept in {where}, and the next open records the "
                                 f"rotation and moves the key into place.") from None
            crash_point("rekey.after_audit")
            try:
                promoted = key_rotation.store_rotated_key(service.path, source, new_key)
            except HitlError as exc:
                raise StoreError(f"The database key was rotated and recorded, but the new key could not "
                                 f"replace the old one ({exc}); it is kept in {where}, which the next open "
                                 f"uses and moves into place.") from None
            crash_point("rekey.after_promote")
            key_rotation.discard_pending_key(service.path, source)
        service.key_source = promoted
        return promoted

    def _pragma_rekey(self, new_key: bytes) -> None:
        service = self._service
        with service._lock:
            if service._closed:
                raise StoreError("The database is closed.")
            try:
                rekey(service._conn, new_key)
            except DbError as exc:
                raise translate(exc, service.path) from None
            service._key = new_key

    def _still_opens(self, what: str) -> None:
        """The key this session holds still reads the database (a rotation elsewhere changes it)."""
        service = self._service
        with service._lock:
            try:
                still_opens(service._conn)
            except DbError:
                raise StoreError(f"{what}: this session's key no longer opens {service.path}; nothing was "
                                 f"changed. Run the command again.") from None

    def _after_failed_rekey(self, source: ResolvedKey, old_key: bytes, where: str) -> None:
        """PRAGMA rekey failed. If the old key still opens the database, nothing happened: drop
        the pending key. Otherwise keep it: the next open tries it and settles the rotation."""
        try:
            open_connection(self._service.path, old_key).close()
        except HitlError:
            return  # pending key kept in `where`
        key_rotation.discard_pending_key(self._service.path, source)

    def record_rotation(self, actor_name: str, details: dict[str, Any]) -> None:
        """The `key_rotated` entry for the key this session now holds, once: the fingerprint in
        meta says whether it was written already (by the rotation itself, before a kill)."""
        service = self._service
        fingerprint = key_rotation.key_fingerprint(service._key)
        with service._write() as conn:
            if meta.get(conn, "key_fingerprint") != fingerprint:
                service._audit(conn, actor_name, AuditAction.KEY_ROTATED, None, {**details, "new_key_fingerprint": fingerprint})
                meta.put(conn, "key_fingerprint", fingerprint)


def open_beside_pending(open_with_key: Callable[..., "WorkflowService"], path: Path, resolved: ResolvedKey,
                        operator: str | None, settings: Any = None) -> "WorkflowService":
    """A pending key lies beside the main one: a rotation was interrupted, never happened, or
    is running in another process right now. Decided under the rotation lock (which a
    running rotation holds from storing the pending key to removing it): if the main key
    opens the database, the pending key is stale and is discarded; if only the pending key
    does, the database was re-keyed, so the rotation is finished here (its audit entry, if it
    is missing, then the key is promoted). Without the lock no key is changed.

    `open_with_key` is WorkflowService.open (passed in: this module is below service.py)."""
    with key_rotation.rotation_lock(path) as locked:
        if locked:  # what we waited for may have finished meanwhile: look again
            resolved = resolve_key(path, settings=settings)
        try:
            service = open_with_key(path, key=resolved.key, create=False, operator=operator, settings=settings)
            by_pending = False
        except WrongKey:
            if resolved.pending is None:
                raise wrong_key(path, resolved.source, resolved.detail, resolved.named_by) from None
            try:
                service = open_with_key(path, key=resolved.pending, create=False, operator=operator,
                                        settings=settings)
            except WrongKey:  # neither opens it: report the main key, the one people know
                raise wrong_key(path, resolved.source, resolved.detail, resolved.named_by) from None
            by_pending = True
        service.key_source = ResolvedKey(service._key, resolved.source, resolved.detail, named_by=resolved.named_by)
        if not locked:
            return service
        if not by_pending:
            if resolved.pending is not None:
                key_rotation.discard_pending_key(path, resolved)
            return service
        try:
            service._rotation.record_rotation(service.operator, {
                "old_key_source": resolved.source,
                "old_key_fingerprint": key_rotation.key_fingerprint(resolved.key),
                "completed_at_open": True})
            key_rotation.store_rotated_key(path, resolved, service._key)
            key_rotation.discard_pending_key(path, resolved)
        except HitlError:
            pass  # the pending key keeps working; the next open tries again
    return service
