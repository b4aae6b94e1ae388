"""A recording pass-through between hitl-tui and the local server, on 127.0.0.1.

Every exchange (the request body, the status, the raw reply, streamed or not) is appended to a
JSON-lines file, so a wrong row of the report can be traced to what the model actually said.
The reply is relayed as it arrives (a stream stays a stream), ending with the connection's close.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

HOP = {"connection", "transfer-encoding", "content-length", "keep-alive"}


class Recorder:
    def __init__(self, upstream: str, log: Path) -> None:
        parts = urlsplit(upstream)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.log = log
        self.tag = ""  # set by the runner: which prompt's run this exchange belongs to
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                recorder.relay(self, b"")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                recorder.relay(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def relay(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        started = time.monotonic()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
        reply = bytearray()
        status = 0
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP | {"host"}}
            conn.request(handler.command, handler.path, body=body or None, headers=headers)
            upstream = conn.getresponse()
            status = upstream.status
            handler.send_response(status)
            for key, value in upstream.getheaders():
                if key.lower() not in HOP:
                    handler.send_header(key, value)
            handler.send_header("Connection", "close")
            handler.end_headers()
            while chunk := upstream.read1(65536):
                reply += chunk
                handler.wfile.write(chunk)
                handler.wfile.flush()
        except (OSError, http.client.HTTPException) as exc:
            reply += f"\n[proxy: {type(exc).__name__}: {exc}]".encode()
        finally:
            conn.close()
            self._write(body, status, bytes(reply), time.monotonic() - started)

    def _write(self, body: bytes, status: int, reply: bytes, seconds: float) -> None:
        try:
            sent = json.loads(body) if body else None
        except ValueError:
            sent = body.decode("utf-8", "replace")
        entry = {"run": self.tag, "seconds": round(seconds, 2), "status": status, "request": sent,
                 "reply": reply.decode("utf-8", "replace")}
        with self._lock, self.log.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
