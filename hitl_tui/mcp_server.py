"""`hitl-tui mcp`: the Python client's calls as MCP tools over stdio, for agent hosts (issue 12).

Tools: request_approval, get_decision, list_my_requests, resubmit_request (a new revision after
a human asked for changes: the one they proposed, accepted explicitly, or another) and
cancel_request. An agent host launches `hitl-tui mcp` as it launches any MCP server. The server acts as the OS
account running it, through hitl_tui.client.Desk and nothing else: team mode when a service is
named (HITL_SERVER, the server setting, the system socket), else the database here. Every rule
is the engine's: which types exist, what a payload may hold, what this account may see, and that
an integration never decides. There is no tool that approves, rejects or asks for changes, on
purpose: a human decides, at the desk or the CLI.

Long waits. A host abandons a tool call it has waited on too long (the TypeScript SDK, which
most hosts use, gives up after 60 s unless told otherwise). So request_approval and
get_decision wait at most `wait_seconds` (DEFAULT_WAIT, at most MAX_WAIT), send progress
notifications meanwhile when the client gave a progressToken (a host that resets its clock on
progress then keeps the call alive), and then return a pending handle: outcome "pending", the
request id, and `next`, the call that waits again. The specification's tasks (SEP-1686) are not
used: mcp 1.30 deprecates its experimental tasks API as removed from the specification.

Why mcp's low-level Server and not FastMCP: here the tools' schemas are written as JSON Schema
(the result's from ApprovalDecision itself), an argument that does not fit is refused in one line
naming it, and an error is the engine's own line. FastMCP would derive the schemas from Python
signatures, answer a bad argument with pydantic's multi-line report, and prefix every error with
"Error executing tool"; it would add nothing else this server needs.
"""

from __future__ import annotations

import asyncio
import copy
import math
import sys
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable

import mcp.types as types
from mcp.server.lowlevel import Server

from .client import ApprovalDecision, Desk, Outcome, refusal_of
from .core.errors import HitlError
from .core.text import neutralise

if TYPE_CHECKING:
    from mcp.server.session import ServerSession

#: how long a call waits for a human unless told otherwise: well under the 60 s after which
#: common hosts abandon a tool call
DEFAULT_WAIT = 50.0
#: the longest a call waits (only hosts that reset their clock on progress wait this long)
MAX_WAIT = 300.0
#: the longest pause between two progress notifications (shorter waits tick ten times)
PROGRESS_EVERY = 5.0
#: how long a human has to decide, unless the caller says (core/approvals.py bounds it)
DEFAULT_TIMEOUT = 3600
LIST_MAX = 1000
#: an error line quotes at most this much (a refused argument may be huge)
LINE_MAX = 400

SERVER_NAME = "hitl-tui"
INSTRUCTIONS = (
    "Ask a human before a risky action. request_approval files a request bound to the exact action "
    "(the payload) and waits; act only on outcome 'approved', with exactly the payload approved. Outcome "
    "'pending' means nobody has decided yet: call get_decision with the request_id (as `next` says) until "
    "the outcome is final. You cannot approve anything yourself; a person decides at the desk.")

Opener = Callable[[], Desk]


# --- the tools' schemas ----------------------------------------------------------------------------

def _decision_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    """(a decision result's schema, the $defs it refers to): ApprovalDecision's own, plus the
    members this server adds (text, final, next)."""
    schema = ApprovalDecision.model_json_schema(mode="serialization")
    defs: dict[str, Any] = schema.pop("$defs", {})
    props = schema["properties"]
    props["text"] = {"type": "string", "description": "One line for a person (or the model) to read."}
    props["final"] = {"type": "boolean", "description": "True once nothing changes the outcome any more."}
    props["next"] = {"anyOf": [{"type": "null"}, {
        "type": "object", "required": ["tool", "arguments", "why"],
        "properties": {"tool": {"type": "string"}, "arguments": {"type": "object"}, "why": {"type": "string"}}}],
        "description": "While not final: the call to make next (keep waiting, or file again)."}
    schema["required"] = [*schema.get("required", []), "text", "final"]
    return schema, defs


