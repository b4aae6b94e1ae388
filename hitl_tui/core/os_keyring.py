"""Time-limited access to the OS keyring, trusting only backends that encrypt at rest.

`keyring` is imported inside functions only: importing it and choosing a backend costs tens of
milliseconds, and the TUI must paint fast when the key comes from a file or the environment.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, TypeVar, cast

from hitl_tui.core.errors import StoreLocked

T = TypeVar("T")

# Only these backends keep secrets encrypted at rest behind the user's login. Matched by exact
# class name, not isinstance, so a subclass cannot smuggle in different storage. Everything
# else (fail, null, chainer without one of these, keyrings.alt plain text, cryptfile, which
# prompts on the terminal) is treated as "no keyring".
_TRUSTED_BACKENDS = {
    "keyring.backends.SecretService.Keyring": "Secret Service keyring",
    "keyring.backends.macOS.Keyring": "macOS Keychain",
    "keyring.backends.Windows.WinVaultKeyring": "Windows Credential Locker",
}
_CHAINER = "keyring.backends.chainer.ChainerBackend"

LOCKED_HINT = "unlock it (e.g. log in to the desktop session) or set HITL_DB_KEY_FILE"

class _TimeLimit(TimeoutError):
    """Our own time limit ran out (as opposed to a TimeoutError raised inside the call)."""


def _call_with_timeout(fn: Callable[[], T], timeout: float) -> T:
    """Run fn in a daemon thread; its result or exception, or TimeoutError after `timeout` s.

    A desktop keyring can block indefinitely on an unlock prompt or a stuck D-Bus. A daemon
    thread cannot be cancelled, but it will not keep the process alive at exit either.
    """
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread as-is
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="hitl-keyring", daemon=True).start()
    if not done.wait(timeout):
        raise _TimeLimit(f"no answer within {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return cast(T, outcome["value"])


def _class_name(obj: object) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _trusted_backend() -> tuple[Any, str]:
    """(backend, description) for a trusted keyring backend, or (None, why not).

    Runs inside `_call_with_timeout`: choosing a backend already talks to D-Bus.
    """
    import keyring  # lazy: see module docstring

    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # a configured backend that cannot start (no D-Bus, bad name...)
        return None, f"keyring backend unavailable ({exc})"
    name = _class_name(backend)
    if name in _TRUSTED_BACKENDS:
        return backend, _TRUSTED_BACKENDS[name]
    if name == _CHAINER:
        # Use the trusted child directly: the chainer would also read from (and write to)
        # any plain-text backend it holds.
        for child in getattr(backend, "backends", ()):  # keyring's ChainerBackend
            child_name = _class_name(child)
            if child_name in _TRUSTED_BACKENDS:
                return child, _TRUSTED_BACKENDS[child_name]
        return None, "no trusted keyring backend among the chained ones"
    if name in ("keyring.backends.fail.Keyring", "keyring.backends.null.Keyring"):
        return None, f"no keyring backend ({name})"
    return None, f"untrusted keyring backend ({name}) ignored"


def keyring_backend_status(timeout: float = 5.0) -> tuple[bool, str]:
    """(usable, description) of the OS keyring, for `hitl-tui doctor` and `init`."""
    try:
        backend, description = _call_with_timeout(_trusted_backend, timeout)
    except _TimeLimit:
        return False, f"the keyring did not answer within {timeout:g} s (locked?)"
    except Exception as exc:  # a status report never raises
        return False, f"keyring unavailable ({exc})"
    return backend is not None, description


def keyring_call(op: Callable[[Any], T], timeout: float) -> tuple[bool, T | None, str]:
    """Run op(backend) on the trusted backend, time-limited: (had_backend, result, description).

    A lock, a timeout or any failure of a trusted backend is StoreLocked: the key may well be
    in there, so falling through to "no key" would mislead.
    """
    from keyring.errors import KeyringLocked  # lazy; raised by SecretService when locked

    def work() -> tuple[bool, T | None, str]:
        backend, description = _trusted_backend()
        if backend is None:
            return False, None, description
        return True, op(backend), description

    try:
        return _call_with_timeout(work, timeout)
    except _TimeLimit:
        raise StoreLocked(
            f"The keyring did not answer within {timeout:g} s; it may be locked or waiting "
            f"for an unlock prompt: {LOCKED_HINT}."
        ) from None
    except KeyringLocked:
        raise StoreLocked(f"The keyring is locked; {LOCKED_HINT}.") from None
    except Exception as exc:
        raise StoreLocked(f"The keyring failed ({exc}); {LOCKED_HINT}.") from None


