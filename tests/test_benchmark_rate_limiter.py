"""``benchmarks/rate_limiter.py`` prints the limiter's cost and the counter's beside the one
it replaced. A smoke run against the test Redis (only when ``REDIS_URL`` is set, as in CI):
its figures are not asserted, only that every counter ran, counted and printed its row."""

import os
import re
import subprocess
import sys

import pytest

from tests.ops.conftest import ROOT
from tests.ratelimits.conftest import REDIS_URL
from tests.skips import needs_redis


@pytest.mark.skipif(not REDIS_URL, reason=needs_redis("REDIS_URL is not set"))
def test_rate_limiter_benchmark_prints_each_counter_beside_the_yardstick():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(BENCH_REDIS_URL=REDIS_URL, CONVSTORE_REDIS_PREFIX=f"convstore:bench{os.getpid()}")
    done = subprocess.run(
        [sys.executable, "benchmarks/rate_limiter.py", "--calls", "20", "--rounds", "1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"check_request: [\d.]+ µs CPU, [\d.]+ µs wall per call", done.stdout)
    for row in (
        "RedisCounter (public API, the API's)",
        "redis-py Script, pooled client",
        "HandPacked (the yardstick)",
    ):
        assert re.search(rf"{re.escape(row)} +[\d.]+ +[\d.]+\n", done.stdout), done.stdout
    assert re.search(r"HandPacked \(the yardstick\) +[\d.]+ +1\.00\n", done.stdout)