def _tools() -> list[types.Tool]:
    decision, defs = _decision_schema()
    result = {**decision, "$defs": defs}
    listing = {"type": "object", "required": ["requests", "count", "text"], "$defs": {**defs, "Decision": decision},
               "properties": {"requests": {"type": "array", "items": {"$ref": "#/$defs/Decision"}},
                              "count": {"type": "integer"}, "text": {"type": "string"}}}
    wait = {"type": "number", "minimum": 0, "maximum": MAX_WAIT, "default": DEFAULT_WAIT,
            "description": f"How long to wait for a human in this call, in seconds (0 to look and return at "
                           f"once; at most {MAX_WAIT:g}). If nobody has decided by then, the result is a pending "
                           f"handle: call get_decision again."}
    request_id = {"type": "string", "description": "The request's id, as request_approval returned it (WF-...)."}
    return [
        types.Tool(
            name="request_approval", title="Ask a human to approve an action",
            description=("File a request for a human's approval of exactly `payload` (the action and its "
                         "arguments, as a JSON object), then wait up to wait_seconds for the decision. The "
                         "policy rates its risk from the payload and chooses who must approve. Act only on "
                         "outcome 'approved' and only with this very payload; on 'pending' call get_decision "
                         "with the request_id; any other outcome means do not do it."),
            inputSchema={"type": "object", "additionalProperties": False,
                         "required": ["type", "title", "payload"],
                         "properties": {
                             "type": {"type": "string", "description": "The policy's request type, e.g. tool_call."},
                             "title": {"type": "string", "description": "One line a person reads in their inbox."},
                             "payload": {"type": "object", "description": "Exactly what is to be approved, e.g. "
                                         '{"tool": "refund", "order_id": "1234", "amount": "25.00"}.'},
                             "justification": {"type": "string", "default": "",
                                               "description": "Why the action is needed (shown as your words)."},
                             "timeout_seconds": {"type": "number", "default": DEFAULT_TIMEOUT,
                                                 "description": "How long a human has to decide before the request "
                                                                "expires undecided (from 1 s to 30 days)."},
                             "wait_seconds": wait,
                             "agent": {"type": "string", "description": "Your name, shown to the approver."}}},
            outputSchema=result,
            annotations=types.ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False,
                                              openWorldHint=False)),
        types.Tool(
            name="get_decision", title="Where a request for approval stands",
            description=("The outcome of a request you filed (pending, approved, rejected, changes_requested, "
                         "expired, cancelled), waiting up to wait_seconds while it is pending; once final, with "
                         "the signed receipt."),
            inputSchema={"type": "object", "additionalProperties": False, "required": ["request_id"],
                         "properties": {"request_id": request_id, "wait_seconds": wait}},
            outputSchema=result,
            annotations=types.ToolAnnotations(readOnlyHint=True, openWorldHint=False)),
        types.Tool(
            name="list_my_requests", title="The requests for approval you filed",
            description="The requests for approval this account filed, newest first, optionally only one outcome.",
            inputSchema={"type": "object", "additionalProperties": False, "properties": {
                "status": {"type": "string", "enum": [o.value for o in Outcome],
                           "description": "Only requests with this outcome (among the newest `limit`)."},
                "limit": {"type": "integer", "minimum": 1, "maximum": LIST_MAX, "default": 100}}},
            outputSchema=listing,
            annotations=types.ToolAnnotations(readOnlyHint=True, openWorldHint=False)),
        types.Tool(
            name="resubmit_request", title="File a new revision after a human asked for changes",
            description=("When a request you filed has outcome 'changes_requested': file `payload` as its new "
                         "revision, then wait up to wait_seconds for the decision. To accept the revision the "
                         "human proposed, send exactly its proposed_payload; you may send another payload "
                         "instead. The policy rates the revision afresh and the approvals start over; it does "
                         "not extend the deadline. Nothing runs until a human approves the revision."),
            inputSchema={"type": "object", "additionalProperties": False, "required": ["request_id", "payload"],
                         "properties": {
                             "request_id": request_id,
                             "payload": {"type": "object", "description": "Exactly what is to be approved now."},
                             "justification": {"type": "string", "description": "Why (shown as your words); "
                                               "leave it out to keep the one you filed with."},
                             "comments": {"type": "string", "default": "",
                                          "description": "What you changed, for the approver."},
                             "wait_seconds": wait}},
            outputSchema=result,
            annotations=types.ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False,
                                              openWorldHint=False)),
        types.Tool(
            name="cancel_request", title="Withdraw a request for approval",
            description="Withdraw a request you filed that nobody has settled yet (outcome cancelled, audited).",
            inputSchema={"type": "object", "additionalProperties": False, "required": ["request_id"],
                         "properties": {"request_id": request_id, "reason": {
                             "type": "string", "default": "", "description": "Why it is no longer needed."}}},
            outputSchema=result,
            annotations=types.ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True,
                                              openWorldHint=False)),
    ]


