"""A client process for the team-mode tests, run as one of the test's OS accounts.

    python wire.py pipe SOCKET [--no-read]   relay stdin to the socket and the socket to stdout,
                                             byte for byte (the test writes raw messages, garbage
                                             included); --no-read never reads the socket (a client
                                             that stopped reading)
    python wire.py listen SOCKET             RemoteService.on_change: print each "changed" as a
                                             JSON line, after a first line {"ready": ...}

It is started by the test through setpriv, so the kernel reports the account's uid to the
service; it imports nothing from the tests.
"""

from __future__ import annotations

import json
import os
import select
import socket
import sys
import threading


def pipe(path: str, read_socket: bool) -> int:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as exc:
        sys.stderr.write(f"connect failed: {type(exc).__name__} errno {exc.errno}\n")
        return 2
    sys.stderr.write("connected\n")
    sys.stderr.flush()
    watched = [0, sock] if read_socket else [0]
    while True:
        ready, _, _ = select.select(watched, [], [])
        if 0 in ready:
            data = os.read(0, 1 << 20)
            if not data:
                return 0
            try:
                sock.sendall(data)
            except OSError:
                return 3
        if sock in ready:
            data = sock.recv(1 << 20)
            if not data:
                sys.stderr.write("closed by the service\n")
                return 0
            os.write(1, data)


def listen(path: str) -> int:
    from hitl_tui.remote.client import RemoteService

    service = RemoteService.connect(path)
    lock = threading.Lock()

    def changed(params: dict) -> None:
        with lock:
            print(json.dumps(params), flush=True)

    service.on_change(changed)
    print(json.dumps({"ready": service.username}), flush=True)
    sys.stdin.read()  # until the test closes our stdin
    service.close()
    return 0


if __name__ == "__main__":
    mode, where = sys.argv[1], sys.argv[2]
    sys.exit(pipe(where, "--no-read" not in sys.argv) if mode == "pipe" else listen(where))
