"""The per-key limit (conversations.http.ratelimit): each format's 429 and headers, keys
counted apart, and the official SDKs retrying or raising on a 429."""

import re

import agentphone
import httpx
import openai
import pytest
import telnyx

from tests.clock import hour_rate

pytestmark = pytest.mark.django_db


WINDOW = 2.0  # seconds: long enough for a loaded machine, short enough to wait out


def test_openai_429_shape_and_headers(limits, client, api_key, window_clock):
    limits(rate="2/h")  # the clock at a window's start: no hour ends mid-test
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
