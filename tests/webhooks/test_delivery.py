"""Delivery: AgentPhone-signed POSTs, retries with backoff, leases, and crashed workers."""

import json
import re
import socket
import subprocess
import time
from datetime import timedelta
from http import HTTPStatus

import agentphone.webhook as ap_webhook
import httpx
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from conversations import services
from conversations.models import WebhookAttempt, WebhookEndpoint, WebhookEvent
from conversations.services import Actor, MessageInput
from conversations.webhooks.delivery import deliver_due
from conversations.webhooks.endpoints import webhook_endpoint_create
from conversations.webhooks.leases import claim, decide, record_many
from conversations.webhooks.transport import AttemptResult, Sender
from tests.skips import needs_postgresql

from .conftest import SECRET, worker_command

ACTOR = Actor.for_command("tests")


def add_messages(project, *texts, metadata=None):
    conversation = services.conversation_create(
        project=project,
        actor=ACTOR,
        metadata=metadata,
        phone_number="+15551234567",
        participant="+15559876543",
        channel="sms",
    )
    services.messages_create(
        conversation=conversation, messages=[MessageInput(role="user", content=t) for t in texts]
    )
    return conversation


def verify(headers, body):
    """The ``agentphone`` SDK's own verification and parsing of a captured delivery."""
    return ap_webhook.construct_event(
        body,
        headers["X-Webhook-Signature"],
        secret=SECRET,
        timestamp=headers["X-Webhook-Timestamp"],
    )


def test_sdk_verifies_and_parses_a_delivery(project, endpoint, receiver):
    add_messages(project, "Hello", "Where is my order?", metadata={"orderId": "ORD-9"})
    report = deliver_due()
    assert len(report.delivered) == 3 and not report.retrying
    headers, body = receiver.requests[-1]
    event = verify(headers, body)
    assert event.event == "agent.message" and event.channel == "sms"
    assert event.data.message == "Where is my order?"
    assert event.data.from_number == "+15559876543"
    assert event.conversation_state == {"orderId": "ORD-9"}
    assert [h.content for h in event.recent_history] == ["Hello"]
    stored = WebhookEvent.objects.get(webhook_id=headers["X-Webhook-ID"])
    assert json.loads(body) == stored.payload
    assert stored.status == WebhookEvent.Status.DELIVERED and stored.attempt_count == 1


def test_sdk_rejects_a_tampered_body(project, endpoint, receiver):
    add_messages(project, "Hello")
    deliver_due()
    headers, body = receiver.requests[0]
    with pytest.raises(ap_webhook.WebhookVerificationError):
        verify(headers, body.replace(b"Hello", b"Hellp"))
    with pytest.raises(ap_webhook.WebhookVerificationError):
        ap_webhook.construct_event(
            body, headers["X-Webhook-Signature"], "whsec_other", headers["X-Webhook-Timestamp"]
        )


def test_signature_covers_non_ascii_bodies_byte_for_byte(project, endpoint, receiver):
    add_messages(project, "Grüße 👋")
    deliver_due()
    headers, body = receiver.requests[0]
    assert verify(headers, body).data.message == "Grüße 👋"


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
def test_worker_killed_mid_batch_leaves_events_for_a_restarted_worker(project, endpoint, receiver):
    add_messages(project, "a", "b", "c")
    receiver.hold = True
    argv, env = worker_command("--batch", "10", "--lease", "300")
    worker = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert receiver.arrived.wait(60), worker.stderr.read1().decode() if worker.poll() else ""
    finally:
        worker.kill()
        worker.wait(30)
    receiver.release()
    first_id = receiver.ids()[0]
    events = WebhookEvent.objects.all()
    assert all(e.status == WebhookEvent.Status.PENDING and e.attempt_count == 0 for e in events)
    assert all(e.locked_until > timezone.now() for e in events)
    assert deliver_due(worker="impatient").claimed == []  # the dead worker's lease still holds

    WebhookEvent.objects.update(locked_until=timezone.now() - timedelta(seconds=1))  # lease ends
    argv, env = worker_command("--once")
    restarted = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert restarted.returncode == 0, restarted.stderr
    assert "3 delivered" in restarted.stdout
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"delivered"}
    ids = receiver.ids()
    assert set(ids) == set(events.values_list("webhook_id", flat=True))
    assert ids.count(first_id) == 2  # the interrupted delivery came again with the same id
    assert all(verify(h, b).event == "agent.message" for h, b in receiver.requests)


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_send_each_event_once(project, endpoint, receiver):
    for index in range(6):
        add_messages(project, f"batch {index}", "second")
    argv, env = worker_command("--once", "--batch", "2")
    workers = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE) for _ in range(3)]
    for worker in workers:
        assert worker.wait(120) == 0
    ids = receiver.ids()
    assert len(ids) == 12 and len(set(ids)) == 12
    assert WebhookEvent.objects.filter(status="delivered").count() == 12


def test_deliver_webhooks_once_drains_and_exits(project, endpoint, receiver):
    add_messages(project, "x", "y")
    call_command("deliver_webhooks", "--once")
    assert len(receiver.requests) == 2


