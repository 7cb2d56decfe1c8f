"""Failed deliveries: retries with backoff, the final failure, unreachable and deactivated
endpoints, and one failing send in a batch."""

import socket
from datetime import timedelta

from django.utils import timezone

from conversations.models import WebhookAttempt, WebhookEvent
from conversations.webhooks.delivery import deliver_due
from conversations.webhooks.endpoints import webhook_endpoint_create
from conversations.webhooks.transport import Sender

from .conftest import SECRET, add_messages, verify


def test_receiver_failing_three_times_gets_the_event_on_the_fourth_attempt(
    project, endpoint, receiver, settings
):
    settings.CONVSTORE_WEBHOOK_BACKOFF_SECONDS = 30
    add_messages(project, "retry me")
    receiver.statuses = [500, 503, 429]
    now = timezone.now()
    waits = []
    for attempt in range(1, 5):
        report = deliver_due(now=now)
        assert len(report.claimed) == 1, f"attempt {attempt} was not due"
        event = WebhookEvent.objects.get()
        if attempt < 4:
            wait = event.next_attempt_at - now
            waits.append(wait.total_seconds())
            assert deliver_due(now=now + wait - timedelta(seconds=1)).claimed == []
            now += wait
    assert waits == [30, 60, 120]
    assert event.status == WebhookEvent.Status.DELIVERED and event.attempt_count == 4
    assert receiver.ids() == [event.webhook_id] * 4
    assert all(verify(h, b).data.message == "retry me" for h, b in receiver.requests)
    attempts = list(event.attempts.values_list("number", "status_code", "succeeded"))
    assert attempts == [(1, 500, False), (2, 503, False), (3, 429, False), (4, 200, True)]


def test_event_is_marked_failed_after_six_attempts(project, endpoint, receiver, settings):
    settings.CONVSTORE_WEBHOOK_BACKOFF_SECONDS = 0
    add_messages(project, "doomed")
    receiver.statuses = [500] * 10
    for _ in range(10):
        if not deliver_due().claimed:
            break
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.FAILED
    assert event.attempt_count == 6 and len(receiver.requests) == 6
    assert event.last_error.startswith("HTTP 500")
    assert event.attempts.count() == 6


def test_unreachable_endpoint_records_the_error(project, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    webhook_endpoint_create(project=project, url=f"http://127.0.0.1:{port}/closed", secret=SECRET)
    add_messages(project, "nobody home")
    report = deliver_due()
    assert report.retrying == report.claimed
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None and "ConnectError" in attempt.error
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PENDING


def test_deactivated_endpoint_gets_nothing_until_reactivated(project, endpoint, receiver):
    add_messages(project, "queued")
    endpoint.is_active = False
    endpoint.save(update_fields=["is_active"])
    assert deliver_due().claimed == []
    endpoint.is_active = True
    endpoint.save(update_fields=["is_active"])
    assert len(deliver_due().delivered) == 1


class _BrokenForOneURL(Sender):
    """The real transport, except that a POST to ``broken`` raises (a bug in sending)."""

    def __init__(self, broken: str, **kwargs):
        super().__init__(**kwargs)
        self.broken = broken

    def post(self, url, body, headers):
        if url == self.broken:
            raise RuntimeError("boom")
        return super().post(url, body, headers)


def test_one_failing_send_does_not_lose_the_batchs_other_results(project, endpoint, receiver):
    broken = webhook_endpoint_create(project=project, url=receiver.url + "?broken", secret=SECRET)
    add_messages(project, "one", "two")
    with _BrokenForOneURL(broken.url, timeout=10, concurrency=2) as sender:
        report = deliver_due(batch=10, sender=sender)
    assert len(report.claimed) == 4
    assert len(report.delivered) == 2 and len(report.retrying) == 1  # "two" waits behind "one"
    good = WebhookEvent.objects.filter(endpoint=endpoint)
    assert set(good.values_list("status", flat=True)) == {"delivered"}
    attempt = WebhookAttempt.objects.get(event__endpoint=broken)
    assert attempt.status_code is None and "boom" in attempt.error
    assert set(
        WebhookEvent.objects.filter(endpoint=broken).values_list("locked_by", flat=True)
    ) == {""}
