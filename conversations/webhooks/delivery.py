"""Delivering outbox events: claim with a lease, sign, POST, record, retry.

Signing is AgentPhone's (``providers/telnyx-agentphone.md`` §B.6, the ``agentphone`` SDK's
``verify_webhook``): ``X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret,
f"{timestamp}." + body)>`` over the exact bytes sent, ``X-Webhook-Timestamp`` in unix seconds
(wall clock at the attempt, so receivers' 300 s replay window holds on retries) and
``X-Webhook-ID``, the same on every attempt of an event.

Concurrency: a worker claims due rows and leases them (``locked_until``). On PostgreSQL the
claim is one ``UPDATE … FROM (SELECT … FOR UPDATE SKIP LOCKED LIMIT n) … RETURNING``
(:mod:`.leases_pg`), so concurrent workers take disjoint rows; on SQLite the claim's
``IMMEDIATE`` transaction serialises workers. A worker killed mid-batch leaves its rows
leased; once the lease passes, any worker claims them again. A worker whose lease was taken
over records nothing (its event is no longer pending, leased to it, with the attempt count
it claimed), so one attempt is never counted twice.

Speed (``deliver_batches``, used by ``deliver_webhooks``): on PostgreSQL a batch is claimed
and loaded in one statement, sent ``CONVSTORE_WEBHOOK_CONCURRENCY`` attempts at a time over
keep-alive connections (:class:`~.transport.Sender`; one conversation's events to one
endpoint in order), and recorded in one statement (attempt rows inserted, events moved on),
while the next batch is already being sent. SQLite does the same in a few ORM queries.
Transport safety — the address rule at connect time, the 4 KiB answer cap, the
whole-attempt deadline — is :mod:`.transport`'s.

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
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from ..metrics import webhook_delivery_recorded
from ..models import WebhookAttempt, WebhookEvent
from . import leases_pg
from .transport import AttemptResult, Sender

USER_AGENT = "convstore-webhooks/1"
MAX_BACKOFF_SECONDS = 3600


def max_attempts() -> int:
    """Attempts before an event is marked failed (setting, default 6)."""
    return int(getattr(settings, "CONVSTORE_WEBHOOK_MAX_ATTEMPTS", 6))


def backoff(attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failure: base × 2^(attempts-1), at most one hour."""
    base = float(getattr(settings, "CONVSTORE_WEBHOOK_BACKOFF_SECONDS", 30))
    return timedelta(seconds=min(base * 2 ** (attempts - 1), MAX_BACKOFF_SECONDS))


def request_timeout() -> float:
    """Seconds one attempt may take in all: DNS, connect, send, the answer's headers and
    body (``CONVSTORE_WEBHOOK_TIMEOUT``, default 10)."""
    return float(getattr(settings, "CONVSTORE_WEBHOOK_TIMEOUT", 10))


def default_concurrency() -> int:
    """Attempts a worker runs at once (``CONVSTORE_WEBHOOK_CONCURRENCY``, default 8)."""
    return int(getattr(settings, "CONVSTORE_WEBHOOK_CONCURRENCY", 8))


def worker_name() -> str:
    """A name unique to this worker: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def encode_payload(payload: dict) -> bytes:
    """The body bytes sent (and signed) for a payload: compact UTF-8 JSON."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def compact_json(text: str) -> bytes:
    """Stored JSON text (PostgreSQL's ``jsonb`` rendering, SQLite's ASCII-escaped text) as the
    compact UTF-8 bytes :func:`encode_payload` gives, whatever the database."""
    try:
        return orjson.dumps(orjson.loads(text))
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):  # e.g. a lone surrogate
        return json.dumps(json.loads(text), separators=(",", ":")).encode()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 of ``f"{timestamp}."`` + body, keyed with the secret."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


@dataclass(frozen=True)
class Outgoing:
    """What an attempt needs of a claimed event: ids, the body (the payload as compact UTF-8
    JSON, sent and signed byte for byte), and the endpoint's URL and secret."""

    pk: int
    webhook_id: str
    event_type: str
    body: bytes
    url: str
    secret: str
    endpoint_id: int
    conversation_id: object
    attempt_count: int


