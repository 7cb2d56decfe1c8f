"""Per-conversation order: each conversation's events arrive oldest first, a failed event
holds back only its own conversation at its own endpoint, and a worker does not claim
behind its own batch."""

import subprocess
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from conversations import services
from conversations.models import WebhookEvent
from conversations.services import MessageInput
from conversations.webhooks.delivery import deliver_due
from conversations.webhooks.endpoints import webhook_endpoint_create
from conversations.webhooks.leases import claim
from conversations.webhooks.transport import Sender

from .conftest import SECRET, Receiver, add_messages, verify, worker_command


def _arrival_orders(receiver, events_by_id) -> dict:
    """Per conversation, the event ids in the order their first delivery arrived."""
    seen, orders = set(), {}
    for headers, _ in receiver.requests:
        webhook_id = headers["X-Webhook-ID"]
        if webhook_id not in seen:
            seen.add(webhook_id)
            pk, conversation_id = events_by_id[webhook_id]
            orders.setdefault(conversation_id, []).append(pk)
    return orders


@pytest.mark.django_db(transaction=True)
def test_two_workers_deliver_each_conversation_in_order(project, endpoint, receiver):
    """2 workers × 50 conversations × 10 events, every 7th answer a 500 (retried at once):
    each conversation's events arrive oldest first, and none is lost."""
    conversations = [add_messages(project, f"c{index} m0") for index in range(50)]
    for n in range(1, 10):  # interleaved, as live traffic is: each batch spans many
        for index, conversation in enumerate(conversations):
            services.messages_create(
                conversation=conversation,
                messages=[MessageInput(role="user", content=f"c{index} m{n}")],
            )
    events_by_id = {
        webhook_id: (pk, conversation_id)
        for webhook_id, pk, conversation_id in WebhookEvent.objects.values_list(
            "webhook_id", "pk", "conversation_id"
        )
    }
    assert len(events_by_id) == 500
    receiver.statuses = [500 if n % 7 == 3 else 200 for n in range(600)]
    argv, env = worker_command("--batch", "25", "--poll-interval", "0.05")
    env = {**env, "CONVSTORE_WEBHOOK_BACKOFF_SECONDS": "0", "CONVSTORE_WEBHOOK_MAX_ATTEMPTS": "50"}
    workers = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE) for _ in range(2)]
    try:
        pending = WebhookEvent.objects.exclude(status=WebhookEvent.Status.DELIVERED)
        for _ in range(1200):  # wait for the outbox to drain (a bound, not a measurement)
            if not pending.exists():
                break
            assert all(worker.poll() is None for worker in workers)
            time.sleep(0.1)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(60)
    assert not pending.exists()
    orders = _arrival_orders(receiver, events_by_id)
    assert sum(map(len, orders.values())) == 500  # none lost
    out_of_order = [c for c, order in orders.items() if order != sorted(order)]
    assert out_of_order == []
    assert len(receiver.requests) > 500  # the 500s were retried


def test_a_failed_event_holds_back_its_conversation_but_not_others(
    project, endpoint, receiver, settings
):
    settings.CONVSTORE_WEBHOOK_BACKOFF_SECONDS = 30
    first = add_messages(project, "a1", "a2", "a3")
    second = add_messages(project, "b1", "b2")
    now = timezone.now()
    receiver.statuses = [500]  # the first answer: a1's (one thread, a's queue first)
    with Sender(timeout=10, concurrency=1) as sender:
        report = deliver_due(batch=10, now=now, sender=sender)
    sent = [verify(h, b).data.message for h, b in receiver.requests]
    assert sent == ["a1", "b1", "b2"]
    assert "a2" not in sent and "a3" not in sent  # not sent behind the failed a1
    assert len(report.retrying) == 1 and len(report.delivered) == 2
    a_events = WebhookEvent.objects.filter(conversation=first).order_by("id")
    assert [e.attempt_count for e in a_events] == [1, 0, 0]
    assert all(e.locked_by == "" for e in a_events)  # released, not left leased
    # Not due yet: a2 and a3 wait behind a1 even though they were never attempted.
    assert deliver_due(now=now + timedelta(seconds=29)).claimed == []
    report = deliver_due(now=now + timedelta(seconds=30))
    assert len(report.delivered) == 3
    sent = [verify(h, b).data.message for h, b in receiver.requests]
    assert sent[-3:] == ["a1", "a2", "a3"]
    assert WebhookEvent.objects.filter(conversation=second, status="delivered").count() == 2


def test_one_worker_does_not_claim_behind_its_own_batch_in_flight(project, endpoint, receiver):
    """The next batch is claimed while one is being sent: a conversation's later events
    must wait until its earlier ones (leased by this very worker) are recorded."""
    add_messages(project, "one", "two", "three")
    now = timezone.now()
    lease = timedelta(seconds=60)
    first = claim(worker="w", batch=1, lease=lease, now=now)
    assert [e.pk for e in first] == [WebhookEvent.objects.order_by("id").first().pk]
    assert claim(worker="w", batch=10, lease=lease, now=now) == []
    assert claim(worker="other", batch=10, lease=lease, now=now) == []


def test_a_failed_event_holds_back_its_conversation_only_at_its_endpoint(
    project, endpoint, receiver, settings
):
    """The queue is per (endpoint, conversation): an event waiting for a retry at one
    endpoint does not hold back the same conversation's events at another."""
    settings.CONVSTORE_WEBHOOK_BACKOFF_SECONDS = 30
    other = Receiver()
    try:
        webhook_endpoint_create(project=project, url=other.url, secret=SECRET)
        receiver.statuses = [500]
        conversation = add_messages(project, "one")
        now = timezone.now()
        report = deliver_due(now=now)
        assert (len(report.retrying), len(report.delivered)) == (1, 1)
        services.messages_create(
            conversation=conversation, messages=[MessageInput(role="user", content="two")]
        )
        report = deliver_due(now=now + timedelta(seconds=10))  # the retry is not due yet
        assert len(report.delivered) == 1
        assert [verify(h, b).data.message for h, b in other.requests] == ["one", "two"]
        assert [verify(h, b).data.message for h, b in receiver.requests] == ["one"]
    finally:
        other.close()
