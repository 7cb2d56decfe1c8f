"""Outgoing webhook requests: pinned to checked addresses, bounded in bytes and in time.

:class:`Sender` is the delivery worker's HTTP client: the standard library's
:mod:`http.client` (light enough for a thousand requests a second from one process), with
keep-alive connections per thread and endpoint origin, and our own ``connect``:

- **Address rule at connect time.** :func:`connect_checked` resolves the host itself, checks
  every address with :func:`~conversations.domain.addresses.check_address` and connects to
  the checked IP. The URL's host still goes in ``Host`` and in TLS SNI and certificate checks,
  so HTTPS works as usual. No proxy is ever used, no redirect followed.
- **Answer size.** At most :data:`MAX_ANSWER_BYTES` (4 KiB) of an answer's body are read; past
  that the connection is dropped. Every socket read asks for at most :data:`READ_CHUNK_BYTES`
  and an answer may not take more than :data:`MAX_ANSWER_READ_BYTES` (24 KiB: status line,
  headers and the body kept) off the wire, whatever the receiver sends. The body is never
  stored: attempts record the status code and a short reason of ours.
- **Hard deadline.** Each attempt gets ``CONVSTORE_WEBHOOK_TIMEOUT`` seconds in all: DNS,
  connect, TLS, sending, the headers and the body. Every socket operation's timeout is cut to
  the time left, so a receiver trickling a byte a second cannot stretch an attempt.
"""

from __future__ import annotations

import http.client
import io
import re
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar
from urllib.parse import urlsplit

from conversations.domain.addresses import UnsafeAddress, check_host

MAX_ANSWER_BYTES = 4096
"""Bytes of an answer's body read at most; the rest is never read (the connection drops)."""
READ_CHUNK_BYTES = 4096
"""Largest single socket read."""
MAX_ANSWER_READ_BYTES = 24 * 1024
"""Bytes one answer may take off the wire in all (status line, headers, body kept)."""
KEEPALIVE_SECONDS = 30.0
"""An idle connection older than this is closed rather than reused."""
REASON_LIMIT = 200
"""Characters of an error reason kept in ``last_error`` and attempt rows."""

T = TypeVar("T")
R = TypeVar("R")
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-dns")


class AttemptError(Exception):
    """A failed attempt; ``kind`` names it (``ConnectError``, ``ReadTimeout``, …)."""

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(detail)
        self.kind = kind


class RefusedAddress(AttemptError):
    """The host resolved to an address the address rule refuses (nothing was sent)."""

    def __init__(self, detail: str):
        super().__init__("refused", detail)


class Deadline:
    """The end of one attempt (``time.monotonic()`` seconds)."""

    def __init__(self, seconds: float):
        self.at = time.monotonic() + seconds

    def left(self, kind: str) -> float:
        """Seconds left; raises ``AttemptError(kind)`` when none are."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise AttemptError(kind, "the attempt's deadline passed")
        return left


def connect_checked(host: str, port: int, deadline: Deadline) -> socket.socket:
    """A TCP socket to ``host``, connected only to addresses the address rule allows.

    The name is resolved once (in a helper thread, so the deadline holds for a slow
    resolver), every address is checked (one bad address refuses the host), and the
    addresses are tried in the resolver's order. Raises :class:`AttemptError`."""
    try:
        future = _resolver.submit(check_host, host, port)
        addresses = future.result(timeout=deadline.left("ConnectTimeout"))
    except FutureTimeout:
        raise AttemptError("ConnectTimeout", f"resolving {host} took too long") from None
    except UnsafeAddress as exc:
        raise RefusedAddress(str(exc)) from None
    error: AttemptError | None = None
    for address in addresses:
        try:
            sock = socket.create_connection((address, port), deadline.left("ConnectTimeout"))
        except TimeoutError:
            error = AttemptError("ConnectTimeout", f"connecting to {host} took too long")
        except OSError as exc:
            error = AttemptError("ConnectError", str(exc))
        else:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
    raise error or AttemptError("ConnectError", f"cannot connect to {host}")


