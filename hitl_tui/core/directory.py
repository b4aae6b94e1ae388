"""The user directory side of WorkflowService: adding people, roles, (de)activation, admins.

Every change is checked (rbac.check_admin), written and audited in one transaction, like every
other action of the engine. Mixed into WorkflowService; relies on its _write and _audit.
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import draws, rbac
from .audit import iso
from .decisions import SYSTEM_ACTOR
from .errors import PermissionDenied, UnknownUser, UserExists, ValidationFailed
from .models import Role, User
from .store import user_keys
from .store import users as user_sql
from .store.connection import Conn
from .text import check_inputs, check_text

if TYPE_CHECKING:
    from .key_directory import KeyDirectory

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class DirectoryMixin:
    operator: str
    _keys: "KeyDirectory"  # the service's signing collaborator (key_directory.py)

    if TYPE_CHECKING:  # WorkflowService's write transaction and audit append (service.py)
        def _write(self) -> AbstractContextManager[Conn]: ...

        def _audit(self, conn: Conn, actor: str, action: str, workflow_id: str | None, details: dict[str, Any],
                   ts: datetime | None = None) -> int: ...

    def _actor(self, conn: Conn, actor: str | None) -> tuple[str, User | None]:
        check_inputs(actor=actor)  # the one place every directory, policy and key change names its actor
        name = actor or self.operator
        return name, user_sql.get(conn, name)

    def add_user(self, username: str, role: Role | str, email: str | None = None, *,
                 display_name: str | None = None, admin: bool = False, actor: str | None = None,
                 public_key: str | None = None, integration: bool = False, owner: str | None = None) -> User:
        """Add a person (or with `integration`, an AI agent or a system owned by the person
        `owner`: rbac.check_new_integration). Their signing key: `public_key` ("ed25519:<hex>",
        made on their own account by `hitl-tui key show`), else a new one in this OS account's
        key store."""
        check_inputs(username=username, role=role, email=email, display_name=display_name, public_key=public_key,
                     owner=owner)
        role = role if isinstance(role, Role) else Role.parse(role)
        username = _check_username(username)
        email = _clean_optional(email, "email", 254)
        display_name = _clean_optional(display_name, "display_name", 120)
        with self._write() as conn:
            actor_name, actor_user = self._actor(conn, actor)
            rbac.check_admin(actor_user, user_sql.has_admin(conn))
            if user_sql.get(conn, username):
                raise UserExists(f"{username} is already in the user directory; use `users set-role` to change them.")
            if integration or owner is not None:
                rbac.check_new_integration(username, owner, user_sql.get(conn, owner) if owner else None, admin)
            now = draws.now()
            user = User(username=username, role=role, email=email, display_name=display_name, admin=admin,
                        created_at=now, integration=integration, owner=owner if integration else None)
            user_sql.insert(conn, user, iso(now))
            key_text, kid = self._keys.for_new_user(conn, username, public_key)
            seq = self._audit(conn, actor_name, "user_added", None, {
                "username": username, "role": role.value, "email": email, "admin": admin,
                "display_name": display_name, "public_key": key_text, "key_id": kid,
                **({"integration": True, "owner": owner} if integration else {}),
            }, ts=now)
            user_keys.register(conn, username, kid, key_text, seq)
        return user

    def set_user_role(self, username: str, role: Role | str, *, actor: str | None = None) -> User:
        check_inputs(role=role)
        role = role if isinstance(role, Role) else Role.parse(role)
        return self._change_user(username, "user_role_changed", actor, role=role)

    def set_user_active(self, username: str, active: bool, *, actor: str | None = None) -> User:
        return self._change_user(username, "user_reactivated" if active else "user_deactivated", actor, active=active)

    def set_user_admin(self, username: str, admin: bool, *, actor: str | None = None) -> User:
        return self._change_user(username, "user_admin_changed", actor, admin=admin)

    def _change_user(self, username: str, action: str, actor: str | None, **changes: Any) -> User:
        check_inputs(username=username)
        with self._write() as conn:
            actor_name, actor_user = self._actor(conn, actor)
            rbac.check_admin(actor_user, user_sql.has_admin(conn))
            before = user_sql.get(conn, username)
            if before is None:
                raise UnknownUser(username)
            if changes.get("admin") is True:
                rbac.check_may_administer(before)
            if changes.get("active") is False or changes.get("admin") is False:
                if actor_name == username and before.admin:
                    raise PermissionDenied("You cannot remove your own administrator rights or deactivate yourself; ask another administrator.")
            when = draws.now()  # the row's updated_at is the entry's time (replay.py)
            user_sql.update(conn, username, iso(when), **changes)
            after = user_sql.get(conn, username)
            self._audit(conn, actor_name, action, None, {
                "username": username,
                "before": {k: _plain(getattr(before, k)) for k in changes},
                "after": {k: _plain(getattr(after, k)) for k in changes},
            }, ts=when)
        assert after is not None
        return after


def _check_username(name: str) -> str:
    if not isinstance(name, str) or not USERNAME_RE.match(name.strip()):
        raise ValidationFailed(
            f"Username {name!r} is not valid: use letters, digits, '.', '_', '-' or '@' (at most 64).", "username"
        )
    if name.strip() == SYSTEM_ACTOR:
        raise ValidationFailed(f"Username {SYSTEM_ACTOR!r} is the actor of the engine's own audit entries (an "
                               f"expiry); choose another name.", "username")
    return name.strip()


def _clean_optional(value: str | None, field: str, limit: int) -> str | None:
    if value is None or not str(value).strip():
        return None
    return check_text(value, field, limit, single_line=True)


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Role) else value
