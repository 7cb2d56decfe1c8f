"""Rate limits (conversations.http.ratelimit) through the official SDKs and raw HTTP, on both
counter stores: in memory (always) and Redis (when ``REDIS_URL`` is set, as in CI)."""

import logging
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import agentphone
import httpx
import openai
import pytest
import telnyx
from django.core.exceptions import ImproperlyConfigured

from conversations.http import ratelimit, ratelimit_counters
from conversations.models import ApiKey
from tests.clock import hour_rate
from tests.skips import needs_redis

REDIS_URL = os.environ.get("REDIS_URL", "")
ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.django_db


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


WINDOW = 2.0  # seconds: long enough for a loaded machine, short enough to wait out


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


def test_rate_syntax():
    assert ratelimit.parse_rate("100/s") == ratelimit.Rate(100, 1.0)
    assert ratelimit.parse_rate("5/2s") == ratelimit.Rate(5, 2.0)
    assert ratelimit.parse_rate("6000/m") == ratelimit.Rate(6000, 60.0)
    assert ratelimit.parse_rate("10/hour") == ratelimit.Rate(10, 3600.0)
    assert ratelimit.parse_rate("off") is None
    assert ratelimit.parse_rate("30/2min") == ratelimit.Rate(30, 120.0)
    with pytest.raises(ValueError):
        ratelimit.parse_rate("100 per second")


@pytest.mark.parametrize("text", ["10/ms", "0", "0/s", "5/0s", "10/fortnight", "10/mo"])
def test_invalid_rates_are_refused_with_improperly_configured(text, settings):
    with pytest.raises(ImproperlyConfigured, match="Invalid rate"):
        ratelimit.parse_rate(text)
    settings.CONVSTORE_RATE_LIMIT = text
    with pytest.raises(ImproperlyConfigured, match="CONVSTORE_RATE_LIMIT: Invalid rate"):
        ratelimit.check_settings()


def test_defaults_are_documented_values():
    from convstore import settings as production

    # The test settings raise the limits in the environment; the code defaults are these.
    source = open(production.__file__).read()
    assert 'os.environ.get("CONVSTORE_RATE_LIMIT", "100/s")' in source
    assert 'os.environ.get("CONVSTORE_AUTH_FAILURE_LIMIT", "20/m")' in source


# --- the per-key limit ------------------------------------------------------------------


def test_openai_429_shape_and_headers(limits, client, api_key):
    limits(rate="2/h")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_key}"}
    first = client.get("/openai/v1/conversations/conv_missing", **auth)
    assert first.status_code == 404
    assert first["x-ratelimit-limit-requests"] == "2"
    assert first["x-ratelimit-remaining-requests"] == "1"
    assert first["x-ratelimit-reset-requests"].endswith("s")
    client.get("/openai/v1/conversations/conv_missing", **auth)
    refused = client.get("/openai/v1/conversations/conv_missing", **auth)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 3600
    assert refused["x-ratelimit-remaining-requests"] == "0"
    error = refused.json()["error"]
    assert error["code"] == "rate_limit_exceeded" and error["type"] == "requests"
    assert "Limit 2" in error["message"]


def test_telnyx_429_shape_and_headers(limits, client, api_key):
    limits(rate=hour_rate())
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_key}"}
    first = client.get("/telnyx/v2/ai/conversations", **auth)
    assert first.status_code == 200
    assert (first["x-ratelimit-limit"], first["x-ratelimit-remaining"]) == ("1", "0")
    refused = client.get("/telnyx/v2/ai/conversations", **auth)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert refused.json() == {
        "errors": [
            {
                "code": "10011",
                "title": "Too many requests",
                "detail": "You have exceeded the maximum number of allowed requests.",
            }
        ]
    }


def test_agentphone_429_shape(limits, client, api_key):
    limits(rate=hour_rate())
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_key}"}
    assert client.get("/agentphone/v1/conversations", **auth).status_code == 200
    refused = client.get("/agentphone/v1/conversations", **auth)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert refused.json()["detail"].startswith("Rate limit exceeded; retry after ")


