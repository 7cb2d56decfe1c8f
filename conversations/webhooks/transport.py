"""Outgoing webhook requests: pinned to checked addresses, bounded in bytes and in time.

:class:`Sender` is the delivery worker's HTTP client, built on httpcore's connection pool
(keep-alive, one pool per worker process, thread-safe) with our own network backend:

- **Address rule at connect time.** :class:`GuardedBackend` resolves the host itself, checks
  every address with :func:`~conversations.webhooks.addresses.check_address` and connects to
  the checked IP. The URL's host still goes in ``Host`` and in TLS SNI and certificate checks
  (httpcore passes it to ``start_tls``), so HTTPS works as usual. No proxy is ever used
  (httpcore reads no ``HTTP_PROXY``), no redirect is followed.
- **Answer size.** At most :data:`MAX_ANSWER_BYTES` (4 KiB) of an answer's body are read;
  past that the connection is dropped. Every socket read asks for at most
  :data:`READ_CHUNK_BYTES`, and h11 refuses a header block over 16 KiB, so an attempt reads at
  most about 24 KiB from the wire whatever the receiver sends. The body is never stored:
  attempts record the status code and a short reason of ours.
- **Hard deadline.** Each attempt gets ``CONVSTORE_WEBHOOK_TIMEOUT`` seconds in all: DNS,
  connect, TLS, sending, the headers and the body. Every socket operation's timeout is cut to
  the time left (a thread-local deadline), so a receiver trickling a byte a second cannot
  stretch an attempt.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

import httpcore
import httpx

from .addresses import UnsafeAddress, check_host

MAX_ANSWER_BYTES = 4096
"""Bytes of an answer's body read at most; the rest is never read (the connection drops)."""
READ_CHUNK_BYTES = 4096
"""Largest single socket read."""
WRITE_BUFFER_BYTES = 64 * 1024
"""Largest single socket write (bigger bodies go in pieces, each within the deadline)."""
REASON_LIMIT = 200
"""Characters of an error reason kept in ``last_error`` and attempt rows."""

T = TypeVar("T")
R = TypeVar("R")
_attempt = threading.local()
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-dns")


class RefusedAddress(httpcore.ConnectError):
    """The host resolved to an address the address rule refuses (nothing was sent)."""


def _time_left(timeout: float | None, expired: type[Exception]) -> float | None:
    """``timeout`` cut to what is left of the current attempt; raises ``expired`` at zero."""
    deadline = getattr(_attempt, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the attempt's deadline passed")
    return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every operation ends by the attempt's deadline.

    Writes are held until the next read (or at most :data:`WRITE_BUFFER_BYTES`), so a
    request's headers and body leave in one ``send``: half the system calls and wake-ups of
    httpcore's one write per h11 event (HTTP/1.1 without pipelining writes the whole request
    before it reads)."""

    def __init__(self, stream: httpcore.NetworkStream):
        self._stream = stream
        self._pending: list[bytes] = []
        self._pending_bytes = 0

    def _flush(self, timeout: float | None) -> None:
        data = b"".join(self._pending)
        self._pending, self._pending_bytes = [], 0
        view = memoryview(data)
        for start in range(0, len(view), WRITE_BUFFER_BYTES):
            left = _time_left(timeout, httpcore.WriteTimeout)
            self._stream.write(bytes(view[start : start + WRITE_BUFFER_BYTES]), left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._pending:
            self._flush(timeout)
        left = _time_left(timeout, httpcore.ReadTimeout)
        return self._stream.read(min(max_bytes, READ_CHUNK_BYTES), left)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if buffer:
            self._pending.append(buffer)
            self._pending_bytes += len(buffer)
        if self._pending_bytes >= WRITE_BUFFER_BYTES:
            self._flush(timeout)

    def close(self) -> None:
        self._pending, self._pending_bytes = [], 0
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> DeadlineStream:
        left = _time_left(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str):
        return self._stream.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore network backend that connects only to addresses the address rule allows.

    The name is resolved once per connection (in a helper thread, so the deadline holds for
    a slow resolver), every address is checked (one bad address refuses the host), and the
    socket connects to the checked addresses in the resolver's order.
    """

    def __init__(self):
        self._tcp = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        left = _time_left(timeout, httpcore.ConnectTimeout)
        try:
            addresses = _resolver.submit(check_host, host, port).result(timeout=left)
        except FutureTimeout:
            raise httpcore.ConnectTimeout(f"resolving {host} took too long") from None
        except UnsafeAddress as exc:
            raise RefusedAddress(str(exc)) from None
        error: Exception | None = None
        for address in addresses:
            left = _time_left(timeout, httpcore.ConnectTimeout)
            try:
                stream = self._tcp.connect_tcp(address, port, left, local_address, socket_options)
            except httpcore.ConnectError as exc:
                error = exc
                continue
            return DeadlineStream(stream)
        raise error or httpcore.ConnectError(f"cannot connect to {host}")

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("webhooks do not use Unix sockets")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass
class AttemptResult:
    """What one POST gave: a status code or an error, and the latency in milliseconds.

    ``error`` is our own short reason (``HTTP 500``, ``ConnectError: …``), never the answer's
    body."""

    status_code: int | None
    latency_ms: int
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@lru_cache(maxsize=1024)
def _target(url: str) -> tuple[httpcore.URL, bytes]:
    """The httpcore URL and ``Host`` header of a webhook URL (IDNA-encoded host)."""
    parsed = httpx.URL(url)
    host = parsed.raw_host
    netloc = (b"[" + host + b"]" if b":" in host else host) + (
        b":%d" % parsed.port if parsed.port else b""
    )
    return httpcore.URL(
        scheme=parsed.raw_scheme, host=host, port=parsed.port, target=parsed.raw_path
    ), netloc


