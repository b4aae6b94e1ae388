"""`hitl-tui serve`: the one process that opens the database, on a Unix socket (asyncio).

Who a client is comes from the kernel: SO_PEERCRED gives the peer's uid, the passwd database its
login name, once per connection; that name is the actor of everything the connection does
(methods.py). Who may connect at all is the socket's group (mode 0660, --group).

The engine is synchronous, so every engine call runs on ONE worker thread, in the order the
calls arrive: calls are serialised as the embedded engine serialises them, and the event loop
never blocks on SQLCipher. That thread also writes each answer onto the socket itself the
moment the engine is done (the loop logs and pushes afterwards): a trip back through the loop
first was a good part of a round trip (benchmarks/bench_remote.py). A client cannot harm the
others: a message is bounded (MAX_MESSAGE, the StreamReader's limit), each connection has a
token bucket of requests, an idle timeout and a write that must drain within a few seconds
(what the socket does not take at once goes through the loop; a client that stops reading is
dropped); garbage is answered with PARSE_ERROR and the connection stays usable; every
connection task catches and logs whatever goes wrong, so no client ever stops the service. A
client's notifications (a message without an id) are not answered and not run: every method
here is a request.

Log lines go to stderr, one per event, with the sd-daemon priority prefix journald reads
("<6>hitl-tui[PID]: ..."); they name methods, accounts and request ids, never request text.
SIGTERM or SIGINT: stop accepting, finish the calls already taken, seal a checkpoint
(service.close()), exit 0.
"""

from __future__ import annotations

import asyncio
import functools
import grp
import os
import pwd
import signal
import socket
import stat
import struct
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from ..core.errors import HitlError
from . import approvals, methods, notify_loop, protocol, tokens
from .verification import SharedVerification

if TYPE_CHECKING:
    from ..core.service import WorkflowService

_T = TypeVar("_T")

_PRIORITY = {"error": 3, "warning": 4, "notice": 5, "info": 6, "debug": 7}


