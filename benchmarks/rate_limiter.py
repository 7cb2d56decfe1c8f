#!/usr/bin/env python
"""The rate limiter's cost per request: CPU and wall time against Redis, and the counter's
cost beside the one it replaced, measured in one run.

1. ``check_request``: :func:`conversations.http.ratelimit.check_request` ``--calls`` times
   (both limits on, so each call is the API's hot-path round trip: count the key, read the
   client IP's failures), CPU (``time.process_time``) and wall time per call.
2. The counter alone, three ways, interleaved round by round so that a busy machine slows
   them alike, CPU per call:

   - ``RedisCounter.hit``: what the API runs, redis-py's public client API (``EVALSHA`` on
     the thread's own connection);
   - redis-py's ``Script`` object on a pooled client (the plain public way);
   - :class:`HandPacked`, the yardstick: the counter this project ran before it kept to
     redis-py's public client API. It wrote pre-packed commands on a connection taken from
     the pool (``Connection.pack_commands``/``send_packed_command``, below the client
     API). It lives only here, to be measured against, and the ratio to it is printed.

Best of ``--rounds`` rounds, against the Redis named by ``BENCH_REDIS_URL`` (default
``redis://127.0.0.1:6379/15``), in this one process; no database is used. Timings are
printed, never asserted.

Usage: ``BENCH_REDIS_URL=redis://127.0.0.1:6379/N .venv/bin/python benchmarks/rate_limiter.py
[--calls 20000] [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pooled_client(url: str, timeout: float):
    """A redis-py client on its own connection pool, with the counter's timeouts."""
    import redis

    return redis.Redis.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=timeout, health_check_interval=30
    )


class HandPacked:
    """The yardstick: INCR, EXPIREAT and GET written pre-packed on a pooled connection and
    their replies read back in order; a broken connection is retried once."""

    def __init__(self, url: str, *, timeout: float):
        import redis

        self.redis, self.client = redis, pooled_client(url, timeout)

    def hit(self, key: str | None, expires_at: float, peek: str | None = None) -> tuple[int, int]:
        commands: list[tuple] = []
        if key is not None:
            commands += [("INCR", key), ("EXPIREAT", key, math.ceil(expires_at) + 1)]
        if peek:
            commands.append(("GET", peek))
        pool = self.client.connection_pool
        for attempt in (1, 2):
            connection = pool.get_connection()
            try:
                connection.send_packed_command(connection.pack_commands(commands))
                results = [connection.read_response() for _ in commands]
                break
            except (self.redis.ConnectionError, self.redis.TimeoutError):
                connection.disconnect()
                if attempt == 2:
                    raise
            finally:
                pool.release(connection)
        return int(results[0]) if key is not None else 0, int(results[-1] or 0) if peek else 0


class ScriptObject:
    """redis-py's ``Script`` (``register_script``) on a pooled client."""

    def __init__(self, url: str, *, timeout: float):
        from conversations.http.ratelimit_counters import _HIT_SCRIPT

        self.client = pooled_client(url, timeout)
        self.script = self.client.register_script(_HIT_SCRIPT)

    def hit(self, key: str | None, expires_at: float, peek: str | None = None) -> tuple[int, int]:
        count, peeked = self.script(keys=[key or "", peek or ""], args=[math.ceil(expires_at) + 1])
        return int(count), int(peeked)


def cpu_per_call(function, calls: int) -> tuple[float, float]:
    """``(CPU seconds, wall seconds)`` per call of ``function(index)``."""
    cpu, wall = time.process_time(), time.perf_counter()
    for index in range(calls):
        function(index)
    return (time.process_time() - cpu) / calls, (time.perf_counter() - wall) / calls


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20000, help="calls per round (20000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the best is kept (5)")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convstore.test_settings")
    os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
    import django

    django.setup()
    from django.conf import settings

    from benchmarks.harness.report import machine, ratio
    from conversations.http import ratelimit, ratelimit_counters

    settings.CONVSTORE_RATE_LIMIT = f"{10**9}/h"
    settings.CONVSTORE_AUTH_FAILURE_LIMIT = "20/m"
    ratelimit_counters.reset()
    url, timeout = settings.REDIS_URL, settings.CONVSTORE_REDIS_TIMEOUT
    prefix = ratelimit_counters.key_prefix()
    counters = {
        "RedisCounter (public API, the API's)": ratelimit_counters.backend().counter,
        "redis-py Script, pooled client": ScriptObject(url, timeout=timeout),
        "HandPacked (the yardstick)": HandPacked(url, timeout=timeout),
    }
    best = {"check_request": (float("inf"), float("inf"))} | {
        name: (float("inf"), float("inf")) for name in counters
    }
    for _ in range(args.rounds):
        measured = {
            "check_request": cpu_per_call(
                lambda index: ratelimit.check_request(index % 50, "203.0.113.7"), args.calls
            )
        }
        for name, counter in counters.items():
            measured[name] = cpu_per_call(
                lambda index, counter=counter: counter.hit(
                    f"{prefix}:rl:bench:{index % 50}", time.time() + 60, f"{prefix}:rl:bench:ip"
                ),
                args.calls,
            )
        best = {name: tuple(map(min, best[name], measured[name])) for name in best}
    ratelimit_counters.reset()
    print(machine(f"Redis {url}, best of {args.rounds} × {args.calls} calls"))
    cpu, wall = best["check_request"]
    print(f"check_request: {cpu * 1e6:.1f} µs CPU, {wall * 1e6:.1f} µs wall per call")
    yardstick = best["HandPacked (the yardstick)"][0]
    print(f"{'counter.hit':40} {'µs CPU':>8} {'× yardstick':>12}")
    for name in counters:
        cpu = best[name][0]
        print(f"{name:40} {cpu * 1e6:8.1f} {ratio(cpu, yardstick):12.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