_UNPRINTABLE = re.compile(r"[^\x20-\x7e]+")


def reason(exc: BaseException) -> str:
    """A short, printable reason for a failed attempt, without anything the receiver sent."""
    name = type(exc).__name__
    if isinstance(exc, httpcore.ProtocolError):
        return f"{name}: the answer is not valid HTTP/1.1"  # h11 may quote the bytes it got
    if isinstance(exc, RefusedAddress):
        return f"refused: {exc}"[:REASON_LIMIT]
    text = _UNPRINTABLE.sub(" ", str(exc)).strip()
    return (f"{name}: {text}" if text else name)[:REASON_LIMIT]


class Sender:
    """A keep-alive HTTP client for webhook attempts, safe to share between threads.

    ``timeout`` (seconds) is each attempt's whole deadline; ``concurrency`` is how many
    attempts :meth:`map` runs at once (threads kept for the sender's life), and the pool keeps
    that many keep-alive connections. Close it when done.
    """

    def __init__(self, *, timeout: float, concurrency: int = 1):
        self.timeout = timeout
        self.concurrency = max(1, concurrency)
        connections = max(self.concurrency, 4)
        self._threads: ThreadPoolExecutor | None = None
        self._pool = httpcore.ConnectionPool(
            network_backend=GuardedBackend(),
            max_connections=connections,
            max_keepalive_connections=connections,
            keepalive_expiry=30.0,
            retries=0,
            http1=True,
            http2=False,
        )

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> AttemptResult:
        """POST ``body`` to ``url`` within the deadline; never raises for network trouble."""
        started = time.perf_counter()
        _attempt.deadline = time.monotonic() + self.timeout
        t = self.timeout
        try:
            target, host = _target(url)
            request_headers = [
                (b"Host", host),
                *((k.encode(), v.encode()) for k, v in headers.items()),
            ]
            with self._pool.stream(
                b"POST",
                target,
                headers=request_headers,
                content=body,
                extensions={"timeout": {"connect": t, "read": t, "write": t, "pool": t}},
            ) as response:
                kept = 0
                for chunk in response.iter_stream():
                    kept += len(chunk)
                    if kept >= MAX_ANSWER_BYTES:
                        break  # leaving the block closes (drops) the connection
                status = response.status
        except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError) as exc:
            return AttemptResult(None, _ms(started), reason(exc))
        except (httpcore.UnsupportedProtocol, httpx.InvalidURL, ValueError, TypeError) as exc:
            return AttemptResult(None, _ms(started), reason(exc))
        finally:
            _attempt.deadline = None
        error = "" if 200 <= status < 300 else f"HTTP {status}"
        return AttemptResult(status, _ms(started), error)

    def submit(self, fn: Callable[[T], R], items: list[T]) -> list[Future]:
        """Run ``fn(item)`` for every item on the sender's threads, ``concurrency`` at a time,
        first come first served; returns the futures in order."""
        if self._threads is None:
            self._threads = ThreadPoolExecutor(self.concurrency, thread_name_prefix="webhook")
        return [self._threads.submit(fn, item) for item in items]

    def close(self) -> None:
        if self._threads is not None:
            self._threads.shutdown()
        self._pool.close()

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
