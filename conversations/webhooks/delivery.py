"""Delivering outbox events: claim with a lease, sign, POST, record, retry.

Signing is AgentPhone's (``providers/telnyx-agentphone.md`` §B.6, the ``agentphone`` SDK's
``verify_webhook``): ``X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret,
f"{timestamp}." + body)>`` over the exact bytes sent, ``X-Webhook-Timestamp`` in unix seconds
(wall clock at the attempt, so receivers' 300 s replay window holds on retries) and
``X-Webhook-ID``, the same on every attempt of an event.

Concurrency: a worker claims due rows and leases them (``locked_until``). On PostgreSQL the
claim is ``SELECT … FOR UPDATE SKIP LOCKED``, so concurrent workers take disjoint rows; on
SQLite the claim's ``IMMEDIATE`` transaction serialises workers. A worker killed mid-batch
leaves its rows leased; once the lease passes, any worker claims them again. A worker whose
lease was taken over records nothing, so one attempt is never counted twice.

Retries: a non-2xx answer or a network error is retried after
``CONVSTORE_WEBHOOK_BACKOFF_SECONDS × 2^(n-1)`` (n = attempts so far) until
``CONVSTORE_WEBHOOK_MAX_ATTEMPTS`` (6, AgentPhone's "5 retries (6 total attempts)"); then the
event is ``failed``. Every attempt is a :class:`~conversations.models.WebhookAttempt` row.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..metrics import webhook_delivery_recorded
from ..models import WebhookAttempt, WebhookEvent

USER_AGENT = "convstore-webhooks/1"
MAX_BACKOFF_SECONDS = 3600
ERROR_TEXT_LIMIT = 1000


def max_attempts() -> int:
    """Attempts before an event is marked failed (setting, default 6)."""
    return int(getattr(settings, "CONVSTORE_WEBHOOK_MAX_ATTEMPTS", 6))


def backoff(attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failure: base × 2^(attempts-1), at most one hour."""
    base = float(getattr(settings, "CONVSTORE_WEBHOOK_BACKOFF_SECONDS", 30))
    return timedelta(seconds=min(base * 2 ** (attempts - 1), MAX_BACKOFF_SECONDS))


def request_timeout() -> float:
    """Seconds to wait for an endpoint's answer (setting, default 10)."""
    return float(getattr(settings, "CONVSTORE_WEBHOOK_TIMEOUT", 10))


def worker_name() -> str:
    """A name unique to this worker: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def encode_payload(payload: dict) -> bytes:
    """The body bytes sent (and signed) for a payload: compact UTF-8 JSON."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 of ``f"{timestamp}."`` + body, keyed with the secret."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def signed_headers(event: WebhookEvent, body: bytes, timestamp: int) -> dict[str, str]:
    """The headers of one attempt of ``event``."""
    ts = str(timestamp)
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Webhook-ID": event.webhook_id,
        "X-Webhook-Timestamp": ts,
        "X-Webhook-Signature": sign(event.endpoint.secret, ts, body),
        "X-Webhook-Event": event.event_type,
    }


def claim_due(
    *, worker: str, batch: int, lease: timedelta, now: datetime | None = None
) -> list[int]:
    """Lease up to ``batch`` due pending events to ``worker``; returns their ids, oldest due
    first. Rows leased by a live worker are skipped (PostgreSQL ``SKIP LOCKED``), and so are
    events of a deactivated endpoint (they wait, pending, until it is active again)."""
    now = now or timezone.now()
    with transaction.atomic():
        due = (
            WebhookEvent.objects.filter(status=WebhookEvent.Status.PENDING)
            .filter(next_attempt_at__lte=now, endpoint__is_active=True)
            .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
            .order_by("next_attempt_at", "id")
            .select_for_update(skip_locked=True, of=("self",))
        )
        ids = list(due.values_list("id", flat=True)[:batch])
        if ids:
            WebhookEvent.objects.filter(id__in=ids).update(
                locked_until=now + lease, locked_by=worker
            )
    return ids


