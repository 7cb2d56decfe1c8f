"""The ``deliver_webhooks`` worker: killed and concurrent workers, ``--once``, SIGTERM, and
its delivery metrics."""

import re
import subprocess
from datetime import timedelta

import httpx
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from conversations.models import WebhookEvent
from conversations.webhooks.delivery import deliver_due

from .conftest import add_messages, verify, worker_command


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
