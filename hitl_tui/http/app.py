"""The HTTP API as an ASGI application (Starlette): file a request for a human's approval, read
where it stands, wait for it, cancel it, fetch the receipt key. Nothing here approves, rejects
or asks for changes: a person decides at the desk or the CLI.

Every endpoint but GET /openapi.json needs `Authorization: Bearer hitl_...` (core/tokens.py);
the call then runs through that token's hitl_tui.client.Desk (gateway.py) as the account it
stands for, under the engine's rules. What reaches a caller is JSON, an error always one line,
{"error": "..."}:

    401 no token, or one that is malformed, unknown or revoked (a wait in progress too)
    403 the engine's refusal of this account (outside what it may see, deactivated)
    404 no such request, or no such endpoint      409 no longer possible (already settled)
    413 a body over Limits.max_body                422 a body or a parameter that does not fit
    429 over the token's rate (Retry-After says when to try again); also too many refused tokens
    503 the service (team mode) or the database cannot be reached now
    500 a bug: one line; the log has the type and where, never the request's content

One line per request goes to stderr (AccessLog): client, method, path, status, time, token id and
account; never a title, a payload or a token.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..client import Desk, Outcome
from ..core.errors import (ConcurrentChange, HitlError, InvalidTransition, PermissionDenied, SigningRefused,
                           StoreError, TokenRefused, UnknownWorkflow, ValidationFailed)
from ..core.text import neutralise
from ..remote.protocol import MAX_MESSAGE, ServiceUnavailable
from ..remote.server import TokenBucket
from . import models
from .models import Cancel, NewRequest, Revision, decision_json

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from .gateway import Gateway

#: how many client addresses' buckets of refused tokens are kept (the oldest go first)
FAILURE_BUCKETS = 4096


@dataclass(frozen=True)
class Limits:
    #: requests a second per token (and refused tokens a second per client address), bursts of `burst`
    rate: float = 10.0
    burst: int = 20
    #: the largest body taken, in bytes: a service message's limit, so whatever fits here fits there
    max_body: int = MAX_MESSAGE


class ApiError(Exception):
    """An answer other than 200, as one line."""

    def __init__(self, status: int, line: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(line)
        self.status, self.line, self.headers = status, line, headers or {}


Answer = tuple[int, Any, dict[str, str]]
Handler = Callable[["Api", Request, Desk], Awaitable[Answer]]


@dataclass(frozen=True)
class Query:
    name: str
    kind: str  # "number" | "integer" | "string"
    description: str
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Endpoint:
    """One endpoint: the route and what the OpenAPI description says of it (openapi.py)."""

    method: str
    path: str
    run: Handler
    operation: str
    summary: str
    answer: type[BaseModel]
    status: int = 200
    body: type[BaseModel] | None = None
    body_required: bool = True
    query: tuple[Query, ...] = ()
    errors: tuple[int, ...] = field(default=(401, 429, 503))


# --- reading what was sent ----------------------------------------------------------------------

def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


async def read_json(request: Request, limit: int, *, required: bool = True) -> Any:
    """The body as JSON, read at most `limit` bytes far: 413 beyond, 400 when it is no JSON."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > limit):
        if not length.isdigit():
            raise ApiError(400, f"Content-Length {length[:20]!r} is not a number of bytes.")
        raise ApiError(413, f"The body is {int(length):,} bytes, over the limit of {limit:,}; a payload names the "
                            f"action (at most 64 KiB), bulk data goes by reference.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"The body is over the limit of {limit:,} bytes; a payload names the action (at "
                                f"most 64 KiB), bulk data goes by reference.")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        if required:
            raise ApiError(400, "The body is empty: send a JSON object (see GET /openapi.json).")
        return None
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise ApiError(400, "The body is JSON nested too deeply to read; a payload is at most 16 levels "
                            "deep.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        if "integer string conversion" in str(exc):  # Python's guard against quadratic-time parsing
            raise ApiError(400, "The body holds a number of more than 4,300 digits; no payload needs one (send "
                                "long numbers as strings).") from None
        raise ApiError(400, f"The body is not JSON ({_short(str(exc))}).") from None


def checked(model: type[BaseModel], value: Any) -> Any:
    """`value` as `model`, or 422 naming the first member that does not fit."""
    try:
        return model.model_validate({} if value is None else value)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "the body"
        raise ApiError(422, f"{where}: {_short(first.get('msg', 'does not fit'))} (see GET /openapi.json).") from None


def query(request: Request, spec: Query) -> Any:
    """A query parameter as `spec` says, its default when absent; 422 when it does not fit."""
    text = request.query_params.get(spec.name)
    if text is None:
        return spec.default
    if spec.kind == "string":
        if spec.choices and text not in spec.choices:
            raise ApiError(422, f"{spec.name} must be one of {', '.join(spec.choices)}, not {_short(text)!r}.")
        return text
    try:
        value: float = int(text) if spec.kind == "integer" else float(text)
    except ValueError:
        value = math.nan
    low = -math.inf if spec.minimum is None else spec.minimum
    high = math.inf if spec.maximum is None else spec.maximum
    if not (low <= value <= high):  # NaN fails too
        raise ApiError(422, f"{spec.name} must be {'a whole number' if spec.kind == 'integer' else 'a number'} "
                            f"from {low:g} to {high:g}, not {_short(text)!r}.")
    return value


def _short(text: str, limit: int = 160) -> str:
    one = neutralise(" ".join(str(text).split()))
    return one if len(one) <= limit else one[:limit] + "..."


def _request_id(request: Request) -> str:
    return str(request.path_params["request_id"])


# --- the endpoints ---------------------------------------------------------------------------------

async def _file(api: "Api", request: Request, desk: Desk) -> Answer:
    new = checked(NewRequest, await read_json(request, api.limits.max_body))
    rid = await desk.file(type=new.type, title=new.title, payload=new.payload, justification=new.justification,
                          timeout=new.timeout_seconds, agent=new.agent, description=new.description)
    found = await desk.get_decision(rid)
    return 201, decision_json(found), {"Location": f"/v1/requests/{rid}"}


_LIMIT = Query("limit", "integer", "The newest this many (then filtered by status).", 100, 1, models.LIST_MAX)
_STATUS = Query("status", "string", "Only requests with this outcome.", None, choices=tuple(o.value for o in Outcome))
_SECONDS = Query("seconds", "number", f"How long to wait for a human, at most {models.MAX_WAIT:g} s (0 looks and "
                                      f"returns at once); then where it stands, pending or not.",
                 models.DEFAULT_WAIT, 0, models.MAX_WAIT)


async def _mine(api: "Api", request: Request, desk: Desk) -> Answer:
    limit, status = query(request, _LIMIT), query(request, _STATUS)
    found = [decision_json(d) for d in await desk.list_my_requests(limit=int(limit))
             if status is None or d.outcome.value == status]
    return 200, {"requests": found, "count": len(found)}, {}


async def _status(api: "Api", request: Request, desk: Desk) -> Answer:
    return 200, decision_json(await desk.get_decision(_request_id(request))), {}


async def _wait(api: "Api", request: Request, desk: Desk) -> Answer:
    seconds = float(query(request, _SECONDS))
    waiting = asyncio.ensure_future(desk.get_decision(_request_id(request), wait=seconds))
    stopping = asyncio.ensure_future(api.stopping().wait())
    await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if waiting.done():
        return 200, decision_json(waiting.result()), {}
    waiting.cancel()  # the server is stopping: the caller asks again once it is back
    raise ApiError(503, "The HTTP API is stopping; ask again in a moment (nothing changed meanwhile).",
                   {"Retry-After": "5"})


async def _resubmit(api: "Api", request: Request, desk: Desk) -> Answer:
    new = checked(Revision, await read_json(request, api.limits.max_body))
    found = await desk.resubmit(_request_id(request), new.payload, justification=new.justification,
                                comments=new.comments)
    return 200, decision_json(found), {}


async def _cancel(api: "Api", request: Request, desk: Desk) -> Answer:
    cancel = checked(Cancel, await read_json(request, api.limits.max_body, required=False))
    return 200, decision_json(await desk.cancel_request(_request_id(request), cancel.reason)), {}


async def _receipt_key(api: "Api", request: Request, desk: Desk) -> Answer:
    keys = [f"ed25519:{k.hex()}" for k in await desk.receipt_keys()]
    if not keys:
        raise ApiError(503, "No key signs receipts here yet (the database's checkpoint key is missing).")
    return 200, {"key": keys[0], "keys": keys}, {}


_ID = (404,)
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("POST", "/v1/requests", _file, "file_request", "File a request for a human's approval of exactly "
             "`payload`; it starts pending.", models.Decision, 201, NewRequest, errors=(401, 403, 413, 422, 429, 503)),
    Endpoint("GET", "/v1/requests", _mine, "list_requests", "The requests for approval this token's account "
             "filed, newest first.", models.DecisionList, query=(_LIMIT, _STATUS), errors=(401, 422, 429, 503)),
    Endpoint("GET", "/v1/requests/{request_id}", _status, "get_request", "Where a request stands: its outcome, "
             "who decided and their words; the signed receipt once final.", models.Decision,
             errors=(401, 403, *_ID, 429, 503)),
    Endpoint("GET", "/v1/requests/{request_id}/wait", _wait, "wait_for_request", "Wait (a long poll, bounded) "
             "until a human settles the request or asks for changes, or `seconds` have passed.", models.Decision,
             query=(_SECONDS,), errors=(401, 403, *_ID, 422, 429, 503)),
    Endpoint("POST", "/v1/requests/{request_id}/resubmit", _resubmit, "resubmit_request", "After a human asked "
             "for changes: file `payload` as the request's new revision (their proposed_payload, accepted "
             "explicitly, or another); it is pending again, and does not get a later deadline.", models.Decision,
             body=Revision, errors=(401, 403, *_ID, 409, 413, 422, 429, 503)),
    Endpoint("POST", "/v1/requests/{request_id}/cancel", _cancel, "cancel_request", "Withdraw a request this "
             "account filed that nobody has settled yet (outcome cancelled, audited).", models.Decision,
             body=Cancel, body_required=False, errors=(401, 403, *_ID, 409, 413, 422, 429, 503)),
    Endpoint("GET", "/v1/receipt-key", _receipt_key, "receipt_key", "The public key receipts are signed with.",
             models.ReceiptKey),
)


# --- the application --------------------------------------------------------------------------------

def status_of(exc: HitlError) -> int:
    """The HTTP status of an engine's refusal."""
    for kind, status in ((TokenRefused, 401), (UnknownWorkflow, 404), (PermissionDenied, 403),
                         (ValidationFailed, 422), (InvalidTransition, 409), (ConcurrentChange, 409),
                         (ServiceUnavailable, 503), (StoreError, 503), (SigningRefused, 503)):
        if isinstance(exc, kind):
            return status
    return 400


def _error(status: int, line: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": " ".join(line.split())}, status, headers)


_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="hitl-tui"'}


class Api:
    """The endpoints on one gateway, with their limits (see the module docstring)."""

    def __init__(self, gateway: "Gateway", limits: Limits = Limits(),
                 log: Callable[[str], None] | None = None) -> None:
        self.gateway, self.limits = gateway, limits
        self.log = log or stderr_line
        self._buckets: dict[str, TokenBucket] = {}
        self._refused: dict[str, TokenBucket] = {}
        #: set once the server is told to stop (stop()): waits in progress answer at once
        self._stopping: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped = False

    def stopping(self) -> asyncio.Event:
        """The event set when the server stops (made in the loop that serves)."""
        if self._stopping is None:
            self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
            if self._stopped:  # told before anything waited
                self._stopping.set()
        return self._stopping

    def stop(self) -> None:
        """The server is stopping (called from its signal handler): end the waits in progress."""
        self._stopped = True
        if self._loop is not None and self._stopping is not None:
            try:
                self._loop.call_soon_threadsafe(self._stopping.set)
            except RuntimeError:  # the loop has closed: nothing waits any more
                pass

    def app(self) -> Starlette:
        from .openapi import document

        described = document(ENDPOINTS)

        async def openapi(request: Request) -> Response:
            return JSONResponse(described)

        routes = [Route(e.path, self._route(e), methods=[e.method]) for e in ENDPOINTS]
        routes.append(Route("/openapi.json", openapi, methods=["GET"]))
        starlette = Starlette(routes=routes, exception_handlers={HTTPException: _not_here})
        starlette.add_middleware(AccessLog, log=self.log)
        return starlette

    def _route(self, endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            return await self.handle(request, endpoint)
        return run

    async def handle(self, request: Request, endpoint: Endpoint) -> Response:
        token = None
        try:
            token = bearer_token(request)
            held = await self.gateway.desk_for(token)
            request.state.token = f"{held.token_id} {held.desk.username}"
            self._take(held.token_id)
            status, body, headers = await endpoint.run(self, request, held.desk)
            return JSONResponse(body, status, headers)
        except TokenRefused as exc:
            if token is not None:
                await self.gateway.forget(token)
            return self._refused_token(request, str(exc))
        except ApiError as exc:
            if exc.status == 401:
                return self._refused_token(request, exc.line)
            return _error(exc.status, exc.line, exc.headers)
        except HitlError as exc:
            return _error(status_of(exc), str(exc))

    def _take(self, token_id: str) -> None:
        bucket = self._buckets.get(token_id)
        if bucket is None:
            bucket = self._buckets[token_id] = TokenBucket(self.limits.rate, self.limits.burst)
        if not bucket.take():
            raise ApiError(429, f"Too many requests with this token: at most {self.limits.rate:g} a second "
                                f"({self.limits.burst} at once); try again in a moment.",
                           {"Retry-After": str(_retry_after(bucket))})

    def _refused_token(self, request: Request, line: str) -> JSONResponse:
        """401, unless this client address keeps sending refused tokens: then 429."""
        host = request.client.host if request.client else "-"
        bucket = self._refused.pop(host, None) or TokenBucket(self.limits.rate, self.limits.burst)
        self._refused[host] = bucket  # newest last: the oldest addresses are forgotten first
        while len(self._refused) > FAILURE_BUCKETS:
            del self._refused[next(iter(self._refused))]
        if not bucket.take():
            return _error(429, f"Too many refused tokens from {host}; try again in a moment.",
                          {"Retry-After": str(_retry_after(bucket))})
        return _error(401, line, _AUTHENTICATE)


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if header is None:
        raise ApiError(401, "No bearer token: send `Authorization: Bearer hitl_...`; an administrator makes one "
                            "with `hitl-tui token create ACCOUNT`.")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "The Authorization header must be `Bearer hitl_...`, a token from `hitl-tui token "
                            "create`.")
    return token.strip()


def _retry_after(bucket: TokenBucket) -> int:
    return max(1, math.ceil((1.0 - bucket.tokens) / bucket.rate))


async def _not_here(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 405:
        return _error(405, f"{request.method} is not how {_short(request.url.path, 80)} is used; GET /openapi.json "
                           f"says how.")
    return _error(status, f"There is no {request.method} {_short(request.url.path, 80)} here: GET /openapi.json "
                          f"lists the endpoints (none approves: a person decides at the desk).")


# --- one log line per request ---------------------------------------------------------------------

def stderr_line(line: str) -> None:
    try:
        sys.stderr.write(f"hitl-tui http: {line}\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed stderr must not take the API down
        pass


class AccessLog:
    """Pure ASGI middleware: one line per request, and the last word on anything unexpected (a
    one-line 500, never a traceback to the client or the log)."""

    def __init__(self, app: "ASGIApp", log: Callable[[str], None]) -> None:
        self.app, self.log = app, log

    async def __call__(self, scope: "Scope", receive: "Receive", send: "Send") -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.monotonic()
        state: dict[str, Any] = {"status": "-", "started": False}

        async def sending(message: "Message") -> None:
            if message["type"] == "http.response.start":
                state["status"], state["started"] = message["status"], True
            await send(message)

        trouble = ""
        try:
            await self.app(scope, receive, sending)
        except Exception as exc:  # noqa: BLE001 - a bug is one line, never a dead request or a traceback
            trouble = f" unexpected {type(exc).__name__} ({_where(exc)})"
            if not state["started"]:
                response = _error(500, f"The HTTP API failed unexpectedly ({type(exc).__name__}); its log says "
                                       f"where. Nothing more was done.")
                await response(scope, receive, sending)
        except asyncio.CancelledError:  # the server's grace period is over: it is going, say so
            trouble = " cut short: the server is stopping"
            if not state["started"]:
                await _error(503, "The HTTP API is stopping; ask again in a moment.")(scope, receive, sending)
        finally:
            client = scope.get("client")
            who = (scope.get("state") or {}).get("token", "-")
            self.log(f"{client[0] if client else '-'} {scope['method']} {_short(scope.get('path', ''), 120)} "
                     f"{state['status']} {(time.monotonic() - start) * 1000:.0f} ms {who}{trouble}")


def _where(exc: BaseException) -> str:
    from ..remote.server import _where as where

    return where(exc)
