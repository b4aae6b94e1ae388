"""The wire between `hitl-tui serve` and its clients: JSON-RPC 2.0 (jsonrpc.org/specification),
one message per line over a Unix stream socket.

Why these: JSON-RPC 2.0 is a published standard with requests, responses and notifications (the
service pushes "changed" to every client the moment a change commits), and its messages are
plain JSON; one message per line (JSON Lines) is the simplest standard framing, and lets either
side bound a message's size before parsing it (asyncio's StreamReader limit). Nothing a client
sends says who it is: the service learns that from the kernel (SO_PEERCRED, server.py).

A refusal travels as an error whose data names the engine's rule (HitlError.code); the client
raises the same HitlError class with the same one-line message, so every front end reports a
refusal from the service exactly as it reports one from the embedded engine.
"""

from __future__ import annotations

import json
from typing import Any

from ..core import errors as _errors
from ..core.errors import HitlError

VERSION = "2.0"
#: the longest message either side accepts, in bytes with its newline (a request's text fields
#: are capped far below this by the engine: 10,000 characters of description)
MAX_MESSAGE = 1024 * 1024

# JSON-RPC 2.0 error codes (-32768..-32000 are the standard's; -32000..-32099 are for servers)
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
REFUSED = -32000  # the engine said no: data.kind is the HitlError's code
RATE_LIMITED = -32001
TOO_LARGE = -32002
UNAVAILABLE = -32003  # the service is stopping
TOO_MANY_CONNECTIONS = -32004  # the service holds as many connections as it takes; try later

#: the notification a service sends after every commit (params: audit_size, audit_head, workflow_ids)
CHANGED = "changed"
#: the method a client calls to receive CHANGED from then on
SUBSCRIBE = "subscribe"
#: where a service run as root or as a system service listens unless told otherwise, and where
#: a client looks when nothing names a socket or a database
SYSTEM_SOCKET = "/run/hitl-tui/hitl.sock"


class ProtocolError(HitlError):
    """The other side broke the protocol, or the connection is gone."""

    code = "protocol_error"


class ServiceUnavailable(HitlError):
    code = "service_unavailable"


def encode(message: dict[str, Any]) -> bytes:
    """One line: compact JSON (ASCII only, so no raw newline or control character can occur
    inside it), then "\\n"."""
    line = json.dumps(message, ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode("ascii") + b"\n"
    if len(line) > MAX_MESSAGE:
        raise ProtocolError(f"a message of {len(line):,} bytes is over the limit of {MAX_MESSAGE:,}")
    return line


def decode(line: bytes) -> Any:
    """The JSON value of one received line; ProtocolError (PARSE_ERROR) when it is not JSON."""
    try:
        return json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"not a JSON message ({exc})") from None


def request(msg_id: int, method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": VERSION, "id": msg_id, "method": method, "params": params}


def notification(method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": VERSION, "method": method, "params": params}


def result(msg_id: Any, value: Any) -> dict[str, Any]:
    return {"jsonrpc": VERSION, "id": msg_id, "result": value}


def error(msg_id: Any, code: int, message: str, kind: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if kind is not None:
        body["data"] = {"kind": kind}
    return {"jsonrpc": VERSION, "id": msg_id, "error": body}


def refusal(msg_id: Any, exc: HitlError) -> dict[str, Any]:
    """The error response for a refusal by the engine."""
    return error(msg_id, REFUSED, str(exc), exc.code)


def _error_classes() -> dict[str, type[HitlError]]:
    found: dict[str, type[HitlError]] = {}
    for value in vars(_errors).values():
        if isinstance(value, type) and issubclass(value, HitlError):
            found.setdefault(value.code, value)
    found.setdefault(ProtocolError.code, ProtocolError)
    found.setdefault(ServiceUnavailable.code, ServiceUnavailable)
    return found


_BY_CODE = _error_classes()


def exception_from(error_body: Any) -> HitlError:
    """The HitlError a client raises for an error response: the engine's own class when the
    service named one (data.kind), with the service's one-line message."""
    if not isinstance(error_body, dict):
        return ProtocolError("the service answered with a malformed error")
    message = str(error_body.get("message") or "the service refused without saying why")
    data = error_body.get("data")
    kind = data.get("kind") if isinstance(data, dict) else None
    cls = _BY_CODE.get(kind, HitlError) if isinstance(kind, str) else HitlError
    if error_body.get("code") == UNAVAILABLE:
        cls = ServiceUnavailable
    if error_body.get("code") == TOO_MANY_CONNECTIONS:
        cls = ServiceUnavailable
    exc = cls.__new__(cls)  # some classes build their message from other arguments: set it as sent
    HitlError.__init__(exc, message)
    return exc
