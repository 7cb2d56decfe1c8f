"""Where the rate limiter counts (:mod:`conversations.http.ratelimit` holds the limits).

- :class:`RedisCounter` when ``REDIS_URL`` is set: fixed-window counters shared by every
  process and host, ONE round trip per request (``EVALSHA`` of a small Lua script: INCR,
  EXPIREAT and, on the success path, a GET of the client IP's failure count); keys start with
  :func:`key_prefix`.
- :class:`MemoryCounter` otherwise: this process's own counters.
- :class:`CircuitBreaker`: a Redis call that fails or times out (``CONVSTORE_REDIS_TIMEOUT``)
  opens it, and for ``CONVSTORE_REDIS_COOLDOWN`` seconds requests are counted nowhere (fail
  open).

:func:`backend` builds the :class:`Limiter` for the current settings once; :func:`reset`
forgets every counter (tests and operators).
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import PurePath

from django.conf import settings

logger = logging.getLogger(__name__)

#: The limiter's wall clock (seconds since the epoch): windows, ``Retry-After`` and the
#: memory counters' sweep read it. Tests replace it
#: (``monkeypatch.setattr(ratelimit_counters, "clock", …)``) to place requests in a window
#: without sleeping.
clock: Callable[[], float] = time.time


def key_prefix() -> str:
    """Our keys' namespace: ``CONVSTORE_REDIS_PREFIX``, by default ``convstore:<database
    name>`` (a file database's stem), so two deployments sharing one Redis keep apart."""
    return _prefix(settings.CONVSTORE_REDIS_PREFIX, settings.DATABASES["default"].get("NAME"))


@lru_cache(maxsize=8)
def _prefix(setting: str, database: object) -> str:
    return setting or f"convstore:{PurePath(str(database or 'default')).stem}"


class MemoryCounter:
    """Fixed-window counters in this process (a dict guarded by a lock; stale windows swept)."""

    SWEEP_EVERY = 4096

    def __init__(self):
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, float]] = {}
        self._calls = 0

    def hit(self, key: str | None, expires_at: float, peek: str | None = None) -> tuple[int, int]:
        """Add one to ``key`` (if any); return ``(its new count or 0, count of peek or 0)``."""
        with self._lock:
            self._calls += 1
            if self._calls % self.SWEEP_EVERY == 0:
                now = clock()
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
            count = 0
            if key is not None:
                count = self._counts.get(key, (0, expires_at))[0] + 1
                self._counts[key] = (count, expires_at)
            peeked = self._counts.get(peek, (0, 0.0))[0] if peek else 0
        return count, peeked

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


# KEYS[1]: the counter to add one to ('' for none), KEYS[2]: the counter to read ('' for
# none); ARGV[1]: the counter's expiry (unix seconds). Returns {new count, count read}.
_HIT_SCRIPT = """
local count = 0
if KEYS[1] ~= '' then
  count = redis.call('INCR', KEYS[1])
  redis.call('EXPIREAT', KEYS[1], ARGV[1])
end
local peeked = 0
if KEYS[2] ~= '' then peeked = tonumber(redis.call('GET', KEYS[2]) or '0') end
return {count, peeked}
"""


