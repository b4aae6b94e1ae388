"""A small OpenAI-compatible /chat/completions server on 127.0.0.1, for the real model wrapper.

The test scripts the replies (text, tool calls, an HTTP error, a reply that breaks off, a hang),
in order; the server answers in the format the request asks for (JSON, or server-sent events when
"stream": true) and records every request so the test can check what the model was sent.

It keeps the habits of the real local servers: text is whatever the script says (a model writing
its tool call as text, or a <think> block, is scripted as Text), and with `strict_content` it
answers HTTP 500 to an assistant tool-call message that has no string `content`, as
llama-cpp-python's server does.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


@dataclass
class Text:
    content: str


@dataclass
class Calls:
    calls: list[tuple[str, dict[str, Any]]]


@dataclass
class Status:
    code: int
    message: str = "the model is on fire"


@dataclass
class Break:
    """200, then the reply stops part-way: a stream sends the first `deltas` events and closes
    without finishing; a whole reply sends part of its body and closes."""

    content: str = "Let me look that up for"
    deltas: int = 3


@dataclass
class Hang:
    """Say nothing for `seconds` (before the headers, or after them when streaming and
    `after_headers`), as an overloaded server does; the client's timeout ends it."""

    seconds: float = 30.0
    after_headers: bool = False


Reply = Text | Calls | Status | Break | Hang | Callable[[dict], "Text | Calls | Status | Break | Hang"]


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body.get("messages", [])

    @property
    def tool_names(self) -> list[str]:
        return [t["function"]["name"] for t in self.body.get("tools", [])]


@dataclass
class FakeModel:
    replies: list[Reply] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    base_url: str = ""
    #: refuse a tool-call message without string content, as llama-cpp-python's server does (off
    #: for tests of code that talks through plain tframex, which leaves it out)
    strict_content: bool = False
    _server: ThreadingHTTPServer | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)

    def script(self, *replies: Reply) -> "FakeModel":
        self.replies.extend(replies)
        return self

    def next_reply(self, body: dict) -> Text | Calls | Status | Break | Hang:
        if not self.replies:
            return Status(599, "the test scripted no more replies")
        reply = self.replies.pop(0)
        return reply(body) if callable(reply) else reply

    def start(self) -> "FakeModel":
        model = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                model.requests.append(Recorded(self.path, dict(self.headers), body))
                if not self.path.endswith("/chat/completions"):
                    return self._json(404, {"error": {"message": f"no route {self.path}"}})
                bare = [m for m in body.get("messages", [])
                        if m.get("role") == "assistant" and m.get("tool_calls") and not isinstance(m.get("content"), str)]
                if model.strict_content and bare:
                    return self._json(500, {"error": {"message": "'content' is a required property (assistant message)"}})
                reply = model.next_reply(body)
                if isinstance(reply, Status):
                    return self._json(reply.code, {"error": {"message": reply.message}})
                if isinstance(reply, Hang):
                    return self._hang(reply, bool(body.get("stream")))
                if isinstance(reply, Break):
                    return self._break(reply, bool(body.get("stream")))
                if body.get("stream"):
                    return self._sse(reply)
                return self._json(200, {"choices": [{"index": 0, "message": _message(reply),
                                                     "finish_reason": _finish(reply)}]})

            def _json(self, code: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _sse(self, reply: Text | Calls) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for delta in _deltas(reply):
                    self.wfile.write(f"data: {json.dumps(delta)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")

            def _hang(self, reply: Hang, stream: bool) -> None:
                if stream and reply.after_headers:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    self.wfile.write(f"data: {json.dumps(_deltas(Text('Thinking'))[0])}\n\n".encode())
                    self.wfile.flush()
                model._stopping.wait(reply.seconds)
                self.close_connection = True

            def _break(self, reply: Break, stream: bool) -> None:
                self.send_response(200)
                if stream:
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    for delta in _deltas(Text(reply.content))[: reply.deltas]:
                        self.wfile.write(f"data: {json.dumps(delta)}\n\n".encode())
                else:
                    data = json.dumps({"choices": [{"index": 0, "message": _message(Text(reply.content))}]}).encode()
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()


def _message(reply: Text | Calls) -> dict:
    if isinstance(reply, Text):
        return {"role": "assistant", "content": reply.content}
    return {"role": "assistant", "content": None, "tool_calls": [
        {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
        for i, (name, args) in enumerate(reply.calls)]}


def _finish(reply: Text | Calls) -> str:
    return "stop" if isinstance(reply, Text) else "tool_calls"


def _deltas(reply: Text | Calls) -> list[dict]:
    """OpenAI's streaming shape: content word by word; tool-call arguments split in two pieces."""
    out: list[dict] = [{"choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
    if isinstance(reply, Text):
        for word in reply.content.split(" "):
            out.append({"choices": [{"index": 0, "delta": {"content": word + " "}}]})
    else:
        for i, (name, args) in enumerate(reply.calls):
            text = json.dumps(args)
            half = len(text) // 2
            out.append({"choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": i, "id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": text[:half]}}]}}]})
            out.append({"choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": i, "function": {"arguments": text[half:]}}]}}]})
    out.append({"choices": [{"index": 0, "delta": {}, "finish_reason": _finish(reply)}]})
    return out


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
