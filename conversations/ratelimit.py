"""Request rate limits: per API key, and failed authentications per client IP.

Two limits guard every wire format (hooked in :class:`~conversations.formats.base.FormatViewMixin`):

- ``CONVSTORE_RATE_LIMIT`` (default ``100/s``): requests one API key may make per window.
- ``CONVSTORE_AUTH_FAILURE_LIMIT`` (default ``20/m``): failed authentications (a wrong or
  revoked key) one client IP may make per window. The failure past the limit is answered 429
  instead of 401, and while the IP is over it every request from it is answered 429, a right
  key included, so that a guessed key cannot be told apart from a wrong one.

A rate is written ``N/period``: ``100/s``, ``6000/m``, ``5/2s`` (5 per 2 seconds), units ``s``,
``m``, ``h``, ``d``; ``off`` disables the limit. Windows are fixed: the count of window
``floor(now / period)`` is kept, and a refused request's ``Retry-After`` is the whole seconds
left in it (RFC 9110 §10.2.3), never less than 1.

Counters live in Redis when ``REDIS_URL`` is set (shared by every process and host), else in
this process's memory (each gunicorn worker then counts on its own: the effective limit is
workers × N). Each request costs ONE Redis round trip (a non-transactional pipeline of INCR,
EXPIREAT and, on the success path, a GET of the client IP's failure count). If Redis cannot be
reached the request is served (fail open) and a warning is logged: the limiter protects
capacity, it is not an authorisation rule.

The client IP is ``REMOTE_ADDR``; behind ``CONVSTORE_PROXY_COUNT`` trusted reverse proxies it
is that many entries from the right of ``X-Forwarded-For`` (the same rule django-axes uses for
admin logins, see ``AXES_CLIENT_IP_CALLABLE`` in settings).
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from rest_framework import exceptions

logger = logging.getLogger(__name__)

KEY_PREFIX = "convstore:rl"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*(?:\.\d+)?)\s*([smhd])[a-z]*\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Rate:
    """``limit`` requests per ``period`` seconds."""

    limit: int
    period: float


@lru_cache(maxsize=32)
def parse_rate(text: str | None) -> Rate | None:
    """``"100/s"`` → ``Rate(100, 1.0)``; ``"5/2s"`` → ``Rate(5, 2.0)``; ``"off"``/empty → None.

    Raises ``ValueError`` for anything else (checked when settings load).
    """
    if text is None or text.strip().lower() in {"", "off", "none", "0"}:
        return None
    match = _RATE.match(text)
    if not match:
        raise ValueError(f"Invalid rate {text!r}: write N/period, e.g. 100/s, 6000/m, 5/2s.")
    count, multiple, unit = match.groups()
    period = float(multiple or 1) * _UNITS[unit.lower()]
    if period <= 0:
        raise ValueError(f"Invalid rate {text!r}: the period must be positive.")
    return Rate(int(count), period)


def check_settings() -> None:
    """Refuse to start on a malformed ``CONVSTORE_RATE_LIMIT``/``CONVSTORE_AUTH_FAILURE_LIMIT``."""
    from django.core.exceptions import ImproperlyConfigured

    for name in ("CONVSTORE_RATE_LIMIT", "CONVSTORE_AUTH_FAILURE_LIMIT"):
        try:
            parse_rate(getattr(settings, name))
        except ValueError as error:
            raise ImproperlyConfigured(f"{name}: {error}") from None


@dataclass(frozen=True)
class Usage:
    """A key's standing after a request: ``limit``, ``remaining`` and ``reset`` (seconds, float)."""

    limit: int
    remaining: int
    reset: float


class RateLimited(exceptions.Throttled):
    """429 Too Many Requests. ``scope`` is ``"api_key"`` or ``"auth_failures"``.

    ``retry_after`` is whole seconds (the ``Retry-After`` value); ``usage`` is the key's
    :class:`Usage` for the ``api_key`` scope (``None`` for an IP lockout). Each format's
    ``errors.py`` words it; :class:`FormatViewMixin` adds the headers.
    """

    def __init__(self, *, scope: str, retry_after: int, usage: Usage | None = None):
        super().__init__(wait=retry_after)
        self.scope = scope
        self.retry_after = retry_after
        self.usage = usage


def retry_after_seconds(reset: float) -> int:
    """Seconds to announce in ``Retry-After``: the window's rest rounded up, at least 1."""
    return max(1, math.ceil(reset))


# --- counter backends -----------------------------------------------------------------


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
                now = time.time()
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