TOOLS = _tools()


class BadArguments(Exception):
    """A tool's arguments do not fit its input schema: one line naming the argument."""


def checked_arguments(tool: types.Tool, arguments: dict[str, Any]) -> dict[str, Any]:
    """The arguments with the schema's defaults filled in, or BadArguments naming the first one
    that does not fit (jsonschema, which the mcp package depends on, says how)."""
    import jsonschema  # type: ignore[import-untyped]  # (it ships no types; the mcp package depends on it)

    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(tool.inputSchema).iter_errors(arguments))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path)
        said = error.message if len(error.message) <= 200 else error.message[:200] + "..."
        raise BadArguments(f"{tool.name}: {where + ': ' if where else ''}{said} (see the tool's input schema).")
    filled = {k: copy.deepcopy(v["default"]) for k, v in tool.inputSchema["properties"].items() if "default" in v}
    filled.update(arguments)
    for name, value in filled.items():  # JSON has no infinity, but a client's Python may send one
        if isinstance(value, float) and not math.isfinite(value):
            raise BadArguments(f"{tool.name}: {name}: {value} is not a number of seconds.")
    return filled


# --- what a tool answers -----------------------------------------------------------------------

def decision_result(found: ApprovalDecision, *, waited: float | None = None) -> dict[str, Any]:
    """A decision as the tools return it: ApprovalDecision's members, a line of text, whether it
    is final, and while it is not, the call to make next."""
    rid = found.request_id
    nxt: dict[str, Any] | None = None
    if found.outcome is Outcome.PENDING:
        so_far = f" after {waited:.0f} s" if waited else ""
        until = f"; it expires undecided at {found.expires_at.isoformat()}" if found.expires_at else ""
        text = (f"{rid} is pending: no human has decided yet{so_far}{until}. Do not act on it; call get_decision "
                f"with request_id {rid} to keep waiting.")
        nxt = {"tool": "get_decision", "arguments": {"request_id": rid, "wait_seconds": DEFAULT_WAIT},
               "why": "nobody has decided yet"}
    elif found.outcome is Outcome.APPROVED:
        who = found.decided_by or "a human"
        role = f" ({found.decider_role.label})" if found.decider_role is not None else ""
        said = f": {found.comments}" if found.comments else ""
        sealed = ("the signed receipt is in `receipt`" if found.receipt is not None
                  else "no receipt could be signed for it")
        text = (f"{rid} was approved by {who}{role}{said}. Act on exactly the payload that was approved "
                f"(sha256 {str(found.payload_sha256)[:16]}...); {sealed}.")
    else:
        text = str(refusal_of(found))  # the client's own words for every other outcome
        if found.outcome is Outcome.CHANGES_REQUESTED and found.proposed_payload is not None:
            nxt = {"tool": "resubmit_request", "arguments": {"request_id": rid, "payload": found.proposed_payload},
                   "why": "a human proposes this revision: resubmit exactly it to accept it (or another payload), "
                          "or cancel_request"}
        elif found.outcome is Outcome.CHANGES_REQUESTED:
            nxt = {"tool": "resubmit_request", "arguments": {"request_id": rid},
                   "why": "a human asked for changes: resubmit_request with a changed payload, or cancel_request"}
    return {**found.model_dump(mode="json"), "text": one_line(text), "final": found.outcome.is_final, "next": nxt}


def one_line(text: str) -> str:
    """`text` on one line, hidden characters shown as escapes (a title or a comment is someone's
    words, shown to a model and often to a person in a terminal)."""
    return neutralise(" ".join(text.split()))