def load_outgoing(ids: list[int]) -> list[Outgoing]:
    """The claimed events, in ``ids`` order, in one query (no model instances; the payload is
    read as text and re-encoded compact by orjson). Events deleted meanwhile are left out."""
    rows = (
        WebhookEvent.objects.filter(pk__in=ids)
        .annotate(body=Cast("payload", TextField()))
        .values_list(
            "pk",
            "webhook_id",
            "event_type",
            "body",
            "endpoint__url",
            "endpoint__secret",
            "endpoint_id",
            "conversation_id",
            "attempt_count",
        )
    )
    found = {row[0]: row for row in rows}
    return [
        Outgoing(pk, webhook_id, event_type, compact_json(body), *rest)
        for pk, webhook_id, event_type, body, *rest in (found[i] for i in ids if i in found)
    ]


def signed_headers(event: Outgoing, body: bytes, timestamp: int) -> dict[str, str]:
    """The headers of one attempt of ``event``."""
    ts = str(timestamp)
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Webhook-ID": event.webhook_id,
        "X-Webhook-Timestamp": ts,
        "X-Webhook-Signature": sign(event.secret, ts, body),
        "X-Webhook-Event": event.event_type,
    }


def claim(
    *, worker: str, batch: int, lease: timedelta, now: datetime | None = None
) -> list[Outgoing]:
    """Lease up to ``batch`` due pending events to ``worker`` until ``now + lease`` and load
    them, oldest due first. Rows leased by a live worker are skipped (PostgreSQL ``SKIP
    LOCKED``), and so are events of a deactivated endpoint (they wait, pending, until it is
    active again). PostgreSQL: one statement; SQLite: one transaction of two queries and a
    load."""
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        rows = leases_pg.claim(worker=worker, batch=batch, now=now, until=now + lease)
        return [
            Outgoing(pk, hook_id, kind, compact_json(body), url, secret, endpoint, conv, count)
            for _, pk, count, hook_id, kind, body, url, secret, endpoint, conv in rows
        ]
    return load_outgoing(_claim_ids(worker=worker, batch=batch, lease=lease, now=now))


def claim_due(
    *, worker: str, batch: int, lease: timedelta, now: datetime | None = None
) -> list[int]:
    """The ids :func:`claim` leased to ``worker``, oldest due first."""
    return [event.pk for event in claim(worker=worker, batch=batch, lease=lease, now=now)]


def _claim_ids(*, worker: str, batch: int, lease: timedelta, now: datetime) -> list[int]:
    """:func:`claim`'s lease with the ORM (SQLite)."""
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


def send(event: Outgoing, sender: Sender) -> AttemptResult:
    """POST one signed attempt of ``event`` to its endpoint (no redirects followed), within
    the attempt's deadline, reading at most a few KiB of the answer (:mod:`.transport`)."""
    headers = signed_headers(event, event.body, int(time.time()))
    return sender.post(event.url, event.body, headers)


@dataclass(frozen=True)
class Decision:
    """One attempt's outcome and what it does to its event: attempt ``number`` (attempts
    before + 1), the event's new ``status`` and, for a retry or a failure, its new
    ``next_attempt_at`` (``None``: unchanged, the event was delivered)."""

    event_id: int
    number: int
    started_at: datetime
    result: AttemptResult
    status: str
    next_attempt_at: datetime | None


def decide(
    *,
    event_id: int,
    attempts_before: int,
    result: AttemptResult,
    started_at: datetime,
    now: datetime,
) -> Decision:
    """The retry rule: a 2xx delivers; otherwise retry after :func:`backoff`, or fail once
    :func:`max_attempts` attempts were made."""
    number = attempts_before + 1
    if result.ok:
        status, next_at = WebhookEvent.Status.DELIVERED, None
    elif number >= max_attempts():
        status, next_at = WebhookEvent.Status.FAILED, now
    else:
        status, next_at = WebhookEvent.Status.PENDING, now + backoff(number)
    return Decision(event_id, number, started_at, result, status, next_at)