@dataclass
class AttemptResult:
    """What one POST gave: a status code or an error, and the latency in milliseconds."""

    status_code: int | None
    latency_ms: int
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def send(event: WebhookEvent, client: httpx.Client) -> AttemptResult:
    """POST one signed attempt of ``event`` to its endpoint (no redirects followed)."""
    body = encode_payload(event.payload)
    headers = signed_headers(event, body, int(time.time()))
    started = time.perf_counter()
    try:
        response = client.post(event.endpoint.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        latency = round((time.perf_counter() - started) * 1000)
        return AttemptResult(None, latency, f"{type(exc).__name__}: {exc}"[:ERROR_TEXT_LIMIT])
    latency = round((time.perf_counter() - started) * 1000)
    if 200 <= response.status_code < 300:
        return AttemptResult(response.status_code, latency)
    text = f"HTTP {response.status_code}: {response.text[:500]}"
    return AttemptResult(response.status_code, latency, text[:ERROR_TEXT_LIMIT])


def record(
    *, event_id: int, worker: str, result: AttemptResult, started_at: datetime, now: datetime
) -> str | None:
    """Store an attempt and move the event on (delivered, retry later, or failed).

    Returns the event's new status, or ``None`` when ``worker`` no longer holds the lease
    (another worker took the event over; its own attempt counts instead).
    """
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().get(pk=event_id)
        if event.locked_by != worker or event.status != WebhookEvent.Status.PENDING:
            return None
        number = event.attempt_count + 1
        WebhookAttempt.objects.create(
            event=event,
            number=number,
            started_at=started_at,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            error=result.error,
            succeeded=result.ok,
        )
        event.attempt_count = number
        event.locked_until, event.locked_by = None, ""
        if result.ok:
            event.status, event.delivered_at, event.last_error = event.Status.DELIVERED, now, ""
        else:
            event.last_error = result.error
            if number >= max_attempts():
                event.status = event.Status.FAILED
            else:
                event.next_attempt_at = now + backoff(number)
        event.save(
            update_fields=[
                "attempt_count",
                "locked_until",
                "locked_by",
                "status",
                "delivered_at",
                "last_error",
                "next_attempt_at",
            ]
        )
        return event.status


@dataclass
class BatchReport:
    """What :func:`deliver_due` did, by event id."""

    claimed: list[int] = field(default_factory=list)
    delivered: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def deliver_due(
    *,
    batch: int = 10,
    worker: str | None = None,
    lease: timedelta | None = None,
    now: datetime | None = None,
    client: httpx.Client | None = None,
) -> BatchReport:
    """Claim one batch of due events and attempt each once.

    ``now`` (default: the clock) decides what is due and when retries fall due; tests pass
    it to step through the backoff. The lease defaults to the time the whole batch may take
    (``batch`` × timeout + 30 s).
    """
    worker = worker or worker_name()
    lease = lease or timedelta(seconds=batch * request_timeout() + 30)
    report = BatchReport(claimed=claim_due(worker=worker, batch=batch, lease=lease, now=now))
    if not report.claimed:
        return report
    own_client = client is None
    client = client or httpx.Client(timeout=request_timeout(), follow_redirects=False)
    try:
        events = WebhookEvent.objects.select_related("endpoint").in_bulk(report.claimed)
        for event_id in report.claimed:
            if event_id not in events:  # its endpoint was deleted meanwhile
                continue
            started_at = timezone.now()
            result = send(events[event_id], client)
            status = record(
                event_id=event_id,
                worker=worker,
                result=result,
                started_at=started_at,
                now=now or timezone.now(),
            )
            webhook_delivery_recorded(status)
            bucket = {
                WebhookEvent.Status.DELIVERED: report.delivered,
                WebhookEvent.Status.PENDING: report.retrying,
                WebhookEvent.Status.FAILED: report.failed,
            }.get(status)
            if bucket is not None:
                bucket.append(event_id)
    finally:
        if own_client:
            client.close()
    return report