def test_keys_are_counted_apart(limits, client, api_key, other_api_key):
    limits(rate=hour_rate())
    for key in (api_key, other_api_key):
        response = client.get("/agentphone/v1/conversations", HTTP_AUTHORIZATION=f"Bearer {key}")
        assert response.status_code == 200


def test_openai_sdk_retries_a_429_and_succeeds_in_the_next_window(
    limits, live_server, api_key, window_clock
):
    limits(rate="1/2s")
    client = openai.OpenAI(base_url=f"{live_server.url}/openai/v1", api_key=api_key, max_retries=2)
    client.conversations.create()
    raw = client.conversations.with_raw_response.create(metadata={"topic": "after retry"})
    assert raw.retries_taken == 1  # one 429 (Retry-After: 1 or 2), then the next window
    assert raw.parse().metadata == {"topic": "after retry"}


def test_openai_sdk_gives_up_with_rate_limit_error_and_retry_after(limits, live_server, api_key):
    limits(rate=hour_rate())
    sent = []
    http = httpx.Client(event_hooks={"request": [sent.append]})
    client = openai.OpenAI(
        base_url=f"{live_server.url}/openai/v1", api_key=api_key, max_retries=2, http_client=http
    )
    client.conversations.create()
    with pytest.raises(openai.RateLimitError) as info:
        client.conversations.create()
    assert len(sent) == 2  # Retry-After > 120 s: the SDK does not retry (nor wait)
    assert int(info.value.response.headers["retry-after"]) > 120
    assert info.value.code == "rate_limit_exceeded"


def test_telnyx_sdk_retries_a_429_and_succeeds(limits, live_server, api_key, window_clock):
    limits(rate="1/2s")
    client = telnyx.Telnyx(api_key=api_key, base_url=f"{live_server.url}/telnyx/v2", max_retries=2)
    client.ai.conversations.create()
    raw = client.ai.conversations.with_raw_response.create(metadata={"a": "1"})
    assert raw.retries_taken == 1
    assert raw.parse().metadata == {"a": "1"}


def test_telnyx_sdk_rate_limit_error(limits, live_server, api_key):
    limits(rate=hour_rate())
    client = telnyx.Telnyx(api_key=api_key, base_url=f"{live_server.url}/telnyx/v2", max_retries=0)
    client.ai.conversations.create()
    with pytest.raises(telnyx.RateLimitError) as info:
        client.ai.conversations.create()
    assert int(info.value.response.headers["retry-after"]) >= 1
    assert info.value.body["errors"][0]["code"] == "10011"


def test_agentphone_sdk_raises_rate_limit_error_then_succeeds_after_retry_after(
    limits, live_server, api_key, window_clock
):
    """The AgentPhone Python SDK does not retry (its docs say the TypeScript one does): it
    raises ``RateLimitError``; waiting ``Retry-After`` seconds then succeeds."""
    limits(rate="1/2s")
    base = f"{live_server.url}/agentphone"
    with agentphone.AgentPhone(api_key=api_key, base_url=base) as client:
        client.conversations.list()
        with pytest.raises(agentphone.RateLimitError) as info:
            client.conversations.list()
        assert info.value.status == 429
        wait = int(re.search(r"retry after (\d+) seconds", info.value.message).group(1))
        assert 1 <= wait <= WINDOW
        window_clock.advance(wait)
        assert client.conversations.list().total == 0


# --- failed authentications per client IP ------------------------------------------------


def test_failed_authentications_lock_the_ip_out_even_for_a_right_key(limits, live_server, api_key):
    limits(failures="2/h")
    url = f"{live_server.url}/openai/v1"
    wrong = openai.OpenAI(base_url=url, api_key="cs_wrong", max_retries=2)
    for _ in range(2):
        with pytest.raises(openai.AuthenticationError):
            wrong.conversations.retrieve("conv_x")
    with pytest.raises(openai.RateLimitError) as info:
        wrong.conversations.retrieve("conv_x")
    assert int(info.value.response.headers["retry-after"]) > 120
    assert "failed authentications" in info.value.message
    right = openai.OpenAI(base_url=url, api_key=api_key, max_retries=0)
    with pytest.raises(openai.RateLimitError):  # a guessed key is not told from a wrong one
        right.conversations.create()


