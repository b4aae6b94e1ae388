"""One connection to a `hitl-tui serve` service: requests and their answers by id, the service's
pushed changes, and the connection lost and found again.

A reader thread dispatches each answer to the Future its request waits on and hands each
"changed" notification to the callbacks registered with on_change (called on that thread: keep
them short). When the connection goes, every request still waiting gets the one line saying so,
and the on_link callbacks hear of it; reconnect() opens a new socket to the same service and
checks it is still the same database and the same account.
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable

from ..core.errors import HitlError
from . import protocol
from .protocol import ProtocolError, ServiceUnavailable


class ServiceConnection:
    def __init__(self, sock: socket.socket, socket_path: Path, unset_hint: str = "unset HITL_SERVER") -> None:
        self.socket_path = Path(socket_path)
        self._unset_hint = unset_hint
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._reconnect_lock = threading.Lock()
        self._pending: dict[int, Future[Any]] = {}
        self._callbacks: list[Callable[[dict[str, Any]], None]] = []
        self._link_callbacks: list[Callable[[HitlError | None], None]] = []
        self._closed = False
        #: moved by every change the service pushed and by every reconnection
        self.version = 0
        #: the policy version in force as the service last said (hello, or a push)
        self.policy_version: Any = None
        self._attach(sock)

    @classmethod
    def open(cls, path: Path | str, unset_hint: str = "unset HITL_SERVER") -> "ServiceConnection":
        """Connect and say hello; ServiceUnavailable (one line) when the service cannot be reached."""
        path = Path(path)
        sock = _open_socket(path, unset_hint)
        try:
            return cls(sock, path, unset_hint)
        except BaseException:
            sock.close()
            raise

    def _attach(self, sock: socket.socket) -> None:
        """Speak over `sock` from now on: a reader thread of its own, then hello."""
        self._sock = sock
        self._lost: HitlError | None = None
        self._last_error: HitlError | None = None
        self._subscribed = False
        self._reader = threading.Thread(target=self._read_loop, args=(sock,), name="hitl-remote-reader", daemon=True)
        self._reader.start()
        self.hello: dict[str, Any] = self.call("hello")
        self.policy_version = self.hello.get("policy_version")

    # --- requests ------------------------------------------------------------------------------

    def call(self, method: str, **params: Any) -> Any:
        """One request; its result, or the service's refusal raised as the engine's HitlError."""
        future: Future[Any] = Future()
        with self._lock:
            if self._lost is not None:
                raise self._lost
            msg_id = next(self._ids)
            self._pending[msg_id] = future
        try:
            line = protocol.encode(protocol.request(msg_id, method, params))
            with self._send_lock:
                self._sock.sendall(line)
        except (OSError, ProtocolError) as exc:
            with self._lock:
                self._pending.pop(msg_id, None)
            if isinstance(exc, ProtocolError):
                raise
            self._reader.join(timeout=2)  # the service may have said why it closed (too many, stopping)
            raise self._lost or ServiceUnavailable(f"The connection to the hitl-tui service at {self.socket_path} "
                                                   f"was lost ({exc.strerror or exc}); try again.") from None
        return future.result()

    def _read_loop(self, sock: socket.socket) -> None:
        stream = sock.makefile("rb")
        lost: HitlError | None = None
        try:
            while True:
                line = stream.readline(protocol.MAX_MESSAGE + 1)
                if not line:
                    break
                if not line.endswith(b"\n"):
                    lost = ProtocolError("The hitl-tui service sent a message over the limit; the connection was closed.")
                    break
                try:
                    self._dispatch(protocol.decode(line))
                except ProtocolError:
                    continue  # not ours to answer: a service never sends this
        except (OSError, ValueError):
            pass
        finally:
            if lost is None:
                lost = self._last_error or ServiceUnavailable(
                    f"The hitl-tui service at {self.socket_path} closed the connection"
                    f"{'' if self._closed else '; try again, or start it with `hitl-tui serve`'}.")
            with self._lock:
                if sock is not self._sock:  # an old connection's reader: a newer one has taken over
                    return
                self._lost = lost
                pending, self._pending = self._pending, {}
            for future in pending.values():
                future.set_exception(lost)
            if not self._closed:
                for callback in list(self._link_callbacks):
                    _quietly(callback, lost)

    def _dispatch(self, message: Any) -> None:
        if not isinstance(message, dict):
            return
        msg_id = message.get("id")
        if "error" in message and msg_id is None:  # about the connection itself (too many, stopping)
            self._last_error = protocol.exception_from(message["error"])
            return
        if msg_id is not None:
            with self._lock:
                future = self._pending.pop(msg_id, None)
            if future is None:
                return
            if "error" in message:
                future.set_exception(protocol.exception_from(message["error"]))
            else:
                future.set_result(message.get("result"))
            return
        if message.get("method") == protocol.CHANGED and isinstance(message.get("params"), dict):
            params = message["params"]
            self.version += 1
            self.policy_version = params.get("policy_version", self.policy_version)
            for callback in list(self._callbacks):
                _quietly(callback, params)

    # --- pushed changes ------------------------------------------------------------------------

    def on_change(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """Call callback(params) after every change the service commits, from now on (params:
        audit_size, audit_head, policy_version, workflow_ids). Subscribes on the first one."""
        self._callbacks.append(callback)
        self.subscribe()

    def subscribe(self) -> None:
        """Have the service push its changes (so `version` moves with them)."""
        if not self._subscribed:
            self.call(protocol.SUBSCRIBE)
            self._subscribed = True

    # --- the link: lost, and found again ---------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._lost is None and not self._closed

    def on_link(self, callback: Callable[[HitlError | None], None]) -> None:
        """Call callback(why) when the connection is lost (why: the one line), and callback(None)
        when reconnect() found the service again. Called on the reader's or the caller's thread."""
        self._link_callbacks.append(callback)

    def reconnect(self) -> bool:
        """Connect again after a lost connection (False: it was not lost). ServiceUnavailable, in
        one line, while the service is still away; a HitlError if it came back as another
        database or names this account differently (then nothing here is trusted to go on)."""
        with self._reconnect_lock:
            if self._closed or self._lost is None:
                return False
            before, wanted = self.hello, bool(self._callbacks) or self._subscribed
            sock = _open_socket(self.socket_path, self._unset_hint)
            self._sock.close()  # the lost one
            try:
                self._attach(sock)
                if (self.hello["database_id"], self.hello["username"]) != (before["database_id"], before["username"]):
                    raise HitlError(f"The hitl-tui service at {self.socket_path} came back serving another database "
                                    f"or naming this account differently; restart hitl-tui.")
                if wanted:
                    self.subscribe()
            except BaseException:
                self._lost = self._lost or ServiceUnavailable(f"The hitl-tui service at {self.socket_path} "
                                                              f"is not answering.")
                sock.close()
                raise
            self.version += 1  # whatever changed meanwhile: the next look asks
        for callback in list(self._link_callbacks):
            _quietly(callback, None)
        return True

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        self._reader.join(timeout=2)


def _group_of(path: Path) -> str | None:
    """The group that may connect: the socket's, or its directory's when the socket is out of sight."""
    import grp

    for candidate in (path, path.parent):
        try:
            return grp.getgrgid(os.stat(candidate).st_gid).gr_name
        except (OSError, KeyError):
            continue
    return None


def _refused_connection(path: Path, exc: OSError, unset_hint: str) -> ServiceUnavailable:
    if isinstance(exc, PermissionError):
        group = _group_of(path)
        who = f"members of group {group}" if group else "the members of its group"
        return ServiceUnavailable(f"Your account may not connect to the hitl-tui service at {path} (permission denied): "
                                  f"only {who} may; ask an administrator to add you, then log in again.")
    if isinstance(exc, (FileNotFoundError, ConnectionRefusedError)):
        return ServiceUnavailable(f"The hitl-tui service is not running at {path} (connection refused); "
                                  f"start it with `hitl-tui serve` or {unset_hint}.")
    return ServiceUnavailable(f"Cannot reach the hitl-tui service at {path} ({exc.strerror or exc}); "
                              f"start it with `hitl-tui serve` or {unset_hint}.")


def _open_socket(path: Path, unset_hint: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError as exc:
        sock.close()
        raise _refused_connection(path, exc, unset_hint) from None
    return sock


def _quietly(callback: Callable[[Any], None], value: Any) -> None:
    try:
        callback(value)
    except Exception:  # noqa: BLE001 - a listener's bug must not stop the answers
        pass
