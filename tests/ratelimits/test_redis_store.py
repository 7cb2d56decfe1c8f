"""The Redis counter store: counts shared between processes and apart between deployments
(by key prefix), and an unreachable or hung Redis fails open."""

import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from conversations.http import ratelimit_counters
from conversations.models import ApiKey
from tests.clock import hour_rate
from tests.skips import needs_redis

from .conftest import REDIS_URL

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


def test_unreachable_redis_fails_open(client, settings, api_key):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.CONVSTORE_RATE_LIMIT = hour_rate()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_key}"}
    for _ in range(2):
        assert client.get("/agentphone/v1/conversations", **auth).status_code == 200


@pytest.mark.skipif(not REDIS_URL, reason=needs_redis("REDIS_URL is not set"))
def test_redis_counts_are_shared_between_processes(settings, live_server, api_key):
    """Counts live in Redis: a request counted by this process and one counted by another
    Python process add up, and the third is refused by either."""
    settings.REDIS_URL, settings.CONVSTORE_RATE_LIMIT = REDIS_URL, hour_rate(2)
    ratelimit_counters.reset()
    url = f"{live_server.url}/agentphone/v1/conversations"
    headers = {"Authorization": f"Bearer {api_key}"}
    assert httpx.get(url, headers=headers).status_code == 200
    key_id = str(ApiKey.objects.get().pk)
    other = subprocess.run(
        [sys.executable, "-m", "tests.ratelimit_process", settings.CONVSTORE_RATE_LIMIT, key_id],
        env={
            **os.environ,
            "REDIS_URL": REDIS_URL,
            "CONVSTORE_REDIS_PREFIX": ratelimit_counters.key_prefix(),
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert other.returncode == 0, other.stderr
    assert other.stdout.split() == ["2", "3"]  # the other process's count, then refused
    assert httpx.get(url, headers=headers).status_code == 429


def test_a_hung_redis_is_tried_once_then_skipped_with_one_warning(
    client, settings, api_key, caplog, monkeypatch
):
    """A Redis that accepts connections and never answers: the first request waits out the
    short timeout, then the breaker skips Redis (fail open) for its cool-down; one warning
    line, no traceback; after the cool-down Redis is tried once more."""
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(64)  # accepts (the kernel does), never reads nor answers
        settings.REDIS_URL = f"redis://127.0.0.1:{hung.getsockname()[1]}/0"
        settings.CONVSTORE_RATE_LIMIT = hour_rate()
        settings.CONVSTORE_REDIS_TIMEOUT, settings.CONVSTORE_REDIS_COOLDOWN = 0.05, 30
        breaker = ratelimit_counters.backend().breaker
        now = [1000.0]
        monkeypatch.setattr(breaker, "clock", lambda: now[0])
        auth = {"HTTP_AUTHORIZATION": f"Bearer {api_key}"}
        with caplog.at_level(logging.INFO, logger="conversations.http.ratelimit_counters"):
            assert client.get("/agentphone/v1/conversations", **auth).status_code == 200
            tried = _pending_connections(hung)  # one call (a broken connection is retried once)
            for _ in range(19):
                assert client.get("/agentphone/v1/conversations", **auth).status_code == 200
            skipped = _pending_connections(hung)
            now[0] += 31  # the cool-down is over: one more try, still hung
            assert client.get("/agentphone/v1/conversations", **auth).status_code == 200
            tried_again = _pending_connections(hung)
    assert 1 <= tried <= 2 and skipped == 0 and 1 <= tried_again <= 2
    warnings = [r for r in caplog.records if r.name == "conversations.http.ratelimit_counters"]
    assert [r.levelno for r in warnings] == [logging.WARNING]
    assert "Redis unavailable" in warnings[0].getMessage() and warnings[0].exc_info is None


def _pending_connections(server: socket.socket) -> int:
    """Accept and close every connection waiting on ``server``; return how many there were."""
    server.setblocking(False)
    count = 0
    while True:
        try:
            conn, _ = server.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


@pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL is not set (CI sets it)")
def test_two_deployments_sharing_one_redis_count_apart(client, settings, api_key):
    settings.REDIS_URL, settings.CONVSTORE_RATE_LIMIT = REDIS_URL, hour_rate(1)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_key}"}
    statuses = {}
    for prefix in ("convstore:blue", "convstore:green"):
        settings.CONVSTORE_REDIS_PREFIX = prefix
        ratelimit_counters.reset()
        statuses[prefix] = [
            client.get("/agentphone/v1/conversations", **auth).status_code for _ in range(2)
        ]
    assert statuses == {"convstore:blue": [200, 429], "convstore:green": [200, 429]}
    import redis

    store = redis.Redis.from_url(REDIS_URL)
    for prefix in ("convstore:blue", "convstore:green"):
        [key] = store.scan_iter(f"{prefix}:rl:key:*")
        assert store.get(key) == b"2"  # each deployment's own count: one served, one refused
    for prefix in ("convstore:blue", "convstore:green"):
        settings.CONVSTORE_REDIS_PREFIX = prefix
        ratelimit_counters.reset()


def test_default_prefix_is_the_database_name(settings):
    settings.CONVSTORE_REDIS_PREFIX = ""
    name = settings.DATABASES["default"]["NAME"]
    assert ratelimit_counters.key_prefix() == f"convstore:{Path(str(name)).stem}"
    settings.CONVSTORE_REDIS_PREFIX = "tenant-a"
    assert ratelimit_counters.key_prefix() == "tenant-a"


@pytest.mark.skipif(not REDIS_URL, reason=needs_redis("REDIS_URL is not set"))
def test_a_redis_that_forgot_the_script_loads_it_again(client, settings, api_key):
    """A restarted Redis (or ``SCRIPT FLUSH``) answers ``NOSCRIPT`` to the counter's
    ``EVALSHA``: the script is loaded again and the request counted, not served unlimited."""
    import redis

    settings.REDIS_URL, settings.CONVSTORE_RATE_LIMIT = REDIS_URL, hour_rate(2)
    ratelimit_counters.reset()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_key}"}
    assert client.get("/agentphone/v1/conversations", **auth).status_code == 200
    redis.Redis.from_url(REDIS_URL).script_flush()
    assert client.get("/agentphone/v1/conversations", **auth).status_code == 200
    assert client.get("/agentphone/v1/conversations", **auth).status_code == 429
    ratelimit_counters.reset()


@pytest.mark.skipif(not REDIS_URL, reason=needs_redis("REDIS_URL is not set"))
def test_threads_that_end_give_their_redis_connection_back(settings, live_server, api_key):
    """The test server starts a thread per connection, as ``runserver`` does: twenty
    requests, each counted on its thread's own Redis connection, leave the pool with a
    connection or two, not twenty (each named by ``client_name`` to count them in Redis's
    ``CLIENT LIST``)."""
    import redis

    name = f"convstore-test-{os.getpid()}"
    separator = "&" if "?" in REDIS_URL else "?"
    settings.REDIS_URL = f"{REDIS_URL}{separator}client_name={name}"
    settings.CONVSTORE_RATE_LIMIT = hour_rate(100)
    ratelimit_counters.reset()
    url = f"{live_server.url}/agentphone/v1/conversations"
    for _ in range(20):  # a new connection each: a new server thread each
        assert httpx.get(url, headers={"Authorization": f"Bearer {api_key}"}).status_code == 200
    clients = redis.Redis.from_url(REDIS_URL).client_list()
    assert 1 <= sum(1 for entry in clients if entry["name"] == name) <= 3
    ratelimit_counters.reset()