class _AnswerReader(io.RawIOBase):
    """The socket as the answer's raw stream: each read within the deadline, at most
    :data:`READ_CHUNK_BYTES` at a time and :data:`MAX_ANSWER_READ_BYTES` in all.

    It reads through the socket's own ``makefile`` object, which keeps the socket open while
    the answer is read even after ``http.client`` closes its connection (``Connection:
    close``)."""

    def __init__(self, sock: socket.socket, deadline: Deadline):
        super().__init__()
        self.sock, self.deadline, self.left = sock, deadline, MAX_ANSWER_READ_BYTES
        self.raw = sock.makefile("rb", buffering=0)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.left <= 0:
            raise AttemptError("ReadError", "the answer is over the size limit")
        want = min(len(buffer), READ_CHUNK_BYTES, self.left)
        self.sock.settimeout(self.deadline.left("ReadTimeout"))
        try:
            got = self.raw.readinto(memoryview(buffer)[:want])
        except TimeoutError:
            raise AttemptError("ReadTimeout", "the answer did not come in time") from None
        self.left -= got or 0
        return got

    def close(self) -> None:
        self.raw.close()
        super().close()


class _BoundedSocket:
    """A connected socket as :class:`http.client.HTTPConnection` uses it (``sendall``,
    ``makefile``, ``close``), bounded by the current attempt's :class:`Deadline`: a write
    within the time left, and every answer read through :class:`_AnswerReader` — the file
    ``http.client.HTTPResponse`` reads the status line, headers and body from."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.deadline = Deadline(0)

    def sendall(self, data: bytes) -> None:
        self.sock.settimeout(self.deadline.left("WriteTimeout"))
        try:
            self.sock.sendall(data)
        except TimeoutError:
            raise AttemptError("WriteTimeout", "the receiver did not take the request") from None

    def makefile(self, mode: str = "rb", *args, **kwargs) -> io.BufferedReader:
        return io.BufferedReader(_AnswerReader(self.sock, self.deadline), READ_CHUNK_BYTES)

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()


class _Connection(http.client.HTTPConnection):
    """One keep-alive connection to an endpoint origin, pinned to a checked address.

    ``connect`` (the documented hook) opens the socket to a checked address and wraps it in
    a :class:`_BoundedSocket`; the request (headers and body, gathered by ``send``) leaves in
    one ``sendall`` within the deadline when the answer is asked for."""

    def __init__(self, scheme: str, host: str, port: int):
        super().__init__(host, port)
        self.scheme = scheme
        self.deadline = Deadline(0)
        self.used_at = 0.0
        self.out: list[bytes] = []

    def connect(self) -> None:
        sock = connect_checked(self.host, self.port, self.deadline)
        if self.scheme == "https":
            sock.settimeout(self.deadline.left("ConnectTimeout"))
            try:
                sock = _tls_context().wrap_socket(sock, server_hostname=self.host)
            except TimeoutError:
                sock.close()
                raise AttemptError("ConnectTimeout", "the TLS handshake took too long") from None
            except OSError as exc:
                sock.close()
                raise AttemptError("ConnectError", str(exc)) from None
        self.sock = _BoundedSocket(sock)

    def send(self, data) -> None:
        if self.sock is None:
            self.connect()
        self.out.append(bytes(data))

    def getresponse(self):
        data = b"".join(self.out)
        self.out = []
        self.sock.deadline = self.deadline
        self.sock.sendall(data)
        return super().getresponse()

    def idle_and_fresh(self) -> bool:
        """Whether the connection may carry another request: open, not expired, and with
        nothing to read (a readable idle socket means the receiver closed it)."""
        if self.sock is None or time.monotonic() - self.used_at > KEEPALIVE_SECONDS:
            return False
        readable, _, _ = select.select([self.sock], [], [], 0)
        return not readable


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


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
def _target(url: str) -> tuple[str, str, int, str]:
    """``(scheme, host, port, path+query)`` of a webhook URL, the host IDNA-encoded."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise AttemptError("InvalidURL", "not an http(s) URL with a host")
    host = parts.hostname.encode("idna").decode("ascii")
    port = parts.port or (443 if scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port, path


_UNPRINTABLE = re.compile(r"[^\x20-\x7e]+")


def reason(exc: BaseException) -> str:
    """A short, printable reason for a failed attempt, without anything the receiver sent."""
    if isinstance(exc, AttemptError):
        name = exc.kind
    elif isinstance(exc, http.client.RemoteDisconnected | ConnectionResetError):
        return "ReadError: the receiver closed the connection without answering"
    elif isinstance(exc, http.client.HTTPException | ValueError):
        return "RemoteProtocolError: the answer is not valid HTTP/1.1"  # may quote its bytes
    elif isinstance(exc, TimeoutError):
        name = "ReadTimeout"
    else:
        name = "ReadError"
    if isinstance(exc, RefusedAddress):
        return f"refused: {exc}"[:REASON_LIMIT]
    text = _UNPRINTABLE.sub(" ", str(exc)).strip()
    return (f"{name}: {text}" if text else name)[:REASON_LIMIT]


class Sender:
    """A keep-alive HTTP client for webhook attempts, safe to share between threads.

    ``timeout`` (seconds) is each attempt's whole deadline; ``concurrency`` is how many
    attempts :meth:`submit` runs at once, on threads kept for the sender's life. Each thread
    keeps one connection per endpoint origin. Close it when done.
    """

    def __init__(self, *, timeout: float, concurrency: int = 1):
        self.timeout = timeout
        self.concurrency = max(1, concurrency)
        self._threads: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._all: set[_Connection] = set()  # every thread's open connections, to close
        self._lock = threading.Lock()

    def _connection(self, scheme: str, host: str, port: int) -> tuple[_Connection, bool]:
        """This thread's connection to the origin, and whether it was used before."""
        pool = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = {}
        key = (scheme, host, port)
        conn = pool.get(key)
        if conn is not None and conn.idle_and_fresh():
            return conn, True
        fresh = pool[key] = _Connection(scheme, host, port)
        with self._lock:
            if conn is not None:
                conn.close()
                self._all.discard(conn)
            self._all.add(fresh)
        return fresh, False

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> AttemptResult:
        """POST ``body`` to ``url`` within the deadline; never raises for network trouble."""
        started = time.perf_counter()
        deadline = Deadline(self.timeout)
        conn = None
        try:
            scheme, host, port, path = _target(url)
            conn, reused = self._connection(scheme, host, port)
            try:
                status = self._exchange(conn, deadline, path, body, headers)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                if not reused:
                    raise
                conn.close()  # the receiver closed the idle connection meanwhile: once more
                status = self._exchange(conn, deadline, path, body, headers)
        except (AttemptError, OSError, http.client.HTTPException, ValueError) as exc:
            if conn is not None:
                conn.close()
            return AttemptResult(None, _ms(started), reason(exc))
        error = "" if 200 <= status < 300 else f"HTTP {status}"
        return AttemptResult(status, _ms(started), error)

    @staticmethod
    def _exchange(conn: _Connection, deadline: Deadline, path, body, headers) -> int:
        conn.deadline = deadline
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        kept = response.read(MAX_ANSWER_BYTES)
        if not response.isclosed() or _closes(response):
            conn.close()  # a longer body (never read) or the receiver's wish
        del kept
        conn.used_at = time.monotonic()
        return response.status

    def submit(self, fn: Callable[[T], R], items: list[T]) -> list[Future]:
        """Run ``fn(item)`` for every item on the sender's threads, ``concurrency`` at a time,
        first come first served; returns the futures in order."""
        if self._threads is None:
            self._threads = ThreadPoolExecutor(self.concurrency, thread_name_prefix="webhook")
        return [self._threads.submit(fn, item) for item in items]

    def close(self) -> None:
        if self._threads is not None:
            self._threads.shutdown()
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _closes(response: http.client.HTTPResponse) -> bool:
    """Whether the receiver ends the connection after this answer (RFC 9112 §9.3: an HTTP/1.0
    answer without ``keep-alive``, or ``Connection: close``)."""
    tokens = {t.strip().lower() for t in (response.getheader("Connection") or "").split(",")}
    return "close" in tokens or (response.version == 10 and "keep-alive" not in tokens)


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