def error_result(line: str) -> types.CallToolResult:
    """An MCP tool error: one line, never a traceback."""
    shown = one_line(line)
    if len(shown) > LINE_MAX:
        shown = shown[:LINE_MAX] + "..."
    return types.CallToolResult(content=[types.TextContent(type="text", text=shown)], isError=True)


def _ok(data: dict[str, Any]) -> types.CallToolResult:
    import json

    return types.CallToolResult(content=[types.TextContent(type="text", text=str(data["text"])),
                                         types.TextContent(type="text", text=json.dumps(data, indent=2))],
                                structuredContent=data)


# --- the server ------------------------------------------------------------------------------------

class _DeskSlot:
    """The Desk, opened at the first call that needs it and kept: a service that is down or a
    database that cannot be opened yet is that call's error line, and a later call tries again."""

    def __init__(self, opener: Opener) -> None:
        self._opener = opener
        self.desk: Desk | None = None
        self._lock: asyncio.Lock | None = None

    async def get(self) -> Desk:
        if self.desk is None:
            self._lock = self._lock or asyncio.Lock()
            async with self._lock:
                if self.desk is None:
                    self.desk = await asyncio.to_thread(self._opener)
        return self.desk

    def close(self) -> None:
        if self.desk is not None:
            desk, self.desk = self.desk, None
            desk.close()