class RedisCounter:
    """Fixed-window counters in Redis: one pipelined round trip per :meth:`hit`."""

    def __init__(self, url: str):
        import redis

        self.client = redis.Redis.from_url(
            url, socket_connect_timeout=0.5, socket_timeout=0.5, health_check_interval=30
        )

    def hit(self, key: str | None, expires_at: float, peek: str | None = None) -> tuple[int, int]:
        """As :meth:`MemoryCounter.hit`, in one pipelined round trip.

        The commands are written on one pooled connection and their replies read back in
        order — what ``pipeline(transaction=False).execute()`` sends, without its per-call
        bookkeeping (a third of this method's CPU on the API's hot path). A connection that
        fails mid-way is dropped (never returned with unread replies); a broken connection
        (Redis restarted) is retried once on a fresh one, as redis-py's default retry would.
        Raises redis' errors otherwise (the caller fails open).
        """
        import redis

        commands: list[tuple] = []
        if key is not None:
            commands += [("INCR", key), ("EXPIREAT", key, math.ceil(expires_at) + 1)]
        if peek:
            commands.append(("GET", peek))
        if not commands:
            return 0, 0
        pool = self.client.connection_pool
        for attempt in (1, 2):
            connection = pool.get_connection()
            try:
                connection.send_packed_command(connection.pack_commands(commands))
                results = [connection.read_response() for _ in commands]
                break
            except (redis.ConnectionError, redis.TimeoutError):
                connection.disconnect()
                if attempt == 2:
                    raise
            except BaseException:
                connection.disconnect()
                raise
            finally:
                pool.release(connection)
        count = int(results[0]) if key is not None else 0
        return count, int(results[-1] or 0) if peek else 0

    def clear(self) -> None:
        keys = list(self.client.scan_iter(match=f"{KEY_PREFIX}:*", count=1000))
        if keys:
            self.client.delete(*keys)


_backend_lock = threading.Lock()
_backend: tuple[str, MemoryCounter | RedisCounter] | None = None


def backend() -> MemoryCounter | RedisCounter:
    """The counter store for the current ``REDIS_URL`` setting (built once per URL)."""
    global _backend
    url = settings.REDIS_URL
    current = _backend
    if current is None or current[0] != url:
        with _backend_lock:
            current = _backend
            if current is None or current[0] != url:
                current = (url, RedisCounter(url) if url else MemoryCounter())
                _backend = current
    return current[1]


def reset() -> None:
    """Forget every counter (memory, or our keys in Redis). For tests and operators."""
    backend().clear()


# --- the two limits ---------------------------------------------------------------------


def client_ip(request) -> str | None:
    """The client's address: ``REMOTE_ADDR``, or the ``X-Forwarded-For`` entry added by the
    outermost of ``CONVSTORE_PROXY_COUNT`` trusted proxies (if it is a valid IP address).
    ``None`` when unknown (a request built in code). Also django-axes' client IP."""
    proxies = settings.CONVSTORE_PROXY_COUNT
    if proxies > 0:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [p for p in forwarded if p]
        if len(forwarded) >= proxies:
            try:
                return str(ipaddress.ip_address(forwarded[-proxies]))
            except ValueError:
                pass
    return request.META.get("REMOTE_ADDR") or None


def _window(rate: Rate, now: float) -> tuple[int, float]:
    number = int(now // rate.period)
    return number, (number + 1) * rate.period


def _failure_key(ip: str | None, rate: Rate, number: int) -> str:
    return f"{KEY_PREFIX}:authfail:{rate.period:g}:{number}:{ip or 'unknown'}"


def _hit(key: str | None, expires_at: float, peek: str | None = None) -> tuple[int, int] | None:
    try:
        return backend().hit(key, expires_at, peek)
    except Exception:  # a Redis outage must not take the API down (fail open, logged)
        logger.warning("rate limiter unavailable; request served unlimited", exc_info=True)
        return None


def check_request(api_key_id, ip: str | None) -> Usage | None:
    """Count one authenticated request of key ``api_key_id`` from ``ip``.

    Returns the key's :class:`Usage` (``None`` when the key limit is off). Raises
    :class:`RateLimited` when the key is over ``CONVSTORE_RATE_LIMIT`` or the IP is locked out
    by ``CONVSTORE_AUTH_FAILURE_LIMIT``.
    """
    rate = parse_rate(settings.CONVSTORE_RATE_LIMIT)
    failures = parse_rate(settings.CONVSTORE_AUTH_FAILURE_LIMIT)
    if rate is None and failures is None:
        return None
    now = time.time()
    peek = None
    if failures is not None:
        fail_number, fail_end = _window(failures, now)
        peek = _failure_key(ip, failures, fail_number)
    key, expires_at = None, now
    if rate is not None:
        number, expires_at = _window(rate, now)
        key = f"{KEY_PREFIX}:key:{rate.period:g}:{number}:{api_key_id}"
    counted = _hit(key, expires_at, peek)
    if counted is None:
        return None
    count, failed = counted
    if failures is not None and failed >= failures.limit:
        raise RateLimited(scope="auth_failures", retry_after=retry_after_seconds(fail_end - now))
    if rate is None:
        return None
    usage = Usage(limit=rate.limit, remaining=max(0, rate.limit - count), reset=expires_at - now)
    if count > rate.limit:
        raise RateLimited(
            scope="api_key", retry_after=retry_after_seconds(usage.reset), usage=usage
        )
    return usage


def authentication_failed(ip: str | None) -> None:
    """Count one failed authentication from ``ip``; raise :class:`RateLimited` past the limit."""
    failures = parse_rate(settings.CONVSTORE_AUTH_FAILURE_LIMIT)
    if failures is None:
        return
    now = time.time()
    number, expires_at = _window(failures, now)
    counted = _hit(_failure_key(ip, failures, number), expires_at)
    if counted is not None and counted[0] > failures.limit:
        raise RateLimited(scope="auth_failures", retry_after=retry_after_seconds(expires_at - now))
