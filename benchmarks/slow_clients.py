#!/usr/bin/env python
"""Slow clients against the reference stack: what 24 trickling sockets do to everyone else.

Run against a running stack (``deploy/stack up``): it opens ``--sockets`` connections that
send a request a byte at a time — half stop inside their headers, half declare a body and
send it a byte at a time — keeps them trickling, and meanwhile times ``--requests`` ordinary
``GET /readyz`` requests (each a database round trip):

1. through nginx (``CONVSTORE_TEST_BASE_URL``, default ``http://127.0.0.1:8080``), the
   reference setup;
2. straight to one gunicorn app server (the first of ``CONVSTORE_TEST_APP_URLS``, default
   ``http://127.0.0.1:8081``), the setup the reference stack exists to avoid.

With nginx in front the slow sockets wait on nginx's event loop and the other requests go
by; gunicorn's gthread workers give each slow socket a thread until it completes, so with
24 of them every thread is taken and the ordinary requests time out (``--timeout``). The
script then waits past nginx's ``client_header_timeout``/``client_body_timeout`` (10 s) and
counts the slow sockets nginx has closed. Figures are printed, never asserted.

Usage: ``.venv/bin/python benchmarks/slow_clients.py [--sockets 24] [--requests 20]
[--timeout 5]``.
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness.procfs import load_average  # noqa: E402


class SlowClients:
    """``count`` sockets to ``url``'s host trickling requests, one byte per ``interval``
    seconds per socket, until :meth:`close`. Even-numbered sockets send part of a request's
    headers and then one header byte at a time; odd-numbered ones send complete headers
    declaring a 100,000-byte JSON body and then the body one byte at a time."""

    def __init__(self, url: str, count: int = 24, interval: float = 0.5):
        parts = urlsplit(url)
        self.address = (parts.hostname, parts.port or 80)
        self.interval = interval
        self.sockets: list[socket.socket] = []
        self.stopped = threading.Event()
        host = f"{parts.hostname}:{parts.port}"
        for index in range(count):
            sock = socket.create_connection(self.address, timeout=5)
            if index % 2 == 0:
                start = f"POST /openai/v1/conversations HTTP/1.1\r\nHost: {host}\r\nX-Slow: "
            else:
                start = (
                    f"POST /openai/v1/conversations HTTP/1.1\r\nHost: {host}\r\n"
                    "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
                )
            sock.sendall(start.encode())
            self.sockets.append(sock)
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self) -> None:
        while not self.stopped.wait(self.interval):
            for index, sock in enumerate(self.sockets):
                try:
                    sock.send(b"a" if index % 2 == 0 else b" ")
                except OSError:
                    pass  # closed by the server: counted by answered_or_closed()

    def answered_or_closed(self) -> int:
        """How many of the sockets the server has answered (e.g. 408) or closed: readable
        ones (data or end of file waiting), checked without blocking."""
        readable, _, _ = select.select(self.sockets, [], [], 0)
        return len(readable)

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()
        for sock in self.sockets:
            sock.close()

    def __enter__(self) -> SlowClients:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def timed_requests(url: str, count: int, timeout: float) -> tuple[list[float], int]:
    """``(latencies in ms of the answered requests, number that failed or timed out)`` of
    ``count`` sequential ``GET url`` on fresh connections."""
    latencies, failures = [], 0
    for _ in range(count):
        start = time.perf_counter()
        try:
            httpx.get(url, timeout=timeout).raise_for_status()
            latencies.append((time.perf_counter() - start) * 1000)
        except httpx.HTTPError:
            failures += 1
    return latencies, failures


def report(name: str, latencies: list[float], failures: int, count: int) -> None:
    if latencies:
        ordered = sorted(latencies)
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        figures = f"median {statistics.median(ordered):.1f} ms, p95 {p95:.1f} ms"
    else:
        figures = "no answers"
    print(f"{name:44} {count - failures:3}/{count} answered, {figures}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sockets", type=int, default=24)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=5.0, help="Seconds per request.")
    args = parser.parse_args()
    front = os.environ.get("CONVSTORE_TEST_BASE_URL", "http://127.0.0.1:8080")
    app = os.environ.get("CONVSTORE_TEST_APP_URLS", "http://127.0.0.1:8081").split(",")[0]
    print(f"load average {load_average()}; {args.sockets} slow sockets")
    for name, base in (("nginx", front), ("gunicorn direct", app)):
        url = f"{base}/readyz"
        report(f"{name}, no slow sockets", *timed_requests(url, args.requests, args.timeout),
               args.requests)  # fmt: skip
        with SlowClients(base, args.sockets) as slow:
            time.sleep(1)  # every slow socket has reached the server and is trickling
            latencies, failures = timed_requests(url, args.requests, args.timeout)
            report(f"{name}, {args.sockets} slow sockets open", latencies, failures,
                   args.requests)  # fmt: skip
            if name == "nginx":
                time.sleep(11)  # past client_header_timeout and client_body_timeout
                print(f"{'':44} nginx answered or closed {slow.answered_or_closed()} of "
                      f"{args.sockets} slow sockets after 12 s")  # fmt: skip
        if name == "gunicorn direct":
            time.sleep(1)
            report("gunicorn direct, after they closed",
                   *timed_requests(url, args.requests, args.timeout), args.requests)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
