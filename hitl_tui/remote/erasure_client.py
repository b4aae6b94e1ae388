"""service.erasure in team mode (core/erasure.py's Erasure, through the service): the same
methods and signatures; the connection's user acts, and the service's clock decides what is due."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from .client import NotInTeamMode

if TYPE_CHECKING:
    from ..core.erasure import DueForRetention, Erased, ErasureRequest
    from .client import RemoteService


class RemoteErasure:
    """service.erasure in team mode: core/erasure.Erasure's methods, same signatures; the
    service's clock decides what is due, and the connection's user acts."""

    def __init__(self, remote: RemoteService) -> None:
        self._remote = remote

    def request(self, target: str, reason: str, *, actor: str | None = None) -> "ErasureRequest":
        from ..core.erasure import ErasureRequest

        self._remote._as_me(actor, "ask for an erasure")
        return ErasureRequest(**self._remote._signed("erase.request", None, target=target, reason=reason or ""))

    def cancel(self, target: str, reason: str, *, actor: str | None = None) -> "ErasureRequest":
        from ..core.erasure import ErasureRequest

        self._remote._as_me(actor, "cancel an erasure")
        return ErasureRequest(**self._remote._signed("erase.cancel", None, target=target, reason=reason or ""))

    def confirm(self, target: str, *, actor: str | None = None) -> "Erased":
        self._remote._as_me(actor, "confirm an erasure")
        return _erased(self._remote._signed("erase.confirm", None, target=target))

    def pending(self) -> "list[ErasureRequest]":
        from ..core.erasure import ErasureRequest

        return [ErasureRequest(**w) for w in self._remote.call("erase.pending")]

    def due(self, now: "datetime | None" = None) -> "list[DueForRetention]":
        from ..core.erasure import DueForRetention

        _service_clock(now)
        return [DueForRetention(**d) for d in self._remote.call("retention.due")]

    def apply_retention(self, *, actor: str | None = None, now: "datetime | None" = None) -> "list[Erased]":
        self._remote._as_me(actor, "apply retention")
        _service_clock(now)
        return [_erased(d) for d in self._remote._signed("retention.apply", None)]


def _service_clock(now: "datetime | None") -> None:
    if now is not None:
        raise NotInTeamMode("In team mode the service's clock says what is due; a client cannot name the time. "
                            "Nothing was done.")


def _erased(got: dict[str, Any]) -> "Erased":
    from ..core.erasure import Erased

    return Erased(**{**got, "requests": tuple(got["requests"])})
