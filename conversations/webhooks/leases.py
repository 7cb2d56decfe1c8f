"""The outbox as a work queue: leasing due events to a worker, and recording attempts.

A worker claims due rows and leases them (``locked_until``, ``locked_by``). On PostgreSQL
the claim is one ``UPDATE … FROM (SELECT … FOR UPDATE SKIP LOCKED LIMIT n) … RETURNING``
(:mod:`.leases_pg`), so concurrent workers take disjoint rows, never waiting for each other;
on SQLite the claim's ``IMMEDIATE`` transaction serialises workers. A worker killed
mid-batch leaves its rows leased; once the lease passes, any worker claims them again.

An attempt is recorded only while its worker still holds the event: pending, ``locked_by``
it, with the attempt count it claimed the event with. A worker whose lease was taken over
(or that claimed the event again since) records nothing, so one attempt is never counted
twice. PostgreSQL records a batch in one statement; SQLite in one transaction of a few ORM
queries. Both take the same decisions, made once in Python by :func:`decide`.

Retries: a non-2xx answer or a network error is retried after
``CONVSTORE_WEBHOOK_BACKOFF_SECONDS × 2^(n-1)`` (n = attempts so far) until
``CONVSTORE_WEBHOOK_MAX_ATTEMPTS`` (6, AgentPhone's "5 retries (6 total attempts)"); then the
event is ``failed``. Every attempt is a :class:`~conversations.models.WebhookAttempt` row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from conversations.models import WebhookAttempt, WebhookEvent
from conversations.webhooks import leases_pg
from conversations.webhooks.transport import AttemptResult

MAX_BACKOFF_SECONDS = 3600


def max_attempts() -> int:
    """Attempts before an event is marked failed (setting, default 6)."""
    return settings.CONVSTORE_WEBHOOK_MAX_ATTEMPTS


def backoff(attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failure: base × 2^(attempts-1), at most one hour."""
    base = settings.CONVSTORE_WEBHOOK_BACKOFF_SECONDS
    return timedelta(seconds=min(base * 2 ** (attempts - 1), MAX_BACKOFF_SECONDS))


def compact_json(text: str) -> bytes:
    """Stored JSON text (PostgreSQL's ``jsonb`` rendering, SQLite's ASCII-escaped text) as the
    compact UTF-8 bytes :func:`.delivery.encode_payload` gives, whatever the database."""
    try:
        return orjson.dumps(orjson.loads(text))
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):  # e.g. a lone surrogate
        return json.dumps(json.loads(text), separators=(",", ":")).encode()


@dataclass(frozen=True)
class Outgoing:
    """What an attempt needs of a claimed event: ids, the body (the payload as compact UTF-8
    JSON, sent and signed byte for byte), the endpoint's URL and secret, and the attempts
    made before this claim (the attempt is recorded only if that is still so)."""

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


def claim(
    *, worker: str, batch: int, lease: timedelta, now: datetime | None = None
) -> list[Outgoing]:
    """Lease up to ``batch`` due pending events to ``worker`` until ``now + lease`` and load
    them, oldest (lowest id) first. Rows leased by a live worker are skipped (PostgreSQL
    ``SKIP LOCKED``), and so are events of a deactivated endpoint (they wait, pending, until
    it is active again).

    Head of line per (endpoint, conversation): an event is claimed only when every earlier
    pending event of its conversation for that endpoint is claimed with it, so while one
    waits for a retry or is leased (by any worker, this one's previous batch included) the
    later ones wait too. A claim thus holds a gap-free run of each conversation's queue and
    one conversation's events reach an endpoint in order, whatever the number of workers.
    Events whose conversation was deleted (``conversation_id`` null) have no such order.
    PostgreSQL: one statement; SQLite: one transaction of two queries and a load."""
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        rows = leases_pg.claim(worker=worker, batch=batch, now=now, until=now + lease)
        return [
            Outgoing(pk, hook_id, kind, compact_json(body), url, secret, endpoint, conv, count)
            for pk, count, hook_id, kind, body, url, secret, endpoint, conv in rows
        ]
    return load_outgoing(_claim_ids(worker=worker, batch=batch, lease=lease, now=now))


def _claim_ids(*, worker: str, batch: int, lease: timedelta, now: datetime) -> list[int]:
    """:func:`claim`'s lease with the ORM (SQLite, whose write transactions run one at a time,
    so the head-of-line rule needs no second check as :mod:`.leases_pg`'s does)."""
    with transaction.atomic():
        due = (
            WebhookEvent.objects.filter(status=WebhookEvent.Status.PENDING)
            .filter(next_attempt_at__lte=now, endpoint__is_active=True)
            .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
            .exclude(
                Exists(
                    WebhookEvent.objects.filter(
                        Q(next_attempt_at__gt=now) | Q(locked_until__gt=now),
                        status=WebhookEvent.Status.PENDING,
                        endpoint_id=OuterRef("endpoint_id"),
                        conversation_id=OuterRef("conversation_id"),
                        id__lt=OuterRef("id"),
                    )
                )
            )
            .order_by("id")
            .select_for_update(skip_locked=True, of=("self",))
        )
        ids = list(due.values_list("id", flat=True)[:batch])
        if ids:
            WebhookEvent.objects.filter(id__in=ids).update(
                locked_until=now + lease, locked_by=worker
            )
    return ids


def release(*, worker: str, ids: list[int]) -> int:
    """End ``worker``'s lease of the events ``ids`` without an attempt (they were behind a
    failed event of their conversation): due again at once, though the head-of-line rule of
    :func:`claim` holds them until the earlier event is delivered or failed. Returns how many
    were released; one statement, none when ``ids`` is empty."""
    if not ids:
        return 0
    return WebhookEvent.objects.filter(
        pk__in=ids, locked_by=worker, status=WebhookEvent.Status.PENDING
    ).update(locked_until=None, locked_by="")


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
