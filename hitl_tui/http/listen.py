"""Where the HTTP API listens, and serving it with uvicorn (a well-kept ASGI server, installed with
the mcp package).

A bearer token is a password: it never crosses a network in clear. So the API listens on a
loopback address (127.0.0.0/8, ::1, localhost) over plain HTTP, where only this host's processes
reach it (put a TLS-terminating proxy in front for others), or on any address with TLS
(--tls-cert, --tls-key). Anything else is refused in one line before anything is opened.

The socket is bound here, before uvicorn starts, so a port in use is one line too, and port 0
(a free port, for tests) says in the start line which port it got.
"""

from __future__ import annotations

import ipaddress
import signal
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..core.errors import HitlError, ValidationFailed

DEFAULT_LISTEN = "127.0.0.1:8470"
#: connections served at once (uvicorn answers 503 beyond): each long poll holds one
MAX_CONCURRENCY = 512
#: on SIGTERM, how long requests in flight (long polls) may still run before they are cut
GRACEFUL_SECONDS = 3


@dataclass(frozen=True)
class Listen:
    host: str
    port: int

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False  # a host name: whatever it resolves to, it is not known to stay on this host

    def url(self, port: int, tls: bool) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if tls else 'http'}://{host}:{port}"


def parse_listen(text: str) -> Listen:
    """HOST:PORT ([::1]:8470 for IPv6); ValidationFailed (one line) otherwise."""
    value = text.strip()
    host, sep, port = value.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValidationFailed(f"--listen {value[:60]!r} is not HOST:PORT (e.g. 127.0.0.1:8470, [::1]:8470).",
                               "listen")
    return Listen(host, int(port))


def tls_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    """The server's TLS context (checked here: a bad file is one line), or None without TLS."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ValidationFailed("TLS needs both --tls-cert and --tls-key (the certificate chain and its private key, "
                               "PEM).", "tls")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(cert), str(key))
    except FileNotFoundError as exc:
        raise ValidationFailed(f"Cannot read {exc.filename or cert}: no such file (--tls-cert / --tls-key).",
                               "tls") from None
    except (ssl.SSLError, OSError) as exc:
        raise ValidationFailed(f"Cannot use --tls-cert {cert} with --tls-key {key}: "
                               f"{getattr(exc, 'reason', None) or exc.strerror or exc} (PEM files, the key "
                               f"matching the certificate).", "tls") from None
    return context


def check_exposure(listen: Listen, tls: bool) -> None:
    if not listen.loopback and not tls:
        raise ValidationFailed(f"--listen {listen.host}:{listen.port} is not a loopback address, and bearer tokens "
                               f"must not cross a network in clear: give --tls-cert and --tls-key, or listen on "
                               f"127.0.0.1 (behind a TLS proxy).", "listen")


def bind(listen: Listen) -> socket.socket:
    """The listening socket (HitlError, one line, when it cannot be had)."""
    try:
        infos = socket.getaddrinfo(listen.host, listen.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise HitlError(f"Cannot listen on {listen.host}:{listen.port}: {exc.strerror}.") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise HitlError(f"Cannot listen on {listen.host}:{listen.port}: {exc.strerror}"
                        f"{' (another process has it; choose another port)' if exc.errno == 98 else ''}.") from None
    sock.set_inheritable(True)
    return sock


def serve(app: Any, sock: socket.socket, tls: ssl.SSLContext | None, cert: Path | None, key: Path | None,
          on_started: Callable[[int], None], on_stop: Callable[[], None]) -> None:
    """Serve `app` on `sock` until SIGTERM or SIGINT: `on_stop` is told at once (the waits in
    progress answer), and requests still in flight get GRACEFUL_SECONDS."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            on_stop()

    config = uvicorn.Config(app, log_config=None, log_level="warning", access_log=False, lifespan="off",
                            loop="asyncio", http="h11", ws="none", server_header=False, proxy_headers=False,
                            limit_concurrency=MAX_CONCURRENCY, timeout_keep_alive=5,
                            timeout_graceful_shutdown=GRACEFUL_SECONDS,
                            ssl_certfile=str(cert) if tls is not None and cert else None,
                            ssl_keyfile=str(key) if tls is not None and key else None)
    server = Server(config)
    # uvicorn re-raises the signal that stopped it once it is done, to the handler it found: let
    # that be one that returns, so the caller still closes the database (and seals its session)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    on_started(sock.getsockname()[1])
    server.run(sockets=[sock])