def log(level: str, text: str) -> None:
    """One line on stderr, journald's way (sd-daemon(3) priority prefix)."""
    try:
        sys.stderr.write(f"<{_PRIORITY[level]}>hitl-tui[{os.getpid()}]: {' '.join(text.split())}\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed stderr must not take the service down
        pass


@dataclass(frozen=True)
class Limits:
    max_message: int = protocol.MAX_MESSAGE
    max_connections: int = 64
    #: requests per second a connection may make, and how many at once
    rate: float = 20.0
    burst: int = 40
    #: seconds without a complete request before a connection is closed
    idle_timeout: float = 300.0
    #: seconds a reply may wait for the client to read it before the connection is dropped
    drain_timeout: float = 5.0


class TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(float(self.burst), self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass(frozen=True)
class Peer:
    pid: int
    uid: int
    gid: int
    username: str


def peer_of(sock: socket.socket) -> Peer:
    """The kernel's word on who is at the other end, and their login name."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", raw)
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:  # no passwd entry: a name no directory can hold (as audit.os_login says it)
        name = f"uid:{uid}"
    return Peer(pid, uid, gid, name)


class Server:
    def __init__(self, service: "WorkflowService", socket_path: Path, *, group: str | None = None,
                 limits: Limits = Limits()) -> None:
        from ..core.two_phase import TwoPhase

        self.service = service
        self.socket_path = Path(socket_path)
        self.group = group
        self.limits = limits
        self.two_phase = TwoPhase(service)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hitl-engine")
        #: the whole trail's verification, off the engine thread and shared by all (verification.py)
        self.verification = SharedVerification(service, lambda result: log(
            "info" if result.ok else "error", f"verified the audit trail for the desks: {result.summary()}"))
        self._connections: set[Connection] = set()
        #: answers to `verify` being worked out off the engine thread (verified())
        self.answering: set[asyncio.Future[None]] = set()
        self._numbers = 0
        self._stopping = False
        self._stop = asyncio.Event()
        #: pushes under way (kept, or the loop may drop a task before it runs)
        self._tasks: set[asyncio.Future[Any]] = set()

    @property
    def stopping(self) -> bool:
        return self._stopping

    async def verified(self, msg_id: Any, username: str, params: Any) -> dict[str, Any]:
        """The answer to `verify`: the shared verification (only the membership check, a quick
        read, runs on the engine thread)."""
        try:
            methods.METHODS[methods.SHARED_VERIFY].bind(params)
            await self.engine(self.service.get_user, username)  # UnknownUser: the embedded line
            shared = await asyncio.get_running_loop().run_in_executor(None, self.verification.result)
            try:
                result = await asyncio.wrap_future(shared)
            except asyncio.CancelledError:
                if not shared.cancelled():  # this task itself is cancelled, not the run
                    raise
                raise RuntimeError("the verification was cancelled by the shutdown") from None
        except methods.InvalidParams as exc:
            return protocol.error(msg_id, protocol.INVALID_PARAMS, str(exc))
        except HitlError as exc:
            if self._stopping:  # the shutdown closed the database between the two steps above
                return _stopping_error(msg_id)
            return protocol.refusal(msg_id, exc)
        except RuntimeError:  # shut down meanwhile
            return _stopping_error(msg_id)
        return protocol.result(msg_id, methods.verify_answer(result))

    # --- running -----------------------------------------------------------------------------

    async def engine(self, fn: Callable[..., _T], *args: Any) -> _T:
        """fn(*args) on the one engine thread, after every call taken before it."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args))

    async def run(self) -> int:
        """Serve until SIGTERM/SIGINT; the exit status."""
        gid = prepare_socket_path(self.socket_path, self.group)
        old = os.umask(0o177)  # the socket is born 0600, then given to its group: never wider for a moment
        try:
            server = await asyncio.start_unix_server(self._accept, path=str(self.socket_path),
                                                     limit=self.limits.max_message)
        finally:
            os.umask(old)
        try:
            if gid is not None:
                os.chown(self.socket_path, -1, gid)
            os.chmod(self.socket_path, 0o660)
        except OSError as exc:
            server.close()
            raise HitlError(f"Cannot give the socket {self.socket_path} to group {self.group}: {exc.strerror}; "
                            f"the service account must be a member of that group.") from None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        size = (await self.engine(methods.head, self.service))["audit_size"]
        log("info", f"listening on {self.socket_path} (group {self.group or _group_name(os.getegid())}, mode 0660); "
                    f"database {self.service.path}, {size:,} audit entries")
        self.spawn(approvals.expiry_clock(self))  # requests expire at their deadline (approvals.py)
        self.spawn(notify_loop.delivery_loop(self))  # the notification outbox (notify_loop.py)
        await self._stop.wait()
        return await self._shut_down(server)

    async def _shut_down(self, server: asyncio.AbstractServer) -> int:
        self._stopping = True
        log("info", "stopping: no new connections; finishing the calls in flight")
        server.close()
        try:
            self.socket_path.unlink()
        except OSError:
            pass
        await asyncio.get_running_loop().run_in_executor(None, self.verification.close)  # before the database
        # the engine thread takes calls in order: the close (and its seal) runs after every call taken
        await self.engine(self.service.close)
        # verify answers come back through the loop, not the engine thread: let them reach their
        # clients (each ends quickly now: its run finished or was cancelled above, and a verify
        # that comes after finds the engine closed and answers "stopping")
        if self.answering:
            await asyncio.wait(list(self.answering))
        for conn in list(self._connections):
            conn.close()
        await asyncio.sleep(0)
        self._pool.shutdown(wait=True)
        if self.service.seal_refused_reason:
            log("error", f"the session was not sealed: {self.service.seal_refused_reason}")
            return 1
        if self.service.seal_error:
            log("warning", f"the session could not be sealed with a checkpoint: {self.service.seal_error}")
        else:
            log("info", "sealed a checkpoint of the audit chain; stopped")
        return 0

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._numbers += 1
        number = self._numbers
        try:
            peer = peer_of(writer.get_extra_info("socket"))
        except OSError as exc:
            log("warning", f"connection {number}: no peer credentials ({exc.strerror}); closed")
            writer.close()
            return
        conn = Connection(self, number, peer, reader, writer)
        if self._stopping:
            await conn.send(protocol.error(None, protocol.UNAVAILABLE, "The hitl-tui service is stopping; "
                                                                         "try again when it is back."))
            conn.close()
            return
        if len(self._connections) >= self.limits.max_connections:
            log("warning", f"connection {number} from {peer.username} refused: {self.limits.max_connections} "
                           f"connections open, the limit")
            await conn.send(protocol.error(None, protocol.TOO_MANY_CONNECTIONS,
                                           f"The hitl-tui service has {self.limits.max_connections} connections open, "
                                           f"its limit; try again in a moment."))
            conn.close()
            return
        self._connections.add(conn)
        try:
            await conn.serve()
        finally:
            self._connections.discard(conn)

    # --- push --------------------------------------------------------------------------------

    def spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def changed(self, workflow_ids: list[str]) -> None:
        """Tell every subscribed connection that a change committed (each send on its own, so a
        client that stopped reading delays nobody)."""
        if not any(c.subscribed for c in self._connections) or self._stopping:
            return
        listening = [c for c in self._connections if c.subscribed]
        try:
            notes = await self.engine(methods.change_notes, self.service, workflow_ids,
                                      {c.listens_as for c in listening})
        except (HitlError, RuntimeError):  # the service closed meanwhile: nobody is left to tell
            return
        for conn in listening:
            self.spawn(conn.send(protocol.notification(protocol.CHANGED, notes[conn.listens_as])))


class Connection:
    def __init__(self, server: Server, number: int, peer: Peer, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.server, self.number, self.peer = server, number, peer
        self.reader, self.writer = reader, writer
        self.limits = server.limits
        self.bucket = TokenBucket(self.limits.rate, self.limits.burst)
        self.subscribed = False
        #: (token id, account) once subscribed through a bearer token (tokens.py): the changes pushed
        #: here are those that account may see
        self.bearer: tuple[str, str] | None = None
        self.tickets: dict[str, str] = {}
        self.closed = False
        self._send_lock = asyncio.Lock()
        self._loop = asyncio.get_running_loop()
        #: the engine thread writes each answer itself (no trip back through the loop first), on
        #: a descriptor of its own: one the loop closed meanwhile can never be another client's
        #: by then. Everything written, by either thread, goes out under _wire and in order.
        self._wire = threading.Lock()
        self._own: socket.socket | None = _own_descriptor(writer)
        #: what the socket did not take at once, waiting for the loop to hand to the transport
        self._waiting: list[bytes] = []

    @property
    def who(self) -> str:
        return f"connection {self.number} ({self.peer.username}, uid {self.peer.uid}, pid {self.peer.pid})"

    @property
    def listens_as(self) -> str:
        """Whose view of the changes this connection is pushed: its bearer token's account, else its own."""
        return self.peer.username if self.bearer is None else self.bearer[1]

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._let_go()
            try:
                self.writer.close()
            except (OSError, RuntimeError):
                pass

    def drop(self) -> None:
        """Close without waiting for unsent data (a client that stopped reading)."""
        self.closed = True
        self._let_go()
        try:
            self.writer.transport.abort()
        except (OSError, RuntimeError):
            pass

    def _let_go(self) -> None:
        with self._wire:
            own, self._own = self._own, None
            self._waiting.clear()
            if own is not None:
                own.close()

    def _put(self, line: bytes) -> None:
        """On the loop: `line` to the transport, behind what the engine thread left waiting."""
        with self._wire:
            if self._waiting:
                self._waiting.append(line)
            else:
                self.writer.write(line)

    def write_now(self, line: bytes) -> None:
        """On the engine thread: `line` onto the socket now, as far as the socket takes it; the
        rest waits for the loop (in order), which drains it as it drains every answer."""
        with self._wire:
            if self.closed:
                return
            if self._own is not None and not self._waiting and not self.writer.transport.get_write_buffer_size():
                try:
                    line = line[self._own.send(line):]
                except BlockingIOError:
                    pass
                except OSError:  # the client went: its connection closes on the loop's side
                    return
                if not line:
                    return
            self._waiting.append(line)
            if len(self._waiting) == 1:
                try:
                    self._loop.call_soon_threadsafe(self._hand_over)
                except RuntimeError:  # the loop is gone: so is the connection
                    self._waiting.clear()

    def _hand_over(self) -> None:
        with self._wire:
            waiting, self._waiting = self._waiting, []
            if not self.closed and waiting:
                self.writer.write(b"".join(waiting))

    async def send(self, message: dict[str, Any]) -> bool:
        line = _line(message)
        async with self._send_lock:
            if self.closed:
                return False
            try:
                self._put(line)
            except (ConnectionError, OSError, RuntimeError):
                self.drop()
                return False
            return await self._drain()

    async def _drain(self) -> bool:
        """Wait (under _send_lock) until the transport takes more; drop a client that stopped reading."""
        try:
            async with asyncio.timeout(self.limits.drain_timeout):
                await self.writer.drain()
        except TimeoutError:
            log("warning", f"{self.who} stopped reading for {self.limits.drain_timeout:g} s; dropped")
            self.drop()
            return False
        except (ConnectionError, OSError, RuntimeError):
            self.drop()
            return False
        return True

    async def _drained(self) -> None:
        """After an answer the engine thread wrote: wait, as for any answer, when some of it is still queued."""
        if self.closed or not self.writer.transport.get_write_buffer_size():
            return
        async with self._send_lock:
            if not self.closed:
                await self._drain()

    async def serve(self) -> None:
        log("info", f"{self.who} opened")
        why = "closed by the client"
        try:
            while not self.closed:
                try:
                    # a timeout around the read itself: no task of its own per request, as wait_for makes
                    async with asyncio.timeout(self.limits.idle_timeout):
                        line = await self.reader.readline()
                except TimeoutError:
                    why = f"idle for {self.limits.idle_timeout:g} s"
                    break
                except ValueError:  # the StreamReader's limit: a line longer than a message may be
                    await self.send(protocol.error(None, protocol.TOO_LARGE,
                                                   f"A message over {self.limits.max_message:,} bytes was refused; "
                                                   f"the connection is closed."))
                    why = "sent a message over the limit"
                    break
                if not line.endswith(b"\n"):  # end of stream, perhaps in the middle of a message
                    break
                await self.handle(line)
        except (ConnectionError, OSError):
            why = "connection lost"
        except Exception as exc:  # noqa: BLE001 - one broken client never stops the service
            why = f"unexpected {type(exc).__name__} ({_where(exc)})"
            log("error", f"{self.who}: {why}")
        finally:
            if not self.closed:
                self.close()
            log("info", f"{self.who} closed: {why}")

    async def handle(self, line: bytes) -> None:
        if not self.bucket.take():
            log("notice", f"{self.who} rate limited")
            await self.send(protocol.error(_id_of(line), protocol.RATE_LIMITED,
                                           f"Too many requests: at most {self.limits.rate:g} a second "
                                           f"({self.limits.burst} at once); slow down and try again."))
            return
        try:
            message = protocol.decode(line)
        except protocol.ProtocolError as exc:
            log("notice", f"{self.who} sent a message that is not JSON")
            await self.send(protocol.error(None, protocol.PARSE_ERROR, str(exc)))
            return
        msg_id, name, params, problem = _parse(message)
        if problem is not None:
            log("notice", f"{self.who} sent an invalid request")
            await self.send(protocol.error(msg_id, protocol.INVALID_REQUEST, problem))
            return
        if msg_id is None:
            return  # a notification: nothing here is one (see the module docstring)
        refused = self.refused_here(msg_id, name)
        if refused is not None:
            await self.send(refused)
            return
        if name == methods.SHARED_VERIFY:  # minutes over a big trail: never on the engine thread
            async def answer_verify() -> None:
                await self.send(await self.server.verified(msg_id, self.peer.username, params))
            answering = asyncio.ensure_future(answer_verify())
            self.server.answering.add(answering)  # the shutdown waits for it before closing connections
            try:
                await answering
            finally:
                self.server.answering.discard(answering)
            return
        try:
            done = await self.server.engine(self.answer, msg_id, name, params)
        except RuntimeError:  # the engine thread has stopped: the service is going
            await self.send(protocol.error(msg_id, protocol.UNAVAILABLE, "The hitl-tui service is stopping; "
                                                                         "try again when it is back."))
            return
        await self._drained()
        self.after(name, done)

    def refused_here(self, msg_id: Any, name: str) -> dict[str, Any] | None:
        """The answer of a request the engine is not asked about, else None."""
        if self.server.stopping:
            return protocol.error(msg_id, protocol.UNAVAILABLE, "The hitl-tui service is stopping; try again "
                                                                "when it is back.")
        if name not in methods.METHODS:
            return protocol.error(msg_id, protocol.METHOD_NOT_FOUND, f"No method {name[:60]!r} in this service.")
        return None

    def answer(self, msg_id: Any, name: str, params: Any) -> "Done":
        """On the engine thread: run the request and write its answer at once (write_now)."""
        method = methods.METHODS[name]
        done = Done()
        try:
            call = methods.Call(self.server.service, self.peer.username, self.peer.uid, method.bind(params),
                                self.server.two_phase, self.tickets)
            done.result = methods.run(method, call)
            message = protocol.result(msg_id, done.result)
            done.ok = True
        except methods.InvalidParams as exc:
            message = protocol.error(msg_id, protocol.INVALID_PARAMS, str(exc))
        except HitlError as exc:
            done.refused = exc.code
            message = protocol.refusal(msg_id, exc)
        except Exception as exc:  # noqa: BLE001 - the engine's bug is one error, not a dead service
            done.unexpected = f"{type(exc).__name__} ({_where(exc)})"
            message = protocol.error(msg_id, protocol.INTERNAL_ERROR,
                                     f"The service failed unexpectedly ({type(exc).__name__}); its log says where.")
        self.write_now(_line(message))
        return done

    def after(self, name: str, done: "Done") -> None:
        """On the loop, once answered: the log line, the subscription, the push of a commit."""
        if done.refused is not None:
            log("info", f"{self.who} {name}: refused ({done.refused})")
        if done.unexpected is not None:
            log("error", f"{self.who} {name}: unexpected {done.unexpected}")
        if not done.ok:
            return
        if name == protocol.SUBSCRIBE:
            self.subscribed = True
        tokens.after(self, name, done)
        if methods.METHODS[name].writes:
            ids = methods.changed_ids(done.result)
            log("info", f"{self.who} {name}: committed {' '.join(ids)}".rstrip())
            self.server.spawn(self.server.changed(ids))


@dataclass
class Done:
    """What the engine thread tells the loop about a request it answered."""

    ok: bool = False
    result: Any = None
    refused: str | None = None  # the HitlError's code
    unexpected: str | None = None  # "Type (file:line)"


def _line(message: dict[str, Any]) -> bytes:
    try:
        return protocol.encode(message)
    except protocol.ProtocolError:
        return protocol.encode(protocol.error(message.get("id"), protocol.TOO_LARGE,
                                              "The answer is over the message limit; ask for less "
                                              "(a smaller limit)."))


def _own_descriptor(writer: asyncio.StreamWriter) -> socket.socket | None:
    """A descriptor of the connection's socket for the engine thread (non-blocking, as the loop's)."""
    try:
        own = socket.socket(fileno=os.dup(writer.get_extra_info("socket").fileno()))
    except (OSError, AttributeError):
        return None  # then every answer goes through the loop
    own.setblocking(False)
    return own


def _parse(message: Any) -> tuple[Any, str, Any, str | None]:
    """(id, method, params, problem): problem is the one line of an invalid request, else None."""
    if isinstance(message, list):
        return None, "", None, "Batches are not taken; send one request per line."
    if not isinstance(message, dict):
        return None, "", None, "A request is a JSON object."
    msg_id = message.get("id")
    if isinstance(msg_id, bool) or not isinstance(msg_id, (int, str, type(None))):
        return None, "", None, "A request's id is a number or a string."
    if message.get("jsonrpc") != protocol.VERSION:
        return msg_id, "", None, 'A request says "jsonrpc": "2.0".'
    name = message.get("method")
    if not isinstance(name, str):
        return msg_id, "", None, "A request names its method (a string)."
    unknown = set(message) - {"jsonrpc", "id", "method", "params"}
    if unknown:
        return msg_id, name, None, f"A request has no member {sorted(unknown)[0][:40]!r}."
    return msg_id, name, message.get("params"), None


def _id_of(line: bytes) -> Any:
    """The id of a request refused before it is read in full (rate limiting), if it has one."""
    try:
        message = protocol.decode(line)
    except protocol.ProtocolError:
        return None
    msg_id = message.get("id") if isinstance(message, dict) else None
    return msg_id if isinstance(msg_id, (int, str)) and not isinstance(msg_id, bool) else None


def _where(exc: BaseException) -> str:
    """file:line of the innermost frame: enough to find a bug, nothing a request said."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return "no traceback"
    return f"{Path(tb.tb_frame.f_code.co_filename).name}:{tb.tb_lineno}"


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def prepare_socket_path(path: Path, group: str | None) -> int | None:
    """Make the socket's directory (0750, its group too) when missing and clear a stale socket
    left by a service that died; refuse to start beside a live one. The group's id, or None."""
    gid = None
    if group is not None:
        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError:
            raise HitlError(f"There is no group named {group!r} (--group); create it with `groupadd {group}`, "
                            f"or leave out --group.") from None
    parent = path.parent
    if not parent.exists():
        try:
            parent.mkdir(mode=0o750, parents=True)
            os.chmod(parent, 0o750)
            if gid is not None:
                os.chown(parent, -1, gid)
        except OSError as exc:
            raise HitlError(f"Cannot make the socket's directory {parent}: {exc.strerror}.") from None
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return gid
    if not stat.S_ISSOCK(mode):
        raise HitlError(f"{path} exists and is not a socket; give another --socket or move it away.")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink()  # nobody listens: a service that died left it
        return gid
    finally:
        probe.close()
    raise HitlError(f"Another hitl-tui service is already listening at {path}; stop it first or give another --socket.")


def serve(service: "WorkflowService", socket_path: Path, *, group: str | None = None,
          limits: Limits = Limits()) -> int:
    """Run the service in the foreground until SIGTERM/SIGINT; the process's exit status."""
    return asyncio.run(Server(service, socket_path, group=group, limits=limits).run())


def _stopping_error(msg_id: Any) -> dict[str, Any]:
    return protocol.error(msg_id, protocol.UNAVAILABLE, "The hitl-tui service is stopping; try again when it is back.")
