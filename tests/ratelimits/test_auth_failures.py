"""The limit on failed authentications per client IP: a lockout refuses a right key too,
each format's 429 says why and when to retry, and IPs are counted behind trusted proxies."""

import openai
import pytest
import telnyx

from tests.clock import hour_rate

pytestmark = pytest.mark.django_db


def test_failed_authentications_lock_the_ip_out_even_for_a_right_key(
    limits, live_server, api_key, window_clock
):
    limits(failures="2/h")  # the clock at a window's start: no hour ends mid-test
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


def test_failed_authentication_429_says_why_and_when_to_retry(limits, client, window_clock):
    """Each format's 429 after failed keys names the cause, the limit, that a right key is
    refused too, and the same wait as ``Retry-After``."""
    limits(failures="1/h")  # the clock at a window's start: no hour ends mid-test
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
