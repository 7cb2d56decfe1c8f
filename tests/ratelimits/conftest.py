"""Rate-limit fixtures: both limits set on either counter store (in memory always, Redis
when ``REDIS_URL`` is set, as in CI), and a clock at the start of a limiter window."""

import os
import time

import pytest

from conversations.http import ratelimit_counters
from tests.skips import needs_redis

REDIS_URL = os.environ.get("REDIS_URL", "")


@pytest.fixture(
    params=[
        "memory",
        pytest.param(
            "redis",
            marks=pytest.mark.skipif(not REDIS_URL, reason=needs_redis("REDIS_URL is not set")),
        ),
    ]
)
def limits(request, settings):
    """``limits(rate=..., failures=...)`` sets both limits on the chosen counter store and
    starts from empty counters."""
    settings.REDIS_URL = REDIS_URL if request.param == "redis" else ""
    ratelimit_counters.reset()

    def set_limits(rate="off", failures="off"):
        settings.CONVSTORE_RATE_LIMIT = rate
        settings.CONVSTORE_AUTH_FAILURE_LIMIT = failures

    yield set_limits
    ratelimit_counters.reset()


class WindowClock:
    """The limiter's clock for a test: it starts at the very beginning of a window (the
    epoch second 3,600,000,000, in 2084, is a multiple of every period used here) and runs at the
    real pace, so an SDK waiting out a ``Retry-After`` lands in the next window; ``advance``
    jumps ahead instead of sleeping."""

    def __init__(self):
        self.started, self.offset = time.monotonic(), 3_600_000_000.0

    def __call__(self) -> float:
        return self.offset + time.monotonic() - self.started

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def window_clock(monkeypatch):
    clock = WindowClock()
    monkeypatch.setattr(ratelimit_counters, "clock", clock)
    return clock
