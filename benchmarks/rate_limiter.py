#!/usr/bin/env python
"""The rate limiter's cost per request: CPU and wall time of ``check_request`` against Redis.

Calls :func:`conversations.http.ratelimit.check_request` ``--calls`` times (both limits on, so each
call is the API's hot-path round trip: count the key, read the client IP's failures) against
the Redis named by ``BENCH_REDIS_URL`` (default ``redis://127.0.0.1:6379/15``), in this one
process, and prints this process's CPU time (``time.process_time``) and the wall time per
call, best of ``--rounds`` rounds. No database is used. Timings are printed, never asserted.

Usage: ``BENCH_REDIS_URL=redis://127.0.0.1:6379/N .venv/bin/python benchmarks/rate_limiter.py
[--calls 20000] [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


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

    from conversations.http import ratelimit, ratelimit_counters

    settings.CONVSTORE_RATE_LIMIT = f"{10**9}/h"
    settings.CONVSTORE_AUTH_FAILURE_LIMIT = "20/m"
    ratelimit_counters.reset()
    best_cpu = best_wall = float("inf")
    for _ in range(args.rounds):
        cpu, wall = time.process_time(), time.perf_counter()
        for index in range(args.calls):
            ratelimit.check_request(index % 50, "203.0.113.7")
        best_cpu = min(best_cpu, (time.process_time() - cpu) / args.calls)
        best_wall = min(best_wall, (time.perf_counter() - wall) / args.calls)
    ratelimit_counters.reset()
    print(
        f"check_request against {settings.REDIS_URL}: {best_cpu * 1e6:.1f} µs CPU, "
        f"{best_wall * 1e6:.1f} µs wall per call (best of {args.rounds} × {args.calls})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
