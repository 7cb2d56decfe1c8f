"""``/metrics``: closed unless a token or an address opens it; what it counts."""

import pytest
from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families

from conversations.http import ratelimit_counters
from conversations.webhooks.delivery import deliver_due
from conversations.webhooks.endpoints import webhook_endpoint_create
from tests.clock import hour_rate
from tests.webhooks.conftest import Receiver

TOKEN = "metrics-token-for-tests"


def samples(text: str) -> dict[tuple, float]:
    """``{(name, frozenset(labels.items())): value}`` of every sample in an exposition."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


def test_metrics_are_closed_by_default(client):
    response = client.get("/metrics")
    assert response.status_code == 403
    assert "CONVSTORE_METRICS_TOKEN" in response.json()["error"]
    assert b"convstore_http" not in response.content


@override_settings(CONVSTORE_METRICS_TOKEN=TOKEN)
def test_a_token_is_required_when_configured(client):
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong["WWW-Authenticate"].startswith("Bearer")


@override_settings(CONVSTORE_METRICS_ALLOWED_IPS=["127.0.0.0/8", "::1"])
@pytest.mark.django_db
def test_allowed_addresses_read_metrics_without_a_token(client):
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 403
    forwarded = client.get("/metrics", REMOTE_ADDR="192.0.2.7", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert forwarded.status_code == 403  # X-Forwarded-For is not trusted


@override_settings(CONVSTORE_METRICS_TOKEN=TOKEN)
@pytest.mark.django_db
def test_requests_are_counted_by_format_route_and_status(client, api_key):
    def scrape():
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain")
        return response.content.decode()

    route = "openai/v1/conversations/<str:conversation_id>"
    before = scrape()
    auth = {"Authorization": f"Bearer {api_key}"}
    created = client.post(
        "/openai/v1/conversations", {"metadata": {"k": "v"}}, "application/json", headers=auth
    )
    assert created.status_code == 200
    conv_id = created.json()["id"]
    assert client.get(f"/openai/v1/conversations/{conv_id}", headers=auth).status_code == 200
    assert client.get("/openai/v1/conversations/conv_nope", headers=auth).status_code == 404
    assert client.get("/telnyx/v2/ai/conversations", headers=auth).status_code == 200
    after = scrape()

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "convstore_http_requests_total"
    assert delta(requests, format="openai", route=route, method="GET", status="200") == 1
    assert delta(requests, format="openai", route=route, method="GET", status="404") == 1
    assert (
        delta(
            requests,
            format="openai",
            route="openai/v1/conversations",
            method="POST",
            status="200",
        )
        == 1
    )
    assert (
        delta(
            requests,
            format="telnyx",
            route="telnyx/v2/ai/conversations",
            method="GET",
            status="200",
        )
        == 1
    )
    latency = "convstore_http_request_duration_seconds_count"
    assert delta(latency, format="openai", route=route) == 2
    db_time = "convstore_http_request_db_seconds_count"
    assert delta(db_time, format="openai", route=route) == 2
    assert delta("convstore_http_request_db_seconds_sum", format="openai", route=route) > 0
    assert delta("convstore_db_queries_total", format="openai") >= 4
    assert conv_id[5:] not in after  # routes are patterns, never concrete ids


@pytest.mark.django_db(transaction=True)
def test_outbox_depth_and_delivery_outcomes(client, project, make_conversation, settings):
    # One way of overriding settings per test: pytest-django's fixture (mixing it with an
    # override_settings decorator leaks the decorator's values into later tests).
    settings.CONVSTORE_METRICS_TOKEN = TOKEN
    settings.CONVSTORE_WEBHOOK_ALLOW_PRIVATE = True  # the receiver listens on 127.0.0.1

    def scrape():
        return client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).content.decode()

    receiver = Receiver()
    try:
        webhook_endpoint_create(project=project, url=receiver.url, secret="whsec_x")
        before = scrape()
        make_conversation({"customer": "Jane"})
        queued = scrape()
        pending = "convstore_webhook_outbox_events"
        assert (
            value(queued, pending, status="pending") == value(before, pending, status="pending") + 1
        )
        receiver.statuses = [500]
        deliver_due()  # 500: the event is retried later
        retried = scrape()
        outcomes = "convstore_webhook_deliveries_total"
        assert (
            value(retried, outcomes, outcome="retry")
            == value(before, outcomes, outcome="retry") + 1
        )
        assert value(retried, pending, status="pending") == value(queued, pending, status="pending")
    finally:
        receiver.close()


@pytest.mark.django_db
def test_rate_limit_refusals_are_counted_by_format(client, api_key, settings):
    def scrape():
        return client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).content.decode()

    settings.CONVSTORE_METRICS_TOKEN = TOKEN
    settings.REDIS_URL = ""  # the in-memory counters: this test owns them
    settings.CONVSTORE_RATE_LIMIT = hour_rate()
    ratelimit_counters.reset()
    try:
        before = scrape()
        auth = {"HTTP_AUTHORIZATION": f"Bearer {api_key}"}
        assert client.get("/telnyx/v2/ai/conversations", **auth).status_code == 200
        assert client.get("/telnyx/v2/ai/conversations", **auth).status_code == 429
        after = scrape()
    finally:
        ratelimit_counters.reset()
    name = "convstore_rate_limited_total"
    assert value(after, name, format="telnyx") == value(before, name, format="telnyx") + 1
    assert value(after, name, format="openai") == value(before, name, format="openai")
