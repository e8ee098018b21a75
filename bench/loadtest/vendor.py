"""The vendor every load-test rule calls: notes each Idempotency-Key it answers with a success.

Run as its own process (``python -m bench.loadtest.vendor PORT``) so its threads do not share a
GIL with the harness. Control, over HTTP on the same port:

- ``POST /_mode`` with body ``ok``, ``5xx`` (every call answers 503), ``slow`` (every call
  answers after ``SLOW_SECONDS``, then succeeds) or ``delay:SECONDS`` (succeeds after SECONDS);
- ``POST /_reset`` forgets every call;
- ``GET /_stats?since=EPOCH`` the counts as JSON (below).

"Executed twice" is a key answered with a success twice: a vendor that ignored idempotency keys
would have made that effect twice (a kill between the call and its record makes the engine
call again, with the same key). "Doubled" is an event that reached the vendor under two
different keys with a success each: an effect made twice even by a vendor honouring keys.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

SLOW_SECONDS = 10.0


class Ledger:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.mode = "ok"
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.refused = 0
        self.executed: Counter[str] = Counter()  # key -> successes answered
        self.keys_of_event: defaultdict[str, set[str]] = defaultdict(set)
        self.success_times: list[float] = []

    def answer(self, key: str, event: str) -> int:
        with self.lock:
            self.requests += 1
            mode = self.mode
        if mode == "5xx":
            with self.lock:
                self.refused += 1
            return 503
        if mode == "slow":
            time.sleep(SLOW_SECONDS)
        elif mode.startswith("delay:"):  # a vendor's usual answer time, so that calls are in flight
            time.sleep(float(mode.partition(":")[2]))
        with self.lock:
            self.executed[key] += 1
            self.keys_of_event[event].add(key)
            self.success_times.append(time.time())
        return 200

    def stats(self, since: float) -> dict[str, Any]:
        with self.lock:
            after = [t for t in self.success_times if t >= since]
            return {
                "mode": self.mode,
                "requests": self.requests,
                "refused": self.refused,
                "successes": len(self.success_times),
                "keys": len(self.executed),
                "keys_executed_twice": sum(1 for n in self.executed.values() if n > 1),
                "events": len(self.keys_of_event),
                "events_doubled": sum(1 for keys in self.keys_of_event.values() if len(keys) > 1),
                "first_success_after": min(after) if after else None,
                "last_success": max(self.success_times) if self.success_times else None,
            }


LEDGER = Ledger()


class Vendor(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = urlsplit(self.path).path
        if path == "/_mode":
            LEDGER.mode = body.decode().strip()
            self._send(200, {"mode": LEDGER.mode})
        elif path == "/_reset":
            with LEDGER.lock:
                LEDGER.reset()
            self._send(200, {})
        else:
            event = str(json.loads(body or b"{}").get("event", ""))
            status = LEDGER.answer(self.headers.get("Idempotency-Key") or "", event)
            self._send(status, {"ok": status == 200})

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        self._send(200, LEDGER.stats(float(query.get("since", ["0"])[0])))

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def handle_error(self, request: object, client_address: object) -> None:
        """A client dropping its keep-alive connection (each call's client is closed) is no error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def main() -> None:
    port = int(sys.argv[1])
    Server(("127.0.0.1", port), Vendor).serve_forever()


if __name__ == "__main__":
    main()