def test_deliver_webhooks_rejects_a_zero_batch(db):
    with pytest.raises(CommandError):
        call_command("deliver_webhooks", "--once", "--batch", "0")


def test_create_webhook_prints_a_generated_secret(project, capsys):
    call_command(
        "create_webhook",
        "--project",
        "acme",
        "--url",
        "https://example.com/hook",
        "--events",
        "agent.message",
        "--context-limit",
        "5",
    )
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    endpoint = WebhookEndpoint.objects.get()
    assert secret.startswith("whsec_") and endpoint.secret == secret
    assert (endpoint.events, endpoint.context_limit) == (["agent.message"], 5)


@pytest.mark.parametrize(
    "args",
    [
        ["--project", "nope", "--url", "https://example.com/h"],
        ["--project", "acme", "--url", "not a url"],
        ["--project", "acme", "--url", "https://example.com/h", "--context-limit", "51"],
    ],
)
def test_create_webhook_reports_operator_mistakes(project, args):
    with pytest.raises(CommandError):
        call_command("create_webhook", *args)
    assert not WebhookEndpoint.objects.exists()


def test_admin_generates_a_secret_and_shows_attempts(admin_client, project, receiver):
    response = admin_client.post(
        "/admin/conversations/webhookendpoint/add/",
        {
            "project": project.pk,
            "url": receiver.url,
            "secret": "",
            "events": ["agent.message"],
            "context_limit": 3,
            "is_active": "on",
            "description": "",
        },
    )
    assert response.status_code == HTTPStatus.FOUND, response.content[:2000]
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret.startswith("whsec_")
    receiver.statuses = [502]
    add_messages(project, "hi")
    deliver_due()
    event = WebhookEvent.objects.get()
    page = admin_client.get(f"/admin/conversations/webhookevent/{event.pk}/change/")
    assert page.status_code == HTTPStatus.OK
    assert b"502" in page.content and event.webhook_id.encode() in page.content
    response = admin_client.post(
        "/admin/conversations/webhookevent/",
        {"action": "retry_now", "_selected_action": [event.pk]},
    )
    assert response.status_code == HTTPStatus.FOUND
    event.refresh_from_db()
    assert event.next_attempt_at <= timezone.now()
    for changelist in ("webhookendpoint", "webhookevent"):
        assert admin_client.get(f"/admin/conversations/{changelist}/").status_code == 200


def test_events_of_a_deleted_conversation_are_still_delivered(project, endpoint, receiver):
    conversation = add_messages(project, "last words")
    services.conversation_delete(conversation=conversation)
    assert WebhookEvent.objects.get().conversation is None
    assert len(deliver_due().delivered) == 1
    assert verify(*receiver.requests[0]).data.message == "last words"


@pytest.mark.django_db(transaction=True)
def test_worker_stops_cleanly_on_sigterm(project, endpoint, receiver):
    add_messages(project, "before stop")
    argv, env = worker_command("--poll-interval", "0.2")
    worker = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert receiver.arrived.wait(60)
    finally:
        worker.terminate()
    out, _ = worker.communicate(timeout=60)
    assert worker.returncode == 0
    assert "done: 1 delivered" in out


def test_deactivated_endpoint_gets_nothing_until_reactivated(project, endpoint, receiver):
    add_messages(project, "queued")
    endpoint.is_active = False
    endpoint.save(update_fields=["is_active"])
    assert deliver_due().claimed == []
    endpoint.is_active = True
    endpoint.save(update_fields=["is_active"])
    assert len(deliver_due().delivered) == 1


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


def _deliveries(metrics_text: str) -> dict[str, float]:
    return {
        outcome: float(value)
        for outcome, value in re.findall(
            r'^convstore_webhook_deliveries_total\{outcome="(\w+)"\} (\S+)$',
            metrics_text,
            re.MULTILINE,
        )
    }


@pytest.mark.django_db(transaction=True)
def test_worker_serves_its_own_metrics_with_outcomes_from_zero(project, endpoint, receiver):
    add_messages(project, "counted", "twice")
    argv, env = worker_command("--poll-interval", "0.2", "--metrics-port", "0")
    env = {key: value for key, value in env.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    worker = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
    try:
        address = re.search(r"metrics on (http://\S+)", worker.stdout.readline()).group(1)
        assert "delivered" in worker.stdout.readline()  # the first batch is recorded
        text = httpx.get(address).text
    finally:
        worker.terminate()
        worker.communicate(timeout=60)
    assert _deliveries(text) == {"delivered": 2.0, "retry": 0.0, "failed": 0.0}


def test_known_label_values_start_at_zero(db, client, settings):
    settings.CONVSTORE_METRICS_TOKEN = "metrics-token"
    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-token").content.decode()
    assert set(_deliveries(text)) == {"delivered", "retry", "failed"}
    for name in ("openai", "azure", "telnyx", "agentphone"):
        assert f'convstore_rate_limited_total{{format="{name}"}}' in text


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