def record(
    *, event_id: int, worker: str, result: AttemptResult, started_at: datetime, now: datetime
) -> str | None:
    """Store an attempt and move the event on (delivered, retry later, or failed).

    Returns the event's new status, or ``None`` when ``worker`` no longer holds the lease
    (another worker took the event over; its own attempt counts instead).
    """
    count = WebhookEvent.objects.filter(pk=event_id).values_list("attempt_count", flat=True)
    if not count:
        return None
    decision = decide(
        event_id=event_id, attempts_before=count[0], result=result, started_at=started_at, now=now
    )
    return record_many(worker=worker, decisions=[decision], now=now).get(event_id)


def record_many(*, worker: str, decisions: list[Decision], now: datetime) -> dict[int, str]:
    """Store a batch of attempts (see :func:`decide`) atomically.

    Keeps only the events ``worker`` still leases (pending, ``locked_by`` it, with the
    attempt count the decision was made on), inserts their attempt rows and moves the events
    to their new status. Returns ``{event_id: new status}`` for the events recorded; events
    whose lease was taken over are left out. PostgreSQL: one statement
    (:func:`.leases_pg.record`); SQLite: one transaction.
    """
    if not decisions:
        return {}
    if connection.vendor == "postgresql":
        recorded = leases_pg.record(worker=worker, now=now, decisions=decisions)
        return {d.event_id: d.status for d in decisions if d.event_id in recorded}
    with transaction.atomic():
        held = set(
            WebhookEvent.objects.select_for_update()
            .filter(
                pk__in=[d.event_id for d in decisions],
                locked_by=worker,
                status=WebhookEvent.Status.PENDING,
            )
            .order_by("id")
            .values_list("id", "attempt_count")
        )
        kept = [d for d in decisions if (d.event_id, d.number - 1) in held]
        WebhookAttempt.objects.bulk_create(
            WebhookAttempt(
                event_id=d.event_id,
                number=d.number,
                started_at=d.started_at,
                status_code=d.result.status_code,
                latency_ms=d.result.latency_ms,
                error=d.result.error,
                succeeded=d.result.ok,
            )
            for d in kept
        )
        delivered = [d.event_id for d in kept if d.result.ok]
        if delivered:
            WebhookEvent.objects.filter(pk__in=delivered).update(
                status=WebhookEvent.Status.DELIVERED,
                delivered_at=now,
                last_error="",
                attempt_count=F("attempt_count") + 1,
                locked_until=None,
                locked_by="",
            )
        failing = [
            WebhookEvent(
                pk=d.event_id,
                attempt_count=d.number,
                locked_until=None,
                locked_by="",
                status=d.status,
                last_error=d.result.error,
                next_attempt_at=d.next_attempt_at,
            )
            for d in kept
            if not d.result.ok
        ]
        if failing:
            WebhookEvent.objects.bulk_update(
                failing,
                [
                    "attempt_count",
                    "locked_until",
                    "locked_by",
                    "status",
                    "last_error",
                    "next_attempt_at",
                ],
            )
    return {d.event_id: d.status for d in kept}