class HitlMcp:
    """The five tools on one Desk (see the module docstring)."""

    def __init__(self, opener: Opener, *, agent: str | None = None,
                 report_unexpected: Callable[[], str] | None = None) -> None:
        self.slot = _DeskSlot(opener)
        self.agent = agent
        self._report_unexpected = report_unexpected
        self.server: Server[Any, Any] = Server(SERVER_NAME, version=_version(), instructions=INSTRUCTIONS)
        self._tools = {t.name: t for t in TOOLS}
        self._calls: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {
            "request_approval": self.request_approval, "get_decision": self.get_decision,
            "list_my_requests": self.list_my_requests, "resubmit_request": self.resubmit_request,
            "cancel_request": self.cancel_request}

        async def list_tools() -> list[types.Tool]:
            return list(TOOLS)

        async def call_tool(name: str, arguments: dict[str, Any]) -> types.CallToolResult:
            return await self.call(name, arguments)

        self.server.list_tools()(list_tools)  # type: ignore[no-untyped-call]  # (mcp leaves it unannotated)
        # validate_input=False: checked_arguments checks them, saying which argument is wrong
        self.server.call_tool(validate_input=False)(call_tool)

    async def call(self, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        tool = self._tools.get(name)
        if tool is None:
            return error_result(f"There is no tool {name!r}; the tools are {', '.join(self._tools)} "
                                f"(none of them decides: a human does).")
        try:
            return _ok(await self._calls[name](checked_arguments(tool, arguments)))
        except BadArguments as exc:
            return error_result(str(exc))
        except HitlError as exc:  # a refusal, an unknown id, the service down: the engine's own line
            return error_result(str(exc))
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            return error_result(f"{exc.strerror or exc}{where}; nothing more was done.")
        except Exception as exc:  # noqa: BLE001 - the promise is one line, never a traceback
            details = self._report_unexpected() if self._report_unexpected else ""
            return error_result(f"unexpected error {type(exc).__name__}: {exc}" + (f" ({details})" if details else ""))

    # --- the tools -------------------------------------------------------------------------------

    async def request_approval(self, args: dict[str, Any]) -> dict[str, Any]:
        desk = await self.slot.get()
        rid = await desk.file(type=args["type"], title=args["title"], payload=args["payload"],
                              justification=args["justification"], timeout=args["timeout_seconds"],
                              agent=args.get("agent") or self.agent)
        try:
            return await self._waited(desk, rid, float(args["wait_seconds"]), filed=True)
        except HitlError as exc:  # filed all the same: the agent must learn its id to come back for it
            raise HitlError(f"{rid} was filed, but waiting for its decision failed: {exc} Call get_decision "
                            f"with request_id {rid} to wait again.") from None

    async def get_decision(self, args: dict[str, Any]) -> dict[str, Any]:
        desk = await self.slot.get()
        return await self._waited(desk, args["request_id"], float(args["wait_seconds"]), filed=False)

    async def list_my_requests(self, args: dict[str, Any]) -> dict[str, Any]:
        desk = await self.slot.get()
        found = await desk.list_my_requests(limit=int(args["limit"]))
        status = args.get("status")
        rows = [decision_result(d) for d in found if status is None or d.outcome.value == status]
        which = f" {status}" if status else ""
        return {"requests": rows, "count": len(rows),
                "text": f"{len(rows)}{which} request(s) for approval filed by {desk.username}, newest first."}

    async def resubmit_request(self, args: dict[str, Any]) -> dict[str, Any]:
        desk = await self.slot.get()
        rid = args["request_id"]
        await desk.resubmit(rid, args["payload"], justification=args.get("justification"), comments=args["comments"])
        return await self._waited(desk, rid, float(args["wait_seconds"]), filed=True)

    async def cancel_request(self, args: dict[str, Any]) -> dict[str, Any]:
        desk = await self.slot.get()
        return decision_result(await desk.cancel_request(args["request_id"], args["reason"]))

    # --- waiting, with progress --------------------------------------------------------------------

    async def _waited(self, desk: Desk, rid: str, wait: float, *, filed: bool) -> dict[str, Any]:
        """Where `rid` stands once settled or `wait` seconds have passed; meanwhile a progress
        notification now and then, when the client asked for them with a progressToken."""
        start = time.monotonic()
        ticker = None
        if wait > 0:
            context = self.server.request_context
            token = context.meta.progressToken if context.meta is not None else None
            if token is not None:
                ticker = asyncio.create_task(_tick(context.session, token, str(context.request_id), rid, wait,
                                                   filed))
        try:
            found = await desk.get_decision(rid, wait=wait)
        finally:
            if ticker is not None:
                ticker.cancel()
                try:
                    await ticker
                except asyncio.CancelledError:
                    pass
        return decision_result(found, waited=time.monotonic() - start if wait > 0 else None)

    # --- running -----------------------------------------------------------------------------------

    async def run_stdio(self, stdin: Any = None, stdout: Any = None) -> None:
        """Serve until the client closes stdin (then close(): the caller does, once the loop is done)."""
        from mcp.server.stdio import stdio_server

        async with stdio_server(stdin, stdout) as (read, write):
            await self.server.run(read, write, self.server.create_initialization_options())

    def close(self) -> None:
        """Close the Desk: the connection (team mode) or the database, its session sealed."""
        self.slot.close()


async def _tick(session: "ServerSession", token: str | int, request_id: str, rid: str, wait: float,
                filed: bool) -> None:
    """Progress notifications while a call waits: at once, then every `every` seconds; the value
    is the seconds waited so far (always increasing, as the specification asks), of `wait`."""
    every = min(PROGRESS_EVERY, max(0.5, wait / 10))
    start = time.monotonic()
    first = f"{rid} filed; waiting for a human to decide" if filed else f"{rid} is pending; waiting for a human"
    said = 0.0
    message = f"{first} (up to {wait:g} s)"
    while True:
        try:
            await session.send_progress_notification(token, said, total=wait, message=message,
                                                     related_request_id=request_id)
        except Exception:  # noqa: BLE001 - the client went away: its answer is all that is left to send
            return
        await asyncio.sleep(every)
        said = max(said + 0.001, round(time.monotonic() - start, 3))
        message = f"{rid} still pending after {said:.0f} s of {wait:g} s" if wait >= 10 else \
            f"{rid} still pending after {said:.1f} s of {wait:g} s"


def _version() -> str:
    from . import __version__

    return str(__version__)


def protocol_streams() -> tuple[Any, Any]:
    """(stdin, stdout) for the MCP messages, with everything else kept off stdout: the real
    stdout is kept for the protocol alone and file descriptor 1 (print, a library's warning, a
    C extension) now writes to stderr, so a stray line can never corrupt the stream."""
    import io
    import os

    import anyio

    sys.stdout.flush()
    protocol = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    stdin = anyio.wrap_file(io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace"))
    stdout = anyio.wrap_file(io.TextIOWrapper(protocol, encoding="utf-8"))
    return stdin, stdout


__all__ = ["DEFAULT_WAIT", "MAX_WAIT", "HitlMcp", "TOOLS", "checked_arguments", "decision_result", "protocol_streams"]
