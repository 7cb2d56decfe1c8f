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

Counters (:mod:`conversations.http.ratelimit_counters`) live in Redis when ``REDIS_URL`` is
set (shared by every process and host), else in this process's memory (each gunicorn worker
then counts on its own: the effective limit is workers × N). Each request costs ONE Redis
round trip (one ``EVALSHA`` of a small Lua script: INCR, EXPIREAT and, on the success path,
a GET of the client IP's failure count). Keys start with ``CONVSTORE_REDIS_PREFIX`` (default
``convstore:<database name>``), so deployments that share one Redis database keep their
counters apart.

Redis trouble never takes the API down: each call may take ``CONVSTORE_REDIS_TIMEOUT``
seconds (default 0.25) to connect or answer; a call that fails opens a circuit breaker, and
for ``CONVSTORE_REDIS_COOLDOWN`` seconds (default 10) requests are served unlimited (fail
open) without trying Redis. One warning line is logged when the breaker opens, one info line
when a call succeeds again; nothing per request. The limiter protects capacity, it is not an
authorisation rule.

The client IP is ``REMOTE_ADDR``; behind ``CONVSTORE_PROXY_COUNT`` trusted reverse proxies it
is that many entries from the right of ``X-Forwarded-For`` (the same rule django-axes uses for
admin logins, see ``AXES_CLIENT_IP_CALLABLE`` in settings).
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from rest_framework import exceptions

from conversations.http import ratelimit_counters

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_UNIT_WORDS = {
    **{word: "s" for word in ("s", "sec", "second", "seconds")},
    **{word: "m" for word in ("m", "min", "minute", "minutes")},
    **{word: "h" for word in ("h", "hr", "hour", "hours")},
    **{word: "d" for word in ("d", "day", "days")},
}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*(?:\.\d+)?)\s*([a-z]+)\s*$", re.IGNORECASE)


class InvalidRate(ImproperlyConfigured, ValueError):
    """A rate setting that is not ``N/period`` with N ≥ 1 and a known unit, nor ``off``."""


@dataclass(frozen=True)
class Rate:
    """``limit`` requests per ``period`` seconds."""

    limit: int
    period: float


@lru_cache(maxsize=32)
def parse_rate(text: str | None) -> Rate | None:
    """``"100/s"`` → ``Rate(100, 1.0)``; ``"5/2s"`` → ``Rate(5, 2.0)``; ``"off"``/empty → None.

    Units: ``s``/``sec``/``second(s)``, ``m``/``min``/``minute(s)``, ``h``/``hr``/``hour(s)``,
    ``d``/``day(s)``. Raises :class:`InvalidRate` (an ``ImproperlyConfigured``) for anything
    else, ``0``, ``0/s`` and ``10/ms`` included (checked when settings load)."""
    if text is None or text.strip().lower() in {"", "off", "none"}:
        return None
    match = _RATE.match(text)
    unit = _UNIT_WORDS.get(match.group(3).lower()) if match else None
    if unit is None:
        raise InvalidRate(
            f"Invalid rate {text!r}: write N/period (units s, m, h, d), e.g. 100/s, 6000/m, "
            "5/2s; or off."
        )
    count, multiple = int(match.group(1)), float(match.group(2) or 1)
    if count < 1 or multiple <= 0:
        raise InvalidRate(
            f"Invalid rate {text!r}: the count and the period must be positive (write off to "
            "disable the limit)."
        )
    return Rate(count, multiple * _UNITS[unit])


def check_settings() -> None:
    """Refuse to start on a malformed ``CONVSTORE_RATE_LIMIT``/``CONVSTORE_AUTH_FAILURE_LIMIT``
    (:class:`InvalidRate`, an ``ImproperlyConfigured`` naming the setting)."""
    for name in ("CONVSTORE_RATE_LIMIT", "CONVSTORE_AUTH_FAILURE_LIMIT"):
        try:
            parse_rate(getattr(settings, name))
        except InvalidRate as error:
            raise InvalidRate(f"{name}: {error}") from None


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
    prefix = ratelimit_counters.key_prefix()
    return f"{prefix}:rl:authfail:{rate.period:g}:{number}:{ip or 'unknown'}"


def _hit(key: str | None, expires_at: float, peek: str | None = None) -> tuple[int, int] | None:
    return ratelimit_counters.backend().hit(key, expires_at, peek)


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
    now = ratelimit_counters.clock()
    peek = None
    if failures is not None:
        fail_number, fail_end = _window(failures, now)
        peek = _failure_key(ip, failures, fail_number)
    key, expires_at = None, now
    if rate is not None:
        number, expires_at = _window(rate, now)
        key = f"{ratelimit_counters.key_prefix()}:rl:key:{rate.period:g}:{number}:{api_key_id}"
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
    now = ratelimit_counters.clock()
    number, expires_at = _window(failures, now)
    counted = _hit(_failure_key(ip, failures, number), expires_at)
    if counted is not None and counted[0] > failures.limit:
        raise RateLimited(scope="auth_failures", retry_after=retry_after_seconds(expires_at - now))