@dataclass
class BatchReport:
    """What :func:`deliver_due` did, by event id."""

    claimed: list[int] = field(default_factory=list)
    delivered: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def default_lease(batch: int, concurrency: int) -> timedelta:
    """How long a claimed batch stays leased: two batches' worst case (a worker claims the
    next batch while the current one is being sent), ``2 × ceil(batch / concurrency) ×
    timeout + 30 s``."""
    rounds = -(-batch // max(1, concurrency))
    return timedelta(seconds=2 * rounds * request_timeout() + 30)


@dataclass
class _InFlight:
    """A claimed batch being sent: its ids and one future per (endpoint, conversation)."""

    claimed: list[int]
    futures: list[Future]


def _start(
    *, worker: str, batch: int, lease: timedelta, now: datetime | None, sender: Sender
) -> _InFlight | None:
    """Claim a batch, load its events and hand them to the sender's threads."""
    outgoing = claim(worker=worker, batch=batch, lease=lease, now=now)
    if not outgoing:
        return None
    claimed = [event.pk for event in outgoing]
    # One conversation's events to one endpoint go one after another, in claim order
    # (oldest first), so a receiver sees its conversationState move forward.
    queues: dict[tuple, list[Outgoing]] = {}
    for event in outgoing:
        queues.setdefault((event.endpoint_id, event.conversation_id), []).append(event)
    # Such a queue is sent one attempt after another: when one is longer than the lease
    # allows for, lengthen the lease (rare: many events of one conversation in one batch).
    longest = max(map(len, queues.values()), default=0)
    needed = timedelta(seconds=2 * longest * request_timeout() + 30)
    if needed > lease:
        WebhookEvent.objects.filter(pk__in=claimed, locked_by=worker).update(
            locked_until=(now or timezone.now()) + needed
        )

    def attempt(events: list[Outgoing]) -> list[tuple[Outgoing, AttemptResult, datetime]]:
        outcomes = []
        for event in events:
            started_at = timezone.now()
            outcomes.append((event, send(event, sender), started_at))
        return outcomes

    return _InFlight(claimed, sender.submit(attempt, list(queues.values())))


def _finish(flight: _InFlight, *, worker: str, now: datetime | None) -> BatchReport:
    """Wait for a batch's attempts, record them together, and report."""
    now = now or timezone.now()
    decisions = [
        decide(
            event_id=event.pk,
            attempts_before=event.attempt_count,
            result=result,
            started_at=started_at,
            now=now,
        )
        for future in flight.futures
        for event, result, started_at in future.result()
    ]
    statuses = record_many(worker=worker, decisions=decisions, now=now)
    report = BatchReport(claimed=flight.claimed)
    buckets = {
        WebhookEvent.Status.DELIVERED: report.delivered,
        WebhookEvent.Status.PENDING: report.retrying,
        WebhookEvent.Status.FAILED: report.failed,
    }
    for event_id in report.claimed:
        bucket = buckets.get(statuses.get(event_id))
        if bucket is not None:
            bucket.append(event_id)
    for status, bucket in buckets.items():
        webhook_delivery_recorded(status, len(bucket))
    return report


def deliver_due(
    *,
    batch: int = 10,
    worker: str | None = None,
    lease: timedelta | None = None,
    now: datetime | None = None,
    sender: Sender | None = None,
) -> BatchReport:
    """Claim one batch of due events and attempt each once, ``sender.concurrency`` at a time.

    ``sender`` is the keep-alive client (by default one with ``CONVSTORE_WEBHOOK_CONCURRENCY``
    threads is made and closed here). ``now`` (default: the clock) decides what is due and
    when retries fall due; tests pass it to step through the backoff. The lease defaults to
    :func:`default_lease`. Attempts are recorded together once the batch is sent
    (:func:`record_many`).
    """
    worker = worker or worker_name()
    own_sender = sender is None
    sender = sender or Sender(timeout=request_timeout(), concurrency=default_concurrency())
    try:
        lease = lease or default_lease(batch, sender.concurrency)
        flight = _start(worker=worker, batch=batch, lease=lease, now=now, sender=sender)
        if flight is None:
            return BatchReport()
        return _finish(flight, worker=worker, now=now)
    finally:
        if own_sender:
            sender.close()


def deliver_batches(
    *,
    batch: int,
    worker: str,
    sender: Sender,
    lease: timedelta | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> Iterator[BatchReport]:
    """Deliver batch after batch, overlapping the database with the network: while one
    batch is being sent, the previous one is recorded and the next one claimed.

    Yields a report per batch, and an empty report each time nothing was due (the caller
    sleeps, or stops). Once ``stopping()`` is true no new batch is claimed; the batch in
    flight is finished and the generator ends.
    """
    lease = lease or default_lease(batch, sender.concurrency)
    flight: _InFlight | None = None
    while True:
        following = None
        if not stopping():
            following = _start(worker=worker, batch=batch, lease=lease, now=None, sender=sender)
        if flight is not None:
            yield _finish(flight, worker=worker, now=None)
        elif following is None:
            if stopping():
                return
            yield BatchReport()
        flight = following
