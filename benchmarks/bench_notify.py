"""Notification throughput (issue 14): the outbox delivered to a local webhook receiver, against
the receiver's raw request rate with a plain httpx client, measured in the same run.

  baseline   one httpx.Client posting the same number of signed JSON bodies of the same size,
             one after another (what the network and the receiver allow)
  delivery   hitl_tui.notify.delivery.Deliverer.flush() on an outbox of that many events (claim
             in batches, build each message from the request as its receiver may see it, sign,
             post, record each outcome): events/s, and its ratio to the baseline

    .venv/bin/python benchmarks/bench_notify.py              # 2000 events, 3 rounds
    .venv/bin/python benchmarks/bench_notify.py --events 500 --rounds 5

The receiver is a ThreadingHTTPServer in a process of its own (so it takes no GIL from the
sender), checking every X-Hitl-Signature and counting the distinct event ids. The events are
made once (filing that many requests, each one webhook event); each round sets the outbox back
to pending, and the rounds interleave baseline and delivery so that the machine's noise falls
on both alike. The run uses a throwaway home (remote_setup.py) and database.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path

import remote_setup  # noqa: F401 - first: it isolates this run's home before hitl_tui is imported

import httpx

from hitl_tui.core import notifications as nt
from hitl_tui.core.service import WorkflowService
from hitl_tui.notify import render
from hitl_tui.notify.delivery import Deliverer

SECRET = "bench-secret-0123456789abcdef"


def _receive(port: int, ready: "multiprocessing.synchronize.Event", counts: "multiprocessing.sharedctypes.Synchronized") -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver would

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            want = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            ok = hmac.compare_digest(self.headers.get("X-Hitl-Signature", ""), want)
            with counts.get_lock():
                counts.value += 1 if ok else 0
            self.send_response(200 if ok else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    ready.set()
    server.serve_forever()


def _port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def baseline(url: str, bodies: list[bytes]) -> float:
    """Seconds for a plain httpx client to post every body (signed, like the deliveries)."""
    with httpx.Client(timeout=10) as client:
        start = time.perf_counter()
        for body in bodies:
            reply = client.post(url, content=body, headers={"Content-Type": "application/json",
                                                              "X-Hitl-Signature": render.signature(SECRET, body)})
            reply.raise_for_status()
        return time.perf_counter() - start


def delivery(service: WorkflowService) -> tuple[float, int]:
    service._conn.execute("UPDATE notify_outbox SET state = 'pending', attempts = 0, sent_at = NULL, claim = NULL, "
                          "next_attempt_at = created_at")
    start = time.perf_counter()
    done = Deliverer(service).flush()
    return time.perf_counter() - start, done.sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    port = _port()
    ready, counts = multiprocessing.Event(), multiprocessing.Value("i", 0)
    proc = multiprocessing.Process(target=_receive, args=(port, ready, counts), daemon=True)
    proc.start()
    ready.wait(10)
    url = f"http://127.0.0.1:{port}/hook"
    with tempfile.TemporaryDirectory(prefix="bench-notify-") as tmp:
        service = WorkflowService.open(Path(tmp) / "hitl.db", key=bytes(range(32)), create=True, operator="ada")
        service.add_user("ada", "it_admin", "ada@example.com", admin=True, actor="ada")
        service.add_user("emp", "employee", "emp@example.com", actor="ada")
        nt.add_webhook(service, url, secret=SECRET, actor="ada")
        t0 = time.perf_counter()
        for i in range(args.events):
            service.create_workflow_request("expense_approval", f"Item {i}", "", "emp",
                                            {"amount": "500", "category": "travel"})
        filed = time.perf_counter() - t0
        rows = service._conn.execute("SELECT count(*) FROM notify_outbox").fetchone()[0]
        assert rows == args.events, rows
        sample = service._conn.execute("SELECT id, workflow_id FROM notify_outbox LIMIT 1").fetchone()
        body = json.dumps({"event_id": sample[0], "event": "waiting_for_you", "request_id": sample[1],
                           "type": "expense_approval", "risk": "LOW", "status": "awaiting_approval",
                           "created_at": "2026-01-01T00:00:00.000000+00:00", "database_id": service.database_id},
                          sort_keys=True, separators=(",", ":")).encode()
        bodies = [body] * args.events
        bare = WorkflowService.open(Path(tmp) / "bare.db", key=bytes(range(32)), create=True, operator="ada")
        bare.add_user("ada", "it_admin", "ada@example.com", admin=True, actor="ada")
        bare.add_user("emp", "employee", "emp@example.com", actor="ada")
        t0 = time.perf_counter()
        for i in range(args.events):
            bare.create_workflow_request("expense_approval", f"Item {i}", "", "emp",
                                         {"amount": "500", "category": "travel"})
        unheard = time.perf_counter() - t0
        bare.close(checkpoint=False)
        print(f"filing {args.events} requests: {filed:.2f} s with a webhook (each writes its outbox row in its "
              f"transaction), {unheard:.2f} s with no receiver: {filed / unheard:.2f} x")
        base_rates, rates = [], []
        for r in range(args.rounds):
            b = baseline(url, bodies)
            d, sent = delivery(service)
            assert sent == args.events, sent
            base_rates.append(args.events / b)
            rates.append(args.events / d)
            print(f"  round {r + 1}: baseline {args.events / b:8.0f} req/s   delivery {args.events / d:8.0f} "
                  f"events/s   ratio {b / d:.2f}")
        service.close(checkpoint=False)
    proc.terminate()
    base, rate = statistics.median(base_rates), statistics.median(rates)
    print(f"baseline (plain httpx client): {base:,.0f} requests/s")
    print(f"notification delivery:         {rate:,.0f} events/s  = {rate / base:.2f} x the baseline")
    print(f"receiver accepted {counts.value} signed bodies ({args.rounds} x {args.events} x 2 sent)")


if __name__ == "__main__":
    main()