class RedisCounter:
    """Fixed-window counters in Redis: one ``EVALSHA`` round trip per :meth:`hit`.

    Each thread counts on its own connection: a ``redis.Redis`` client with
    ``single_connection_client=True`` over one shared ``ConnectionPool`` (redis-py's
    documented options). A pooled client would take a connection from the pool and give it
    back on every call, and the pool checks each connection it hands out with a poll of its
    socket: about a fifth of the call's CPU (``benchmarks/rate_limiter.py``). A thread's
    client gives its connection back to the pool when the thread ends, so a server that
    starts a thread per request (``runserver``) reuses connections rather than piling them up.
    A thread's client is made when it first counts, so gunicorn's preloading master, which
    counts nothing, holds none across its fork.

    ``timeout`` (seconds) bounds connecting and every answer. A broken connection (Redis
    restarted) is retried once on a fresh one (redis-py's ``Retry``); a timeout is not
    retried: the caller's breaker fails open. A Redis that forgot the script (restarted,
    ``SCRIPT FLUSH``) answers ``NOSCRIPT``: the script is loaded again and the call repeated
    once, as redis-py's ``Script`` does."""

    def __init__(self, url: str, *, timeout: float):
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.pool = redis.ConnectionPool.from_url(
            url,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            health_check_interval=30,
            retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
        )
        self.client = redis.Redis(connection_pool=self.pool)
        # EVALSHA names a script by the SHA-1 of its text (https://redis.io/docs/latest/commands/evalsha/).
        self.sha = hashlib.sha1(_HIT_SCRIPT.encode()).hexdigest()
        self._redis, self._local = redis, threading.local()

    def _thread_client(self):
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._redis.Redis(connection_pool=self.pool, single_connection_client=True)
            self._local.client = client
        return client

    def hit(self, key: str | None, expires_at: float, peek: str | None = None) -> tuple[int, int]:
        """As :meth:`MemoryCounter.hit`, in one round trip. Raises redis' errors."""
        if key is None and not peek:
            return 0, 0
        client = self._thread_client()
        args = (self.sha, 2, key or "", peek or "", math.ceil(expires_at) + 1)
        try:
            count, peeked = client.evalsha(*args)
        except self._redis.exceptions.NoScriptError:
            client.script_load(_HIT_SCRIPT)
            count, peeked = client.evalsha(*args)
        return int(count), int(peeked)

    def clear(self) -> None:
        keys = list(self.client.scan_iter(match=f"{key_prefix()}:rl:*", count=1000))
        if keys:
            self.client.delete(*keys)


class CircuitBreaker:
    """Skips a failing dependency for a cool-down: after a failed call, :meth:`allow` is
    false for ``cooldown`` seconds of ``clock`` (monotonic by default), then one call is
    tried again. Logs one warning when it opens and one info line when a call succeeds
    after that; thread-safe."""

    def __init__(self, *, cooldown: float, clock: Callable[[], float] = time.monotonic):
        self.cooldown, self.clock = cooldown, clock
        self._lock = threading.Lock()
        self._open_until: float | None = None  # None: closed

    def allow(self) -> bool:
        """Whether to call the dependency now (closed, or the cool-down is over)."""
        open_until = self._open_until
        return open_until is None or self.clock() >= open_until

    def failed(self, error: BaseException) -> None:
        """A call failed: open (again) for the cool-down; warn only when it was closed."""
        with self._lock:
            was_closed = self._open_until is None
            self._open_until = self.clock() + self.cooldown
        if was_closed:
            logger.warning(
                "rate limiter: Redis unavailable (%s: %s); serving requests unlimited, "
                "retrying every %gs",
                type(error).__name__,
                error,
                self.cooldown,
            )

    def succeeded(self) -> None:
        """A call succeeded: close."""
        if self._open_until is not None:
            with self._lock:
                self._open_until = None
            logger.info("rate limiter: Redis is back; counting again")


class Limiter:
    """A counter store behind a :class:`CircuitBreaker`: :meth:`hit` returns ``None`` (fail
    open) while the store fails or the breaker is open."""

    def __init__(self, counter: MemoryCounter | RedisCounter, breaker: CircuitBreaker):
        self.counter, self.breaker = counter, breaker

    def hit(self, key: str | None, expires_at: float, peek: str | None = None):
        if not self.breaker.allow():
            return None
        try:
            counted = self.counter.hit(key, expires_at, peek)
        except Exception as error:  # an outage must not take the API down (fail open)
            self.breaker.failed(error)
            return None
        self.breaker.succeeded()
        return counted


_backend_lock = threading.Lock()
_backend: tuple[tuple, Limiter] | None = None


def backend() -> Limiter:
    """The limiter for the current Redis settings (built once per ``REDIS_URL``, timeout and
    cool-down)."""
    global _backend
    config = (
        settings.REDIS_URL,
        settings.CONVSTORE_REDIS_TIMEOUT,
        settings.CONVSTORE_REDIS_COOLDOWN,
    )
    current = _backend
    if current is None or current[0] != config:
        with _backend_lock:
            current = _backend
            if current is None or current[0] != config:
                url, timeout, cooldown = config
                counter = RedisCounter(url, timeout=timeout) if url else MemoryCounter()
                current = (config, Limiter(counter, CircuitBreaker(cooldown=cooldown)))
                _backend = current
    return current[1]


def reset() -> None:
    """Forget every counter (memory, or our keys in Redis) and close the breaker. For tests
    and operators."""
    limiter = backend()
    limiter.counter.clear()
    limiter.breaker.succeeded()