def test_failed_authentication_limit_in_each_format(limits, client):
    limits(failures=hour_rate())
    wrong = {"HTTP_AUTHORIZATION": "Bearer cs_wrong"}
    assert client.get("/telnyx/v2/ai/conversations", **wrong).status_code == 401
    telnyx_refused = client.get("/telnyx/v2/ai/conversations", **wrong)
    agentphone_refused = client.get("/agentphone/v1/conversations", **wrong)
    azure_refused = client.get("/azure/openai/v1/conversations/conv_x", HTTP_API_KEY="cs_wrong")
    for refused in (telnyx_refused, agentphone_refused, azure_refused):
        assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert telnyx_refused.json()["errors"][0]["code"] == "10011"
    assert agentphone_refused.json()["detail"].startswith("Too many failed authentications")
    assert azure_refused.json()["error"]["code"] == "rate_limit_exceeded"


def test_failed_authentication_429_says_why_and_when_to_retry(limits, client):
    """Each format's 429 after failed keys names the cause, the limit, that a right key is
    refused too, and the same wait as ``Retry-After``."""
    limits(failures="1/h")
    wrong = {"HTTP_AUTHORIZATION": "Bearer cs_wrong"}
    assert client.get("/agentphone/v1/conversations", **wrong).status_code == 401
    answers = {
        "openai": client.get("/openai/v1/conversations", **wrong),
        "telnyx": client.get("/telnyx/v2/ai/conversations", **wrong),
        "agentphone": client.get("/agentphone/v1/conversations", **wrong),
    }
    texts = {
        "openai": answers["openai"].json()["error"]["message"],
        "telnyx": answers["telnyx"].json()["errors"][0]["detail"],
        "agentphone": answers["agentphone"].json()["detail"],
    }
    for name, text in texts.items():
        answer = answers[name]
        assert answer.status_code == 429, name
        assert "failed authentications from your address (more than 1 in an hour)" in text
        assert "wrong or revoked API keys" in text and "a right key included" in text
        assert text.endswith(f"Retry after {answer['Retry-After']} seconds."), text


def test_missing_keys_are_not_counted_as_failures(limits, client):
    limits(failures=hour_rate())
    for _ in range(3):
        assert client.get("/agentphone/v1/conversations").status_code == 401


def test_failure_limit_counts_per_ip_behind_trusted_proxies(limits, client, settings, api_key):
    limits(failures=hour_rate())
    settings.CONVSTORE_PROXY_COUNT = 1
    wrong = {"HTTP_AUTHORIZATION": "Bearer cs_wrong"}
    for _ in range(2):
        client.get("/agentphone/v1/conversations", HTTP_X_FORWARDED_FOR="203.0.113.9", **wrong)
    other = client.get(
        "/agentphone/v1/conversations",
        HTTP_X_FORWARDED_FOR="203.0.113.10",
        HTTP_AUTHORIZATION=f"Bearer {api_key}",
    )
    assert other.status_code == 200


def test_telnyx_sdk_retries_an_ip_lockout_and_succeeds_when_it_ends(
    limits, live_server, api_key, window_clock
):
    limits(failures="1/2s")
    base = f"{live_server.url}/telnyx/v2"
    with pytest.raises(telnyx.AuthenticationError):
        telnyx.Telnyx(api_key="cs_wrong", base_url=base, max_retries=0).ai.conversations.list()
    right = telnyx.Telnyx(api_key=api_key, base_url=base, max_retries=2)
    raw = right.ai.conversations.with_raw_response.create()
    assert raw.retries_taken == 1


def test_both_limits_off_send_no_headers(limits, client, api_key):
    limits()
    response = client.get("/telnyx/v2/ai/conversations", HTTP_AUTHORIZATION=f"Bearer {api_key}")
    assert response.status_code == 200 and "x-ratelimit-limit" not in response


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
