"""Delivery leases: claimed events wait for the lease, a worker that lost it records nothing,
a lease grows while one conversation is sent, and (on PostgreSQL) a batch is claimed and
recorded in two statements."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from conversations.models import WebhookAttempt, WebhookEvent
from conversations.webhooks.delivery import deliver_due
from conversations.webhooks.leases import claim, decide, record_many, release
from conversations.webhooks.transport import AttemptResult
from tests.skips import needs_postgresql

from .conftest import add_messages


def test_leased_events_wait_for_the_lease_then_go_to_another_worker(project, endpoint, receiver):
    add_messages(project, "one", "two")
    now = timezone.now()
    lease = timedelta(seconds=60)
    claimed = [e.pk for e in claim(worker="crashed", batch=10, lease=lease, now=now)]
    assert len(claimed) == 2
    assert deliver_due(worker="other", now=now + timedelta(seconds=59)).claimed == []
    report = deliver_due(worker="other", now=now + lease)
    assert sorted(report.delivered) == sorted(claimed)


def test_worker_that_lost_its_lease_records_nothing(project, endpoint, receiver):
    add_messages(project, "one")
    now = timezone.now()
    [event] = claim(worker="slow", batch=1, lease=timedelta(seconds=1), now=now)
    deliver_due(worker="fast", now=now + timedelta(seconds=2))
    late = decide(
        event_id=event.pk,
        attempts_before=event.attempt_count,
        result=AttemptResult(200, 5),
        started_at=now,
        now=now,
    )
    assert record_many(worker="slow", decisions=[late], now=now) == {}
    assert WebhookEvent.objects.get().attempt_count == 1


def test_a_late_answer_is_not_recorded_against_a_later_claim(project, endpoint, receiver, settings):
    """The worker's lease ran out, another worker made attempt 1, and the first worker claimed
    the event again: the answer to its first, stale send must not count as attempt 2."""
    settings.CONVSTORE_WEBHOOK_BACKOFF_SECONDS = 30
    add_messages(project, "one")
    now = timezone.now()
    [stale] = claim(worker="slow", batch=1, lease=timedelta(seconds=1), now=now)
    receiver.statuses = [500]
    assert len(deliver_due(worker="fast", now=now + timedelta(seconds=2)).retrying) == 1
    later = now + timedelta(seconds=40)
    [fresh] = claim(worker="slow", batch=1, lease=timedelta(seconds=60), now=later)
    assert (stale.attempt_count, fresh.attempt_count) == (0, 1)

    def outcome(event):
        return decide(
            event_id=event.pk,
            attempts_before=event.attempt_count,
            result=AttemptResult(200, 5),
            started_at=later,
            now=later,
        )

    assert record_many(worker="slow", decisions=[outcome(stale)], now=later) == {}
    assert WebhookEvent.objects.get().attempt_count == 1
    assert record_many(worker="slow", decisions=[outcome(fresh)], now=later) == {
        fresh.pk: WebhookEvent.Status.DELIVERED
    }
    assert list(WebhookAttempt.objects.values_list("number", "succeeded")) == [
        (1, False),
        (2, True),
    ]


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason=needs_postgresql("SQLite records with the ORM")
)
def test_a_batch_is_claimed_and_recorded_in_two_statements(
    project, endpoint, receiver, django_assert_num_queries
):
    for index in range(4):
        add_messages(project, f"conversation {index}", "second")
    with django_assert_num_queries(2):
        report = deliver_due(batch=100)
    assert len(report.delivered) == 8 == len(set(receiver.ids()))
    assert WebhookAttempt.objects.filter(number=1, succeeded=True).count() == 8


@pytest.mark.django_db(transaction=True)
def test_lease_grows_for_one_conversation_sent_in_order(project, endpoint, receiver):
    """One conversation's events go one at a time: a lease too short for that is lengthened,
    so another worker cannot take them while the first one is still sending."""
    import threading

    from django.db import connection

    add_messages(project, "a", "b", "c")
    receiver.hold = True
    reports = []

    def first_worker():
        try:
            reports.append(deliver_due(worker="first", lease=timedelta(seconds=1)))
        finally:
            connection.close()

    thread = threading.Thread(target=first_worker)
    thread.start()
    try:
        assert receiver.arrived.wait(60)
        later = timezone.now() + timedelta(seconds=5)  # well past the asked-for 1 s lease
        assert claim(worker="second", batch=10, lease=timedelta(seconds=60), now=later) == []
    finally:
        receiver.release()
        thread.join(60)
    assert len(reports[0].delivered) == 3
    assert len(receiver.ids()) == 3 == len(set(receiver.ids()))


def test_a_worker_releases_only_the_leases_it_names_and_holds(project, endpoint):
    for text in ("one", "two", "three"):
        add_messages(project, text)  # three conversations: no head-of-line between them
    now, lease = timezone.now(), timedelta(seconds=60)
    first, second = (e.pk for e in claim(worker="a", batch=2, lease=lease, now=now))
    [third] = (e.pk for e in claim(worker="b", batch=1, lease=lease, now=now))

    assert release(worker="a", ids=[]) == 0
    assert release(worker="a", ids=[first, third]) == 1  # b's lease is not a's to end

    held = dict(WebhookEvent.objects.values_list("pk", "locked_by"))
    assert held == {first: "", second: "a", third: "b"}


def test_an_answer_after_another_worker_took_the_lease_is_not_recorded(project, endpoint):
    add_messages(project, "one")
    now = timezone.now()
    [stale] = claim(worker="slow", batch=1, lease=timedelta(seconds=1), now=now)
    later = now + timedelta(seconds=2)
    [taken] = claim(worker="fast", batch=1, lease=timedelta(seconds=60), now=later)
    assert (taken.pk, taken.attempt_count) == (stale.pk, stale.attempt_count)

    def answer(event):
        return decide(
            event_id=event.pk,
            attempts_before=event.attempt_count,
            result=AttemptResult(200, 5),
            started_at=later,
            now=later,
        )

    assert record_many(worker="slow", decisions=[answer(stale)], now=later) == {}
    assert not WebhookAttempt.objects.exists()
    assert record_many(worker="fast", decisions=[answer(taken)], now=later) == {
        taken.pk: "delivered"
    }
    event = WebhookEvent.objects.get()
    assert (event.status, event.delivered_at, event.locked_by) == ("delivered", later, "")


def test_an_attempt_records_its_start_and_latency_and_delivery_clears_error_and_lease(
    project, endpoint, receiver
):
    """What the admin's event page shows: each attempt's start, latency, status and error; a
    delivered event (here after a failed attempt) has no last error and no lease left."""
    add_messages(project, "one")
    now = timezone.now()
    started = [now - timedelta(minutes=9), now - timedelta(minutes=1)]
    for number, (result, started_at) in enumerate(
        zip([AttemptResult(503, 1234, "HTTP 503"), AttemptResult(200, 87)], started, strict=True),
        start=1,
    ):
        [event] = claim(worker="w", batch=1, lease=timedelta(seconds=60), now=now)
        decision = decide(
            event_id=event.pk,
            attempts_before=event.attempt_count,
            result=result,
            started_at=started_at,
            now=now - timedelta(days=1),  # the retry is due at once
        )
        record_many(worker="w", decisions=[decision], now=now)
        stored = WebhookEvent.objects.get()
        assert (stored.locked_until, stored.locked_by, stored.attempt_count) == (None, "", number)
    assert stored.status == WebhookEvent.Status.DELIVERED and stored.last_error == ""
    attempts = WebhookAttempt.objects.order_by("number")
    assert list(attempts.values_list("started_at", "latency_ms", "status_code", "error")) == [
        (started[0], 1234, 503, "HTTP 503"),
        (started[1], 87, 200, ""),
    ]
